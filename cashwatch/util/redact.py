"""Keep camera credentials out of the dashboard, logs, status and events."""

from __future__ import annotations

import re

_CREDENTIALS = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<user>[^:@/\s]*)(:[^@/\s]*)?@")


def mask_credentials(text: str) -> str:
    """`rtsp://admin:secret@host/x` -> `rtsp://admin:***@host/x`.

    >>> mask_credentials("rtsp://u:p@10.0.0.2/s")
    'rtsp://u:***@10.0.0.2/s'
    """
    return _CREDENTIALS.sub(lambda m: f"{m['scheme']}{m['user']}:***@", text)
