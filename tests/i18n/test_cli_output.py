"""What the CLI prints for a person, not only its help, speaks the language asked for:
Korean with `--lang ko`, English under LANG=C. Real `cashwatch` commands that need no
running manager: `events` and `status` on a data folder where nothing has run yet."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
HANGUL = re.compile(r"[\uac00-\ud7a3]")
SCRIPT = Path(sys.executable).with_name("cashwatch")  # the installed console script


def _cashwatch(*args: str) -> subprocess.CompletedProcess[str]:
    command = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "cashwatch.cli"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("LC_")}
    return subprocess.run(
        [*command, *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**env, "LANG": "C.UTF-8"},
        cwd=REPO,
    )


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "cashwatch.toml"
    path.write_text("# no cameras; the data folder is this one, where nothing has run\n")
    return path


@pytest.mark.parametrize(
    ("command", "korean", "english"),
    [
        (("events",), "이벤트 데이터베이스가 없습니다", "error: no event database at"),
        (("status",), "실행 중인 매니저가 없습니다", "no manager is running for"),
    ],
    ids=["events", "status"],
)
def test_the_message_is_korean_with_lang_ko_and_english_by_default(
    config: Path, command: tuple[str, ...], korean: str, english: str
) -> None:
    shown = _cashwatch("--lang", "ko", *command, "--config", str(config))
    assert shown.returncode == 1 and korean in shown.stderr, shown.stderr
    assert HANGUL.search(shown.stderr) and english not in shown.stderr

    plain = _cashwatch(*command, "--config", str(config))
    assert plain.returncode == 1 and english in plain.stderr, plain.stderr
    assert not HANGUL.search(plain.stdout + plain.stderr)


def test_json_stays_english_and_the_table_speaks_korean(tmp_path: Path) -> None:
    """`--json` is read by programs: a target's filters stay English under --lang ko,
    while the table for a person is Korean."""
    path = tmp_path / "cashwatch.toml"
    path.write_text(
        '[[alerts]]\nname = "desk"\nkind = "webhook"\nurl = "http://127.0.0.1:9/hook"\n'
        'types = ["cash"]\nmin_confidence = 0.5\n'
    )
    shown = _cashwatch("--lang", "ko", "alerts", "list", "--json", "--config", str(path))
    assert shown.returncode == 0, shown.stderr
    listed = json.loads(shown.stdout)  # (json escapes Hangul: read it back to look)
    assert listed["targets"][0]["filters"] == "types cash · conf >= 0.50", listed
    assert not HANGUL.search(json.dumps(listed, ensure_ascii=False)), listed
    table = _cashwatch("--lang", "ko", "alerts", "list", "--config", str(path))
    assert table.returncode == 0 and HANGUL.search(table.stdout), table.stdout
