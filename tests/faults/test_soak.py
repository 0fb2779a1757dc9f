"""The 3-minute soak: 4 cameras under periodic faults lose no event and leak nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.soak import main

pytestmark = [pytest.mark.slow, pytest.mark.rtsp, pytest.mark.media]


@pytest.mark.timeout(420)
def test_three_minute_soak_passes(tmp_path: Path, media, rtsp_server) -> None:
    media.get("video/f3_dollhouse_fire_white_smoke__furg_house6.mp4")  # skips without media
    report_path = tmp_path / "soak.json"
    code = main(
        [
            "--minutes",
            "3",
            "--restart-every",
            "50",
            "--workdir",
            str(tmp_path / "run"),
            "--report",
            str(report_path),
        ]
    )
    report = json.loads(report_path.read_text())
    assert code == 0, report["failures"]
    assert report["events_lost"] == 0 and report["events_journalled"] > 0
    assert report["restarts"]["file-2"] == 1, "the injected worker kill was not seen"
    assert report["reconnects"]["rtsp-1"] >= 1 and report["reconnects"]["rtsp-2"] >= 1
    assert report["shm_segments_after_stop"] == []
