"""A camera worker's log records, carried to the manager over the worker's own pipe.

The worker writes each record as one line of JSON, masked, into the write end of a pipe
that only it holds (`PipeLogHandler`); a thread of the manager reads the other end
(`LogRelay`) and hands the records to the manager's handlers, which write them into
`logs/manager.log` and its console, each line naming the camera and the worker's pid
(cashwatch.util.log_lines).

Why one pipe per worker, not one `multiprocessing.Queue` for all: a queue's writers share
a lock, and a worker killed (SIGKILL, the heartbeat watchdog) while it holds that lock
blocks every other writer and the reader for good. A pipe has no lock across processes:
a worker killed in the middle of a line leaves that line cut short, the manager reads
what arrived and then the end of the pipe, and only that worker's relay ends.

The same pipe takes `faulthandler`'s dump on a fatal signal, written straight to its file
descriptor: any line that is not a record is relayed as the worker's plain output.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator
from typing import Protocol

from cashwatch.util.redact import mask_credentials

# The logger of a worker's lines that are no record: a fault dump, or a record cut short.
OUTPUT_LOGGER = "cashwatch.worker.output"
# Lines a Ray actor keeps between two polls of the manager (5 a second): beyond, the
# oldest go, and the manager is told how many.
BUFFERED_LINES = 1000
# A line longer than this (no newline in sight) is relayed in pieces, so a worker writing
# without newlines cannot make the manager hold its output without bound.
MAX_LINE_BYTES = 1 << 20
_READ_BYTES = 1 << 16


class PipeEnd(Protocol):
    """One end of `multiprocessing.Pipe(duplex=False)`: on POSIX, an `os.pipe()` end."""

    def fileno(self) -> int: ...

    def close(self) -> None: ...


# The message with its traceback, without asctime or level: the manager adds those.
_MESSAGE = logging.Formatter("%(message)s")


def encode_record(record: logging.LogRecord) -> bytes:
    """One record as one line of JSON, masked: nothing unmasked leaves the worker.

    >>> record = logging.makeLogRecord({"name": "w", "levelno": 20, "created": 1.5,
    ...                                 "msg": "open rtsp://u:pw@h/x failed"})
    >>> line = encode_record(record)
    >>> json.loads(line)["text"], line.count(b"\\n")
    ('open rtsp://u:***@h/x failed', 1)
    """
    fields = {
        "name": record.name,
        "level": record.levelno,
        "created": record.created,
        "thread": record.threadName,
        "text": mask_credentials(_MESSAGE.format(record)),
    }
    return json.dumps(fields).encode() + b"\n"  # JSON escapes newlines: one line


def decode_line(line: bytes, origin: str, pid: int) -> logging.LogRecord:
    """The record a worker's line stands for, as if the worker had logged it here; a line
    that is no record (a fault dump, a record cut short) as its plain text."""
    try:
        fields = json.loads(line)
        name, level = str(fields["name"]), int(fields["level"])
        created, thread = float(fields["created"]), str(fields["thread"])
        text = str(fields["text"])
    except (ValueError, KeyError, TypeError):
        name, level, created, thread = OUTPUT_LOGGER, logging.WARNING, time.time(), "?"
        text = line.decode("utf-8", "replace").rstrip()
    return logging.makeLogRecord(
        {
            "name": name,
            "levelno": level,
            "levelname": logging.getLevelName(level),
            "msg": text,
            "created": created,
            "msecs": (created - int(created)) * 1000,
            "process": pid,
            "processName": origin,
            "threadName": thread,
            "origin": origin,
        }
    )


def read_lines(fd: int) -> Iterator[bytes]:
    """The lines written into a pipe, until every write end is closed; a last line
    without its newline (its writer was killed) comes too."""
    pending = b""
    while True:
        try:
            chunk = os.read(fd, _READ_BYTES)
        except InterruptedError:  # pragma: no cover - retried by Python itself (PEP 475)
            continue
        except OSError:
            break
        if not chunk:
            break
        pending += chunk
        *lines, pending = pending.split(b"\n")
        yield from lines
        while len(pending) > MAX_LINE_BYTES:
            yield pending[:MAX_LINE_BYTES]
            pending = pending[MAX_LINE_BYTES:]
    if pending:
        yield pending


class PipeLogHandler(logging.Handler):
    """The worker's handler: every record to the manager, over the worker's pipe.

    Writes block while the pipe is full (64 KiB unread): a manager that stopped reading
    slows its workers' logging rather than losing lines. Once the manager is gone
    (broken pipe), records go to stderr, which may still reach a terminal.
    """

    def __init__(self, pipe: PipeEnd, fallback: logging.Handler) -> None:
        super().__init__()
        self.pipe = pipe  # held: the end closes when the object goes
        self.fallback = fallback

    def emit(self, record: logging.LogRecord) -> None:
        try:
            data = encode_record(record)
        except Exception:
            self.handleError(record)
            return
        try:
            _write_all(self.pipe.fileno(), data)
        except OSError:
            self.fallback.handle(record)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


class LogRelay:
    """A manager thread that reads one worker's pipe into the manager's log handlers.

    It ends by itself when the worker has exited (the pipe's end), however it exited.
    """

    def __init__(self, reader: PipeEnd, origin: str, pid: int) -> None:
        self.reader = reader
        self.origin = origin
        self.pid = pid
        self._thread = threading.Thread(target=self._run, name=f"log-relay:{origin}", daemon=True)

    def start(self) -> LogRelay:
        self._thread.start()
        return self

    def is_alive(self) -> bool:
        return self._thread.is_alive()

    def join(self, timeout_s: float) -> None:
        self._thread.join(timeout_s)

    def _run(self) -> None:
        try:
            hand_on(read_lines(self.reader.fileno()), self.origin, self.pid)
        finally:
            self.reader.close()


def hand_on(lines: Iterable[bytes], origin: str, pid: int) -> None:
    """A worker's lines to this process' log handlers, as its records."""
    root = logging.getLogger()
    for line in lines:
        if line.strip():
            # the root logger's handlers, whatever the record's name: a library's logger
            # configured in the manager must not swallow a worker's lines
            root.handle(decode_line(line, origin, pid))


class LineBuffer(logging.Handler):
    """A Ray actor's records as lines, kept until the manager's next poll takes them
    (an actor has no pipe to the manager: it may run on another machine)."""

    def __init__(self, max_lines: int = BUFFERED_LINES) -> None:
        super().__init__()
        self._lines: deque[bytes] = deque(maxlen=max_lines)
        self._dropped = 0

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = encode_record(record).rstrip(b"\n")
        except Exception:
            self.handleError(record)
            return
        with self._guard:
            self._dropped += len(self._lines) == self._lines.maxlen
            self._lines.append(line)

    @property
    def _guard(self) -> threading.RLock:
        assert self.lock is not None  # made by Handler.__init__
        return self.lock

    def take(self) -> list[bytes]:
        """The lines kept since the last take, oldest first; a note first where some
        were dropped."""
        with self._guard:
            lines, dropped = list(self._lines), self._dropped
            self._lines.clear()
            self._dropped = 0
        if dropped:
            note = logging.makeLogRecord(
                {
                    "name": "cashwatch.worker",
                    "levelno": logging.WARNING,
                    "msg": f"{dropped} log line(s) dropped: more than "
                    f"{self._lines.maxlen} between two polls",
                }
            )
            lines.insert(0, encode_record(note).rstrip(b"\n"))
        return lines
