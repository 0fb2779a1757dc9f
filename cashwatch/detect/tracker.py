"""A small IoU tracker: the same person keeps the same id from detection to detection.

ByteTrack-like in spirit (predict, then one optimal assignment on box overlap) but with
numpy and `lap` only: Ultralytics' tracker would import torch into the camera worker.
Time is in seconds, not frames, because the motion gate makes detections irregular.
"""

from __future__ import annotations

from dataclasses import dataclass

import lap
import numpy as np

from cashwatch.core.geometry import iou_matrix
from cashwatch.core.poses import Poses

# Weight of the newest displacement in a track's velocity; lower smooths pose jitter.
VELOCITY_ALPHA = 0.5


@dataclass
class Track:
    """One person followed from detection to detection.

    Attributes:
        track_id: The id, from 1, never reused.
        xyxy: The last matched box, float64 pixels.
        last_ts: When it was last matched, seconds.
        velocity: The smoothed change of `xyxy`, pixels per second.
        hits: How many detections it has been seen in, the first included.
    """

    track_id: int
    xyxy: np.ndarray
    last_ts: float
    velocity: np.ndarray
    hits: int = 1

    def predicted(self, ts: float) -> np.ndarray:
        """Where the box should be, moved on at the track's velocity.

        Args:
            ts: The detection's time, seconds; never predicts backwards.

        Returns:
            The predicted xyxy box, pixels.
        """
        return self.xyxy + self.velocity * max(0.0, ts - self.last_ts)


class IouTracker:
    """Assigns `Poses.track_id` so that one person keeps one id.

    Args:
        min_iou: predicted track box and detection must overlap at least this much.
            Low, because at a few detections per second a fast mover shifts a lot.
        max_age_s: a track unseen this long is forgotten; its id is never reused.

    Raises:
        ValueError: When `min_iou` is not in (0, 1) or `max_age_s` is not positive.

    >>> tracker = IouTracker()
    >>> first = tracker.update(Poses(np.array([[0, 0, 10, 20]]), [0.9], np.zeros((1, 17, 3))), 0.0)
    >>> again = tracker.update(Poses(np.array([[1, 0, 11, 20]]), [0.9], np.zeros((1, 17, 3))), 0.1)
    >>> int(first.track_id[0]) == int(again.track_id[0]) == 1
    True
    """

    def __init__(self, min_iou: float = 0.1, max_age_s: float = 1.5) -> None:
        if not 0.0 < min_iou < 1.0:
            raise ValueError(f"min_iou must be in (0, 1), got {min_iou}")
        if max_age_s <= 0:
            raise ValueError(f"max_age_s must be > 0, got {max_age_s}")
        self.min_iou = min_iou
        self.max_age_s = max_age_s
        self.tracks: list[Track] = []
        self._next_id = 1

    def has_tracks(self, ts: float) -> bool:
        """Whether anyone is still being followed.

        Args:
            ts: The current time, seconds.

        Returns:
            True when a track was matched within `max_age_s` before `ts`.
        """
        return any(ts - track.last_ts <= self.max_age_s for track in self.tracks)

    def update(self, poses: Poses, ts: float) -> Poses:
        """Give every person of a detection a track id.

        Args:
            poses: The detection's people, pixels; its `track_id` is set in place.
            ts: The detection's time, seconds.

        Returns:
            `poses` itself, every id >= 1: a matched track's, or a new one.
        """
        self.tracks = [t for t in self.tracks if ts - t.last_ts <= self.max_age_s]
        matches = self._match(poses.xyxy, ts)
        ids = np.full((len(poses),), -1, np.int64)
        for track_index, det_index in matches:
            ids[det_index] = self._refresh(self.tracks[track_index], poses.xyxy[det_index], ts)
        for det_index in np.flatnonzero(ids < 0).tolist():
            ids[det_index] = self._start(poses.xyxy[det_index], ts)
        poses.track_id = ids
        return poses

    def _match(self, boxes: np.ndarray, ts: float) -> list[tuple[int, int]]:
        if not self.tracks or len(boxes) == 0:
            return []
        predicted = np.stack([track.predicted(ts) for track in self.tracks])
        cost = 1.0 - iou_matrix(predicted, boxes)
        _, rows, _ = lap.lapjv(cost, extend_cost=True, cost_limit=1.0 - self.min_iou)
        return [(t, int(d)) for t, d in enumerate(rows) if d >= 0]

    def _refresh(self, track: Track, xyxy: np.ndarray, ts: float) -> int:
        dt = ts - track.last_ts
        if dt > 0:
            step = (xyxy - track.xyxy) / dt
            track.velocity = VELOCITY_ALPHA * step + (1 - VELOCITY_ALPHA) * track.velocity
        track.xyxy = xyxy.astype(np.float64)
        track.last_ts = ts
        track.hits += 1
        return track.track_id

    def _start(self, xyxy: np.ndarray, ts: float) -> int:
        track = Track(self._next_id, xyxy.astype(np.float64), ts, np.zeros(4))
        self._next_id += 1
        self.tracks.append(track)
        return track.track_id
