"""The hand-off of sampled frames from the reading thread to the processing thread."""

from __future__ import annotations

import threading
import time

import pytest

from cashwatch.core.sampling import detection_stride
from cashwatch.worker.mailbox import SampleMailbox


def test_one_slow_frame_loses_no_sample_but_a_stall_drops_the_oldest() -> None:
    box = SampleMailbox()
    assert box.put("a", 0.0) is False
    assert box.put("b", 0.1) is False  # processing is still on an earlier frame
    assert box.take(0.0) == ("a", 0.0)  # oldest first: tracks see frames in order
    assert [box.put(f, t) for f, t in (("c", 0.2), ("d", 0.3))] == [False, True]
    assert [box.take(0.0), box.take(0.0)] == [("c", 0.2), ("d", 0.3)]


def test_take_wakes_when_a_frame_arrives_and_times_out_without_one() -> None:
    box = SampleMailbox()
    started = time.monotonic()
    assert box.take(0.05) is None
    assert time.monotonic() - started >= 0.04
    got: list[object] = []
    taker = threading.Thread(target=lambda: got.append(box.take(10.0)))
    taker.start()
    box.put("frame", 1.0)
    taker.join(5.0)
    assert got == [("frame", 1.0)]


def test_bad_values_are_refused_with_what_is_valid() -> None:
    with pytest.raises(ValueError, match="capacity must be at least 1, got 0"):
        SampleMailbox(capacity=0)
    with pytest.raises(ValueError, match="must be positive, got source=0"):
        detection_stride(0.0, 7.5)
