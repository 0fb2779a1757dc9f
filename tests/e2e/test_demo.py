"""The README's first command: the built-in demo produces real events with clips."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import tomlkit

from cashwatch.config.defaults import write_demo_config
from tests.conftest import share_video_model
from tests.harness import ManagerProcess, db_events, wait_for

pytestmark = pytest.mark.slow

DEMO_DEADLINE_S = 120  # the promise: every event type within two minutes
TILL_DEADLINE_S = 240  # #24's: a matched and an unmatched hand-over within four


def test_demo_cameras_raise_cash_violence_fire_and_tamper_with_clips(
    tmp_path: Path, openvino_model_dir: Path, video_model_file: Path
) -> None:
    share_video_model(tmp_path, video_model_file)  # the counter's verifier, exported once
    config = tmp_path / "cashwatch.toml"
    write_demo_config(config)
    doc = tomlkit.parse(config.read_text())
    # the same model, exported once per test run instead of once per test
    doc["model"]["weights"] = str(openvino_model_dir)  # type: ignore[index]
    config.write_text(tomlkit.dumps(doc))
    started = time.monotonic()
    with ManagerProcess(config):

        def all_types_with_clips() -> set[str]:
            done = {e["event_type"] for e in db_events(tmp_path) if e["clip_path"]}
            return done if done >= {"cash", "violence", "fire", "tamper"} else set()

        wait_for(
            all_types_with_clips,
            DEMO_DEADLINE_S,
            "cash, violence, fire and tamper events with clips from the demo cameras",
            interval_s=1.0,
        )
        assert time.monotonic() - started < DEMO_DEADLINE_S + 30

        def both_till_outcomes() -> set[str]:
            seen = {e["till_match"] for e in db_events(tmp_path) if e["event_type"] == "cash"}
            return seen if seen >= {"matched", "unmatched"} else set()

        # the demo till rings up two hand-overs in three (#24: both within 4 minutes)
        wait_for(
            both_till_outcomes,
            TILL_DEADLINE_S - (time.monotonic() - started),
            "a matched and an unmatched cash hand-over on the demo till",
            interval_s=1.0,
        )
        # and its no-sale while the cashier is alone: a till exception, with the frame
        exceptions = wait_for(
            lambda: [e for e in db_events(tmp_path) if e["event_type"] == "till_exception"],
            TILL_DEADLINE_S - (time.monotonic() - started),
            "a till exception (the demo till's no-sale with nobody at the counter)",
            interval_s=1.0,
        )
    exception = exceptions[0]
    assert exception["camera_id"] == "demo-counter" and exception["snapshot_path"]
    assert (tmp_path / exception["snapshot_path"]).read_bytes()[:2] == b"\xff\xd8"
    assert json.loads(exception["details"])["kind"] == "no_sale"
    by_camera = {(e["camera_id"], e["event_type"]) for e in db_events(tmp_path)}
    assert {
        ("demo-counter", "cash"),
        ("demo-scuffle", "violence"),
        ("demo-fire", "fire"),
        ("demo-cash-office", "tamper"),
    } <= by_camera
    assert all(
        (tmp_path / e["clip_path"]).stat().st_size > 10_000
        for e in db_events(tmp_path)
        if e["clip_path"]
    )
