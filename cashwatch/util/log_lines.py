"""The shape of a line in `logs/manager.log`, written by the manager, read by the System page.

Every line says which process wrote it: `manager[PID]` for the manager's own lines,
`camera:<id>[PID]` for a camera worker's, relayed by the manager
(cashwatch.worker.log_pipe). A camera id cannot hold a `:`, so a camera called
"manager" is still told apart from the manager.

>>> line_origin("2026-12-06 13:50:01,123 camera:cam-a[5678] cashwatch.worker INFO event")
'camera:cam-a'
>>> line_origin("  File \\"x.py\\", line 3, in f") is None
True
"""

from __future__ import annotations

import logging
import re

from cashwatch.util.redact import mask_credentials

MANAGER_ORIGIN = "manager"
CAMERA_PREFIX = "camera:"
SERVICE_PREFIX = "inference:"  # a shared inference service's lines: `inference:<n>`
# `origin` is set on every record: by the manager's handlers' filter for its own lines
# (`tag_manager_records`), by the relay for a worker's (cashwatch.worker.log_pipe).
LOG_FORMAT = "%(asctime)s %(origin)s[%(process)d] %(name)s %(levelname)s %(message)s"
# asctime is `YYYY-MM-DD HH:MM:SS,mmm`; a camera id: letters, digits, - and _
_ORIGIN = re.compile(
    r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} "
    rf"({MANAGER_ORIGIN}|{CAMERA_PREFIX}[A-Za-z0-9][A-Za-z0-9_-]*|{SERVICE_PREFIX}\d+)\[\d+\] "
)


def camera_origin(camera_id: str) -> str:
    """The origin of a camera worker's lines: `camera:<id>`."""
    return f"{CAMERA_PREFIX}{camera_id}"


def service_origin(index: int) -> str:
    """The origin of a shared inference service's lines: `inference:<n>`."""
    return f"{SERVICE_PREFIX}{index}"


def line_origin(line: str) -> str | None:
    """Who wrote a log line; None for a line that starts no record (a traceback's
    continuation, or a line of a log written before lines named their process)."""
    match = _ORIGIN.match(line)
    return match.group(1) if match else None


def tag_manager_records(record: logging.LogRecord) -> bool:
    """A handler filter: a record without an origin is the manager's own."""
    if not hasattr(record, "origin"):
        record.origin = MANAGER_ORIGIN
    return True


class MaskingFormatter(logging.Formatter):
    """Masks credentials in the whole formatted line, traceback included: an exception's
    message (an OpenCV error, a failed open) can quote a camera URL with its password."""

    def format(self, record: logging.LogRecord) -> str:
        return mask_credentials(super().format(record))
