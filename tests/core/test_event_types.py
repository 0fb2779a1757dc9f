"""The table of event types and zone styles covers what the rules emit and the zones."""

from __future__ import annotations

import re
from typing import get_args

import pytest

from cashwatch.config import CameraSettings, ZonesConfig
from cashwatch.core.event_types import (
    EVENT_TYPE_TABLE,
    ZONE_STYLES,
    Colour,
    event_type,
)
from cashwatch.core.events import EVENT_TYPES, EventType
from cashwatch.detect.pipeline import DetectionProcessor


def _processor() -> DetectionProcessor:
    # the pose rules off: no model needed to see which rules the pipeline dispatches to
    settings = CameraSettings.model_validate(
        {"detection": {"cash": {"enabled": False}, "violence": {"enabled": False}}}
    )
    return DetectionProcessor(settings, None)


def test_every_type_the_rules_can_emit_has_an_entry() -> None:
    # the rules' types, and the manager's own (a till exception)
    emitted = set(_processor().rules) | set(EVENT_TYPES) | set(get_args(EventType))
    assert emitted == set(EVENT_TYPE_TABLE)
    for name in emitted:
        assert EVENT_TYPE_TABLE[name].name == name
        assert event_type(name) is EVENT_TYPE_TABLE[name]


@pytest.mark.parametrize("name", EVENT_TYPES)
def test_the_cooldown_policy_is_what_the_pipeline_applies(name: str) -> None:
    if name == "till_exception":  # the manager raises it, once per transaction
        assert name not in _processor().rules and event_type(name).cooldown == "none"
        return
    # tamper raises one event per episode; a cooldown would lose a second close episode
    expected = "none" if name == "tamper" else "per_type"
    assert name in _processor().rules
    assert event_type(name).cooldown == expected


def test_an_unknown_type_from_an_old_row_gets_a_plain_entry() -> None:
    old = event_type("loitering")
    assert (old.name, old.label, old.icon, old.badge, old.alert_beeps) == (
        "loitering",
        "loitering",
        None,
        "gray",
        1,
    )
    assert "loitering" not in EVENT_TYPE_TABLE


def test_every_zone_in_the_settings_has_a_style() -> None:
    assert list(ZONE_STYLES) == list(ZonesConfig.model_fields)


@pytest.mark.parametrize(
    ("text", "rgb", "bgr"),
    [
        ("#000000", (0, 0, 0), (0, 0, 0)),
        ("#ff7f0e", (255, 127, 14), (14, 127, 255)),
        ("#0a0b0c", (10, 11, 12), (12, 11, 10)),
    ],
)
def test_colour_channel_orders(
    text: str, rgb: tuple[int, int, int], bgr: tuple[int, int, int]
) -> None:
    assert Colour(text).rgb == rgb and Colour(text).bgr == bgr


@pytest.mark.parametrize("text", ["#FF7F0E", "ff7f0e", "#ff7f0", "#ff7f0e0", "#gg7f0e", ""])
def test_a_colour_that_is_not_lower_case_hex_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="hex"):
        Colour(text)


def test_the_sound_button_tells_the_beeps_of_the_table() -> None:
    from cashwatch.dashboard.overview import LOST_BEEPS
    from cashwatch.dashboard.widgets import SOUND_HELP

    words = {1: "one", 2: "two", 3: "three"}
    said = {
        "fire": "fire",
        "violence": "violence",
        "cash": "cash",
        "tamper": "tampered camera",
        "till_exception": "till exception",
    }
    assert set(said) == set(EVENT_TYPE_TABLE)
    for name, phrase in said.items():
        beeps = words[event_type(name).alert_beeps]
        assert re.search(rf"\b{beeps} for [^(),]*\b{phrase}\b", SOUND_HELP), (name, beeps)
    assert f"loses its picture ({words[LOST_BEEPS]})" in SOUND_HELP
