"""The demo cameras raise their events through the real pose model and rules.

Frames are fed to `build_processor` as a live worker feeds them (15 fps source, 7.5/s
detection stride, motion gate, tracker, cooldown), just without the pacing, with the
demo config's cameras and its model (backend auto). Each scene must raise its event
within its first loop, and only that; the walk scene nothing.
"""

from __future__ import annotations

import pytest

from cashwatch.config.defaults import DEMO_CONFIG
from cashwatch.config.detection import ModelConfig
from cashwatch.config.loader import parse_config
from cashwatch.detect.pipeline import build_processor
from tests.conftest import REPO
from tests.demo.conftest import MODEL_DATA_DIR, demo_camera, sampled_frames

pytestmark = pytest.mark.slow

EXPECTED = [
    ("handover", {"cash"}),
    ("scuffle", {"violence"}),
    ("fire", {"fire"}),
    ("walk", set()),
    ("tamper", {"tamper"}),
]


@pytest.fixture(scope="module")
def demo_model_config() -> ModelConfig:
    return parse_config(DEMO_CONFIG, REPO / "cashwatch.toml").app.model


@pytest.mark.parametrize(("scene", "expected"), EXPECTED)
def test_demo_camera_fires_its_event_end_to_end(
    scene: str, expected: set[str], demo_model_config: ModelConfig
) -> None:
    processor = build_processor(demo_camera(scene), demo_model_config, MODEL_DATA_DIR)
    try:
        events = [
            event
            for frame, ts in sampled_frames(scene)
            for event in processor.process(frame, ts).events
        ]
    finally:
        processor.close()
    assert {e.event_type for e in events} == expected, [
        (e.event_type, round(e.ts, 2), e.details) for e in events
    ]
