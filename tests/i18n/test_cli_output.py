"""What the CLI prints for a person, not only its help, speaks the language asked for:
Korean with `--lang ko`, English under LANG=C. Real `cashwatch` commands that need no
running manager: `events` and `status` on a data folder where nothing has run yet."""

from __future__ import annotations

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
