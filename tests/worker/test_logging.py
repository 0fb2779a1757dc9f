"""Log lines of the manager and its workers never carry a camera's password."""

from __future__ import annotations

import logging
import sys

from cashwatch.util.log_lines import MaskingFormatter


def test_a_logged_traceback_is_masked_as_a_whole() -> None:
    formatter = MaskingFormatter("%(levelname)s %(message)s")
    try:
        raise RuntimeError("cannot open rtsp://admin:pa/ss@w0rd@127.0.0.1:8554/live")
    except RuntimeError:
        record = logging.LogRecord(
            "t",
            logging.ERROR,
            __file__,
            1,
            "camera %s failed",
            ("rtsp://admin:pa/ss@w0rd@127.0.0.1/x",),
            exc_info=True,
        )
        record.exc_info = sys.exc_info()
    line = formatter.format(record)
    assert "Traceback" in line and "RuntimeError" in line
    assert "pa/ss" not in line and "w0rd" not in line
    assert line.count("admin:***@127.0.0.1") >= 2  # the message, and the traceback twice
