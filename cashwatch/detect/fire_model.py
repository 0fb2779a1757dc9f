"""Optional confirmation of colour-based fire by a user-supplied YOLO fire/smoke model.

Only imported when `detection.fire.model` is set; it loads Ultralytics and therefore
torch into the camera worker, which the default setup avoids.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

FIRE_LABELS = ("fire", "flame", "smoke")


class YoloFireConfirmer:
    """Highest confidence of a fire/flame/smoke box in the frame, 0 when none.

    Args:
        weights: A YOLO detection model's .pt file with a fire, flame or smoke class.
        imgsz: The input's longest side, pixels.

    Raises:
        FileNotFoundError: When `weights` does not exist.
        ValueError: When the model has no fire, flame or smoke class.
    """

    def __init__(self, weights: Path, imgsz: int = 320) -> None:
        if not weights.exists():
            raise FileNotFoundError(
                f"fire model weights {weights} do not exist "
                "(detection.fire.model: a .pt file you supply)"
            )
        from ultralytics.models import YOLO

        self._model = YOLO(str(weights))
        self._imgsz = imgsz
        names = {int(k): str(v).lower() for k, v in self._model.names.items()}
        self._classes = [k for k, name in names.items() if any(f in name for f in FIRE_LABELS)]
        if not self._classes:
            raise ValueError(
                f"fire model {weights} has no fire/flame/smoke class; "
                f"its classes: {', '.join(sorted(names.values()))}"
            )

    def confirm(self, frame_bgr: np.ndarray) -> float:
        """Judge whether a frame shows fire.

        Args:
            frame_bgr: The whole HxWx3 uint8 BGR frame.

        Returns:
            The highest confidence, 0..1, of a fire, flame or smoke box; 0.0 when none.
        """
        results: Any = self._model.predict(
            frame_bgr, imgsz=self._imgsz, classes=self._classes, verbose=False
        )
        boxes = results[0].boxes
        confs = np.asarray(boxes.conf.cpu()) if boxes is not None else np.zeros(0)
        return float(confs.max()) if len(confs) else 0.0
