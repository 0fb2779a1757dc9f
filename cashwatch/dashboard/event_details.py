"""An event's `details` (what its rule measured, docs/events.md) as a reviewer reads
them: labelled values with their units, not a JSON blob. Pure functions: the Events page
draws the rows (`events_view.details`), the raw JSON stays behind an expander.

Coordinates (boxes, wrists, the frame size) say nothing to a reviewer looking at the
snapshot that draws them: they are left to the raw JSON. Keys this module does not know
(a newer rule, a plugin) are still shown, labelled from their name.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Callable
from typing import Any

Row = tuple[str, str]  # (label, value), both plain text: the caller escapes them
Formatter = Callable[[dict[str, Any], float | None], "Row | None"]

# Pixel coordinates and the frame size: for analysts, in the raw JSON
COORDINATES = frozenset(
    {"staff_box", "customer_box", "staff_wrist", "customer_wrist", "boxes", "frame_wh"}
)


def _number(value: Any) -> float | None:
    """A finite number, or None (a missing key, text, NaN)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def _percent(value: Any) -> str | None:
    """
    >>> _percent(0.0321), _percent(0.9), _percent("x")
    ('3.2 %', '90 %', None)
    """
    share = _number(value)
    if share is None:
        return None
    percent = share * 100
    return f"{percent:.1f} %" if abs(percent) < 10 else f"{percent:.0f} %"


def _person(track: Any) -> str:
    """A tracker id as a reviewer reads it; negative ids are people the tracker had not
    named yet (docs/events.md)."""
    number = _number(track)
    if number is None:
        return "?"
    return f"#{int(number)}" if number >= 0 else "(not yet tracked)"


def clock(epoch: Any, trigger: float | None) -> str | None:
    """A moment as local time, and how long before the detection it was.

    >>> import time
    >>> clock(time.time() - 2.5, time.time()).endswith("(2.5 s before the detection)")
    True
    >>> clock("soon", None) is None
    True
    """
    at = _number(epoch)
    if at is None:
        return None
    text = dt.datetime.fromtimestamp(at).astimezone().strftime("%H:%M:%S")
    if trigger is None:
        return text
    gap = trigger - at
    if abs(gap) < 0.05:
        return f"{text} (at the detection)"
    return f"{text} ({abs(gap):.1f} s {'before' if gap > 0 else 'after'} the detection)"


def _who_met_whom(d: dict[str, Any], _: float | None) -> Row | None:
    if "staff_track" not in d and "customer_track" not in d:
        return None
    return (
        "Who met whom",
        f"staff {_person(d.get('staff_track'))} and customer {_person(d.get('customer_track'))}",
    )


def _wrist_distance(d: dict[str, Any], _: float | None) -> Row | None:
    px, body = _number(d.get("wrist_distance_px")), _number(d.get("wrist_distance_body"))
    parts = ([f"{px:.0f} px"] if px is not None else []) + (
        [f"{body:.2f} body sizes"] if body is not None else []
    )
    if not parts:
        return None
    return ("Wrist distance", parts[0] + (f" ({parts[1]})" if len(parts) > 1 else ""))


def _meetings(d: dict[str, Any], _: float | None) -> Row | None:
    hits, window = _number(d.get("hits")), _number(d.get("window"))
    if hits is None:
        return None
    of = f" of the last {window:.0f} detections" if window is not None else " detections"
    return ("Meetings", f"{hits:.0f}{of}")


def _at(key: str, label: str) -> Formatter:
    def row(d: dict[str, Any], trigger: float | None) -> Row | None:
        text = clock(d.get(key), trigger)
        return None if text is None else (label, text)

    return row


def _scaled(key: str, label: str, fmt: Callable[[float], str]) -> Formatter:
    def row(d: dict[str, Any], _: float | None) -> Row | None:
        value = _number(d.get(key))
        return None if value is None else (label, fmt(value))

    return row


def _share(key: str, label: str, of_what: str) -> Formatter:
    def row(d: dict[str, Any], _: float | None) -> Row | None:
        text = _percent(d.get(key))
        return None if text is None else (label, f"{text} {of_what}")

    return row


def _text(key: str, label: str, meanings: dict[str, str] | None = None) -> Formatter:
    def row(d: dict[str, Any], _: float | None) -> Row | None:
        if d.get(key) in (None, ""):
            return None
        value = str(d[key])
        meaning = (meanings or {}).get(value)
        return (label, f"{value}: {meaning}" if meaning else value)

    return row


def _pair(d: dict[str, Any], _: float | None) -> Row | None:
    tracks = d.get("tracks")
    if not isinstance(tracks, list) or not tracks:
        return None
    return ("Who", " and ".join(f"person {_person(t)}" for t in tracks))


METHODS = {
    "pose": "limb speed of the two people's poses",
    "learned": "the learned violence score",
    "verified": "the video around the people, checked by the learned verifier",
}
TRIGGERS = {
    "pair": "two people close, one moving his arms or body fast",
    "merged": "two people merged into one box, as people grappling do",
}
TAMPER_REASONS = {
    "covered": "most of the view lost its detail (a hand, cloth, paint, or the room gone dark)",
    "blurred": "the lens is defocused or smeared",
    "view changed": "turned away, knocked, or something large in front of it",
}

# Per event type, (key or keys it reads, formatter), in reading order
FIELDS: dict[str, list[tuple[tuple[str, ...], Formatter]]] = {
    "cash": [
        (("staff_track", "customer_track"), _who_met_whom),
        (("wrist_distance_px", "wrist_distance_body"), _wrist_distance),
        (("hits", "window"), _meetings),
        (("met_at",), _at("met_at", "Last meeting")),
        (("drawer_visit_at",), _at("drawer_visit_at", "Cash drawer visit")),
    ],
    "violence": [
        (("tracks",), _pair),
        (("method",), _text("method", "Detected by", METHODS)),
        (("verifier",), _text("verifier", "Video verifier")),  # the pose rule stood in
        (("score",), _scaled("score", "Score", lambda v: f"{v:.2f} (0 to 1)")),
        (("trigger",), _text("trigger", "Looked at because", TRIGGERS)),
        (("candidate_ts",), _at("candidate_ts", "Looked at")),
        (("limb_speed",), _scaled("limb_speed", "Limb speed", lambda v: f"{v:.2f} body sizes/s")),
        (("duration_s",), _scaled("duration_s", "Fight lasted", lambda v: f"{v:.1f} s")),
        (("started_at",), _at("started_at", "Fight began")),
        (
            ("hits",),
            _scaled("hits", "Hits", lambda v: f"{v:.0f} recent detections over the threshold"),
        ),
    ],
    "fire": [
        (("area",), _share("area", "Flame-coloured area", "of the frame")),
        (("flicker",), _share("flicker", "Flicker", "of those pixels switch on and off")),
        (("growth",), _scaled("growth", "Growth", lambda v: f"×{v:.1f} its smallest recent size")),
        (
            ("evidence_share",),
            _share("evidence_share", "Evidence", "of recent frames looked like fire"),
        ),
    ],
    "tamper": [
        (("reason",), _text("reason", "Reason", TAMPER_REASONS)),
        (("since",), _at("since", "Looked tampered since")),
        (("blocked",), _share("blocked", "Blocked", "of the usual view's detail lost")),
        (
            ("scene_match",),
            _share("scene_match", "Scene match", "of the usual view's edges still found"),
        ),
        (("sharpness",), _scaled("sharpness", "Sharpness", lambda v: f"×{v:.2f} the usual view's")),
        (
            ("evidence_share",),
            _share("evidence_share", "Evidence", "of recent checks looked tampered"),
        ),
    ],
}
COMMON: list[tuple[tuple[str, ...], Formatter]] = [
    (("snapshot_error",), _text("snapshot_error", "Snapshot not saved")),
]


def detail_rows(event_type: str, details: Any, trigger: float | None = None) -> list[Row]:
    """What a reviewer reads of `details`, in order: the event type's known fields, then
    any other key (coordinates aside) labelled from its name. `trigger` (epoch s, the
    event's `started_at`) puts the rule's moments in relation to the detection.

    >>> detail_rows("cash", {"staff_track": 3, "customer_track": -1, "hits": 4,
    ...                      "window": 6, "wrist_distance_px": 41.6,
    ...                      "wrist_distance_body": 0.349, "staff_box": [1, 2, 3, 4]})
    [('Who met whom', 'staff #3 and customer (not yet tracked)'), \
('Wrist distance', '42 px (0.35 body sizes)'), ('Meetings', '4 of the last 6 detections')]
    >>> detail_rows("fire", {"area": 0.0321, "new_thing_px": 5})
    [('Flame-coloured area', '3.2 % of the frame'), ('New thing', '5 px')]
    >>> detail_rows("cash", "not a dict")
    []
    """
    if not isinstance(details, dict):
        return []
    rows: list[Row] = []
    used = set(COORDINATES)
    for keys, formatter in [*FIELDS.get(event_type, []), *COMMON]:
        row = formatter(details, trigger)
        if row is not None:
            rows.append(row)
        used.update(keys)
    rows.extend(
        generic_row(key, value, trigger) for key, value in details.items() if key not in used
    )
    return rows


def generic_row(key: str, value: Any, trigger: float | None = None) -> Row:
    """A key no formatter knows, labelled from its name, its unit read from its suffix.

    >>> generic_row("hold_s", 2.25), generic_row("gap_px", 3), generic_row("tags", ["a"])
    (('Hold', '2.2 s'), ('Gap', '3 px'), ('Tags', '["a"]'))
    """
    name, unit = key, ""
    for suffix in ("_s", "_px"):
        if key.endswith(suffix) and len(key) > len(suffix):
            name, unit = key[: -len(suffix)], suffix[1:]
    label = name.replace("_", " ").strip().capitalize() or key
    number = _number(value)
    if key.endswith("_at") and number is not None:
        return label, clock(number, trigger) or str(value)
    if number is not None:
        shown = f"{number:.0f}" if number.is_integer() else f"{number:.3g}"
        if unit == "s":
            shown = f"{number:.1f}"
        return label, f"{shown} {unit}".strip()
    if isinstance(value, (dict, list)):
        return label, json.dumps(value, separators=(", ", ": "))
    return label, str(value)
