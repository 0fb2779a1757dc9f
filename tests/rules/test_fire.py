"""Fire rule on synthetic frames: a flickering flame, a static or blinking neon sign, skin."""

from __future__ import annotations

import cv2
import numpy as np

from cashwatch.config.detection import FireRuleConfig
from cashwatch.rules.fire import FireRule
from tests.rules.builders import timestamps

ORANGE_BGR = (0, 140, 255)  # H 16, S 255, V 255, Cr 197: flame colour
SKIN_BGR = (160, 185, 230)  # brightly lit fair skin: H 11, V 230, but Cr 152


def background() -> np.ndarray:
    return np.full((240, 320, 3), 60, np.uint8)


def flame_frame(rng: np.random.Generator, colour: tuple[int, int, int] = ORANGE_BGR) -> np.ndarray:
    """A flame-like blob that changes shape every frame (a few random ellipses)."""
    frame = background()
    for _ in range(4):
        centre = (int(rng.integers(140, 180)), int(rng.integers(120, 170)))
        axes = (int(rng.integers(4, 14)), int(rng.integers(8, 26)))
        cv2.ellipse(frame, centre, axes, float(rng.uniform(-30, 30)), 0, 360, colour, -1)
    return frame


def neon_frame(on: bool = True) -> np.ndarray:
    frame = background()
    if on:
        cv2.putText(frame, "OPEN", (90, 140), cv2.FONT_HERSHEY_SIMPLEX, 2.0, ORANGE_BGR, 6)
    return frame


def run(frames: list[np.ndarray], fps: float = 7.5, people: np.ndarray | None = None) -> list:
    rule = FireRule(FireRuleConfig())
    events = []
    for ts, frame in zip(timestamps(len(frames) / fps, fps), frames, strict=True):
        events += rule.update(frame, ts, people)
    return events


def test_flickering_flame_raises_one_fire_event() -> None:
    rng = np.random.default_rng(1)
    events = run([flame_frame(rng) for _ in range(60)])  # 8 s
    assert len(events) == 1
    event = events[0]
    assert event.event_type == "fire"
    assert event.ts >= FireRuleConfig().min_duration_s - 1 / 7.5
    x1, y1, x2, y2 = event.bbox_xyxy
    assert 100 <= x1 < x2 <= 220 and 80 <= y1 < y2 <= 210
    assert event.details["flicker"] >= FireRuleConfig().min_flicker


def test_growth_counts_from_the_smallest_area_that_is_fire() -> None:
    """A window that starts on a clean background has a smallest area of 0; growth is then
    measured from `min_area`, not from nothing (which gave analysts ratios in the millions)."""
    rng = np.random.default_rng(1)
    events = run([background() for _ in range(5)] + [flame_frame(rng) for _ in range(40)])
    assert len(events) == 1
    details = events[0].details
    assert 1.0 <= details["growth"] <= details["area"] / FireRuleConfig().min_area + 0.01


def test_static_neon_sign_is_not_fire() -> None:
    assert run([neon_frame() for _ in range(60)]) == []


def test_blinking_neon_sign_is_not_fire() -> None:
    frames = [neon_frame(on=(i // 4) % 2 == 0) for i in range(60)]  # ~1 Hz blink
    assert run(frames) == []


def test_skin_coloured_movement_is_not_fire() -> None:
    rng = np.random.default_rng(2)
    assert run([flame_frame(rng, SKIN_BGR) for _ in range(60)]) == []


def test_flame_inside_a_person_box_is_ignored() -> None:
    rng = np.random.default_rng(3)
    person = np.array([[100.0, 60.0, 230.0, 230.0]])
    assert run([flame_frame(rng) for _ in range(60)], people=person) == []


def test_brief_flicker_is_not_fire() -> None:
    rng = np.random.default_rng(4)
    frames = [flame_frame(rng) for _ in range(10)] + [background() for _ in range(50)]
    assert run(frames) == []
