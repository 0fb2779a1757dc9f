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

from cashwatch.i18n import N_, _, format_time

Row = tuple[str, str]  # (label, value), both plain text: the caller escapes them
Formatter = Callable[[dict[str, Any], float | None], "Row | None"]

# Stored words as people read them: the history keeps the English word (filters and
# queries compare it), English pages show it as it is, other languages translate it.
TYPE_NAMES = {
    "cash": N_("cash"),
    "violence": N_("violence"),
    "fire": N_("fire"),
    "tamper": N_("tamper"),
    "till_exception": N_("till_exception"),
}
REVIEW_NAMES = {
    "pending": N_("pending"),
    "confirmed": N_("confirmed"),
    "false_positive": N_("false_positive"),
}
TILL_NAMES = {
    "unmatched": N_("unmatched"),
    "matched": N_("matched"),
    "pending": N_("pending"),
    "no_till": N_("no_till"),
}


def shown_name(names: dict[str, str], value: Any) -> str:
    """A stored word (an event type, a review status, a till outcome) as people read it
    in the language in effect; a word the table does not know, as it is.

    >>> shown_name(TYPE_NAMES, "fire"), shown_name(TYPE_NAMES, "loitering")
    ('fire', 'loitering')
    """
    text = str(value)
    return _(names[text]) if text in names else text


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
    return f"#{int(number)}" if number >= 0 else _("(not yet tracked)")


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
    text = format_time(dt.datetime.fromtimestamp(at).astimezone())
    if trigger is None:
        return text
    gap = trigger - at
    if abs(gap) < 0.05:
        return _("{time} (at the detection)").format(time=text)
    if gap > 0:
        return _("{time} ({seconds} s before the detection)").format(
            time=text, seconds=f"{gap:.1f}"
        )
    return _("{time} ({seconds} s after the detection)").format(time=text, seconds=f"{-gap:.1f}")


def _who_met_whom(d: dict[str, Any], _trigger: float | None) -> Row | None:
    if "staff_track" not in d and "customer_track" not in d:
        return None
    return (
        _("Who met whom"),
        _("staff {staff} and customer {customer}").format(
            staff=_person(d.get("staff_track")), customer=_person(d.get("customer_track"))
        ),
    )


def _wrist_distance(d: dict[str, Any], _trigger: float | None) -> Row | None:
    px, body = _number(d.get("wrist_distance_px")), _number(d.get("wrist_distance_body"))
    parts = ([f"{px:.0f} px"] if px is not None else []) + (
        [_("{size} body sizes").format(size=f"{body:.2f}")] if body is not None else []
    )
    if not parts:
        return None
    return (_("Wrist distance"), parts[0] + (f" ({parts[1]})" if len(parts) > 1 else ""))


def _meetings(d: dict[str, Any], _trigger: float | None) -> Row | None:
    hits, window = _number(d.get("hits")), _number(d.get("window"))
    if hits is None:
        return None
    if window is None:
        return (_("Meetings"), _("{hits} detections").format(hits=f"{hits:.0f}"))
    return (
        _("Meetings"),
        _("{hits} of the last {window} detections").format(
            hits=f"{hits:.0f}", window=f"{window:.0f}"
        ),
    )


# Labels and phrases below are marked N_ where the tables are built (at import, before
# the language is known) and translated with _() when a row is made.


def _at(key: str, label: str) -> Formatter:
    def row(d: dict[str, Any], trigger: float | None) -> Row | None:
        text = clock(d.get(key), trigger)
        return None if text is None else (_(label), text)

    return row


def _scaled(key: str, label: str, fmt: Callable[[float], str]) -> Formatter:
    def row(d: dict[str, Any], _trigger: float | None) -> Row | None:
        value = _number(d.get(key))
        return None if value is None else (_(label), fmt(value))

    return row


def _share(key: str, label: str, phrase: str) -> Formatter:
    """`phrase` says what the share is of, with `{share}` where the percentage goes."""

    def row(d: dict[str, Any], _trigger: float | None) -> Row | None:
        text = _percent(d.get(key))
        return None if text is None else (_(label), _(phrase).format(share=text))

    return row


def _text(key: str, label: str, meanings: dict[str, str] | None = None) -> Formatter:
    def row(d: dict[str, Any], _trigger: float | None) -> Row | None:
        if d.get(key) in (None, ""):
            return None
        value = str(d[key])
        meaning = (meanings or {}).get(value)
        if not meaning:  # free text (a verifier's state, an error): as the rule wrote it
            return (_(label), value)
        return (_(label), f"{shown_name(RULE_WORDS, value)}: {_(meaning)}")

    return row


def _pair(d: dict[str, Any], _trigger: float | None) -> Row | None:
    tracks = d.get("tracks")
    if not isinstance(tracks, list) or not tracks:
        return None
    people = [_("person {person}").format(person=_person(t)) for t in tracks]
    text = people[0]
    for other in people[1:]:
        text = _("{first} and {second}").format(first=text, second=other)
    return (_("Who"), text)


METHODS = {
    "pose": N_("limb speed of the two people's poses"),
    "learned": N_("the learned violence score"),
    "verified": N_("the video around the people, checked by the learned verifier"),
}
TRIGGERS = {
    "pair": N_("two people close, one moving his arms or body fast"),
    "merged": N_("two people merged into one box, as people grappling do"),
}
# The rules' own words for how and why, as stored in `details`, shown before their meaning
RULE_WORDS = {
    "pose": N_("pose"),
    "learned": N_("learned"),
    "verified": N_("verified"),
    "pair": N_("pair"),
    "merged": N_("merged"),
    "covered": N_("covered"),
    "blurred": N_("blurred"),
    "view changed": N_("view changed"),
}
TAMPER_REASONS = {
    "covered": N_("most of the view lost its detail (a hand, cloth, paint, or the room gone dark)"),
    "blurred": N_("the lens is defocused or smeared"),
    "view changed": N_("turned away, knocked, or something large in front of it"),
}

# Per event type, (key or keys it reads, formatter), in reading order
FIELDS: dict[str, list[tuple[tuple[str, ...], Formatter]]] = {
    "cash": [
        (("staff_track", "customer_track"), _who_met_whom),
        (("wrist_distance_px", "wrist_distance_body"), _wrist_distance),
        (("hits", "window"), _meetings),
        (("met_at",), _at("met_at", N_("Last meeting"))),
        (("drawer_visit_at",), _at("drawer_visit_at", N_("Cash drawer visit"))),
    ],
    "violence": [
        (("tracks",), _pair),
        (("method",), _text("method", N_("Detected by"), METHODS)),
        (("verifier",), _text("verifier", N_("Video verifier"))),  # the pose rule stood in
        (
            ("score",),
            _scaled("score", N_("Score"), lambda v: _("{score} (0 to 1)").format(score=f"{v:.2f}")),
        ),
        (("trigger",), _text("trigger", N_("Looked at because"), TRIGGERS)),
        (("candidate_ts",), _at("candidate_ts", N_("Looked at"))),
        (
            ("limb_speed",),
            _scaled(
                "limb_speed",
                N_("Limb speed"),
                lambda v: _("{speed} body sizes/s").format(speed=f"{v:.2f}"),
            ),
        ),
        (
            ("duration_s",),
            _scaled(
                "duration_s",
                N_("Fight lasted"),
                lambda v: _("{seconds} s").format(seconds=f"{v:.1f}"),
            ),
        ),
        (("started_at",), _at("started_at", N_("Fight began"))),
        (
            ("hits",),
            _scaled(
                "hits",
                N_("Hits"),
                lambda v: _("{hits} recent detections over the threshold").format(hits=f"{v:.0f}"),
            ),
        ),
    ],
    "fire": [
        (("area",), _share("area", N_("Flame-coloured area"), N_("{share} of the frame"))),
        (
            ("flicker",),
            _share("flicker", N_("Flicker"), N_("{share} of those pixels switch on and off")),
        ),
        (
            ("growth",),
            _scaled(
                "growth",
                N_("Growth"),
                lambda v: _("×{factor} its smallest recent size").format(factor=f"{v:.1f}"),
            ),
        ),
        (
            ("evidence_share",),
            _share(
                "evidence_share", N_("Evidence"), N_("{share} of recent frames looked like fire")
            ),
        ),
    ],
    "tamper": [
        (("reason",), _text("reason", N_("Reason"), TAMPER_REASONS)),
        (("since",), _at("since", N_("Looked tampered since"))),
        (
            ("blocked",),
            _share("blocked", N_("Blocked"), N_("{share} of the usual view's detail lost")),
        ),
        (
            ("scene_match",),
            _share(
                "scene_match",
                N_("Scene match"),
                N_("{share} of the usual view's edges still found"),
            ),
        ),
        (
            ("sharpness",),
            _scaled(
                "sharpness",
                N_("Sharpness"),
                lambda v: _("×{factor} the usual view's").format(factor=f"{v:.2f}"),
            ),
        ),
        (
            ("evidence_share",),
            _share(
                "evidence_share", N_("Evidence"), N_("{share} of recent checks looked tampered")
            ),
        ),
    ],
}
COMMON: list[tuple[tuple[str, ...], Formatter]] = [
    (("snapshot_error",), _text("snapshot_error", N_("Snapshot not saved"))),
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
