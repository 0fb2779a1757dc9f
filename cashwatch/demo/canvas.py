"""Cheap drawing for the demo scenes: rigid cut-outs pasted on a frame, and a caption.

Everything per frame is slicing, masked `cv2.copyTo` into views and at most one small
`cv2.warpAffine` per person, so a 1280x720 frame costs a few milliseconds on one core.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import cv2
import numpy as np


@dataclass(frozen=True)
class Cutout:
    """A person cut out of a photo.

    Attributes:
        bgr: (h, w, 3) uint8 pixels of the cut-out's bounding box.
        mask: (h, w) uint8, 255 on the person, 0 elsewhere.
        origin_xy: where the box's top-left corner is in (scaled) photo pixels, so a
            point known in the photo can be placed on the canvas (see `offset_for`).
        scale: photo pixels are multiplied by this to give cut-out pixels.
    """

    bgr: np.ndarray
    mask: np.ndarray
    origin_xy: tuple[float, float]
    scale: float = 1.0

    def __post_init__(self) -> None:
        if self.bgr.shape[:2] != self.mask.shape or self.bgr.ndim != 3:
            raise ValueError(
                f"cut-out pixels {self.bgr.shape} and mask {self.mask.shape} "
                "must be (h, w, 3) and (h, w)"
            )
        if self.bgr.dtype != np.uint8 or self.mask.dtype != np.uint8:
            raise ValueError(
                f"cut-out arrays must be uint8, got {self.bgr.dtype} and {self.mask.dtype}"
            )

    @cached_property
    def bgra(self) -> np.ndarray:
        """Pixels and mask in one array, so a rotation is a single warp."""
        return np.dstack([self.bgr, self.mask])

    @property
    def size_wh(self) -> tuple[int, int]:
        return self.bgr.shape[1], self.bgr.shape[0]

    def scaled(self, factor: float) -> Cutout:
        """The same cut-out resized by `factor` (done once, when a scene is built)."""
        w, h = self.size_wh
        size = (max(1, round(w * factor)), max(1, round(h * factor)))
        bgr = cv2.resize(self.bgr, size, interpolation=cv2.INTER_AREA)
        mask = cv2.resize(self.mask, size, interpolation=cv2.INTER_NEAREST)
        origin = (self.origin_xy[0] * factor, self.origin_xy[1] * factor)
        return Cutout(bgr, mask, origin, self.scale * factor)

    def mirrored(self) -> Cutout:
        """Flipped left-right; its photo coordinates become (-x, y) (see `mirror_x`)."""
        w, _ = self.size_wh
        return Cutout(
            np.ascontiguousarray(self.bgr[:, ::-1]),
            np.ascontiguousarray(self.mask[:, ::-1]),
            (-(self.origin_xy[0] + w), self.origin_xy[1]),
            self.scale,
        )

    def offset_for(
        self, photo_xy: tuple[float, float], canvas_xy: tuple[float, float]
    ) -> tuple[float, float]:
        """The translation that puts the photo point `photo_xy` at `canvas_xy`."""
        return (canvas_xy[0] - photo_xy[0] * self.scale, canvas_xy[1] - photo_xy[1] * self.scale)


def mirror_x(photo_xy: tuple[float, float]) -> tuple[float, float]:
    """A photo point in the coordinates of a `Cutout.mirrored()` cut-out."""
    return (-photo_xy[0], photo_xy[1])


def paste(canvas: np.ndarray, cutout: Cutout, offset_xy: tuple[float, float]) -> None:
    """Draw `cutout` on `canvas` in place, shifted by `offset_xy`; clipped at the edges."""
    x0 = round(cutout.origin_xy[0] + offset_xy[0])
    y0 = round(cutout.origin_xy[1] + offset_xy[1])
    _paste_at(canvas, cutout.bgr, cutout.mask, x0, y0)


def paste_rotated(
    canvas: np.ndarray,
    cutout: Cutout,
    offset_xy: tuple[float, float],
    angle_deg: float,
    pivot_photo_xy: tuple[float, float] | None = None,
) -> None:
    """Like `paste`, with the cut-out turned by `angle_deg` (counter-clockwise on screen).

    It turns about `pivot_photo_xy` (a point in photo pixels, e.g. a shoulder), or about
    its own centre without one.
    """
    w, h = cutout.size_wh
    if pivot_photo_xy is None:
        pivot = (w / 2.0, h / 2.0)
    else:
        pivot = (
            pivot_photo_xy[0] * cutout.scale - cutout.origin_xy[0],
            pivot_photo_xy[1] * cutout.scale - cutout.origin_xy[1],
        )
    matrix = cv2.getRotationMatrix2D(pivot, angle_deg, 1.0)
    corners = np.array([[0, 0, 1], [w, 0, 1], [0, h, 1], [w, h, 1]], np.float64) @ matrix.T
    # warp into the turned cut-out's bounding box only: no more pixels than needed
    low, high = np.floor(corners.min(axis=0)), np.ceil(corners.max(axis=0))
    matrix[:, 2] -= low
    size = (int(high[0] - low[0]), int(high[1] - low[1]))
    turned = cv2.warpAffine(cutout.bgra, matrix, size, flags=cv2.INTER_LINEAR)
    _, mask = cv2.threshold(turned[..., 3], 127, 255, cv2.THRESH_BINARY)
    x0 = round(cutout.origin_xy[0] + offset_xy[0] + low[0])
    y0 = round(cutout.origin_xy[1] + offset_xy[1] + low[1])
    _paste_at(canvas, turned[..., :3], mask, x0, y0)


def _paste_at(canvas: np.ndarray, bgr: np.ndarray, mask: np.ndarray, x0: int, y0: int) -> None:
    height, width = canvas.shape[:2]
    h, w = mask.shape
    left, top = max(0, x0), max(0, y0)
    right, bottom = min(width, x0 + w), min(height, y0 + h)
    if left >= right or top >= bottom:
        return
    src = (slice(top - y0, bottom - y0), slice(left - x0, right - x0))
    # copyTo writes through the view into `canvas`: a masked SIMD copy, no temporaries
    cv2.copyTo(np.ascontiguousarray(bgr[src]), mask[src], canvas[top:bottom, left:right])


def vertical_gradient(
    size_wh: tuple[int, int], top_bgr: tuple[int, int, int], bottom_bgr: tuple[int, int, int]
) -> np.ndarray:
    """A (h, w, 3) uint8 image fading from `top_bgr` to `bottom_bgr`."""
    width, height = size_wh
    ramp = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None]
    column = (1 - ramp) * np.asarray(top_bgr, np.float32) + ramp * np.asarray(
        bottom_bgr, np.float32
    )
    return np.ascontiguousarray(
        np.broadcast_to(column[:, None, :], (height, width, 3)).astype(np.uint8)
    )


def draw_caption(frame: np.ndarray, text: str) -> None:
    """White text on a dark box in the top-left corner, scaled with the frame."""
    scale = max(0.4, frame.shape[0] / 720.0 * 0.7)
    thickness = max(1, round(scale * 2))
    (tw, th), baseline = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
    pad = max(4, round(8 * scale))
    cv2.rectangle(frame, (0, 0), (tw + 2 * pad, th + baseline + 2 * pad), (20, 20, 20), -1)
    cv2.putText(
        frame,
        text,
        (pad, pad + th),
        cv2.FONT_HERSHEY_SIMPLEX,
        scale,
        (255, 255, 255),
        thickness,
        cv2.LINE_AA,
    )
