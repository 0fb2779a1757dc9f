"""How each event type and each zone looks, and how a type is held back: one table.

The snapshot drawing (`cashwatch.detect.annotate`), the live view
(`cashwatch.dashboard.live`), the zone editor, the charts and the Overview all read
these tables, so a zone looks the same in a snapshot and in the live view, and an event
type has the same colour in a chart and on the Overview.

Colours are stored once, as "#rrggbb" hex (what Altair and the browser take); OpenCV
draws in BGR order, so drawing code asks for `Colour.bgr` instead of writing a tuple by
hand (a hand-written tuple in RGB order once drew the live view's cashier zone blue
while the zone editor showed it amber).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

from cashwatch.i18n import N_

_HEX = re.compile(r"#[0-9a-f]{6}")

# The colours `st.badge` takes: it accepts names only, no hex.
BadgeColour = Literal["red", "orange", "yellow", "blue", "green", "violet", "gray"]
# "per_type": at most one event of the type per camera within the camera's `cooldown_s`
# (`cashwatch.rules.cooldown.Cooldown`, applied by the detection pipeline); types are
# independent of each other. "none": the rule already emits one event per episode, and a
# cooldown would lose the second of two episodes close together.
CooldownPolicy = Literal["per_type", "none"]


@dataclass(frozen=True)
class Colour:
    """One colour as lower-case "#rrggbb" hex, with the channel orders drawing code needs.

    >>> Colour("#f5a524").rgb, Colour("#f5a524").bgr
    ((245, 165, 36), (36, 165, 245))
    >>> Colour("orange")
    Traceback (most recent call last):
    ...
    ValueError: colour 'orange' is not lower-case '#rrggbb' hex
    """

    hex: str

    def __post_init__(self) -> None:
        if not _HEX.fullmatch(self.hex):
            raise ValueError(f"colour {self.hex!r} is not lower-case '#rrggbb' hex")

    @property
    def rgb(self) -> tuple[int, int, int]:
        """Red, green, blue, 0..255 each (browsers, PIL)."""
        return (int(self.hex[1:3], 16), int(self.hex[3:5], 16), int(self.hex[5:7], 16))

    @property
    def bgr(self) -> tuple[int, int, int]:
        """Blue, green, red, 0..255 each: OpenCV's order."""
        red, green, blue = self.rgb
        return (blue, green, red)


@dataclass(frozen=True)
class EventTypeInfo:
    """What the dashboard and the drawings need to know about one event type.

    Attributes:
        name: the type as stored in the `events` table and emitted by the rules.
        label: the type's name for people ("Cash hand-over"), in English: marked for
            the catalogue, translated where it is shown (`_(info.label)`).
        icon: a Streamlit material icon (":material/payments:"), or None for no icon.
        colour: the type's colour in charts and drawings.
        badge: the named colour nearest `colour`, for `st.badge` (which takes no hex).
        alert_beeps: how many times the Overview beeps for a new event of this type.
        cooldown: how repeats are held back (see `CooldownPolicy`).
    """

    name: str
    label: str
    icon: str | None
    colour: Colour
    badge: BadgeColour
    alert_beeps: int
    cooldown: CooldownPolicy


@dataclass(frozen=True)
class ZoneStyle:
    """How a zone is drawn, the same in an event's snapshot and in the live view.

    Attributes:
        name: the zone's key in the camera's `zones` settings.
        label: the text drawn at the zone's first point (short: frames can be small).
            English, never translated: OpenCV's `putText` draws ASCII only (no Hangul).
        colour: the outline's and the label's colour.
        thickness_px: the outline's width in pixels.
    """

    name: str
    label: str
    colour: Colour
    thickness_px: int = 2


# Colours that mean something at a glance: fire orange, violence red, cash green, tamper
# violet. Beeps: fire and fights are urgent, a hand-over is routine review; a tampered
# camera beeps like one that lost its picture (two), which is what it amounts to.
_EVENT_TYPES = (
    EventTypeInfo(
        "cash",
        N_("Cash hand-over"),
        ":material/payments:",
        Colour("#2ca02c"),
        "green",
        alert_beeps=1,
        cooldown="per_type",
    ),
    EventTypeInfo(
        "violence",
        N_("Violence"),
        ":material/sports_mma:",
        Colour("#d62728"),
        "red",
        alert_beeps=3,
        cooldown="per_type",
    ),
    EventTypeInfo(
        "fire",
        N_("Fire"),
        ":material/local_fire_department:",
        Colour("#ff7f0e"),
        "orange",
        alert_beeps=3,
        cooldown="per_type",
    ),
    EventTypeInfo(
        "tamper",
        N_("Camera tampered"),
        ":material/videocam_off:",
        Colour("#9467bd"),
        "violet",
        alert_beeps=2,
        cooldown="none",
    ),
    # a refund or no-sale rung up with nobody at the counter (cashwatch.till.exceptions);
    # blue: a review item, not an emergency
    EventTypeInfo(
        "till_exception",
        N_("Till exception"),
        ":material/point_of_sale:",
        Colour("#1f77b4"),
        "blue",
        alert_beeps=1,
        cooldown="none",
    ),
)
EVENT_TYPE_TABLE: Mapping[str, EventTypeInfo] = MappingProxyType({t.name: t for t in _EVENT_TYPES})

# An old row's type that no rule emits any more (or a row written by hand): shown plainly,
# never an error. The same as before this table existed: no icon, a gray badge, one beep.
UNKNOWN_COLOUR = Colour("#7f7f7f")


def event_type(name: str) -> EventTypeInfo:
    """The metadata of event type `name`, or a plain fallback for a type not in the table.

    Args:
        name: an event type as stored in the `events` table.

    Returns:
        The table's entry, else one labelled with `name` itself, without an icon, gray,
        beeping once, with the per-type cooldown.

    >>> event_type("fire").icon
    ':material/local_fire_department:'
    >>> old = event_type("loitering")
    >>> old.label, old.icon, old.badge, old.alert_beeps
    ('loitering', None, 'gray', 1)
    """
    known = EVENT_TYPE_TABLE.get(name)
    if known is not None:
        return known
    return EventTypeInfo(
        name, name, None, UNKNOWN_COLOUR, "gray", alert_beeps=1, cooldown="per_type"
    )


# Bright on dark footage; the zone editor has always shown these (the live view meant
# to, see the module's docstring), so the zones look alike wherever they are drawn.
_ZONE_STYLES = (
    ZoneStyle("cashier", "cashier", Colour("#f5a524")),
    ZoneStyle("counter", "counter", Colour("#3cc8c8")),
    ZoneStyle("drawer", "drawer", Colour("#c850c8")),
)
ZONE_STYLES: Mapping[str, ZoneStyle] = MappingProxyType({z.name: z for z in _ZONE_STYLES})
