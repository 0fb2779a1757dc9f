"""Where in a frame the pose model has to look: around what changed, not everywhere.

As Frigate does for its object detector: when only part of the frame changed since the
model last looked, it runs on a crop around the change, at the scale it would use for the
whole frame. A walker crossing a 720p camera moves in about a third of it, and the
model's cost follows its input's pixels, so a crop costs about a third of a full look.

People the crop does not reach keep their last poses (the gate saw no change there); a
person who overlaps the change is taken into the crop whole, so nobody is cut in half.
Pure functions over boxes in frame pixels, `(x1, y1, x2, y2)`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from cashwatch.detect.backends.preprocess import STRIDE

# Margin around the change and the people in it, as a fraction of the region's longer side
# (at least MIN_MARGIN_PX): limbs move further between two looks than the blob shows.
MARGIN_FRACTION = 0.15
MIN_MARGIN_PX = 32.0
# Above this share of the frame a crop saves too little to be worth a second look when
# someone turns out to be cut by its edge: look at the whole frame instead.
MAX_AREA_FRACTION = 0.5
# A box within this many pixels of an inner crop edge may be a person the crop cut.
EDGE_PX = 2.0


@dataclass(frozen=True)
class Region:
    """A crop of the frame, in whole pixels (x2, y2 exclusive)."""

    x1: int
    y1: int
    x2: int
    y2: int

    @property
    def width(self) -> int:
        """The crop's width in pixels."""
        return self.x2 - self.x1

    @property
    def height(self) -> int:
        """The crop's height in pixels."""
        return self.y2 - self.y1

    def crop(self, frame: np.ndarray) -> np.ndarray:
        """Cut the region out of a frame.

        Args:
            frame: The HxWx3 frame the region was chosen on.

        Returns:
            The crop, a view of `frame` (not a copy).
        """
        return frame[self.y1 : self.y2, self.x1 : self.x2]

    def to_frame(self, xyxy: np.ndarray) -> np.ndarray:
        """Move boxes or points found in the crop into frame pixels.

        Args:
            xyxy: An (..., 2k) array of x, y pairs in crop pixels (boxes: k = 2).

        Returns:
            A new array of the same shape, in frame pixels.
        """
        offset = np.array([self.x1, self.y1], np.float32)
        return xyxy + np.tile(offset, xyxy.shape[-1] // 2)


def overlaps(boxes: np.ndarray, area: tuple[float, float, float, float]) -> np.ndarray:
    """Which boxes share any area with a given one.

    Args:
        boxes: (n, 4) xyxy boxes, pixels (anything reshapeable to that).
        area: The x1, y1, x2, y2 box to test against, same pixels.

    Returns:
        An (n,) bool array; touching edges do not count.
    """
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    return (
        (boxes[:, 0] < area[2])
        & (boxes[:, 2] > area[0])
        & (boxes[:, 1] < area[3])
        & (boxes[:, 3] > area[1])
    )


def choose_region(
    changed: tuple[float, float, float, float] | None, people: np.ndarray, frame_wh: tuple[int, int]
) -> Region | None:
    """The crop covering `changed` and every person in it, or None for the whole frame.

    Args:
        changed: the box around what changed (and people due a look), frame pixels.
        people: boxes of the people in view, (n, 4).
        frame_wh: the frame's size.

    Returns:
        The crop, with a margin, in whole pixels; None when nothing changed or the crop
        would cover more than `MAX_AREA_FRACTION` of the frame (look at it whole).

    Example:
        >>> choose_region((600, 300, 700, 500), np.zeros((0, 4)), (1280, 720))
        Region(x1=568, y1=268, x2=732, y2=532)
        >>> choose_region((0, 0, 1000, 700), np.zeros((0, 4)), (1280, 720)) is None
        True
    """
    if changed is None:
        return None
    width, height = frame_wh
    people = np.asarray(people, np.float64).reshape(-1, 4)
    taken = np.zeros(len(people), bool)
    while True:  # each pass takes in at least one more person, or ends
        core = union_box([changed, *map(tuple, people[taken])])
        margin = max(MIN_MARGIN_PX, MARGIN_FRACTION * max(core[2] - core[0], core[3] - core[1]))
        area = (
            max(0.0, core[0] - margin),
            max(0.0, core[1] - margin),
            min(float(width), core[2] + margin),
            min(float(height), core[3] + margin),
        )
        now_taken = taken | overlaps(people, area)
        if (now_taken == taken).all():
            break
        taken = now_taken
    region = Region(
        math.floor(area[0]), math.floor(area[1]), math.ceil(area[2]), math.ceil(area[3])
    )
    if region.width * region.height > MAX_AREA_FRACTION * width * height:
        return None
    return region


def crop_imgsz(region: Region, frame_wh: tuple[int, int], imgsz: int) -> int:
    """Model input size for the crop at the whole frame's scale (a stride multiple).

    Args:
        region: The crop.
        frame_wh: The frame's width and height, pixels.
        imgsz: The input size of a whole frame, pixels of its longest side.

    Returns:
        The crop's input size, pixels of its longest side: a multiple of the stride, at
        least one stride and at most `imgsz`.

    >>> crop_imgsz(Region(0, 0, 300, 200), (1280, 720), 640)
    160
    """
    scale = imgsz / max(frame_wh)
    return min(
        imgsz, max(STRIDE, math.ceil(max(region.width, region.height) * scale / STRIDE) * STRIDE)
    )


def cut_by_edge(boxes: np.ndarray, region: Region, frame_wh: tuple[int, int]) -> bool:
    """Whether a box touches an edge of the crop that is not the frame's.

    Args:
        boxes: (n, 4) xyxy boxes found in the crop, frame pixels.
        region: The crop.
        frame_wh: The frame's width and height, pixels.

    Returns:
        True when any box lies within `EDGE_PX` of an inner edge (a person perhaps cut);
        False without boxes.
    """
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    width, height = frame_wh
    inner = [
        (region.x1 > 0) & (boxes[:, 0] <= region.x1 + EDGE_PX),
        (region.y1 > 0) & (boxes[:, 1] <= region.y1 + EDGE_PX),
        (region.x2 < width) & (boxes[:, 2] >= region.x2 - EDGE_PX),
        (region.y2 < height) & (boxes[:, 3] >= region.y2 - EDGE_PX),
    ]
    return bool(np.any(np.logical_or.reduce(inner))) if len(boxes) else False


def union_box(boxes: list[tuple[float, ...]]) -> tuple[float, float, float, float]:
    """The smallest box holding all of `boxes`.

    Args:
        boxes: x1, y1, x2, y2 boxes; at least one.

    Returns:
        The enclosing box.

    >>> union_box([(0, 5, 10, 10), (4, 0, 6, 20)])
    (0.0, 0.0, 10.0, 20.0)
    """
    stacked = np.asarray(boxes, np.float64).reshape(-1, 4)
    return (
        float(stacked[:, 0].min()),
        float(stacked[:, 1].min()),
        float(stacked[:, 2].max()),
        float(stacked[:, 3].max()),
    )
