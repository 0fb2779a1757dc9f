"""The annotated snapshot of an event: drawn on a copy, never on a frame kept for clips."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from cashwatch.config.zones import ZonesConfig
from cashwatch.core.event_types import ZONE_STYLES, event_type
from cashwatch.core.events import DetectedEvent
from cashwatch.core.poses import Poses

# COCO skeleton as keypoint index pairs (Ultralytics' order)
SKELETON = (
    (15, 13),
    (13, 11),
    (16, 14),
    (14, 12),
    (11, 12),
    (5, 11),
    (6, 12),
    (5, 6),
    (5, 7),
    (6, 8),
    (7, 9),
    (8, 10),
    (1, 2),
    (0, 1),
    (0, 2),
    (1, 3),
    (2, 4),
    (3, 5),
    (4, 6),
)
PERSON_COLOUR, WRIST_COLOUR = (0, 220, 0), (0, 255, 255)
SNAPSHOT_JPEG_QUALITY = 85


def draw_zones(image: np.ndarray, zones: ZonesConfig) -> None:
    """Zone outlines and labels, drawn in place, as `ZONE_STYLES` says.

    The snapshot and the live view both draw zones with this function, so a zone looks
    the same in both.

    Args:
        image: a BGR frame, drawn on in place (pass a copy of a frame kept elsewhere).
        zones: the camera's zones, normalised 0..1; a zone not set is not drawn.

    Returns:
        None; `image` holds the drawing.

    >>> from cashwatch.config.zones import ZonesConfig
    >>> image = np.zeros((40, 40, 3), np.uint8)
    >>> draw_zones(image, ZonesConfig(cashier=[(0.1, 0.1), (0.9, 0.1), (0.9, 0.9)]))
    >>> tuple(int(v) for v in image[4, 20]) == ZONE_STYLES["cashier"].colour.bgr
    True
    """
    height, width = image.shape[:2]
    for style in ZONE_STYLES.values():
        points = getattr(zones, style.name)
        if points:
            colour = style.colour.bgr
            polygon = np.round(np.asarray(points) * (width, height)).astype(np.int32)
            cv2.polylines(image, [polygon], True, colour, style.thickness_px)
            cv2.putText(
                image,
                style.label,
                tuple(int(v) for v in polygon[0]),
                cv2.FONT_HERSHEY_SIMPLEX,
                0.5,
                colour,
                1,
                cv2.LINE_AA,
            )


def draw_poses(image: np.ndarray, poses: Poses, min_conf: float = 0.3) -> None:
    """Draw each person's box, track number and skeleton, in place.

    Args:
        image: The HxWx3 uint8 BGR image the poses were found on; drawn on.
        poses: The people, in pixels of `image`.
        min_conf: The least confidence, 0..1, of both ends of a drawn bone.
    """
    for box, keypoints, track in zip(poses.xyxy, poses.keypoints, poses.track_id, strict=True):
        x1, y1, x2, y2 = (round(float(v)) for v in box)
        cv2.rectangle(image, (x1, y1), (x2, y2), PERSON_COLOUR, 1)
        if track >= 0:
            cv2.putText(
                image,
                f"#{track}",
                (x1, max(12, y1 - 3)),
                cv2.FONT_HERSHEY_SIMPLEX,
                0.45,
                PERSON_COLOUR,
                1,
                cv2.LINE_AA,
            )
        for a, b in SKELETON:
            if keypoints[a, 2] >= min_conf and keypoints[b, 2] >= min_conf:
                cv2.line(image, _xy(keypoints[a]), _xy(keypoints[b]), PERSON_COLOUR, 1, cv2.LINE_AA)


def draw_event(image: np.ndarray, event: DetectedEvent) -> None:
    """Draw an event's box and label, and a hand-over's two wrists, in place.

    Args:
        image: The HxWx3 uint8 BGR image the event was raised on; drawn on.
        event: The event, its box in pixels of `image`.
    """
    # the type's colour and label, as in the charts and on the Overview (core/event_types)
    kind = event_type(event.event_type)
    x1, y1, x2, y2 = (round(float(v)) for v in event.bbox_xyxy)
    cv2.rectangle(image, (x1, y1), (x2, y2), kind.colour.bgr, 2)
    label = f"{kind.label} {event.confidence:.2f}"
    cv2.putText(
        image,
        label,
        (x1, max(14, y1 - 4)),
        cv2.FONT_HERSHEY_SIMPLEX,
        0.55,
        kind.colour.bgr,
        2,
        cv2.LINE_AA,
    )
    wrists = [event.details.get("staff_wrist"), event.details.get("customer_wrist")]
    if all(isinstance(w, Sequence) and len(w) == 2 for w in wrists):
        points = [_xy(w) for w in wrists if w is not None]
        cv2.line(image, points[0], points[1], WRIST_COLOUR, 2, cv2.LINE_AA)
        for point in points:
            cv2.circle(image, point, 6, WRIST_COLOUR, 2, cv2.LINE_AA)


def annotated_snapshot(
    frame_bgr: np.ndarray, events: Sequence[DetectedEvent], poses: Poses | None, zones: ZonesConfig
) -> bytes:
    r"""A JPEG of a copy of the frame with zones, people, skeletons and the events.

    Args:
        frame_bgr: The HxWx3 uint8 BGR frame; left unchanged.
        events: The events to draw (may be empty).
        poses: The people to draw, in pixels of the frame; None draws none.
        zones: The camera's zones, 0..1 of the frame.

    Returns:
        The JPEG's bytes.

    Raises:
        RuntimeError: When OpenCV cannot encode the image.

    >>> from cashwatch.config.zones import ZonesConfig
    >>> frame = np.zeros((48, 64, 3), np.uint8)
    >>> jpeg = annotated_snapshot(frame, [], None, ZonesConfig())
    >>> jpeg[:2] == b"\xff\xd8" and not frame.any()
    True
    """
    image = frame_bgr.copy()
    draw_zones(image, zones)
    if poses is not None:
        draw_poses(image, poses)
    for event in events:
        draw_event(image, event)
    return encode_snapshot(image)


def encode_snapshot(image: np.ndarray) -> bytes:
    """A drawn snapshot as the JPEG every snapshot file holds.

    Args:
        image: The HxWx3 uint8 BGR image.

    Returns:
        The JPEG's bytes.

    Raises:
        RuntimeError: When OpenCV cannot encode the image.
    """
    ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, SNAPSHOT_JPEG_QUALITY])
    if not ok:
        raise RuntimeError(f"OpenCV could not encode a {image.shape} snapshot as JPEG")
    return encoded.tobytes()


def _xy(point: Sequence[float] | np.ndarray) -> tuple[int, int]:
    return (round(float(point[0])), round(float(point[1])))
