"""The five demo scenes: each renders the frame shown at a time `t` within its loop.

Layout is designed on a 1280x720 reference frame: x positions scale with the frame's
width, y positions and people with its height, so the zones in the demo config (which
are normalised) keep meaning the same thing at any frame size.

Timelines (seconds into each loop):

* handover (24 s): cashier alone 0–3; guest walks in 3–7; hand-over 7–11 (the guest's
  outstretched hand meets the cashier's over the counter); guest leaves 11–15; alone.
* scuffle (24 s): two people calm 0–4; one steps in 4–5; both flail their arms and
  shove 5–12; step apart 12–13; calm. (The one person in the photos with a free arm,
  once mirrored, plays both.)
* fire (30 s): calm room 0–5; a fire catches on a low shelf at 5 and spreads along it
  to ~8, burns, dies down 23–26; calm.
* walk (20 s): a passer-by crosses the corridor 3–15; nothing should fire.
* tamper (40 s): a cluttered cash office; a cloth is pulled over the lens 12–13.5, held
  there, pulled away 26–27.5.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import cv2
import numpy as np

from cashwatch.demo.assets import (
    ANCELOTTI,
    BLACK_COAT_FEET,
    BLACK_COAT_SHOULDER,
    BUS_BLACK_COAT,
    BUS_BLACK_COAT_ARM,
    BUS_BLACK_COAT_ARMLESS,
    ZIDANE,
    cut_person,
)
from cashwatch.demo.canvas import Cutout, mirror_x, paste, paste_rotated, vertical_gradient
from cashwatch.demo.flame import FlameRenderer

REFERENCE_WH = (1280, 720)
# Cool greys and blues only: nothing in a background may look like flame.
WALL_TOP, WALL_BOTTOM = (172, 160, 150), (140, 132, 125)
FLOOR_NEAR, FLOOR_FAR = (105, 100, 98), (128, 124, 120)


def ramp(t: float, start: float, end: float) -> float:
    """0 before `start`, 1 after `end`, eased (smoothstep) in between."""
    x = min(1.0, max(0.0, (t - start) / (end - start)))
    return x * x * (3.0 - 2.0 * x)


def _frame_rng(t: float, seed: int) -> np.random.Generator:
    """Randomness fixed by the time in the loop, so every loop plays the same way."""
    return np.random.default_rng((seed, round(t * 1000)))


class Scene(ABC):
    """Renders a frame of `size_wh` for any time `t` in `[0, loop_s)`."""

    loop_s: float

    def __init__(self, size_wh: tuple[int, int]) -> None:
        self.size_wh = size_wh
        self.sx = size_wh[0] / REFERENCE_WH[0]
        self.sy = size_wh[1] / REFERENCE_WH[1]

    def xy(self, x_ref: float, y_ref: float) -> tuple[float, float]:
        """A reference-frame point in this frame's pixels."""
        return x_ref * self.sx, y_ref * self.sy

    def room(self, floor_y_ref: float) -> np.ndarray:
        """Plain wall above `floor_y_ref`, floor below."""
        width, height = self.size_wh
        frame = vertical_gradient(self.size_wh, WALL_TOP, WALL_BOTTOM)
        floor_y = round(floor_y_ref * self.sy)
        if floor_y < height:
            frame[floor_y:] = vertical_gradient((width, height - floor_y), FLOOR_FAR, FLOOR_NEAR)
            cv2.line(
                frame, (0, floor_y), (width, floor_y), (90, 86, 84), max(1, round(3 * self.sy))
            )
        return frame

    @abstractmethod
    def render(self, t: float) -> np.ndarray:
        """A new BGR uint8 frame for time `t` seconds into the loop."""


class HandoverScene(Scene):
    """A guest reaches across the front desk and the cashier's hand meets theirs."""

    loop_s = 24.0
    # where the guest's and the cashier's hands meet in zidane.jpg, on the counter's edge
    MEET_PHOTO_XY = (965.0, 640.0)
    MEET_REF_XY = (860.0, 570.0)
    ENTER, ARRIVE, DEPART, GONE = 3.0, 7.0, 11.0, 15.0

    def __init__(self, size_wh: tuple[int, int]) -> None:
        super().__init__(size_wh)
        scale = 0.8 * self.sy
        self.cashier = cut_person(ANCELOTTI).scaled(scale)
        self.guest = cut_person(ZIDANE).scaled(scale)
        self.meet_offset = self.cashier.offset_for(self.MEET_PHOTO_XY, self.xy(*self.MEET_REF_XY))
        # far enough left that even the guest's fingertips are off-screen
        self.offstage_dx = -1040.0 * self.sx
        self.counter_y = round(self.MEET_REF_XY[1] * self.sy)
        self.background = self.room(floor_y_ref=720.0)
        self.counter = self._counter_band()

    def _counter_band(self) -> np.ndarray:
        width, height = self.size_wh
        band = vertical_gradient((width, height - self.counter_y), (96, 88, 82), (70, 64, 60))
        edge = max(2, round(12 * self.sy))
        band[:edge] = (150, 146, 140)
        cv2.putText(
            band,
            "FRONT DESK",
            (round(width * 0.42), round(band.shape[0] * 0.6)),
            cv2.FONT_HERSHEY_SIMPLEX,
            1.1 * self.sy,
            (180, 176, 170),
            max(1, round(2 * self.sy)),
            cv2.LINE_AA,
        )
        return band

    def guest_dx(self, t: float) -> float:
        """Horizontal offset of the guest from the hand-over position (0 = hands meet)."""
        if t < self.ENTER or t >= self.GONE:
            return self.offstage_dx
        if t < self.ARRIVE:
            return self.offstage_dx * (1.0 - ramp(t, self.ENTER, self.ARRIVE))
        if t < self.DEPART:
            # a slight lean in and out keeps the hands together but the picture alive
            return float(-12.0 * self.sx * (1.0 - np.cos(2 * np.pi * 0.6 * (t - self.ARRIVE))))
        return self.offstage_dx * ramp(t, self.DEPART, self.GONE)

    def render(self, t: float) -> np.ndarray:
        frame = self.background.copy()
        ox, oy = self.meet_offset
        cashier_sway = 6.0 * self.sx * np.sin(2 * np.pi * 0.25 * t)
        paste(frame, self.cashier, (ox + cashier_sway, oy))
        dx = self.guest_dx(t)
        if dx > self.offstage_dx:
            walking = self.ENTER < t < self.ARRIVE or self.DEPART < t < self.GONE
            bob = 6.0 * self.sy * abs(np.sin(2 * np.pi * 1.0 * t)) if walking else 0.0
            paste(frame, self.guest, (ox + dx + cashier_sway, oy - bob))
        frame[self.counter_y :] = self.counter
        return frame


@dataclass(frozen=True)
class Fighter:
    """A body with one arm cut out separately, so the arm can flail about the shoulder.

    Rigid shaking alone is no fight to the violence rule, which measures limbs relative
    to the torso; only an arm moving against the body counts.
    """

    body: Cutout
    arm: Cutout
    feet_xy: tuple[float, float]  # in the cut-outs' photo coordinates
    shoulder_xy: tuple[float, float]
    outward: float  # +1 or -1: the rotation sign that raises the arm away from the body

    @classmethod
    def black_coat(cls, scale: float, *, mirrored: bool) -> Fighter:
        body = cut_person(BUS_BLACK_COAT_ARMLESS).scaled(scale)
        arm = cut_person(BUS_BLACK_COAT_ARM).scaled(scale)
        feet, shoulder = BLACK_COAT_FEET, BLACK_COAT_SHOULDER
        if mirrored:
            return cls(body.mirrored(), arm.mirrored(), mirror_x(feet), mirror_x(shoulder), 1.0)
        return cls(body, arm, feet, shoulder, -1.0)

    def draw(
        self, frame: np.ndarray, feet_canvas_xy: tuple[float, float], arm_raise_deg: float
    ) -> None:
        offset = self.body.offset_for(self.feet_xy, feet_canvas_xy)
        paste(frame, self.body, offset)
        paste_rotated(frame, self.arm, offset, self.outward * arm_raise_deg, self.shoulder_xy)


class ScuffleScene(Scene):
    """Two people in a lobby square up, flail and shove at each other, then calm down."""

    loop_s = 24.0
    APPROACH, START, STOP, APART = 4.0, 5.0, 12.0, 13.0
    FEET_REF_Y = 690.0
    # x of each fighter's feet: apart while calm, overlapping while fighting
    LEFT_X, CLOSE_RIGHT_X, APART_RIGHT_X = 560.0, 680.0, 900.0

    def __init__(self, size_wh: tuple[int, int]) -> None:
        super().__init__(size_wh)
        scale = 1.1 * self.sy
        self.left = Fighter.black_coat(scale, mirrored=True)
        self.right = Fighter.black_coat(scale, mirrored=False)
        self.background = self.room(floor_y_ref=520.0)

    def right_x(self, t: float) -> float:
        """Where the right-hand person's feet are (reference pixels)."""
        apart, close = self.APART_RIGHT_X, self.CLOSE_RIGHT_X
        if t < self.APPROACH or t >= self.APART:
            return apart
        if t < self.START:
            return apart + (close - apart) * ramp(t, self.APPROACH, self.START)
        if t < self.STOP:
            return close
        return close + (apart - close) * ramp(t, self.STOP, self.APART)

    def render(self, t: float) -> np.ndarray:
        frame = self.background.copy()
        fighting = self.START <= t < self.STOP
        for seed, (fighter, x_ref) in enumerate(
            ((self.left, self.LEFT_X), (self.right, self.right_x(t)))
        ):
            x, y = self.xy(x_ref, self.FEET_REF_Y)
            if fighting:
                # a fresh random jolt and swing every frame: fast at any detection stride
                rng = _frame_rng(t, seed)
                x += rng.uniform(-30.0, 30.0) * self.sx
                y += rng.uniform(-15.0, 0.0) * self.sy
                raise_deg = rng.uniform(10.0, 130.0)
            else:
                x += 4.0 * self.sx * np.sin(2 * np.pi * 0.3 * t + seed)
                raise_deg = 4.0
            fighter.draw(frame, (x, y), raise_deg)
        return frame


class FireScene(Scene):
    """A back office where a fire catches along a low shelf, spreads, burns and goes out.

    The fire is a row of small flame tongues, not one big flame: yolo11n-pose takes a
    single tall flame for a person (conf 0.5–0.7 on most frames), and the fire rule
    ignores flame colour inside person boxes, so a lone tall flame would never alarm.
    """

    loop_s = 30.0
    IGNITE, SPREAD_S, FULL_S, FADE, OUT = 5.0, 0.6, 4.0, 23.0, 26.0
    SHELF_REF_XYWH = (660.0, 568.0, 340.0, 70.0)
    TONGUES, TONGUE_GAP_REF, TONGUE_REF_WH = 6, 52.0, (70.0, 115.0)

    def __init__(self, size_wh: tuple[int, int]) -> None:
        super().__init__(size_wh)
        self.background = self._office()
        x, y, w, _ = self.SHELF_REF_XYWH
        first = x + w / 2 - self.TONGUE_GAP_REF * (self.TONGUES - 1) / 2
        self.bases = [
            self._point(first + k * self.TONGUE_GAP_REF, y + 4) for k in range(self.TONGUES)
        ]
        tongue_wh = (
            max(8, round(self.TONGUE_REF_WH[0] * self.sy)),
            max(8, round(self.TONGUE_REF_WH[1] * self.sy)),
        )
        self.flames = [FlameRenderer(tongue_wh, seed=k) for k in range(self.TONGUES)]

    def _office(self) -> np.ndarray:
        frame = self.room(floor_y_ref=540.0)
        cv2.rectangle(frame, self._point(150, 430), self._point(550, 600), (78, 74, 72), -1)
        cv2.rectangle(frame, self._point(150, 420), self._point(550, 432), (110, 106, 104), -1)
        cv2.rectangle(frame, self._point(960, 150), self._point(1180, 330), (150, 120, 100), -1)
        cv2.rectangle(
            frame,
            self._point(960, 150),
            self._point(1180, 330),
            (80, 76, 74),
            max(1, round(4 * self.sy)),
        )
        x, y, w, h = self.SHELF_REF_XYWH
        cv2.rectangle(frame, self._point(x, y), self._point(x + w, y + h), (112, 110, 108), -1)
        cv2.rectangle(
            frame,
            self._point(x, y),
            self._point(x + w, y + h),
            (70, 68, 66),
            max(1, round(3 * self.sy)),
        )
        return frame

    def _point(self, x_ref: float, y_ref: float) -> tuple[int, int]:
        return round(x_ref * self.sx), round(y_ref * self.sy)

    def growth(self, t: float, tongue: int = 0) -> float:
        """Size 0..1 of one tongue: catches `SPREAD_S` after its neighbour, grows, dies."""
        lit = self.IGNITE + tongue * self.SPREAD_S
        if t < lit or t >= self.OUT:
            return 0.0
        return (0.2 + 0.8 * ramp(t, lit, lit + self.FULL_S)) * (1.0 - ramp(t, self.FADE, self.OUT))

    def render(self, t: float) -> np.ndarray:
        frame = self.background.copy()
        for tongue, (flame, base) in enumerate(zip(self.flames, self.bases, strict=True)):
            # each tongue runs on its own clock so they do not flicker in step
            flame.draw(frame, base, t + 0.37 * tongue, self.growth(t, tongue))
        return frame


class WalkScene(Scene):
    """One person walks along a corridor: the control scene, where nothing should fire."""

    loop_s = 20.0
    ENTER, EXIT = 3.0, 15.0
    FEET_REF_Y = 690.0

    def __init__(self, size_wh: tuple[int, int]) -> None:
        super().__init__(size_wh)
        self.person = cut_person(BUS_BLACK_COAT).scaled(1.1 * self.sy)
        self.background = self.room(floor_y_ref=500.0)
        self.start_x, self.end_x = -200.0 * self.sx, 1480.0 * self.sx

    def render(self, t: float) -> np.ndarray:
        frame = self.background.copy()
        if self.ENTER <= t < self.EXIT:
            progress = (t - self.ENTER) / (self.EXIT - self.ENTER)
            x = self.start_x + (self.end_x - self.start_x) * progress
            bob = 5.0 * self.sy * abs(np.sin(2 * np.pi * 0.9 * t))
            offset = self.person.offset_for(BLACK_COAT_FEET, (x, self.FEET_REF_Y * self.sy))
            paste(frame, self.person, (offset[0], offset[1] - bob))
        return frame


class TamperScene(Scene):
    """A cash office whose camera someone covers with a cloth, then uncovers.

    The room is cluttered on purpose (shelves of binders, a safe, a notice board, floor
    tiles): the tamper rule can only judge a view with texture, as a real office has.
    """

    loop_s = 40.0
    # covered after the rule's 10-s warm-up, long enough (12.5 s) to pass its 10 s
    COVER, COVERED, UNCOVER, CLEAR = 12.0, 13.5, 26.0, 27.5

    def __init__(self, size_wh: tuple[int, int]) -> None:
        super().__init__(size_wh)
        self.background = self._office()
        self.cloth = self._cloth()

    def _box(
        self,
        frame: np.ndarray,
        x1: float,
        y1: float,
        x2: float,
        y2: float,
        colour: tuple[int, int, int],
        outline: int = 0,
    ) -> None:
        top_left = (round(x1 * self.sx), round(y1 * self.sy))
        bottom_right = (round(x2 * self.sx), round(y2 * self.sy))
        cv2.rectangle(frame, top_left, bottom_right, colour, -1)
        if outline:
            cv2.rectangle(
                frame, top_left, bottom_right, (60, 58, 56), max(1, round(outline * self.sy))
            )

    def _office(self) -> np.ndarray:
        frame = self.room(floor_y_ref=560.0)
        width, height = self.size_wh
        for tile_x in range(0, width, max(8, round(90 * self.sx))):  # floor tiles
            cv2.line(frame, (tile_x, round(560 * self.sy)), (tile_x, height), (88, 85, 83), 1)
        rng = np.random.default_rng(7)  # the same shelves every run
        self._box(frame, 80, 120, 560, 560, (92, 88, 86), outline=4)
        for shelf_y in (130, 270, 410):
            x = 95.0
            while x < 540:
                w = float(rng.uniform(18, 40))
                grey = int(rng.integers(95, 200))
                tint = (grey, grey - int(rng.integers(0, 30)), grey - int(rng.integers(0, 50)))
                self._box(
                    frame,
                    x,
                    shelf_y + float(rng.uniform(0, 30)),
                    min(x + w, 545),
                    shelf_y + 130,
                    tint,
                    outline=1,
                )
                x += w + 3
        self._box(frame, 700, 330, 940, 560, (110, 112, 116), outline=4)  # the safe
        cv2.circle(
            frame,
            (round(820 * self.sx), round(445 * self.sy)),
            max(4, round(38 * self.sy)),
            (70, 70, 72),
            max(1, round(5 * self.sy)),
        )
        self._box(frame, 760, 90, 1180, 290, (200, 196, 190), outline=3)  # notice board
        for row, y in enumerate(range(120, 280, 26)):
            cv2.putText(
                frame,
                f"ROTA  WEEK {row + 1}   CASH-UP 22:00   SAFE LOG",
                (round(780 * self.sx), round(y * self.sy)),
                cv2.FONT_HERSHEY_SIMPLEX,
                0.5 * self.sy,
                (90, 86, 84),
                max(1, round(self.sy)),
                cv2.LINE_AA,
            )
        return frame

    def _cloth(self) -> np.ndarray:
        """Dark fabric right in front of the lens: out of focus, so nearly featureless."""
        width, height = self.size_wh
        rng = np.random.default_rng(11)
        noise = cv2.resize(
            rng.normal(0.0, 9.0, (9, 16)).astype(np.float32),
            (width, height),
            interpolation=cv2.INTER_CUBIC,
        )
        cloth = np.empty((height, width, 3), np.uint8)
        for channel, base in enumerate((58, 60, 66)):
            cloth[..., channel] = np.clip(base + noise, 0, 255).astype(np.uint8)
        return cloth

    def cover(self, t: float) -> float:
        """How far down the frame the cloth reaches, 0..1."""
        return ramp(t, self.COVER, self.COVERED) * (1.0 - ramp(t, self.UNCOVER, self.CLEAR))

    def render(self, t: float) -> np.ndarray:
        frame = self.background.copy()
        reach = self.cover(t)
        if reach > 0.0:
            height = frame.shape[0]
            sway = 0.02 * np.sin(2 * np.pi * 0.7 * t)  # a hand holding it moves a little
            edge = min(height, round(height * min(1.0, reach * (1.04 + sway))))
            frame[:edge] = self.cloth[height - edge :]
        return frame


SCENES: dict[str, type[Scene]] = {
    "handover": HandoverScene,
    "scuffle": ScuffleScene,
    "fire": FireScene,
    "walk": WalkScene,
    "tamper": TamperScene,
}
