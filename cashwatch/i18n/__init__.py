"""The languages CashWatch speaks: one gettext catalogue per language, read with Babel.

English is the source language: every message is written in English in the code,
marked `_("…")`, and is its own translation. Each other language has one catalogue
next to this module, `<code>.po` (`ko.po`: Korean), which Babel reads and compiles in
memory into a standard `gettext.GNUTranslations` the first time it is needed: no
compiled `.mo` files to keep in step. Adding a language is adding its `.po` file
(docs/languages.md); `tests/i18n/test_catalogue.py` checks that every marked message
has a translation in each, with the same `{placeholders}`.

Messages are looked up when they are used, in the language in effect there:
- `speaking(code)`, a context (one alert rendered for one target, one dashboard run);
- else the language of the caller's dashboard session, through `set_session_language`
  (Streamlit reruns a fragment in a fresh thread, so a context alone would be lost);
- else the process's language, `use()`: the CLI chooses it from `--lang` or the
  environment (`LANG`) before it builds its parsers. argparse's own words ("usage:",
  "options") come from the same catalogue.

Dates, times and numbers are written as the language's locale writes them
(`format_datetime`, `format_number`, ...), with Babel's locale data.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import gettext
import io
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextvars import ContextVar
from functools import cache
from importlib.resources import files

DEFAULT = "en"
LANGUAGE_NAMES = {"en": "English", "ko": "한국어"}
LANGUAGES: tuple[str, ...] = tuple(LANGUAGE_NAMES)
_ENV_KEYS = ("LC_ALL", "LC_MESSAGES", "LANG")  # POSIX order: the first set wins

_language = DEFAULT  # the process's language (use())
_context: ContextVar[str | None] = ContextVar("cashwatch_language", default=None)
_session_language: Callable[[], str | None] | None = None


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
    global _language
    catalogue = translations(code)
    _language = code
    # argparse looks its words up through these module globals when it formats help
    argparse._ = catalogue.gettext  # type: ignore[attr-defined]
    argparse.ngettext = catalogue.ngettext  # type: ignore[attr-defined]


def set_session_language(source: Callable[[], str | None] | None) -> None:
    """Where the language of the caller's session comes from (the dashboard: its
    session state), asked when no `speaking()` context is in effect; None: nowhere."""
    global _session_language
    _session_language = source


@contextlib.contextmanager
def speaking(code: str) -> Iterator[None]:
    """Speak `code` within this block, in this thread or task only."""
    token = _context.set(check_language(code))
    try:
        yield
    finally:
        _context.reset(token)


def language() -> str:
    """The language in effect here: the context's, the session's, else the process's."""
    code = _context.get()
    if code is None and _session_language is not None:
        code = _session_language()
    return code if code in LANGUAGE_NAMES else _language


def _(message: str) -> str:
    """`message` in the language in effect (itself when it has no translation)."""
    return translations(language()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """The singular or plural of a message, as the language in effect counts `n`."""
    return translations(language()).ngettext(singular, plural, n)


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


# How each language writes a moment. English keeps the ISO-like 24-hour forms operators
# already know from the logs; other languages take their locale's own (CLDR) patterns.
_ISO = {"date": "yyyy-MM-dd", "time": "HH:mm:ss", "datetime": "yyyy-MM-dd HH:mm:ss"}
_SHORT_TIME = {"en": "HH:mm", "ko": "a h:mm"}


def _moment(value: float | dt.datetime) -> dt.datetime:
    """A timestamp (Unix seconds) or datetime as an aware local datetime."""
    if isinstance(value, dt.datetime):
        return value.astimezone() if value.tzinfo is None else value
    return dt.datetime.fromtimestamp(value).astimezone()


def _babel_pattern(kind: str, code: str) -> str:
    if code == DEFAULT:
        return _ISO[kind]
    from babel import Locale

    locale = Locale.parse(code)
    if kind == "date":
        return str(locale.date_formats["medium"].pattern)
    time = str(locale.time_formats["medium"].pattern)
    if kind == "time":
        return time
    date = str(locale.date_formats["medium"].pattern)
    return str(locale.datetime_formats["medium"]).replace("{1}", date).replace("{0}", time)


def _format(value: float | dt.datetime, pattern: str) -> str:
    from babel.dates import format_datetime as babel_format

    moment = _moment(value)
    return str(babel_format(moment, pattern, tzinfo=moment.tzinfo, locale=language()))


def format_datetime(value: float | dt.datetime) -> str:
    """A moment (Unix seconds or datetime) as date and time, in the local zone.

    >>> with speaking("ko"):
    ...     format_datetime(dt.datetime(2026, 12, 7, 14, 3, 9, tzinfo=dt.timezone.utc))
    '2026. 12. 7. 오후 2:03:09'
    >>> format_datetime(dt.datetime(2026, 12, 7, 14, 3, 9, tzinfo=dt.timezone.utc))
    '2026-12-07 14:03:09'
    """
    return _format(value, _babel_pattern("datetime", language()))


def format_date(value: float | dt.datetime) -> str:
    """A moment's date, in the local zone."""
    return _format(value, _babel_pattern("date", language()))


def format_time(value: float | dt.datetime, *, seconds: bool = True) -> str:
    """A moment's time of day, in the local zone (`seconds=False`: hours and minutes)."""
    code = language()
    pattern = _babel_pattern("time", code) if seconds else _SHORT_TIME.get(code, "HH:mm")
    return _format(value, pattern)


def format_number(value: float, *, decimals: int | None = None) -> str:
    """A number as the language writes it (grouping and decimal signs).

    >>> format_number(12345.678, decimals=1)
    '12,345.7'
    """
    from babel.numbers import format_decimal

    if decimals is not None:
        pattern = "#,##0" + ("." + "0" * decimals if decimals else "")
        return str(format_decimal(value, format=pattern, locale=language()))
    return str(format_decimal(value, locale=language()))
