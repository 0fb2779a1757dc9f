"""A worker's log records reach the manager's handlers over its own pipe: masked, with a
fault dump, and a worker killed in the middle of a line ends only its own relay. Real
processes set up by the worker base (cashwatch.worker.base)."""

from __future__ import annotations

import fcntl
import logging
import multiprocessing as mp
import os
import signal
import struct
import termios
import threading
from collections.abc import Iterator
from multiprocessing.connection import Connection
from multiprocessing.synchronize import Event as MpEvent

import pytest

from cashwatch.worker.base import ProcessSetup, enter_worker_process
from cashwatch.worker.log_pipe import (
    OUTPUT_LOGGER,
    LineBuffer,
    LogRelay,
    decode_line,
    encode_record,
)
from tests.harness import wait_for

PASSWORD = "hunter2"
LONG_LINE_CHARS = 1 << 20  # far more than a pipe holds: its writer blocks inside the line
_CTX = mp.get_context("spawn")


class Collected(logging.Handler):
    """Every record the root logger hands on, kept."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def of(self, origin: str) -> list[logging.LogRecord]:
        return [r for r in list(self.records) if getattr(r, "origin", None) == origin]


@pytest.fixture
def collected() -> Iterator[Collected]:
    handler = Collected()
    logging.getLogger().addHandler(handler)
    yield handler
    logging.getLogger().removeHandler(handler)


def _log_until_stopped(pipe: Connection, stop: MpEvent) -> None:
    enter_worker_process(ProcessSetup(camera_id="calm", log_pipe=pipe))
    count = 0
    while not stop.wait(0.02):  # paced, as a camera logs now and then
        count += 1
        logging.getLogger("cashwatch.worker").info("still here %d", count)


def _log_one_long_line(pipe: Connection) -> None:
    enter_worker_process(ProcessSetup(camera_id="noisy", log_pipe=pipe))
    logging.getLogger("cashwatch.worker").info("x" * LONG_LINE_CHARS)


def _log_then_crash(pipe: Connection) -> None:
    enter_worker_process(ProcessSetup(camera_id="crashy", log_pipe=pipe))

    def fail() -> None:
        raise ValueError(f"cannot open rtsp://admin:{PASSWORD}@10.0.0.5/live")

    thread = threading.Thread(target=fail, name="reader")
    thread.start()
    thread.join()
    import faulthandler

    faulthandler._sigsegv()  # a fatal signal, as a crash inside OpenCV


def _unread_bytes(pipe: Connection) -> int:
    return int(struct.unpack("i", fcntl.ioctl(pipe.fileno(), termios.FIONREAD, b"\0" * 4))[0])


def _start(target: object, *args: object) -> tuple[mp.process.BaseProcess, Connection]:
    reader, writer = _CTX.Pipe(duplex=False)
    process = _CTX.Process(target=target, args=(*args, writer))
    process.start()
    writer.close()
    return process, reader


def test_a_worker_killed_in_the_middle_of_a_line_stops_no_other(collected: Collected) -> None:
    stop = _CTX.Event()
    calm_reader, calm_writer = _CTX.Pipe(duplex=False)
    calm = _CTX.Process(target=_log_until_stopped, args=(calm_writer, stop))
    calm.start()
    calm_writer.close()
    calm_relay = LogRelay(calm_reader, "camera:calm", calm.pid or 0).start()
    noisy, noisy_reader = _start(_log_one_long_line)
    try:
        # Nobody reads the noisy pipe yet: once it is full, its writer is stuck in the
        # middle of its line, and is killed there.
        capacity = fcntl.fcntl(noisy_reader.fileno(), fcntl.F_GETPIPE_SZ)
        wait_for(lambda: _unread_bytes(noisy_reader) >= capacity, 30, "a full pipe")
        os.kill(noisy.pid or 0, signal.SIGKILL)
        noisy.join(10)
        noisy_relay = LogRelay(noisy_reader, "camera:noisy", noisy.pid or 0).start()
        wait_for(lambda: not noisy_relay.is_alive(), 10, "the relay of the killed worker to end")
        (cut,) = collected.of("camera:noisy")
        assert cut.name == OUTPUT_LOGGER and cut.process == noisy.pid
        assert capacity <= len(cut.getMessage()) < LONG_LINE_CHARS
        before = len(collected.of("camera:calm"))
        wait_for(
            lambda: len(collected.of("camera:calm")) > before + 3,
            10,
            "the other worker's lines after the kill",
        )
    finally:
        stop.set()
        calm.join(10)
    calm_relay.join(10)
    assert not calm_relay.is_alive(), "a relay ends with its worker"
    lines = [r.getMessage() for r in collected.of("camera:calm")]
    assert lines[:2] == ["still here 1", "still here 2"], lines[:2]
    assert {r.process for r in collected.of("camera:calm")} == {calm.pid}


def test_a_workers_traceback_and_fault_dump_arrive_masked(collected: Collected) -> None:
    crashy, reader = _start(_log_then_crash)
    relay = LogRelay(reader, "camera:crashy", crashy.pid or 0).start()
    crashy.join(30)
    relay.join(10)
    assert crashy.exitcode == -signal.SIGSEGV
    records = collected.of("camera:crashy")
    text = "\n".join(r.getMessage() for r in records)
    assert PASSWORD not in text
    (uncaught,) = [r for r in records if "uncaught exception in thread reader" in r.getMessage()]
    assert uncaught.levelno == logging.CRITICAL and uncaught.name == "cashwatch.worker"
    assert "rtsp://admin:***@10.0.0.5/live" in uncaught.getMessage()  # its traceback
    dump = [r.getMessage() for r in records if r.name == OUTPUT_LOGGER]
    assert any("Fatal Python error: Segmentation fault" in line for line in dump), dump


def test_a_record_crosses_the_pipe_as_it_was_logged_masked() -> None:
    record = logging.makeLogRecord(
        {
            "name": "cashwatch.worker",
            "levelno": logging.ERROR,
            "created": 1_700_000_000.25,
            "threadName": "reader",
            "msg": "open %s failed\nsecond line",
            "args": (f"rtsp://u:{PASSWORD}@h/x",),
        }
    )
    line = encode_record(record)
    assert line.endswith(b"\n") and line.count(b"\n") == 1 and PASSWORD.encode() not in line
    back = decode_line(line.rstrip(b"\n"), "camera:c", 42)
    assert (back.name, back.levelno, back.levelname, back.threadName) == (
        "cashwatch.worker",
        logging.ERROR,
        "ERROR",
        "reader",
    )
    assert (back.created, back.msecs, back.process) == (1_700_000_000.25, 250.0, 42)
    assert back.getMessage() == "open rtsp://u:***@h/x failed\nsecond line"
    assert back.origin == "camera:c"  # type: ignore[attr-defined]
    plain = decode_line(b"Fatal Python error: Aborted", "camera:c", 42)
    assert (plain.name, plain.getMessage()) == (OUTPUT_LOGGER, "Fatal Python error: Aborted")


def test_a_ray_actors_lines_wait_for_the_next_poll_and_say_what_was_dropped() -> None:
    buffer = LineBuffer(max_lines=3)
    logger = logging.getLogger("tests.worker.actor")
    logger.addHandler(buffer)
    logger.propagate = False
    try:
        for n in range(5):
            logger.warning("line %d via rtsp://u:%s@h/x", n, PASSWORD)
    finally:
        logger.removeHandler(buffer)
        logger.propagate = True
    taken = [decode_line(line, "camera:c", 7).getMessage() for line in buffer.take()]
    assert taken == [
        "2 log line(s) dropped: more than 3 between two polls",
        *(f"line {n} via rtsp://u:***@h/x" for n in (2, 3, 4)),
    ]
    assert buffer.take() == []
