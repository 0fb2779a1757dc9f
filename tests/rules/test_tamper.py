"""Tamper rule on real footage: covered, blurred, turned-away and re-aimed cameras are
made from the walking clip (w1) and the gym clip (d1); quiet footage raises nothing."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest
from pydantic import ValidationError

from cashwatch.config.detection import TamperRuleConfig
from cashwatch.core.events import DetectedEvent
from cashwatch.rules.tamper import WARMUP_S, TamperRule, compare_views
from tests.conftest import require_media
from tests.rules.tampering import blur, cloth, cover, dimmed, rotated, shifted

FPS = 2.0  # twice the rule's analyses: it must skip what comes between
WIDTH = 320  # the rule's own analysis width: smaller frames keep the test's memory low
TAMPER_FROM, TAMPER_TO = 40.0, 75.0
Frames = list[np.ndarray]


def sampled(path: Path, seconds: float | None = None) -> Frames:
    capture = cv2.VideoCapture(str(path))
    fps = capture.get(cv2.CAP_PROP_FPS) or 25.0
    frames, index, due = [], 0, 0.0
    while seconds is None or index / fps < seconds:
        ok, frame = capture.read()
        if not ok:
            break
        if index / fps + 1e-9 >= due:
            height, width = frame.shape[:2]
            frames.append(
                cv2.resize(
                    frame, (WIDTH, round(height * WIDTH / width)), interpolation=cv2.INTER_AREA
                )
            )
            due += 1.0 / FPS
        index += 1
    capture.release()
    return frames


@pytest.fixture(scope="module")
def walk() -> Frames:
    return sampled(require_media("video/w1_indoor_people_one_by_one__intel.mp4"))


@pytest.fixture(scope="module")
def gym() -> Frames:
    return sampled(require_media("video/d1_gym_indoor_cctv_boxes_burned_in__meva_G330.mp4"))


def run(
    frames: Frames,
    config: TamperRuleConfig | None = None,
) -> tuple[list[DetectedEvent], TamperRule]:
    rule = TamperRule(config or TamperRuleConfig())
    events = []
    for index, frame in enumerate(frames):
        events += rule.update(frame, index / FPS)
    return events, rule


def tampered(
    frames: Frames,
    change: Callable[[np.ndarray, int], np.ndarray],
    start: float = TAMPER_FROM,
    end: float = TAMPER_TO,
) -> Frames:
    out = list(frames)
    for index in range(round(start * FPS), min(len(out), round(end * FPS))):
        out[index] = change(out[index], index)
    return out


@pytest.mark.media
def test_quiet_footage_raises_nothing(walk: Frames, gym: Frames) -> None:
    fire = sampled(require_media("video/f3_dollhouse_fire_white_smoke__furg_house6.mp4"))
    for frames in (walk, gym, fire):
        events, rule = run(frames)
        assert events == []
        assert rule.last_check is not None  # it did judge these views
        assert rule.evidence_ts() is None


@pytest.mark.media
@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (cover, "covered"),
        (cloth, "covered"),
        (blur, "blurred"),
        (shifted, "view changed"),
        (rotated, "view changed"),
    ],
)
def test_tampering_raises_one_event_that_ends_when_the_view_is_back(
    walk: Frames, change: Callable[[np.ndarray, int], np.ndarray], reason: str
) -> None:
    events, rule = run(tampered(walk[: round(100 * FPS)], change))
    assert [e.details["reason"] for e in events] == [reason]
    event = events[0]
    minimum = TamperRuleConfig().min_duration_s
    assert TAMPER_FROM + minimum - 0.5 <= event.ts <= TAMPER_FROM + minimum + 2.0
    assert event.event_type == "tamper" and event.subject == ()
    assert event.bbox_xyxy == (0.0, 0.0, float(WIDTH), float(walk[0].shape[0]))
    assert 0.9 <= event.confidence <= 1.0
    last = rule.evidence_ts()
    assert last is not None and TAMPER_TO - 2.0 <= last < TAMPER_TO + 1.0


@pytest.mark.media
def test_a_camera_turned_to_another_scene_is_found(walk: Frames, gym: Frames) -> None:
    other = [cv2.resize(frame, walk[0].shape[1::-1]) for frame in gym]
    events, _ = run(
        tampered(walk[: round(100 * FPS)], lambda frame, index: other[index % len(other)])
    )
    assert [e.details["reason"] for e in events] == ["view changed"]


@pytest.mark.media
@pytest.mark.parametrize("share", [0.35, 0.25, 0.05])
def test_dimmed_light_is_not_tampering(walk: Frames, share: float) -> None:
    """Down to a twentieth of the light the scene's shapes are all still there."""
    events, rule = run(tampered(walk[: round(100 * FPS)], dimmed(share)))
    assert events == [] and rule.evidence_ts() is None


@pytest.mark.media
def test_covered_again_after_the_view_came_back_is_a_new_event(walk: Frames) -> None:
    frames = tampered(tampered(walk[: round(110 * FPS)], cover, 30.0, 45.0), cover, 50.0, 70.0)
    events, _ = run(frames)
    assert [round(e.ts) for e in events] == [40, 60]  # 5 s of view between: two episodes


@pytest.mark.media
def test_a_moment_of_view_inside_one_covering_is_the_same_episode(walk: Frames) -> None:
    frames = tampered(tampered(walk[: round(110 * FPS)], cover, 30.0, 45.0), cover, 46.0, 70.0)
    events, rule = run(frames)
    assert len(events) == 1
    assert rule.evidence_ts() == pytest.approx(69.5, abs=1.0)


@pytest.mark.media
def test_short_covering_does_not_fire(walk: Frames) -> None:
    minimum = TamperRuleConfig().min_duration_s
    events, rule = run(tampered(walk[: round(80 * FPS)], cover, end=TAMPER_FROM + minimum - 3))
    assert events == []
    assert rule.evidence_ts() is not None  # it saw the covering, only not for long enough


@pytest.mark.media
def test_a_re_aimed_camera_becomes_the_usual_view(walk: Frames) -> None:
    """One event, then the new view is learned: no event per cooldown for ever."""
    config = TamperRuleConfig(relearn_s=30.0)
    events, rule = run(tampered(walk, shifted, end=1e6), config)
    assert [e.details["reason"] for e in events] == ["view changed"]
    last = rule.evidence_ts()
    assert last is not None and last < TAMPER_FROM + config.relearn_s + 1.0


@pytest.mark.media
def test_a_covered_camera_is_never_learned(walk: Frames) -> None:
    config = TamperRuleConfig(relearn_s=30.0)
    events, rule = run(tampered(walk, cover, end=1e6), config)
    assert [e.details["reason"] for e in events] == ["covered"]  # once, not per window
    assert rule.evidence_ts() == (len(walk) - 1) / FPS  # still covered at the end


def test_nothing_is_judged_during_warm_up_or_on_a_blank_view() -> None:
    blank = [np.full((180, 320, 3), 128, np.uint8)] * round(60 * FPS)
    events, rule = run(blank + [np.zeros((180, 320, 3), np.uint8)] * round(30 * FPS))
    assert events == [] and rule.last_check is None  # a blank wall cannot be judged


def synthetic_scene(rng: np.random.Generator) -> np.ndarray:
    texture = rng.integers(0, 255, (180, 320), np.uint8)
    return cv2.cvtColor(cv2.GaussianBlur(texture, (5, 5), 0), cv2.COLOR_GRAY2BGR)


def test_covered_from_the_start_of_judging_fires_after_the_warm_up() -> None:
    scene = synthetic_scene(np.random.default_rng(1))
    frames = [scene] * round(WARMUP_S * FPS) + [np.zeros_like(scene)] * round(20 * FPS)
    events, _ = run(frames)
    assert len(events) == 1
    assert events[0].ts == pytest.approx(WARMUP_S + TamperRuleConfig().min_duration_s, abs=1.0)


def test_a_new_resolution_is_not_a_changed_view() -> None:
    """A source that reconnects at another size shows the same view (same aspect), or
    starts a new reference (another aspect): neither is tampering."""
    scene = synthetic_scene(np.random.default_rng(2))
    larger = cv2.resize(scene, (640, 360), interpolation=cv2.INTER_CUBIC)
    other_aspect = cv2.resize(scene[:, 40:280], (480, 360))
    events, rule = run(
        [scene] * round(30 * FPS) + [larger] * round(30 * FPS) + [other_aspect] * round(30 * FPS)
    )
    assert events == [] and rule.evidence_ts() is None
    assert rule.last_check is not None  # judged after each change, not only before


def test_compare_views_measures_what_it_says() -> None:
    scene = synthetic_scene(np.random.default_rng(3))[..., 0]
    same = compare_views(scene, scene)
    assert same is not None and same.blocked == 0 and same.scene_match > 0.99
    moved = compare_views(scene, np.roll(scene, 40, axis=1))
    assert moved is not None and moved.scene_match < 0.25
    soft = compare_views(scene, cv2.GaussianBlur(scene, (0, 0), 3))
    assert soft is not None and soft.sharpness < 0.55
    half = scene.copy()
    half[:, :240] = 30
    covered = compare_views(scene, half)
    assert covered is not None and 0.7 <= covered.blocked <= 0.8


def test_a_clock_set_back_does_not_stop_the_analyses() -> None:
    scene = synthetic_scene(np.random.default_rng(4))
    rule = TamperRule(TamperRuleConfig())
    for second in range(20):
        rule.update(scene, 1000.0 + second)
    before = rule.last_check
    rule.update(scene, 500.0)  # NTP stepped the clock back by ~8 minutes
    assert rule.last_check is not before


def test_relearn_must_outlast_the_duration() -> None:
    with pytest.raises(
        ValidationError,
        match=r"relearn_s \(10\) must be longer than "
        r"min_duration_s \(20\)",
    ):
        TamperRuleConfig(min_duration_s=20.0, relearn_s=10.0)
