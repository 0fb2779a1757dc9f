"""Raw pose-head output → `Poses` in frame pixels, like Ultralytics' pose predictor.

The exported YOLO pose head gives (1, 56, N): 4 box values (centre x, y, width, height in
input pixels), 1 person score, then 17 keypoints x (x, y, visibility), already sigmoid-ed.
The steps mirror `ultralytics.utils.nms.non_max_suppression` (nc=1, max_det=300) and
`ultralytics.utils.ops.scale_boxes` / `scale_coords`.
"""

from __future__ import annotations

import numpy as np

from cashwatch.core.poses import Poses

NUM_KEYPOINTS = 17
MAX_DETECTIONS = 300  # Ultralytics' predict default (max_det)


def decode_pose_output(
    output: np.ndarray, conf: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Keep the candidates scoring above a threshold.

    Args:
        output: The pose head's raw (1, 56, N) output, in input pixels.
        conf: The least person score, 0..1 (exclusive).

    Returns:
        The kept candidates' (n, 4) xyxy boxes, (n,) scores and (n, 17, 3) keypoints,
        float32, still in input pixels.

    Raises:
        ValueError: When `output` is not of shape (1, 56, N).
    """
    if output.ndim != 3 or output.shape[:2] != (1, 5 + NUM_KEYPOINTS * 3):
        raise ValueError(
            f"expected a pose output of shape (1, 56, N), got {output.shape}: "
            "are the weights a 17-keypoint YOLO pose model?"
        )
    predictions = output[0].T  # (N, 56)
    candidates = predictions[predictions[:, 4] > conf].astype(np.float32)
    centre, half_size = candidates[:, 0:2], candidates[:, 2:4] / 2
    xyxy = np.concatenate([centre - half_size, centre + half_size], axis=1)
    keypoints = candidates[:, 5:].reshape(-1, NUM_KEYPOINTS, 3)
    return xyxy, candidates[:, 4], keypoints


def nms_xyxy(
    boxes: np.ndarray, scores: np.ndarray, iou_threshold: float, max_det: int = MAX_DETECTIONS
) -> np.ndarray:
    """Greedy NMS like `torchvision.ops.nms`.

    Args:
        boxes: (n, 4) xyxy boxes.
        scores: (n,) scores.
        iou_threshold: A box overlapping a better one by more than this IoU is dropped.
        max_det: The most boxes kept.

    Returns:
        The kept boxes' indices, int64, best score first.

    Example:
        >>> nms_xyxy(np.array([[0, 0, 10, 10], [1, 1, 10, 10.]]), np.array([.9, .8]), .5)
        array([0])
    """
    order = np.argsort(-scores, kind="stable")
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    keep: list[int] = []
    while order.size and len(keep) < max_det:
        best, rest = order[0], order[1:]
        keep.append(int(best))
        top_left = np.maximum(boxes[best, :2], boxes[rest, :2])
        bottom_right = np.minimum(boxes[best, 2:], boxes[rest, 2:])
        inter = np.prod(np.clip(bottom_right - top_left, 0, None), axis=1)
        iou = inter / (areas[best] + areas[rest] - inter)
        order = rest[iou <= iou_threshold]
    return np.asarray(keep, dtype=np.int64)


def letterbox_gain_pad(
    input_hw: tuple[int, int], frame_hw: tuple[int, int]
) -> tuple[tuple[float, float], tuple[int, int]]:
    """The scale and padding of a letterboxed input, from the two shapes only.

    As Ultralytics' `scale_boxes` does when no ratio_pad is given.

    Args:
        input_hw: The model input's (height, width), pixels.
        frame_hw: The frame's (height, width), pixels.

    Returns:
        (gain_x, gain_y), input pixels per frame pixel, and (pad_x, pad_y), input pixels.
    """
    gain = min(input_hw[0] / frame_hw[0], input_hw[1] / frame_hw[1])
    new_h, new_w = (max(round(side * gain), 1) for side in frame_hw)
    pad_x = round((input_hw[1] - new_w) / 2 - 0.1)
    pad_y = round((input_hw[0] - new_h) / 2 - 0.1)
    return (new_w / frame_hw[1], new_h / frame_hw[0]), (pad_x, pad_y)


def unletterbox_xy(
    xs: np.ndarray, ys: np.ndarray, input_hw: tuple[int, int], frame_hw: tuple[int, int]
) -> None:
    """Map coordinates from input pixels to frame pixels, clipped to the frame; in place.

    Args:
        xs: A float view of x coordinates, changed in place.
        ys: A float view of y coordinates, changed in place.
        input_hw: The model input's (height, width), pixels.
        frame_hw: The frame's (height, width), pixels.
    """
    (gain_x, gain_y), (pad_x, pad_y) = letterbox_gain_pad(input_hw, frame_hw)
    xs -= pad_x
    ys -= pad_y
    xs /= gain_x
    ys /= gain_y
    np.clip(xs, 0, frame_hw[1], out=xs)
    np.clip(ys, 0, frame_hw[0], out=ys)


def postprocess_pose(
    output: np.ndarray,
    input_hw: tuple[int, int],
    frame_hw: tuple[int, int],
    conf: float,
    iou: float,
) -> Poses:
    """Decode, suppress overlaps and scale back: the whole tail of one prediction.

    Args:
        output: The pose head's raw (1, 56, N) output.
        input_hw: The model input's (height, width), pixels.
        frame_hw: The frame's (height, width), pixels.
        conf: The least person score, 0..1.
        iou: The NMS IoU threshold, 0..1.

    Returns:
        The people found, in frame pixels, untracked; empty when none scores above `conf`.

    Raises:
        ValueError: When `output` is not of shape (1, 56, N).
    """
    xyxy, scores, keypoints = decode_pose_output(output, conf)
    if not len(scores):
        return Poses.empty()
    keep = nms_xyxy(xyxy, scores, iou)
    xyxy, scores, keypoints = xyxy[keep], scores[keep], keypoints[keep]
    unletterbox_xy(xyxy[:, 0::2], xyxy[:, 1::2], input_hw, frame_hw)  # basic slices: views
    unletterbox_xy(keypoints[..., 0], keypoints[..., 1], input_hw, frame_hw)
    return Poses(xyxy, scores, keypoints)
