"""Drawing the live overlay and encoding frames for the browser."""

from __future__ import annotations

import cv2
import numpy as np

from cashwatch.config import ZonesConfig
from cashwatch.core.event_types import event_type
from cashwatch.detect.annotate import PERSON_COLOUR, draw_zones

# the same person colour as in snapshots
PERSON_BOX_COLOUR = PERSON_COLOUR
# label index in the frame slot's boxes -> (name, BGR colour); an event type's box takes
# the type's colour (today the worker writes person boxes only, `overlay_boxes`)
BOX_LABELS = {
    0: ("person", PERSON_BOX_COLOUR),
    **{
        label: (name, event_type(name).colour.bgr)
        for label, name in ((1, "cash"), (2, "violence"), (3, "fire"))
    },
}
JPEG_QUALITY = 70


def draw_boxes(image: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Detections (normalised x1, y1, x2, y2, confidence, label), drawn in place."""
    height, width = image.shape[:2]
    for x1, y1, x2, y2, conf, label in boxes:
        name, colour = BOX_LABELS.get(int(label), ("?", (255, 255, 255)))
        top_left = (round(x1 * width), round(y1 * height))
        cv2.rectangle(image, top_left, (round(x2 * width), round(y2 * height)), colour, 2)
        cv2.putText(
            image,
            f"{name} {conf:.2f}",
            (top_left[0], max(12, top_left[1] - 4)),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.45,
            colour,
            1,
            cv2.LINE_AA,
        )
    return image


def annotate(image: np.ndarray, boxes: np.ndarray | None, zones: ZonesConfig | None) -> np.ndarray:
    """A copy of `image` with the overlay; the original is never drawn on."""
    out = image.copy()
    if zones is not None:
        draw_zones(out, zones)
    if boxes is not None and len(boxes):
        draw_boxes(out, boxes)
    return out


def to_jpeg(image_bgr: np.ndarray, quality: int = JPEG_QUALITY) -> bytes:
    ok, buf = cv2.imencode(".jpg", image_bgr, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError(f"cannot JPEG-encode an image of shape {image_bgr.shape}")
    return buf.tobytes()


def grey_out(image_bgr: np.ndarray) -> np.ndarray:
    """A dimmed grey copy: the last frame of a camera that is not live any more must not
    pass for a live picture at a glance."""
    grey = cv2.cvtColor(image_bgr, cv2.COLOR_BGR2GRAY)
    return cv2.cvtColor((grey * 0.45).astype(np.uint8), cv2.COLOR_GRAY2BGR)
