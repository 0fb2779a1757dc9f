"""The message catalogues: every message marked in the code has its translation in each
language, with the same placeholders; and the CLI speaks Korean when asked."""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
from babel.messages.extract import extract_from_dir, extract_from_file
from babel.messages.pofile import read_po

from cashwatch.i18n import LANGUAGES, cli_language, from_environment, translations

REPO = Path(__file__).resolve().parents[2]
CATALOGUES = REPO / "cashwatch" / "i18n"
KEYWORDS = {"_": None, "N_": None, "ngettext": (1, 2)}
# `%(name)s`, `%s`, `%r` and `{name}`: what a translation must keep, in any order
PLACEHOLDER = re.compile(r"%\([a-z_]+\)[sdr]|%[sdr]|\{[a-z_0-9]*\}")
HANGUL = re.compile(r"[\uac00-\ud7a3]")


def _ids(messages: Iterable[tuple[Any, ...]], index: int) -> set[str]:
    """The message ids (the singular of a plural) of Babel's extraction tuples, whose
    `index`-th item is the message."""
    out = set()
    for found in messages:
        message = found[index]
        out.add(message if isinstance(message, str) else message[0])
    return out


def _code_messages() -> set[str]:
    # (filename, lineno, message, comments, context)
    return _ids(extract_from_dir(str(REPO / "cashwatch"), keywords=KEYWORDS), 2)


def _argparse_messages() -> set[str]:
    # (lineno, message, comments, context)
    return _ids(extract_from_file("python", argparse.__file__, keywords=KEYWORDS), 1)


def _catalogue(code: str) -> dict[str, str]:
    with (CATALOGUES / f"{code}.po").open("rb") as handle:
        catalog = read_po(handle, locale=code)
    # a plural is known by its singular; Korean has one form, its only translation
    return {
        str(m.id[0] if isinstance(m.id, tuple) else m.id): str(
            m.string[0] if isinstance(m.string, tuple) else m.string
        )
        for m in catalog
        if m.id
    }


@pytest.mark.parametrize("code", [c for c in LANGUAGES if c != "en"])
def test_every_marked_message_is_translated_with_its_placeholders(code: str) -> None:
    catalogue = _catalogue(code)
    used = _code_messages()
    assert used, "no message marked with _() or N_() was found"
    missing = sorted(used - set(catalogue))
    assert not missing, f"{code}.po lacks: {missing}"
    empty = sorted(m for m in used if not catalogue[m].strip())
    assert not empty, f"{code}.po has no translation for: {empty}"
    for message, translation in catalogue.items():
        assert sorted(PLACEHOLDER.findall(message)) == sorted(PLACEHOLDER.findall(translation)), (
            f"{code}.po: the placeholders of {message!r} differ in {translation!r}"
        )
    # nothing but the code's messages and argparse's own words: no stale entries
    stale = sorted(set(catalogue) - used - _argparse_messages())
    assert not stale, f"{code}.po translates messages no code uses: {stale}"


def test_the_catalogue_compiles_and_translates() -> None:
    korean = translations("ko")
    assert korean.gettext("camera id") == "카메라 ID"
    assert korean.gettext("a message nobody translated") == "a message nobody translated"
    assert translations("en").gettext("camera id") == "camera id"


def test_the_language_comes_from_the_flag_then_the_environment() -> None:
    assert cli_language(["status", "--lang=ko"], {}) == "ko"
    assert cli_language(["--lang", "en"], {"LANG": "ko_KR.UTF-8"}) == "en"
    assert from_environment({"LC_ALL": "ko_KR.UTF-8", "LANG": "en_US.UTF-8"}) == "ko"
    assert from_environment({"LANG": "de_DE.UTF-8"}) == "en"  # no German: English
    assert from_environment({}) == "en"


def _cli(*args: str, lang: str = "C.UTF-8") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LC_")}
    return subprocess.run(
        [sys.executable, "-m", "cashwatch.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**env, "LANG": lang},
        cwd=REPO,
    )


@pytest.mark.parametrize(
    ("args", "lang"), [(("--lang", "ko", "--help"), "C.UTF-8"), (("--help",), "ko_KR.UTF-8")]
)
def test_cashwatch_help_is_korean_when_asked(args: tuple[str, ...], lang: str) -> None:
    """The issue's check: `cashwatch --lang ko --help`, or with LANG=ko_KR.UTF-8."""
    shown = _cli(*args, lang=lang)
    assert shown.returncode == 0, shown.stderr
    text = shown.stdout
    assert text.startswith("사용법: cashwatch") and "옵션:" in text and "명령:" in text
    lines = [line for line in text.splitlines() if line.strip()]
    # every line but the usage's command list is Korean
    english = [
        line
        for line in lines
        if not HANGUL.search(line) and "{" not in line and line.strip() != "..."
    ]
    assert english == [], english
    for message in ("show this help message and exit", "list or export events from DuckDB"):
        assert message not in text


def test_english_stays_the_default_and_an_unknown_language_is_named() -> None:
    english = _cli("--help")
    assert english.stdout.startswith("usage: cashwatch") and not HANGUL.search(english.stdout)
    korean_error = _cli("--lang", "ko", "bogus")
    assert korean_error.returncode == 2 and "잘못된 선택: 'bogus'" in korean_error.stderr
    unknown = _cli("--lang", "fr", "status")
    assert unknown.returncode == 2
    assert "language 'fr' is not available; valid: en (English), ko (한국어)" in unknown.stderr
