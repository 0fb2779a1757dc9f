"""ClipRecorder fed real footage frame by frame, the way the worker's threads do."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest

from cashwatch.config import CameraConfig
from cashwatch.evidence.mp4 import trigger_offset_of
from cashwatch.evidence.recorder import CHUNK_S, SETTLE_S, ClipRecorder
from cashwatch.store.journal import JournalWriter
from tests.conftest import require_media
from tests.evidence.frames import (
    MAGENTA,
    marker_times,
    probe,
    solid,
    top_level_atoms,
    video_frames,
)
from tests.store.builders import journal_lines, make_record

FIRE_VIDEO = "video/f3_dollhouse_fire_white_smoke__furg_house6.mp4"
SOURCE_FPS = 30.0
T0 = 1_700_000_000.0


def _camera(pre_s: float = 4.0, post_s: float = 3.0, fps: float = 10.0) -> CameraConfig:
    return CameraConfig(
        id="cam1",
        source="demo:fire",
        clip={"pre_seconds": pre_s, "post_seconds": post_s, "fps": fps},
    )


def _clip_results(data_dir: Path) -> dict[str, dict]:
    return {
        r["event_id"]: r
        for r in map(json.loads, journal_lines(data_dir, "cam1"))
        if r["kind"] == "clip"
    }


def _feed(
    recorder: ClipRecorder,
    frames,
    triggers: dict[int, tuple],
    data_dir: Path,
    report_delay: int = 4,
) -> dict[str, float]:
    """Feed frames at 30 fps; frame i in `triggers` becomes a solid marker and, like the
    worker's main thread, is reported `report_delay` frames later while still held."""
    held: dict[int, tuple[np.ndarray, float]] = {}
    trigger_ts: dict[str, float] = {}
    for index, frame in enumerate(frames):
        ts = T0 + index / SOURCE_FPS
        if index in triggers:
            frame = solid(frame, triggers[index][1])
            held[index] = (frame, ts)
        recorder.add_frame(frame, ts)
        for marked, (_kept, marked_ts) in list(held.items()):
            if index == marked + report_delay:
                event_id = triggers[marked][0]
                recorder.request_clip(make_record(event_id, started_at=marked_ts))
                trigger_ts[event_id] = marked_ts
                del held[marked]
    return trigger_ts


@pytest.mark.media
def test_clip_is_browser_ready_h264_with_the_trigger_frame_at_its_time(tmp_path: Path) -> None:
    marker = 181
    assert marker % 3 != 0, "the marker must be a frame the 10 fps sampler skips"
    journal = JournalWriter(tmp_path, "cam1")
    recorder = ClipRecorder(_camera(), tmp_path, journal)
    frames = video_frames(require_media(FIRE_VIDEO))
    _feed(
        recorder, (f for i, f in enumerate(frames) if i < 320), {marker: ("ev1", MAGENTA)}, tmp_path
    )
    recorder.close()

    result = _clip_results(tmp_path)["ev1"]
    assert result["clip_error"] is None
    clip = tmp_path / result["clip_path"]
    assert result["clip_path"].startswith("clips/")
    assert result["clip_path"].endswith("/cam1/ev1.mp4")
    info = probe(clip)
    assert (info["codec_name"], info["pix_fmt"]) == ("h264", "yuv420p")
    assert info["duration"] == pytest.approx(7.0, abs=1.0)
    atoms = top_level_atoms(clip)
    assert atoms.index("moov") < atoms.index("mdat")
    times = marker_times(clip, MAGENTA)
    assert times and times[0] == pytest.approx(4.0, abs=0.15)
    # the clip notes where its trigger frame is, for the dashboard's player
    assert trigger_offset_of(clip) == pytest.approx(times[0], abs=0.15)
    assert not list(clip.parent.glob(".*.tmp"))


@pytest.mark.media
def test_overlapping_events_each_get_a_clip_sharing_frames(tmp_path: Path) -> None:
    journal = JournalWriter(tmp_path, "cam1")
    recorder = ClipRecorder(_camera(), tmp_path, journal)
    frames = list(f for i, f in enumerate(video_frames(require_media(FIRE_VIDEO))) if i < 360)
    for index, frame in enumerate(frames[:200]):
        recorder.add_frame(frame, T0 + index / SOURCE_FPS)
    recorder.request_clip(make_record("a", started_at=T0 + 150 / SOURCE_FPS))
    recorder.request_clip(make_record("b", started_at=T0 + 195 / SOURCE_FPS))
    first, second = recorder.collecting()
    common = {e.ts for e in first.frames} & {e.ts for e in second.frames}
    assert len(common) > 30
    by_ts = {e.ts: e for e in first.frames}
    shared_checked = all(by_ts[e.ts] is e for e in second.frames if e.ts in common)
    assert shared_checked, "overlapping clips must share the buffered JPEG objects"
    for index, frame in enumerate(frames[200:], start=200):
        recorder.add_frame(frame, T0 + index / SOURCE_FPS)
    recorder.close()

    results = _clip_results(tmp_path)
    assert set(results) == {"a", "b"}
    for event_id in ("a", "b"):
        assert results[event_id]["clip_error"] is None
        assert probe(tmp_path / results[event_id]["clip_path"])["duration"] == pytest.approx(
            7.0, abs=1.0
        )


def _synthetic(index: int, size_wh: tuple[int, int] = (320, 240)) -> np.ndarray:
    width, height = size_wh
    frame = np.full((height, width, 3), 60, np.uint8)
    x = index * 9 % width
    frame[:, max(0, x - 12) : x + 12] = (0, 200, 0)
    return frame


def test_a_clip_that_cannot_be_written_is_reported_and_recording_goes_on(tmp_path: Path) -> None:
    journal = JournalWriter(tmp_path, "cam1")
    recorder = ClipRecorder(_camera(pre_s=1.0, post_s=1.0), tmp_path, journal)
    (tmp_path / "clips").write_text("a file where the clips folder belongs")
    for index in range(60):
        recorder.add_frame(_synthetic(index), T0 + index / SOURCE_FPS)
    recorder.request_clip(make_record("bad", started_at=T0 + 59 / SOURCE_FPS))
    index = 60
    deadline = time.monotonic() + 20
    while "bad" not in _clip_results(tmp_path):
        assert time.monotonic() < deadline
        recorder.add_frame(_synthetic(index), T0 + index / SOURCE_FPS)
        index += 1
    assert _clip_results(tmp_path)["bad"]["clip_path"] is None
    assert "clips" in _clip_results(tmp_path)["bad"]["clip_error"]

    (tmp_path / "clips").unlink()
    recorder.request_clip(make_record("good", started_at=T0 + index / SOURCE_FPS))
    for offset in range(1, 40):
        recorder.add_frame(_synthetic(index + offset), T0 + (index + offset) / SOURCE_FPS)
    recorder.close()
    good = _clip_results(tmp_path)["good"]
    assert good["clip_error"] is None and (tmp_path / good["clip_path"]).is_file()


def test_close_finishes_pending_clips_with_what_was_recorded(tmp_path: Path) -> None:
    journal = JournalWriter(tmp_path, "cam1")
    recorder = ClipRecorder(_camera(pre_s=2.0, post_s=10.0), tmp_path, journal)
    for index in range(90):
        recorder.add_frame(_synthetic(index), T0 + index / SOURCE_FPS)
    recorder.request_clip(make_record("e1", started_at=T0 + 89 / SOURCE_FPS))
    for index in range(90, 120):
        recorder.add_frame(_synthetic(index), T0 + index / SOURCE_FPS)
    assert recorder.pending_clips == 1
    recorder.close()
    result = _clip_results(tmp_path)["e1"]
    assert result["clip_error"] is None
    assert probe(tmp_path / result["clip_path"])["duration"] == pytest.approx(3.0, abs=0.5)


def test_encoding_a_clip_does_not_stall_add_frame(tmp_path: Path) -> None:
    journal = JournalWriter(tmp_path, "cam1")
    recorder = ClipRecorder(_camera(pre_s=4.0, post_s=0.5), tmp_path, journal)
    frames = [_synthetic(i, (1280, 720)) for i in range(8)]
    for index in range(130):
        recorder.add_frame(frames[index % 8], T0 + index / SOURCE_FPS)
    recorder.request_clip(make_record("e1", started_at=T0 + 129 / SOURCE_FPS))
    durations = []
    index = 130
    deadline = time.monotonic() + 60
    while "e1" not in _clip_results(tmp_path):
        assert time.monotonic() < deadline
        started = time.perf_counter()
        recorder.add_frame(frames[index % 8], T0 + index / SOURCE_FPS)
        durations.append(time.perf_counter() - started)
        index += 1
        time.sleep(1 / SOURCE_FPS)  # a live camera's pace, leaving the encoder its share
    recorder.close()
    print(f"{len(durations)} frames added while encoding, slowest {max(durations) * 1000:.1f} ms")
    assert len(durations) > 5, "the clip was encoded before we could watch add_frame"
    assert max(durations) < 0.25, f"add_frame stalled for {max(durations):.2f} s"


def test_the_buffer_keeps_clip_fps_and_stays_bounded(tmp_path: Path) -> None:
    recorder = ClipRecorder(_camera(pre_s=4.0, post_s=1.0), tmp_path, JournalWriter(tmp_path, "c"))
    for index in range(600):  # 20 s at 30 fps
        recorder.add_frame(_synthetic(index), T0 + index / SOURCE_FPS)
    entries = list(recorder.buffer)
    span = entries[-1].ts - entries[0].ts
    assert span <= 4.0 + 2.0 + 1e-6
    assert len(entries) == pytest.approx(span * 10 + 1, abs=1)
    assert recorder.buffer_bytes == sum(len(e.jpeg) for e in entries)
    recorder.close()


def test_a_frame_that_cannot_be_encoded_is_skipped_not_raised(tmp_path: Path) -> None:
    recorder = ClipRecorder(_camera(), tmp_path, JournalWriter(tmp_path, "cam1"))
    recorder.add_frame(np.zeros((0, 0, 3), np.uint8), T0)
    recorder.add_frame(_synthetic(1), T0 + 0.2)
    assert recorder.skipped_frames == 1 and len(recorder.buffer) == 1
    recorder.close()


def _run_incident(
    tmp_path: Path,
    camera: CameraConfig,
    *,
    trigger_s: float,
    until_s: float,
    total_s: float,
    fps: float = 30.0,
    recorder: ClipRecorder | None = None,
) -> tuple[dict, int]:
    """Feed `total_s` of frames; an event at `trigger_s` followed until `until_s` (as the
    worker does: a followed clip at the event, end_clip when its span ends).
    Returns the clip's journal record and the most frames any clip held at once."""
    recorder = recorder or ClipRecorder(camera, tmp_path, JournalWriter(tmp_path, "cam1"))
    most_held = 0
    requested = ended = False
    for index in range(round(total_s * fps)):
        ts = T0 + index / fps
        recorder.add_frame(_synthetic(index), ts)
        if not requested and index / fps >= trigger_s:
            recorder.request_clip(make_record("long", started_at=ts), follow=True)
            requested = True
        elif requested and not ended and index / fps >= until_s:
            recorder.end_clip("long", T0 + until_s)
            ended = True
        most_held = max([most_held, *(len(c.frames) for c in recorder.collecting())])
    recorder.close()
    return _clip_results(tmp_path)["long"], most_held


def test_a_long_incident_is_recorded_to_its_end_without_holding_it_in_memory(
    tmp_path: Path,
) -> None:
    camera = _camera(pre_s=2.0, post_s=2.0)
    result, most_held = _run_incident(tmp_path, camera, trigger_s=5.0, until_s=35.0, total_s=45.0)
    assert result["clip_error"] is None
    clip = tmp_path / result["clip_path"]
    # from pre_seconds before the trigger to post_seconds after the event was last seen
    assert probe(clip)["duration"] == pytest.approx(35.0 + 2.0 - (5.0 - 2.0), abs=0.5)
    assert trigger_offset_of(clip) == pytest.approx(2.0, abs=0.15)
    # 34 s at 10 clip frames/s went through, but only the unsettled seconds were held
    assert most_held <= (SETTLE_S + CHUNK_S + 0.5) * camera.clip.fps


def test_an_event_that_ends_at_once_keeps_its_trigger_post_roll(tmp_path: Path) -> None:
    camera = _camera(pre_s=2.0, post_s=3.0)
    result, _ = _run_incident(tmp_path, camera, trigger_s=5.0, until_s=5.0, total_s=15.0)
    assert probe(tmp_path / result["clip_path"])["duration"] == pytest.approx(5.0, abs=0.5)


def test_max_seconds_caps_a_clip_that_never_ends(tmp_path: Path) -> None:
    camera = CameraConfig(
        id="cam1",
        source="demo:fire",
        clip={"pre_seconds": 2.0, "post_seconds": 2.0, "fps": 10.0, "max_seconds": 12.0},
    )
    result, _ = _run_incident(tmp_path, camera, trigger_s=5.0, until_s=60.0, total_s=40.0)
    assert result["clip_error"] is None
    assert probe(tmp_path / result["clip_path"])["duration"] == pytest.approx(12.0, abs=0.5)


def test_max_seconds_never_cuts_pre_and_post_roll(tmp_path: Path) -> None:
    """A config from before max_seconds existed, with long pre- and post-rolls, still
    loads and keeps both (max_seconds is only a cap on following an event)."""
    camera = CameraConfig(
        id="cam1", source="demo:fire", clip={"pre_seconds": 60.0, "post_seconds": 90.0}
    )
    assert camera.clip.max_seconds < 150.0
    recorder = ClipRecorder(camera, tmp_path, JournalWriter(tmp_path, "cam1"))
    recorder.add_frame(_synthetic(0), T0)
    recorder.request_clip(make_record("e", started_at=T0), follow=True)
    (clip,) = recorder.collecting()
    assert clip.end_ts == T0 + 90.0  # the limit: the trigger's whole post-roll
    recorder.close()


def test_a_clip_is_finished_when_its_camera_goes_dark(tmp_path: Path) -> None:
    """No frames come any more: time alone finishes the clip with what it has."""
    recorder = ClipRecorder(
        _camera(pre_s=2.0, post_s=2.0), tmp_path, JournalWriter(tmp_path, "cam1")
    )
    for index in range(90):
        recorder.add_frame(_synthetic(index), T0 + index / SOURCE_FPS)
    recorder.request_clip(make_record("dark", started_at=T0 + 89 / SOURCE_FPS))
    recorder.tick(T0 + 89 / SOURCE_FPS + 1.0)
    assert recorder.pending_clips == 1  # not due yet
    recorder.tick(T0 + 89 / SOURCE_FPS + 2.5)
    deadline = time.monotonic() + 20
    while "dark" not in _clip_results(tmp_path):
        assert time.monotonic() < deadline, "the clip was never finished"
        time.sleep(0.05)  # the encoder thread writes it; polled with a deadline
    result = _clip_results(tmp_path)["dark"]
    assert result["clip_error"] is None
    assert probe(tmp_path / result["clip_path"])["duration"] == pytest.approx(2.0, abs=0.5)
    recorder.close()


def test_frames_are_dropped_not_queued_when_the_encoder_is_far_behind(tmp_path: Path) -> None:
    """Past the cap on bytes waiting for the encoder, a followed clip loses what it records
    past the trigger's post-roll rather than memory growing; the seconds around the
    trigger are kept."""
    camera = _camera(pre_s=1.0, post_s=1.0)
    recorder = ClipRecorder(camera, tmp_path, JournalWriter(tmp_path, "cam1"))
    recorder.max_queued_bytes = -1  # "always behind": every settled chunk is over the cap
    result, _ = _run_incident(
        tmp_path, camera, trigger_s=2.0, until_s=20.0, total_s=30.0, recorder=recorder
    )
    assert result["clip_error"] is None
    frames = int(probe(tmp_path / result["clip_path"])["nb_frames"])
    fps = camera.clip.fps
    around_trigger = (camera.clip.pre_seconds + camera.clip.post_seconds) * fps
    # kept: pre- and post-roll, and the final seconds not yet settled when the event ended
    assert around_trigger - 1 <= frames <= around_trigger + (SETTLE_S + CHUNK_S + 2.0) * fps
    assert frames < 0.5 * 19 * fps  # most of the 19 s followed were dropped


def test_a_followed_clip_with_no_post_roll_stays_open_until_its_end(tmp_path: Path) -> None:
    """The event is reported a moment after its frame was read (processing); with
    post_seconds 0 a plain clip would already be due, a followed one must wait."""
    recorder = ClipRecorder(
        _camera(pre_s=1.0, post_s=0.0), tmp_path, JournalWriter(tmp_path, "cam1")
    )
    for index in range(60):
        recorder.add_frame(_synthetic(index), T0 + index / SOURCE_FPS)
    trigger = T0 + 40 / SOURCE_FPS  # 0.6 s before the newest frame
    recorder.request_clip(make_record("now", started_at=trigger), follow=True)
    assert [c.event_id for c in recorder.collecting()] == ["now"]
    recorder.end_clip("now", trigger + 1.0)
    for index in range(60, 120):
        recorder.add_frame(_synthetic(index), T0 + index / SOURCE_FPS)
    assert recorder.collecting() == ()
    recorder.close()
    result = _clip_results(tmp_path)["now"]
    assert probe(tmp_path / result["clip_path"])["duration"] == pytest.approx(2.0, abs=0.3)


def test_a_clip_that_fails_part_way_is_reported_once_and_leaves_no_file(tmp_path: Path) -> None:
    """The disk goes away while a long clip is being written: one error, no temp file."""
    journal = JournalWriter(tmp_path, "cam1")
    recorder = ClipRecorder(_camera(pre_s=1.0, post_s=1.0), tmp_path, journal)
    for index in range(60):
        recorder.add_frame(_synthetic(index), T0 + index / SOURCE_FPS)
    relpath = recorder.request_clip(
        make_record("cut", started_at=T0 + 59 / SOURCE_FPS), follow=True
    )
    index = 60
    deadline = time.monotonic() + 30
    while not (tmp_path / relpath).parent.exists():  # the encoder has begun writing
        assert time.monotonic() < deadline, "the encoder never started the clip"
        recorder.add_frame(_synthetic(index), T0 + index / SOURCE_FPS)
        index += 1
    folder = (tmp_path / relpath).parent
    for leftover in folder.iterdir():
        leftover.unlink()
    folder.rmdir()
    folder.write_text("a file where the clip's folder was")  # writing on fails
    for offset in range(20 * 30):  # 20 s more of the incident, which ends after 10
        ts = T0 + (index + offset) / SOURCE_FPS
        recorder.add_frame(_synthetic(index + offset), ts)
        if offset == 10 * 30:
            recorder.end_clip("cut", ts)
    recorder.close()
    results = [r for r in map(json.loads, journal_lines(tmp_path, "cam1")) if r["kind"] == "clip"]
    assert len(results) == 1 and results[0]["clip_path"] is None
    assert folder.is_file()  # nothing was written under the clip's name
    assert results[0]["clip_error"]
