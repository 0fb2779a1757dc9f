"""The detection pipeline on real clips with the OpenVINO model, as a camera worker runs it."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from cashwatch.config import CameraConfig, CameraSettings, ModelConfig
from cashwatch.core.events import DetectedEvent
from cashwatch.core.geometry import iou_matrix
from cashwatch.core.hooks import NullProcessor
from cashwatch.core.spans import EndedSpan
from cashwatch.demo.scenes import TamperScene
from cashwatch.demo.source import open_demo
from cashwatch.detect.backends import load_pose_model
from cashwatch.detect.clips import sampled_frames
from cashwatch.detect.model import PoseModel
from cashwatch.detect.pipeline import WHOLE_FRAME_EVERY_S, DetectionProcessor, build_processor
from tests.conftest import require_media

pytestmark = pytest.mark.media

OPENVINO_F32 = ModelConfig(backend="openvino", precision="f32")


@pytest.fixture(scope="module")
def pose_model(model_data_dir: Path) -> PoseModel:
    return load_pose_model(OPENVINO_F32, model_data_dir)


def run_clip(
    path: Path,
    processor: DetectionProcessor,
    stop_on: str | None = None,
) -> list[DetectedEvent]:
    """Feed the sampled frames of a clip, as the worker does; stop at `stop_on` if given."""
    events: list[DetectedEvent] = []
    for frame, ts in sampled_frames(path, processor.camera.detection.fps):
        before = frame.copy()
        result = processor.process(frame, ts)
        assert np.array_equal(frame, before), "the processor drew on the camera's frame"
        events += result.events
        if stop_on and any(e.event_type == stop_on for e in result.events):
            break
    return events


def test_fight_at_the_counter_raises_violence(pose_model: PoseModel) -> None:
    clip = require_media("video/v1_fight_at_shop_counter__fightsurv_fi082.mp4")
    events = run_clip(clip, DetectionProcessor(CameraSettings(), pose_model))
    violence = [e for e in events if e.event_type == "violence"]
    assert len(violence) == 1
    event = violence[0]
    assert event.snapshot_jpeg is not None and event.snapshot_jpeg[:2] == b"\xff\xd8"
    assert len(event.details["tracks"]) == 2
    assert [e.event_type for e in events].count("cash") == 0


def test_calm_counter_raises_nothing(pose_model: PoseModel) -> None:
    clip = require_media("video/a7_shop_counter_calm__fightsurv_nofi005.mp4")
    processor = DetectionProcessor(CameraSettings(), pose_model)
    assert run_clip(clip, processor) == []
    assert processor.counters.inferred > 0


def test_fire_clip_raises_fire_without_the_pose_model() -> None:
    clip = require_media("video/f3_dollhouse_fire_white_smoke__furg_house6.mp4")
    settings = CameraSettings.model_validate(
        {"detection": {"cash": {"enabled": False}, "violence": {"enabled": False}}}
    )
    processor = DetectionProcessor(settings, None)
    events = run_clip(clip, processor, stop_on="fire")
    assert [e.event_type for e in events] == ["fire"]
    assert processor.counters.inferred == 0
    assert events[0].snapshot_jpeg is not None


def test_a_fire_event_ends_at_the_last_flame_seen() -> None:
    clip = require_media("video/f3_dollhouse_fire_white_smoke__furg_house6.mp4")
    settings = CameraSettings.model_validate(
        {"detection": {"cash": {"enabled": False}, "violence": {"enabled": False}}}
    )
    processor = DetectionProcessor(settings, None)
    raised, ended, last_ts, frame = [], [], 0.0, None
    for frame, last_ts in sampled_frames(clip, settings.detection.fps):
        result = processor.process(frame, last_ts)
        raised += result.events
        ended += result.ended
    assert [e.event_type for e in raised] == ["fire"]
    assert raised[0].span_id is not None
    assert ended == []  # the dollhouse burns to the end of the clip
    last_flame = processor.rules["fire"].evidence_ts(())
    assert last_flame is not None and last_flame > raised[0].ts + 5.0  # burned on well after
    # the flames go out: a dark room for a few seconds
    assert frame is not None
    dark = np.zeros_like(frame)
    ts = last_ts
    while not ended:
        ts += 1.0 / settings.detection.fps
        assert ts < last_ts + 10.0, "the fire event never ended"
        ended = processor.process(dark, ts).ended
    assert [(s.span_id, s.event_type, s.started_at, s.ended_at) for s in ended] == [
        (raised[0].span_id, "fire", raised[0].ts, last_flame)
    ]
    assert processor.end_all() == []


def test_a_camera_that_goes_dark_ends_its_events_without_frames() -> None:
    clip = require_media("video/f3_dollhouse_fire_white_smoke__furg_house6.mp4")
    settings = CameraSettings.model_validate(
        {"detection": {"cash": {"enabled": False}, "violence": {"enabled": False}}}
    )
    processor = DetectionProcessor(settings, None)
    raised: list[DetectedEvent] = []
    for frame, ts in sampled_frames(clip, settings.detection.fps):
        raised += processor.process(frame, ts).events
        if raised:
            break
    last_flame = processor.rules["fire"].evidence_ts(())
    assert last_flame is not None
    assert processor.end_quiet(last_flame + 2.0) == []
    assert [s.ended_at for s in processor.end_quiet(last_flame + 3.0)] == [last_flame]
    # frames after a gap: the gap itself was quiet, whatever the frame shows
    processor = DetectionProcessor(settings, None)
    raised = []
    for frame, ts in sampled_frames(clip, settings.detection.fps):
        raised += processor.process(frame, ts).events
        if raised:
            break
    flame_before_gap = processor.rules["fire"].evidence_ts(())
    ended = processor.process(frame, ts + 60.0).ended  # the same flames, a minute later
    assert [s.ended_at for s in ended] == [flame_before_gap]


def test_at_a_low_detection_rate_quiet_means_a_few_sampled_frames() -> None:
    slow = CameraSettings.model_validate(
        {"detection": {"fps": 0.2, "cash": {"enabled": False}, "violence": {"enabled": False}}}
    )
    assert DetectionProcessor(slow, None).spans.quiet_s == pytest.approx(15.0)
    assert (
        DetectionProcessor(
            CameraSettings.model_validate(
                {"detection": {"cash": {"enabled": False}, "violence": {"enabled": False}}}
            ),
            None,
        ).spans.quiet_s
        == 3.0
    )


def test_motion_gate_skips_a_still_empty_scene(pose_model: PoseModel) -> None:
    processor = DetectionProcessor(CameraSettings(), pose_model)
    frame = np.full((360, 640, 3), 80, np.uint8)
    results = [processor.process(frame, i / 7.5) for i in range(10)]
    assert results[0].ran_inference
    assert all(not r.ran_inference and r.skipped_reason == "motion" for r in results[1:])
    assert processor.counters.skipped_motion == 9


def test_a_still_person_keeps_being_looked_at(pose_model: PoseModel) -> None:
    image = cv2.imread(str(require_media("images/yolov5_zidane.jpg")))
    processor = DetectionProcessor(CameraSettings(), pose_model)
    results = [processor.process(image, i / 7.5) for i in range(17)]
    ran = [i for i, r in enumerate(results) if r.ran_inference]
    # nothing changes: the model looks again only every refresh_s (1 s = 7.5 sampled frames)
    assert ran == [0, 8, 16]
    assert processor.counters.skipped_motion == 14
    # in between, the people stay in view with their last poses (live boxes, rules)
    assert all(r.boxes is not None and len(r.boxes) >= 2 for r in results)
    boxes = results[3].boxes
    assert boxes is not None and boxes[:, :4].min() >= 0.0 and boxes[:, :4].max() <= 1.0


def test_carried_poses_reach_the_cash_rule_but_not_the_speed_rule(pose_model: PoseModel) -> None:
    """Violence measures speed: it must only see fresh detections, never carried poses
    (the verified method's trigger and its pose fallback alike)."""
    image = cv2.imread(str(require_media("images/yolov5_zidane.jpg")))
    processor = DetectionProcessor(CameraSettings(), pose_model)
    seen: dict[str, list[float]] = {"cash": [], "trigger": [], "pose": []}
    cash_update = processor.rules["cash"].update  # type: ignore[attr-defined]
    verified = processor.rules["violence"].rule  # type: ignore[attr-defined]
    trigger_update, pose_update = verified.trigger.update, verified.pose.update

    def cash_spy(poses, ts, size):  # type: ignore[no-untyped-def]
        seen["cash"].append(ts)
        return cash_update(poses, ts, size)

    def trigger_spy(poses, ts):  # type: ignore[no-untyped-def]
        seen["trigger"].append(ts)
        return trigger_update(poses, ts)

    def pose_spy(poses, ts):  # type: ignore[no-untyped-def]
        seen["pose"].append(ts)
        return pose_update(poses, ts)

    processor.rules["cash"].update = cash_spy  # type: ignore[attr-defined]
    verified.trigger.update, verified.pose.update = trigger_spy, pose_spy
    results = [processor.process(image, i / 7.5) for i in range(17)]
    fresh = [i / 7.5 for i, r in enumerate(results) if r.ran_inference]
    assert seen["trigger"] == seen["pose"] == fresh and len(fresh) == 3
    assert seen["cash"] == [i / 7.5 for i in range(17)]


def test_without_a_video_verifier_each_result_says_the_pose_rule_decides(
    pose_model: PoseModel,
) -> None:
    image = cv2.imread(str(require_media("images/yolov5_zidane.jpg")))
    result = DetectionProcessor(CameraSettings(), pose_model).process(image, 0.0)
    assert result.degraded.startswith("violence verifier unavailable (")
    assert result.degraded.endswith("): the pose rule decides meanwhile")
    pose_method = CameraSettings.model_validate({"detection": {"violence": {"method": "pose"}}})
    assert DetectionProcessor(pose_method, pose_model).process(image, 0.0).degraded == ""


def test_without_the_gate_every_sampled_frame_is_looked_at(pose_model: PoseModel) -> None:
    image = cv2.imread(str(require_media("images/yolov5_zidane.jpg")))
    settings = CameraSettings.model_validate({"detection": {"motion": {"enabled": False}}})
    processor = DetectionProcessor(settings, pose_model)
    assert all(processor.process(image, i / 7.5).ran_inference for i in range(4))


def test_build_processor_loads_only_what_the_rules_need(tmp_path: Path) -> None:
    off = {"cash": {"enabled": False}, "violence": {"enabled": False}}
    fire_only = CameraConfig(id="c1", source="demo:fire", detection=off)
    processor = build_processor(fire_only, OPENVINO_F32, tmp_path)
    assert isinstance(processor, DetectionProcessor) and processor.model is None
    assert processor.gate is None  # nothing for a motion gate to spare
    tamper_only = CameraConfig(
        id="c2", source="demo:fire", detection={**off, "fire": {"enabled": False}}
    )
    processor = build_processor(tamper_only, OPENVINO_F32, tmp_path)
    assert isinstance(processor, DetectionProcessor) and processor.model is None
    assert processor.rules["tamper"].active and not processor.rules["fire"].active
    all_off = CameraConfig(
        id="c3",
        source="demo:fire",
        detection={**off, "fire": {"enabled": False}, "tamper": {"enabled": False}},
    )
    assert isinstance(build_processor(all_off, OPENVINO_F32, tmp_path), NullProcessor)


def _quiet_patch(
    boxes: np.ndarray,
    frame_hw: tuple[int, int],
    size: int = 48,
) -> tuple[int, int]:
    """Top-left corner of a patch whose crop (with margin) touches no person."""
    reach = size + 120  # the patch plus the region's margin, generously
    for y in range(0, frame_hw[0] - size, 16):
        for x in range(0, frame_hw[1] - size, 16):
            near = (
                (boxes[:, 0] < x + reach)
                & (boxes[:, 2] > x - reach + size)
                & (boxes[:, 1] < y + reach)
                & (boxes[:, 3] > y - reach + size)
            )
            if not near.any():
                return x, y
    raise AssertionError("no quiet place in the test image")


def test_a_small_change_away_from_people_is_looked_at_in_a_crop(pose_model: PoseModel) -> None:
    image = cv2.imread(str(require_media("images/yolov5_zidane.jpg")))
    processor = DetectionProcessor(CameraSettings(), pose_model)
    first = processor.process(image, 0.0)
    assert first.ran_inference and processor.counters.cropped == 0
    seen = processor._in_view
    assert seen is not None and len(seen) >= 2
    x, y = _quiet_patch(seen.xyxy, image.shape[:2])
    changed = image.copy()
    changed[y : y + 48, x : x + 48] = 255 - changed[y : y + 48, x : x + 48]
    second = processor.process(changed, 0.2)
    assert second.ran_inference and processor.counters.cropped == 1
    # nobody was in the crop: everyone keeps their pose and identity
    after = processor._in_view
    assert after is not None
    assert after.track_id.tolist() == seen.track_id.tolist()
    np.testing.assert_allclose(after.xyxy, seen.xyxy)


def _two_people_far_apart(pose_model: PoseModel) -> np.ndarray:
    """A 720p grey frame with the two people of zidane.jpg, small, at either end."""
    image = cv2.imread(str(require_media("images/yolov5_zidane.jpg")))
    frame = np.full((720, 1280, 3), 110, np.uint8)
    for x, box in zip((80, 900), pose_model.predict(image).xyxy[:2], strict=True):
        x1, y1, x2, y2 = box.astype(int)
        person = cv2.resize(image[y1:y2, x1:x2], None, fx=0.45, fy=0.45)
        frame[200 : 200 + person.shape[0], x : x + person.shape[1]] = person
    return frame


def test_the_whole_frame_is_looked_at_again_every_so_often(pose_model: PoseModel) -> None:
    """Crops alone would never find again someone the model missed while they stood still."""
    empty = np.full((720, 1280, 3), 110, np.uint8)  # nobody the model could look at again
    changed = empty.copy()
    changed[100:148, 100:148] = 240
    processor = DetectionProcessor(CameraSettings(), pose_model)
    processor.process(empty, 0.0)
    processor.process(changed, 0.2)
    processor.process(empty, 0.4)
    assert processor.counters.inferred == 3 and processor.counters.cropped == 2
    processor.process(changed, WHOLE_FRAME_EVERY_S)  # the same small change, 10 s on
    assert processor.counters.inferred == 4 and processor.counters.cropped == 2


def test_a_change_on_a_person_looks_at_that_person_again(pose_model: PoseModel) -> None:
    image = _two_people_far_apart(pose_model)
    # the pose method's `update` sees exactly the fresh poses of each look
    pose_method = CameraSettings.model_validate({"detection": {"violence": {"method": "pose"}}})
    processor = DetectionProcessor(pose_method, pose_model)
    fresh_counts: list[int] = []
    violence_update = processor.rules["violence"].update  # type: ignore[attr-defined]

    def violence_spy(poses, ts):  # type: ignore[no-untyped-def]
        fresh_counts.append(len(poses))
        return violence_update(poses, ts)

    processor.rules["violence"].update = violence_spy  # type: ignore[attr-defined]
    processor.process(image, 0.0)
    seen = processor._in_view
    assert seen is not None and len(seen) >= 2
    one = 0
    x1, y1, x2, y2 = seen.xyxy[one].astype(int)
    cx, cy = (x1 + x2) // 2, (y1 + y2) // 2
    changed = image.copy()
    patch = changed[cy - 32 : cy + 32, cx - 32 : cx + 32]
    patch[:] = 255 - patch  # a small change on that person
    result = processor.process(changed, 0.2)
    assert result.ran_inference
    after = processor._in_view
    assert after is not None and sorted(after.track_id.tolist()) == sorted(seen.track_id.tolist())
    assert processor.counters.cropped == 1
    assert fresh_counts[0] == len(seen) and 1 <= fresh_counts[1] < len(seen)
    index = after.track_id.tolist().index(int(seen.track_id[one]))
    assert iou_matrix(after.xyxy[index : index + 1], seen.xyxy[one : one + 1])[0, 0] > 0.8


def test_crops_on_walking_footage_find_what_the_whole_frame_finds(pose_model: PoseModel) -> None:
    """Everyone in view after a crop look matches a whole-frame look at the same frame."""
    clip = require_media("video/w1_indoor_people_one_by_one__intel.mp4")
    processor = DetectionProcessor(CameraSettings(), pose_model)
    matches: list[float] = []
    for frame, ts in sampled_frames(clip, processor.camera.detection.fps):
        cropped = processor.counters.cropped
        processor.process(frame, ts)
        if processor.counters.cropped == cropped:
            continue
        whole = pose_model.predict(frame)
        seen = processor._in_view
        if len(whole) == 0 and seen is None:
            matches.append(1.0)
            continue
        assert seen is not None and len(whole) == len(seen), f"at {ts:.1f} s"
        matches.append(float(iou_matrix(whole.xyxy, seen.xyxy).max(axis=1).min()))
        if len(matches) == 25:
            break
    assert len(matches) == 25, "the walking clip should give crop looks"
    assert min(matches) > 0.5 and float(np.median(matches)) > 0.9


def _tamper_scene(
    loops: int,
    cooldown_s: float = 15.0,
) -> tuple[DetectionProcessor, list[DetectedEvent], list[EndedSpan]]:
    settings = CameraSettings.model_validate(
        {
            "cooldown_s": cooldown_s,
            "detection": {"cash": {"enabled": False}, "violence": {"enabled": False}},
        }
    )
    processor = DetectionProcessor(settings, None)
    capture = open_demo("tamper", fps=7.5, size_wh=(640, 360))
    raised: list[DetectedEvent] = []
    ended: list[EndedSpan] = []
    for index in range(round(loops * capture.scene.loop_s * 7.5)):
        ok, frame = capture.read()
        assert ok
        result = processor.process(frame, index / 7.5)
        raised += result.events
        ended += result.ended
    return processor, raised, ended


def test_a_covered_camera_raises_tamper_with_a_snapshot_and_its_end() -> None:
    """The demo's cash office, covered 12-26 s: one tamper event, annotated, ended when
    the cloth is gone; no pose model is loaded for it."""
    processor, raised, ended = _tamper_scene(loops=1)
    assert [e.event_type for e in raised] == ["tamper"]
    event = raised[0]
    assert event.details["reason"] == "covered" and event.span_id is not None
    snapshot = cv2.imdecode(np.frombuffer(event.snapshot_jpeg or b"", np.uint8), cv2.IMREAD_COLOR)
    assert snapshot is not None and snapshot.shape == (360, 640, 3)
    assert [(s.span_id, s.event_type) for s in ended] == [(event.span_id, "tamper")]
    assert TamperScene.UNCOVER - 1.0 <= ended[0].ended_at <= TamperScene.CLEAR
    assert processor.model is None and processor.counters.inferred == 0


def test_every_covering_is_raised_whatever_the_cooldown() -> None:
    """Two coverings 40 s apart under a 60-s cooldown: the rule raises one event per
    episode itself, and a second covering must not go unreported (nor its event end)."""
    _, raised, ended = _tamper_scene(loops=2, cooldown_s=60.0)
    assert [e.event_type for e in raised] == ["tamper", "tamper"]
    assert raised[1].ts - raised[0].ts == pytest.approx(TamperScene.loop_s, abs=1.5)
    assert len(ended) == 2
