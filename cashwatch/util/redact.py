"""Keep camera credentials out of the dashboard, logs, status and events.

Mask first, then shorten: a message cut in the middle of a URL can lose the `@` that
marks its password, and a password without its `@` no longer looks like one. Every
place that truncates text which may hold a source calls `mask_credentials` (or
`mask_and_cut`) before cutting.

How a URL is read (`scheme://...` anywhere in the text, up to whitespace, the next
`scheme://`, or the closing quote when a quote (`"`, `'`, backtick, `<`) opens it).
Camera passwords are often typed unescaped, so the standard parse (the authority ends at
the first `/`, `?` or `#`) would show part of a password holding one of those characters:
`rtsp://admin:pa/ss@host/live` parses as host `admin`, path `/ss@host/live`. Instead
everything between `://` and the URL's LAST `@` counts as credentials: that hides any
password, whatever it contains, at the price of also hiding the start of a path that
itself contains an `@` (`rtsp://cam/a@b` shows as `rtsp://***@b`): showing too little is
the safe side. A URL that stops before any `@` but has a `:` after its scheme may be a
password cut by a space or a quote (`rtsp://admin:pa ss@host`): it runs on to the next
`@` on the same line. The user name before the first `:` stays visible, since an
operator needs to know which account a camera uses; a user-info without `:` is hidden
whole, because `https://TOKEN@host` puts a token there. Query and fragment values whose
key contains a secret's word (`pwd`, `x-api-key`, `user.password`, `#access_token=`)
are masked too.

Text that is not a `scheme://` URL: a percent-encoded URL (`rtsp%3A%2F%2F…`) is decoded
and masked; a mistyped one (`rtsp:/u:p@h`, `rtsp//u:p@h`) or a bare `user:pass@host` has
its user-info masked the same way. A plain `name@host` (an e-mail address) stays.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

MASK = "***"

# A URL begins at a scheme (RFC 3986: a letter, then letters, digits, + . -) and `://`.
_URL_START = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://")
# A whole URL percent-encoded (a URL passed as a query value, or logged encoded).
_ENCODED_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*%3A%2F%2F[^\s\"'<>`]*", re.IGNORECASE)
# Query keys whose values are secrets (compared in lower case). `user`/`username` too:
# cameras that take credentials in the query (`?user=admin&pwd=...`) pair them.
SECRET_QUERY_KEYS = frozenset(
    {
        "user",
        "username",
        "usr",
        "login",
        "pass",
        "passwd",
        "password",
        "pwd",
        "pw",
        "token",
        "access_token",
        "auth",
        "auth_token",
        "authorization",
        "key",
        "apikey",
        "api_key",
        "secret",
        "client_secret",
        "sig",
        "signature",
        "credential",
        "x-amz-signature",
        "x-amz-credential",
        "x-amz-security-token",
    }
)
# ...and any key containing one of these words (`x-api-key`, `pwd[]`, `user.password`,
# `sessionid`): over-masking `monkey=1` is the price, the safe side.
SECRET_KEY_WORDS = (
    "pass",
    "pwd",
    "token",
    "key",
    "secret",
    "auth",
    "sig",
    "session",
    "sid",
    "credential",
    "user",
    "login",
)
_QUERY_PAIR = re.compile(r"(?P<lead>[?&;#](?P<key>[^=&;#?\s]+)=)(?P<value>[^&;#\s]*)")
_CLOSING = {'"': '"', "'": "'", "`": "`", "<": ">"}
# A word of plain text holding an `@`, for the mistyped-URL and `user:pass@host` forms;
# quotes do not end it (a password may hold one), but a user name never contains one.
_TOKEN = re.compile(r"\S*@\S*")
_QUOTES = "\"'<>`([{"
# `rtsp:/…` (one slash) or `rtsp//…` (no colon): a URL typed wrong, user-info and all.
_MISTYPED_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*(?::/(?!/)|//)")


def mask_credentials(text: str) -> str:
    """Every URL in `text` with its password (or token) and secret query values masked.

    >>> mask_credentials("rtsp://u:p@10.0.0.2/s")
    'rtsp://u:***@10.0.0.2/s'
    >>> mask_credentials("rtsp://admin:p@ssw0rd@host/live")
    'rtsp://admin:***@host/live'
    >>> mask_credentials("cannot open 'rtsp://admin:pa/ss@[::1]:8554/live': timeout")
    "cannot open 'rtsp://admin:***@[::1]:8554/live': timeout"
    >>> mask_credentials("http://cam/snap.cgi?user=admin&PWD=hunter2&ch=1")
    'http://cam/snap.cgi?user=***&PWD=***&ch=1'
    >>> mask_credentials("file not found: rtsp:/admin:hunter2@10.0.0.9/live")
    'file not found: rtsp:/admin:***@10.0.0.9/live'
    >>> mask_credentials("no URL here: admin@example.com")
    'no URL here: admin@example.com'
    """
    if "@" not in text and "://" not in text and "%3" not in text:
        return text  # the common case: no URL, no user-info, nothing encoded
    if "%" in text:
        text = _ENCODED_URL.sub(_masked_encoded, text)
    starts = [match.start() for match in _URL_START.finditer(text)]
    if not starts:
        return _mask_plain(text)
    pieces = [_mask_plain(text[: starts[0]])]
    for index, start in enumerate(starts):
        stop = starts[index + 1] if index + 1 < len(starts) else len(text)
        url_end = _url_end(text, start, stop)
        pieces.append(_mask_url(text[start:url_end]))
        pieces.append(_mask_plain(text[url_end:stop]))
    return "".join(pieces)


def mask_and_cut(text: str, max_chars: int) -> str:
    """Masked, then shortened to `max_chars` (with '…'): never the other way round.

    >>> mask_and_cut("error: rtsp://admin:secret@10.0.0.9/live is down", 30)
    'error: rtsp://admin:***@10.0.…'
    """
    masked = mask_credentials(text)
    return masked if len(masked) <= max_chars else masked[: max(0, max_chars - 1)] + "…"


def _masked_encoded(match: re.Match[str]) -> str:
    """An encoded URL decoded and masked, when masking finds anything; else as it was."""
    decoded = unquote(match[0])
    masked = mask_credentials(decoded)
    return match[0] if masked == decoded else masked


def _delimiter_end(text: str, start: int, stop: int, closing: str) -> int:
    """The first whitespace, or the closing quote, at or after `start` (else `stop`)."""
    for index in range(start, stop):
        char = text[index]
        if char.isspace() or char == closing:
            return index
    return stop


def _url_end(text: str, start: int, stop: int) -> int:
    """Where the URL starting at `start` ends (see the module's docstring)."""
    closing = _CLOSING.get(text[start - 1], "") if start else ""
    end = _delimiter_end(text, start, stop, closing)
    after_scheme = text.index("://", start) + 3
    if "@" in text[after_scheme:end] or ":" not in text[after_scheme:end]:
        return end
    # `user:` and no `@`: a password cut by a space or a quote; hide it up to the next
    # `@` on this line (over-masking `host:port … a@b` is the safe side).
    line_end = text.find("\n", end, stop)
    at = text.find("@", end, stop if line_end < 0 else line_end)
    return end if at < 0 else _delimiter_end(text, at, stop, closing)


def _mask_url(url: str) -> str:
    """One URL: user-info up to the last `@`, then secret query and fragment values."""
    scheme_end = url.index("://") + 3
    scheme, rest = url[:scheme_end], url[scheme_end:]
    return scheme + _QUERY_PAIR.sub(_masked_pair, _mask_userinfo(rest))


def _mask_userinfo(rest: str) -> str:
    """`user:pass@host…` → `user:***@host…`, `token@host…` → `***@host…` (last `@`)."""
    at = rest.rfind("@")
    if at < 0:
        return rest
    user, colon, _ = rest[:at].partition(":")
    return (f"{user}:{MASK}" if colon and user else MASK) + rest[at:]


def _masked_pair(match: re.Match[str]) -> str:
    if match["value"] and is_secret_key(match["key"]):
        return match["lead"] + MASK
    return match[0]


def is_secret_key(key: str) -> bool:
    """A query or fragment key whose value may be a secret.

    >>> is_secret_key("x-api-key"), is_secret_key("pwd[]"), is_secret_key("ch")
    (True, True, False)
    """
    lowered = key.lower()
    return lowered in SECRET_QUERY_KEYS or any(word in lowered for word in SECRET_KEY_WORDS)


def _mask_plain(text: str) -> str:
    """Text between URLs: mistyped URLs and bare `user:pass@host` masked."""
    return _TOKEN.sub(_masked_token, text) if "@" in text else text


def _masked_token(match: re.Match[str]) -> str:
    token = match[0]
    body = token.lstrip(_QUOTES)  # `"admin:pw@h"`: the quote is not the user's
    lead = token[: len(token) - len(body)]
    scheme = _MISTYPED_SCHEME.match(body)
    if scheme and "@" in body[scheme.end() :]:
        return lead + body[: scheme.end()] + _mask_userinfo(body[scheme.end() :])
    user, colon, _ = body[: body.rfind("@")].partition(":")
    # `admin:pw@host`; not `name@host` (an address), nor JSON (`","key":"a@b"`)
    if colon and user and not any(char in _QUOTES for char in user):
        return lead + _mask_userinfo(body)
    return token
