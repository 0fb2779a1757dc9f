"""Event latency on a camera that produces events: trigger → DuckDB row, post-roll → clip,
and how much reading slows down while the clip is encoded.

Uses the `demo:fire` scene (a fire grows ~10 s into each 30 s loop; the fire rule needs
no pose model), run by the real manager. Reading speed comes from the live frame slot's
frame counter, which moves every 4th frame.
"""

from __future__ import annotations

import importlib.util
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.product import ProductFleet
from cashwatch.config import ClipConfig
from cashwatch.evidence.mp4 import trigger_offset_of
from cashwatch.store.db import connect_readonly

EVENT_TIMEOUT_S = 150.0
SAMPLE_EVERY_S = 0.05
BEFORE_S = 8.0  # reading rate before the trigger, for comparison


def pipeline_available() -> bool:
    return importlib.util.find_spec("cashwatch.detect.pipeline") is not None


@dataclass
class FrameCounter:
    """(time, frame number) samples of one camera's live slot."""

    samples: list[tuple[float, int]] = field(default_factory=list)

    def add(self, ts: float, frame_no: int) -> None:
        if not self.samples or frame_no != self.samples[-1][1]:
            self.samples.append((ts, frame_no))

    def rate(self, start: float, end: float) -> float | None:
        inside = [s for s in self.samples if start <= s[0] <= end]
        if len(inside) < 2 or inside[-1][0] - inside[0][0] < 0.5:
            return None
        return (inside[-1][1] - inside[0][1]) / (inside[-1][0] - inside[0][0])


def _first_clipped_event(data_dir: Path) -> tuple[Any, ...] | None:
    try:
        with connect_readonly(data_dir, timeout_s=0.5) as con:
            return con.execute(
                "SELECT event_id, event_type, epoch(started_at), epoch(ingested_at), clip_path, "
                "clip_error FROM events WHERE clip_path IS NOT NULL OR clip_error IS NOT NULL "
                "ORDER BY started_at LIMIT 1"
            ).fetchone()
    except Exception:  # no database yet, or the manager holds it this instant
        return None


def measure_event_latency(
    work_dir: Path,
    log: Callable[[str], None] = print,
    clip: ClipConfig | None = None,
    timeout_s: float = EVENT_TIMEOUT_S,
) -> dict[str, Any]:
    """Run one demo:fire camera until its first event has a clip; return the latencies.

    `clip` shortens pre- and post-roll for a quick run; the default is the product's.
    """
    if not pipeline_available():
        return {"measured": False, "why": "cashwatch/detect/pipeline.py has not landed yet"}
    clip = clip or ClipConfig()
    fleet = ProductFleet(
        "demo:fire", gating=True, work_dir=work_dir, extra={"clip": clip.model_dump()}
    )
    counter = FrameCounter()
    try:
        log("[latency] starting a demo:fire camera and waiting for its first event + clip")
        fleet.resize(1)
        deadline = time.monotonic() + timeout_s
        row = None
        while row is None and time.monotonic() < deadline:
            counter.add(time.time(), fleet.frame_numbers()[0])
            row = _first_clipped_event(work_dir)
            time.sleep(SAMPLE_EVERY_S)  # the sampling period of the frame counter
    finally:
        fleet.close()
    if row is None:
        return {"measured": False, "why": f"no event with a clip within {timeout_s:g} s"}
    return _latencies(row, work_dir, counter, clip)


def _clip_span(path: Path, started: float) -> tuple[float, float]:
    """Capture time of the clip's first frame (the trigger's time, less its offset in the
    clip) and the clip's duration."""
    import av

    with av.open(str(path)) as container:
        duration = float(container.duration or 0) / av.time_base
    return started - (trigger_offset_of(path) or 0.0), duration


def _latencies(
    row: tuple[Any, ...], work_dir: Path, counter: FrameCounter, clip: ClipConfig
) -> dict[str, Any]:
    event_id, event_type, started, ingested, clip_path, clip_error = row
    out: dict[str, Any] = {
        "measured": True,
        "event_type": event_type,
        "event_id": event_id,
        "event_to_row_s": float(ingested) - float(started),
        "clip_pre_s": clip.pre_seconds,
        "clip_post_s": clip.post_seconds,
    }
    if clip_path:
        path = work_dir / clip_path
        done = path.stat().st_mtime
        # The clip follows the event to its end: its last frame, not trigger + post-roll,
        # is when recording stopped (the demo fire burns on for ~20 s after the trigger).
        clip_start, out["clip_s"] = _clip_span(path, float(started))
        post_end = clip_start + out["clip_s"]
        out["postroll_to_clip_s"] = done - post_end
        before = counter.rate(float(started) - BEFORE_S, float(started))
        # written as it is recorded: from the trigger (the pre-roll goes to the encoder at
        # once) until the file is complete
        during = counter.rate(float(started), max(done, float(started) + 0.6))
        out["fps_before"], out["fps_while_writing"] = before, during
        if before and during is not None:
            out["stall_percent"] = max(0.0, 100.0 * (1.0 - during / before))
    else:
        out["clip_error"] = clip_error
    return out
