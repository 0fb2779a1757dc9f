"""What a detection hands to the evidence and storage side.

`DetectedEvent` comes out of the detection pipeline (pure data plus a snapshot);
`EventRecord` is what the worker journals and the manager stores in DuckDB. Both are
plain dataclasses so they cross processes as JSON lines, never as pickles.
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, get_args

# till_exception: raised by the manager (a refund or no-sale with nobody at the counter),
# not by a camera rule
EventType = Literal["cash", "violence", "fire", "tamper", "till_exception"]
# one list: the names come from the type itself
EVENT_TYPES: tuple[EventType, ...] = get_args(EventType)
# the types a camera's rules raise from its frames (what `cashwatch eval` scores); the
# manager raises the others from what it learns besides (a till's transactions)
FRAME_EVENT_TYPES: tuple[EventType, ...] = tuple(t for t in EVENT_TYPES if t != "till_exception")


def new_event_id(ts: float | None = None) -> str:
    """A new event id, unique and sortable by time.

    Args:
        ts: The event's time, Unix seconds; None for now.

    Returns:
        29 hex digits: 13 of milliseconds since the epoch, then 64 random bits.
    """
    millis = int((time.time() if ts is None else ts) * 1000)
    return f"{millis:013x}{os.urandom(8).hex()}"


@dataclass
class DetectedEvent:
    """A rule fired on one frame.

    `bbox_xyxy` is in pixels of the analysed frame; `snapshot_jpeg` is the annotated
    frame, encoded (never drawn on a frame kept for clips). `subject` says whom it is
    about (track ids; `()` for the whole frame), `span_id` which of the camera's spans
    follows it to its end (`cashwatch.core.spans`).
    """

    event_type: EventType
    ts: float
    confidence: float
    bbox_xyxy: tuple[float, float, float, float]
    details: dict[str, Any] = field(default_factory=dict)
    snapshot_jpeg: bytes | None = None
    subject: tuple[int, ...] = ()
    span_id: int | None = None

    def __post_init__(self) -> None:
        if self.event_type not in EVENT_TYPES:
            raise ValueError(f"event_type {self.event_type!r}; valid: {', '.join(EVENT_TYPES)}")
        if not 0.0 <= self.confidence <= 1.0:
            raise ValueError(f"confidence {self.confidence} outside 0..1")


@dataclass
class EventRecord:
    """One row of the `events` table, as journalled by the worker.

    Paths are relative to the data_dir so an installation can move.
    """

    event_id: str
    camera_id: str
    site: str
    event_type: EventType
    started_at: float
    ended_at: float | None
    confidence: float
    bbox: list[float]
    details: dict[str, Any]
    model: str
    snapshot_path: str | None = None
    clip_path: str | None = None
    clip_error: str | None = None

    def to_json_dict(self) -> dict[str, Any]:
        """The record as plain JSON-serialisable values.

        Returns:
            Each field by name (a deep copy of `bbox` and `details`).
        """
        return asdict(self)
