"""A cheap motion gate in front of the pose model, after Frigate's motion detector.

Each sampled frame is shrunk to a small grey image, blurred, and compared with the
*reference*: the frame the pose model last looked at. Pixels that differ by more than
`threshold` grey levels are dilated into blobs, and the blobs' contour area (inside the
camera's zones when any are drawn) is compared with `min_area`.

Why the last inferred frame and not a running-average background (Frigate's choice for
recording): the question here is "could the poses have changed since we last looked?".
A person who walked in and stands still leaves a running average different for seconds
(a ghost), so that gate kept the model busy on 80 % of the walking benchmark's sampled
frames; against the last looked-at frame a still person is no change at all. Slow
changes (light, a slow walker) add up against the fixed reference until they pass
`min_area`, so they are not absorbed and missed either.
"""

from __future__ import annotations

import cv2
import numpy as np

from cashwatch.config.detection import MotionConfig
from cashwatch.config.zones import ZonesConfig
from cashwatch.core.geometry import PolygonZone

# Width of the grey image the gate works on; ~15 px per person at CCTV distances is
# enough to see a person or an arm move and costs well under a millisecond.
GATE_WIDTH = 160
# Blobs smaller than this (in gate pixels) are sensor noise or compression artefacts.
NOISE_BLOB_PX = 4.0
_DILATE_KERNEL = np.ones((3, 3), np.uint8)


class MotionGate:
    """`update(frame)` says whether enough of the watched area changed.

    >>> from cashwatch.config.detection import MotionConfig
    >>> gate = MotionGate(MotionConfig())
    >>> still = np.zeros((90, 160, 3), np.uint8)
    >>> gate.update(still), gate.update(still)
    (True, False)

    Call `looked()` after running the model on the frame last passed to `update`: it
    becomes the reference the next frames are compared with.

    Args:
        config: The gate's settings (`min_area`: the least changed share, 0..1, of the
            watched area).
        zones: The camera's zones; when any is set, only change inside them counts. None
            (or no zone) watches the whole frame.

    Attributes:
        last_fraction: The changed share, 0..1, found by the last `update`.
        changed_box: The box around the last update's changed blobs, as 0..1 of the
            frame's width and height; None when nothing changed or there was nothing to
            compare with.
    """

    def __init__(self, config: MotionConfig, zones: ZonesConfig | None = None) -> None:
        self.config = config
        self._zones = [PolygonZone(points) for points in _zone_points(zones)]
        self._reference: np.ndarray | None = None
        self._latest: np.ndarray | None = None
        self._mask: np.ndarray | None = None
        self.last_fraction = 0.0
        # Box around the last update's changed blobs, as fractions of the frame's width and
        # height; None when nothing changed or when there was nothing to compare with.
        self.changed_box: tuple[float, float, float, float] | None = None

    def update(self, frame_bgr: np.ndarray) -> bool:
        """Compare a frame with the reference.

        Args:
            frame_bgr: The HxWx3 uint8 BGR frame.

        Returns:
            True when enough of the watched area changed, or there is no reference (of
            this size) yet.
        """
        grey = self._prepare(frame_bgr)
        self._latest = grey
        if self._reference is None or self._reference.shape != grey.shape:
            self._reference = grey
            self._mask = self._zone_mask(grey.shape)
            self.last_fraction = 1.0
            self.changed_box = None
            return True
        self.last_fraction = self._moving_fraction(grey)
        return self.last_fraction >= self.config.min_area

    def looked(self) -> None:
        """The model ran on the latest frame: later frames are compared with it."""
        if self._latest is not None:
            self._reference = self._latest

    def _prepare(self, frame_bgr: np.ndarray) -> np.ndarray:
        height, width = frame_bgr.shape[:2]
        size = (GATE_WIDTH, max(1, round(height * GATE_WIDTH / width)))
        small = cv2.resize(frame_bgr, size, interpolation=cv2.INTER_AREA)
        grey = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY) if small.ndim == 3 else small
        return cv2.GaussianBlur(grey, (3, 3), 0)

    def _zone_mask(self, shape: tuple[int, ...]) -> np.ndarray | None:
        if not self._zones:
            return None
        size_wh = (shape[1], shape[0])
        mask = np.zeros(shape[:2], np.uint8)
        for zone in self._zones:
            mask |= zone.mask(size_wh)
        return mask if mask.any() else None

    def _moving_fraction(self, grey: np.ndarray) -> float:
        assert self._reference is not None
        diff = cv2.absdiff(grey, self._reference)
        _, moving = cv2.threshold(diff, self.config.threshold, 255, cv2.THRESH_BINARY)
        moving = cv2.dilate(moving, _DILATE_KERNEL, iterations=2)
        if self._mask is not None:
            moving = cv2.bitwise_and(moving, self._mask)
        contours, _ = cv2.findContours(moving, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        blobs = [c for c in contours if cv2.contourArea(c) >= NOISE_BLOB_PX]
        area = sum(cv2.contourArea(c) for c in blobs)
        self.changed_box = _fraction_box(blobs, grey.shape) if blobs else None
        watched = grey.size if self._mask is None else int(np.count_nonzero(self._mask))
        return float(area) / max(1, watched)


def _fraction_box(
    blobs: list[np.ndarray],
    shape: tuple[int, ...],
) -> tuple[float, float, float, float]:
    x, y, w, h = cv2.boundingRect(np.concatenate(blobs))
    height, width = shape[:2]
    return (x / width, y / height, (x + w) / width, (y + h) / height)


def _zone_points(zones: ZonesConfig | None) -> list[list[tuple[float, float]]]:
    if zones is None:
        return []
    return [list(z) for z in (zones.cashier, zones.counter, zones.drawer) if z is not None]
