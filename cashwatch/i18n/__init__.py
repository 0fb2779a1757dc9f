"""The languages CashWatch speaks: one gettext catalogue per language, read with Babel.

English is the source language: every message is written in English in the code,
marked `_("…")`, and is its own translation. Each other language has one catalogue
next to this module, `<code>.po` (`ko.po`: Korean), which Babel reads and compiles in
memory into a standard `gettext.GNUTranslations` the first time it is needed: no
compiled `.mo` files to keep in step. Adding a language is adding its `.po` file
(docs/languages.md); `tests/i18n/test_catalogue.py` checks that every marked message
has a translation in each, with the same `{placeholders}`.

Messages are looked up when they are used, in the language chosen for this process
(`use()`): the CLI chooses it from `--lang` or the environment (`LANG`) before it
builds its parsers. argparse's own words ("usage:", "options") come from the same
catalogue.
"""

from __future__ import annotations

import argparse
import gettext
import io
import os
from collections.abc import Mapping, Sequence
from functools import cache
from importlib.resources import files

DEFAULT = "en"
LANGUAGE_NAMES = {"en": "English", "ko": "한국어"}
LANGUAGES: tuple[str, ...] = tuple(LANGUAGE_NAMES)
_ENV_KEYS = ("LC_ALL", "LC_MESSAGES", "LANG")  # POSIX order: the first set wins

_current: gettext.NullTranslations = gettext.NullTranslations()
_language = DEFAULT


class UnknownLanguage(ValueError):
    """A language CashWatch has no catalogue for."""


def check_language(code: str) -> str:
    """`code` when CashWatch speaks it, else an error naming the valid ones.

    >>> check_language("ko")
    'ko'
    >>> try:
    ...     check_language("fr")
    ... except UnknownLanguage as exc:
    ...     print(exc)
    language 'fr' is not available; valid: en (English), ko (한국어)
    """
    if code not in LANGUAGES:
        valid = ", ".join(f"{c} ({name})" for c, name in LANGUAGE_NAMES.items())
        raise UnknownLanguage(f"language {code!r} is not available; valid: {valid}")
    return code


@cache
def translations(code: str) -> gettext.NullTranslations:
    """The catalogue of one language (English: none, the messages are English)."""
    check_language(code)
    if code == DEFAULT:
        return gettext.NullTranslations()
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    source = files(__package__).joinpath(f"{code}.po").read_bytes()
    catalog = read_po(io.BytesIO(source), locale=code)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


def use(code: str) -> None:
    """Speak `code` from now on in this process (argparse's own words included)."""
    global _current, _language
    _current, _language = translations(code), code
    # argparse looks its words up through these module globals when it formats help
    argparse._ = _current.gettext  # type: ignore[attr-defined]
    argparse.ngettext = _current.ngettext  # type: ignore[attr-defined]


def language() -> str:
    """The language in use."""
    return _language


def _(message: str) -> str:
    """`message` in the language in use (itself when it has no translation)."""
    return _current.gettext(message)


def N_(message: str) -> str:
    """Mark `message` for the catalogue where it is defined; `_()` translates it where
    it is used (a module-level constant is made before the language is chosen)."""
    return message


def from_environment(environ: Mapping[str, str] | None = None) -> str:
    """The language the environment asks for (`LANG=ko_KR.UTF-8` → ko), else English.

    >>> from_environment({"LANG": "ko_KR.UTF-8"}), from_environment({"LANG": "C.UTF-8"})
    ('ko', 'en')
    """
    environ = os.environ if environ is None else environ
    for key in _ENV_KEYS:
        value = environ.get(key, "")
        if value:
            code = value.split(".")[0].split("_")[0].lower()
            return code if code in LANGUAGES else DEFAULT
    return DEFAULT


def split_lang(argv: Sequence[str]) -> tuple[str | None, list[str]]:
    """`--lang CODE` (or `--lang=CODE`), anywhere in `argv`, and `argv` without it.

    >>> split_lang(["status", "--lang", "ko", "--json"])
    ('ko', ['status', '--json'])
    """
    code: str | None = None
    rest: list[str] = []
    args = iter(argv)
    for arg in args:
        if arg == "--lang":
            code = next(args, None)
        elif arg.startswith("--lang="):
            code = arg.partition("=")[2]
        else:
            rest.append(arg)
    return code, rest


def cli_language(argv: Sequence[str], environ: Mapping[str, str] | None = None) -> str:
    """The CLI's language: `--lang CODE` (or `--lang=CODE`) anywhere, else the environment.

    Read before the parsers are built, since their help is written in it.

    Raises:
        UnknownLanguage: For a `--lang` CashWatch has no catalogue for.

    >>> cli_language(["--lang", "ko", "--help"]), cli_language(["status"], {"LANG": "ko_KR"})
    ('ko', 'ko')
    """
    code, _rest = split_lang(argv)
    return check_language(code) if code is not None else from_environment(environ)
