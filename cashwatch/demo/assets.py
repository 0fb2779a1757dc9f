"""People cut out of the photos Ultralytics ships inside its wheel.

The demo must work on a fresh install with no network and no test media, so its only
pictures are `ultralytics/assets/bus.jpg` and `zidane.jpg` (AGPL-3.0, like Ultralytics).
They are found with `importlib.util.find_spec`, which locates the package without
importing it: importing Ultralytics would import torch into workers that must not load it.

The outlines below were traced once by hand over the photos, guided by the keypoints
yolo11n-pose finds in them; they are in the photo's own pixels.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import cv2
import numpy as np

from cashwatch.demo.canvas import Cutout
from cashwatch.util.files import package_dir

Polygon = tuple[tuple[int, int], ...]


@dataclass(frozen=True)
class PersonSpec:
    """One person in one shipped photo: the outline to cut, and what may cover them."""

    photo: str
    outline: Polygon
    # parts of someone else lying over this person, painted out before cutting
    occluders: tuple[Polygon, ...] = ()


# Zidane leaning forward with his left arm stretched out to the right (a reaching guest).
ZIDANE = PersonSpec(
    "zidane.jpg",
    (
        (125, 720),
        (160, 600),
        (180, 480),
        (200, 420),
        (230, 350),
        (270, 330),
        (300, 322),
        (440, 312),
        (470, 300),
        (482, 270),
        (500, 225),
        (540, 205),
        (590, 205),
        (630, 222),
        (652, 250),
        (662, 295),
        (660, 340),
        (650, 385),
        (700, 418),
        (750, 437),
        (900, 443),
        (930, 437),
        (960, 432),
        (1000, 420),
        (1040, 410),
        (1070, 406),
        (1110, 408),
        (1152, 412),
        (1154, 424),
        (1110, 428),
        (1092, 436),
        (1094, 455),
        (1087, 476),
        (1066, 487),
        (1030, 491),
        (1000, 496),
        (975, 506),
        (940, 509),
        (900, 511),
        (800, 516),
        (750, 523),
        (700, 523),
        (667, 516),
        (667, 720),
    ),
)
# The part of Zidane's arm that lies over Ancelotti in the photo.
_ZIDANE_ARM_OVER_ANCELOTTI: Polygon = (
    (740, 430),
    (900, 437),
    (960, 426),
    (1040, 402),
    (1110, 400),
    (1160, 406),
    (1160, 430),
    (1100, 436),
    (1100, 458),
    (1092, 482),
    (1068, 494),
    (1000, 502),
    (975, 514),
    (900, 518),
    (800, 524),
    (740, 532),
)
# Ancelotti standing upright, looking left (the cashier behind the counter).
ANCELOTTI = PersonSpec(
    "zidane.jpg",
    (
        (750, 720),
        (752, 560),
        (760, 380),
        (780, 320),
        (830, 290),
        (895, 240),
        (900, 200),
        (893, 140),
        (900, 90),
        (935, 55),
        (990, 42),
        (1040, 55),
        (1068, 90),
        (1072, 140),
        (1060, 190),
        (1045, 230),
        (1025, 280),
        (1060, 330),
        (1080, 380),
        (1095, 460),
        (1110, 560),
        (1135, 690),
        (1140, 720),
    ),
    occluders=(_ZIDANE_ARM_OVER_ANCELOTTI,),
)
# A full-length passer-by in front of the bus: a man in a black coat, a hand on his chest.
_BLACK_COAT_OUTLINE: Polygon = (
    (276, 406),
    (301, 413),
    (308, 442),
    (304, 474),
    (322, 490),
    (336, 545),
    (333, 690),
    (336, 705),
    (330, 732),
    (285, 782),
    (292, 817),
    (292, 857),
    (252, 857),
    (250, 815),
    (244, 705),
    (236, 700),
    (236, 567),
    (240, 492),
    (251, 478),
    (262, 450),
    (260, 424),
)
BUS_BLACK_COAT = PersonSpec("bus.jpg", _BLACK_COAT_OUTLINE)
# His right arm, hanging down his side with a phone in the hand, to be swung separately
# about the shoulder (BLACK_COAT_SHOULDER) on top of the body with the arm painted out.
_BLACK_COAT_RIGHT_ARM: Polygon = (
    (236, 478),
    (258, 482),
    (262, 530),
    (262, 575),
    (272, 610),
    (292, 640),
    (292, 690),
    (265, 690),
    (252, 662),
    (238, 625),
    (236, 575),
    (236, 520),
)
BLACK_COAT_SHOULDER = (247.0, 495.0)
BLACK_COAT_FEET = (272.0, 857.0)
BUS_BLACK_COAT_ARM = PersonSpec("bus.jpg", _BLACK_COAT_RIGHT_ARM)
BUS_BLACK_COAT_ARMLESS = PersonSpec(
    "bus.jpg", _BLACK_COAT_OUTLINE, occluders=(_BLACK_COAT_RIGHT_ARM,)
)


class MissingAssetError(FileNotFoundError):
    """The Ultralytics package, or a photo inside it, is not installed."""


def ultralytics_assets_dir() -> Path:
    """The `assets` folder of the installed Ultralytics package, without importing it."""
    folder = package_dir("ultralytics")
    if folder is None:
        raise MissingAssetError(
            "the demo cameras need the 'ultralytics' package (pip install ultralytics)"
        )
    return folder / "assets"


@cache
def load_photo(name: str) -> np.ndarray:
    """A shipped photo as BGR; cached because every scene cuts from the same two."""
    path = ultralytics_assets_dir() / name
    image = cv2.imread(str(path), cv2.IMREAD_COLOR) if path.is_file() else None
    if image is None:
        raise MissingAssetError(
            f"demo photo {path} is missing or unreadable; valid photos "
            "are bus.jpg and zidane.jpg from the ultralytics package"
        )
    image.setflags(write=False)
    return image


def _paint_out(
    photo: np.ndarray, occluders: tuple[Polygon, ...], outline: np.ndarray
) -> np.ndarray:
    """`photo` with the occluders filled in from the person around them."""
    inside = np.zeros(photo.shape[:2], np.uint8)
    cv2.fillPoly(inside, [outline], 255)
    # the background next to an outline (a blue bus) must not bleed into the person:
    # outside the outline becomes the person's median colour before filling in
    source = photo.copy()
    source[inside == 0] = np.median(photo[inside > 0], axis=0).astype(np.uint8)
    cover = np.zeros(photo.shape[:2], np.uint8)
    cv2.fillPoly(cover, [np.array(p, np.int32) for p in occluders], 255)
    return cv2.inpaint(source, cover, 7, cv2.INPAINT_TELEA)


def cut_person(spec: PersonSpec) -> Cutout:
    """The person inside `spec.outline`, as a cut-out that remembers where it came from."""
    photo = load_photo(spec.photo).copy()
    height, width = photo.shape[:2]
    outline = np.clip(np.array(spec.outline, np.int32), 0, (width - 1, height - 1)).astype(np.int32)
    x, y, w, h = cv2.boundingRect(outline)
    mask = np.zeros((h, w), np.uint8)
    cv2.fillPoly(mask, [outline - (x, y)], 255)
    if spec.occluders:
        photo = _paint_out(photo, spec.occluders, outline)
    # pull the outline in a little: hand-traced edges would otherwise carry a rim of the
    # photo's background (the stadium's red crowd, the blue bus)
    inner: np.ndarray = cv2.erode(mask, np.ones((5, 5), np.uint8))
    return Cutout(photo[y : y + h, x : x + w].copy(), inner, origin_xy=(float(x), float(y)))
