"""One way to turn an error into a short line for status, stderr and other errors.

Masked before it is cut (cutting first can drop the `@` that marks a password, and an
unmarked password is no longer masked), and only its first line: a status field or a
one-line message has no room for DuckDB's multi-line context or a traceback.
"""

from __future__ import annotations

from cashwatch.util.redact import mask_and_cut

DB_ERROR_CHARS = 240  # the reason as status shows it: one short line


def short_reason(exc: BaseException | str, max_chars: int = DB_ERROR_CHARS) -> str:
    """The first line of an error (its type's name when it has no text), masked and cut.

    >>> short_reason(OSError("cannot open rtsp://u:pw@cam/live\\nmore context"))
    'cannot open rtsp://u:***@cam/live'
    """
    text = str(exc).strip()
    first = (
        text.splitlines()[0]
        if text
        else (type(exc).__name__ if isinstance(exc, BaseException) else "")
    )
    return mask_and_cut(first, max_chars)
