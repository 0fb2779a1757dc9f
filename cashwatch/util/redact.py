"""Keep camera credentials out of the dashboard, logs, status and events.

Mask first, then shorten: a message cut in the middle of a URL can lose the `@` that
marks its password, and a password without its `@` no longer looks like one. Every
place that truncates text which may hold a source calls `mask_credentials` (or
`mask_and_cut`) before cutting.

How a URL is read (`scheme://...` anywhere in the text, up to whitespace or the next
`scheme://`). Camera passwords are often typed unescaped, so the standard parse (the
authority ends at the first `/`, `?` or `#`) would show part of a password holding one of
those characters: `rtsp://admin:pa/ss@host/live` parses as host `admin`, path `/ss@host/live`.
Instead everything between `://` and the URL's LAST `@` counts as credentials: that hides
any password, whatever it contains, at the price of also hiding the start of a path that
itself contains an `@` (`rtsp://cam/a@b` shows as `rtsp://***@b`): showing too little is
the safe side. The user name before the first `:` stays visible, since an operator needs
to know which account a camera uses; a user-info without `:` is hidden whole, because
`https://TOKEN@host` puts a token there. Query values whose key names a secret
(`?user=admin&pwd=...`) are masked too. Whitespace ends a URL, so a password containing a
space must be percent-encoded (`%20`); the config rejects URL sources with whitespace.
"""

from __future__ import annotations

import re

MASK = "***"

# A URL begins at a scheme (RFC 3986: a letter, then letters, digits, + . -) and `://`.
_URL_START = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://")
# Query keys whose values are secrets (compared in lower case). `user`/`username` too:
# cameras that take credentials in the query (`?user=admin&pwd=...`) pair them.
SECRET_QUERY_KEYS = frozenset({
    "user", "username", "usr", "login", "pass", "passwd", "password", "pwd", "pw",
    "token", "access_token", "auth", "auth_token", "authorization", "key", "apikey",
    "api_key", "secret", "client_secret", "sig", "signature", "credential",
    "x-amz-signature", "x-amz-credential", "x-amz-security-token",
})
_WHITESPACE = re.compile(r"\s")
_QUERY_PAIR = re.compile(r"(?P<lead>[?&;](?P<key>[^=&;#?\s]+)=)(?P<value>[^&;#\s]*)")


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
    >>> mask_credentials("no URL here: admin@example.com")
    'no URL here: admin@example.com'
    """
    if "://" not in text:
        return text  # the common case, and no URL without it
    starts = [match.start() for match in _URL_START.finditer(text)]
    if not starts:
        return text
    pieces = [text[:starts[0]]]
    for index, start in enumerate(starts):
        stop = starts[index + 1] if index + 1 < len(starts) else len(text)
        url_end = _first_whitespace(text, start, stop)
        pieces.append(_mask_url(text[start:url_end]))
        pieces.append(text[url_end:stop])
    return "".join(pieces)


def mask_and_cut(text: str, max_chars: int) -> str:
    """Masked, then shortened to `max_chars` (with '…'): never the other way round.

    >>> mask_and_cut("error: rtsp://admin:secret@10.0.0.9/live is down", 30)
    'error: rtsp://admin:***@10.0.…'
    """
    masked = mask_credentials(text)
    return masked if len(masked) <= max_chars else masked[:max(0, max_chars - 1)] + "…"


def _first_whitespace(text: str, start: int, stop: int) -> int:
    match = _WHITESPACE.search(text, start, stop)
    return match.start() if match else stop


def _mask_url(url: str) -> str:
    """One URL (no whitespace in it): user-info up to the last `@`, then secret query
    values."""
    scheme_end = url.index("://") + 3
    scheme, rest = url[:scheme_end], url[scheme_end:]
    at = rest.rfind("@")
    if at >= 0:
        userinfo, rest = rest[:at], rest[at:]
        user, colon, _ = userinfo.partition(":")
        rest = (f"{user}:{MASK}" if colon and user else MASK) + rest
    return scheme + _QUERY_PAIR.sub(_masked_pair, rest)


def _masked_pair(match: re.Match[str]) -> str:
    if match["key"].lower() in SECRET_QUERY_KEYS and match["value"]:
        return match["lead"] + MASK
    return match[0]
