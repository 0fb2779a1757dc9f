"""Reconnect back-off with jitter: bounded, and different from camera to camera."""

from __future__ import annotations

import re
import socket
import threading
import time

import pytest

from cashwatch.config import CameraConfig
from cashwatch.util.backoff import Backoff
from cashwatch.worker.reader import RETRY_INITIAL_S, RETRY_JITTER, RETRY_MAX_S, FrameReader
from tests.harness import wait_for

RETRY = re.compile(r"retrying in ([\d.]+) s")


def _nominal(count: int) -> list[float]:
    return [min(RETRY_INITIAL_S * 2**n, RETRY_MAX_S) for n in range(count)]


def test_jittered_delays_stay_within_their_bounds_and_spread() -> None:
    draws = [Backoff(initial_s=0.5, max_s=5, jitter=0.25).next_delay() for _ in range(2000)]
    assert all(0.375 <= d <= 0.5 for d in draws)
    assert min(draws) < 0.39 and max(draws) > 0.49, "the whole range is used"
    backoff = Backoff(initial_s=0.5, max_s=5, jitter=0.25)
    for nominal in _nominal(8):
        assert 0.75 * nominal <= backoff.next_delay() <= nominal  # the cap still holds
    backoff.reset()
    assert backoff.next_delay() <= 0.5


def test_no_jitter_keeps_the_exact_sequence_and_bad_jitter_is_refused() -> None:
    backoff = Backoff(initial_s=1, max_s=10)
    assert [backoff.next_delay() for _ in range(5)] == [1, 2, 4, 8, 10]
    with pytest.raises(ValueError, match="jitter"):
        Backoff(jitter=1.0)


def _refused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # closed again: connecting is refused


def _reader_delays(source: str, count: int) -> list[float]:
    """The retry delays a real reader announces for a source that refuses it."""
    delays: list[float] = []
    stop = threading.Event()

    def on_state(state: str, error: str | None) -> None:
        if error and (found := RETRY.search(error)):
            delays.append(float(found[1]))
            if len(delays) >= count:
                stop.set()

    camera = CameraConfig(id="cam", source=source, open_timeout_s=1.0, read_timeout_s=1.0)
    reader = FrameReader(camera, lambda *_: None, on_state, stop)
    reader.start()
    deadline = time.monotonic() + 30
    while not stop.is_set() and time.monotonic() < deadline:
        stop.wait(0.1)
    stop.set()
    reader.join(10)
    return delays


def test_two_readers_of_one_dead_recorder_do_not_retry_in_lockstep() -> None:
    source = f"rtsp://127.0.0.1:{_refused_port()}/live"
    first, second = (_reader_delays(source, 3) for _ in range(2))
    for delays in (first, second):
        assert len(delays) == 3, delays
        for delay, nominal in zip(delays, _nominal(3), strict=True):
            assert (1 - RETRY_JITTER) * nominal - 0.01 <= delay <= nominal, delays
    assert first != second, "each reader draws its own delays"


def test_an_outage_is_logged_once_when_it_starts_and_once_when_it_ends(
    tmp_path, make_video, caplog: pytest.LogCaptureFixture
) -> None:
    # a file that is not there yet: the reader retries; once it appears, frames flow
    target = tmp_path / "late.avi"
    camera = CameraConfig(id="late", source=str(target), open_timeout_s=1.0, read_timeout_s=1.0)
    stop = threading.Event()
    states: list[str] = []
    reader = FrameReader(camera, lambda *_: None, lambda state, _e: states.append(state), stop)
    caplog.set_level("DEBUG", logger="cashwatch.worker.reader")
    reader.start()
    try:
        wait_for(lambda: states.count("error") >= 2, 30, "two failed opens")
        make_video("ready.avi", seconds=0.4).rename(target)
        wait_for(lambda: "again" in caplog.text, 30, "the reading-again line")
        # the file loops from here on: each loop restarts reading without a line
        wait_for(lambda: states.count("running") >= 3, 30, "the file looped twice")
    finally:
        stop.set()
        reader.join(10)
    lines = [r for r in caplog.records if r.levelname in ("WARNING", "INFO")]
    assert [r.levelname for r in lines] == ["WARNING", "INFO"], caplog.text
    assert "camera late:" in lines[0].getMessage() and "retrying in" in lines[0].getMessage()
    assert "reading again after" in lines[1].getMessage(), lines[1].getMessage()
