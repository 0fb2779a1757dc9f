"""Optional confirmation of colour-based fire by a user-supplied YOLO fire/smoke model.

Only imported when `detection.fire.model` is set. It loads Ultralytics and therefore
torch: with the shared inference service that happens once, in the first service
(cashwatch.inference.server), and the camera asks it (cashwatch.inference.fire_client);
with per-camera models, in the camera's worker.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

FIRE_LABELS = ("fire", "flame", "smoke")
FIRE_IMGSZ = 320  # the longest input side: flames are large, and it is 4x cheaper than 640


def fire_model_path(weights: str, data_dir: Path) -> Path:
    """Where a configured fire model is: as given when absolute, else in the data folder.

    The manager (which tells the service what to load) and the camera (which names the
    model in its requests) must agree on this, so both call it.

    Args:
        weights: `detection.fire.model` as configured.
        data_dir: CashWatch's data folder.

    Returns:
        The weights' absolute path.

    >>> str(fire_model_path("models/fire.pt", Path("/var/lib/cashwatch")))
    '/var/lib/cashwatch/models/fire.pt'
    """
    path = Path(weights)
    return path if path.is_absolute() else (Path(data_dir) / path).absolute()


def check_fire_weights(path: Path) -> None:
    """Say at once when the configured fire model is not there.

    Args:
        path: The weights' absolute path (`fire_model_path`).

    Raises:
        FileNotFoundError: When `path` is not a file; the message names it and the setting.
    """
    if not path.is_file():
        raise FileNotFoundError(
            f"fire model weights {path} do not exist (detection.fire.model: a .pt file you supply)"
        )


class YoloFireConfirmer:
    """Highest confidence of a fire/flame/smoke box in the frame, 0 when none.

    Args:
        weights: A YOLO detection model's .pt file with a fire, flame or smoke class.
        data_dir: CashWatch's data folder (Ultralytics' offline settings go there).
        imgsz: The input's longest side, pixels.

    Raises:
        FileNotFoundError: When `weights` does not exist.
        ValueError: When the model has no fire, flame or smoke class.
    """

    def __init__(self, weights: Path, data_dir: Path, imgsz: int = FIRE_IMGSZ) -> None:
        check_fire_weights(weights)
        from cashwatch.detect.offline import configure_offline, disable_ultralytics_sync

        configure_offline(data_dir)  # before ultralytics is imported: no downloads, no DNS
        from ultralytics.models import YOLO

        disable_ultralytics_sync()
        self._model = YOLO(str(weights), task="detect")
        self.imgsz = imgsz
        names = {int(k): str(v).lower() for k, v in self._model.names.items()}
        self._classes = [k for k, name in names.items() if any(f in name for f in FIRE_LABELS)]
        if not self._classes:
            raise ValueError(
                f"fire model {weights} has no fire/flame/smoke class; "
                f"its classes: {', '.join(sorted(names.values()))}"
            )
        # Ultralytics sets its predictor up on the first call (seconds): done now, not
        # when the first fire is due and a camera waits for the answer
        self.confirm(np.zeros((imgsz, imgsz, 3), np.uint8))

    def confirm(self, frame_bgr: np.ndarray) -> float:
        """Judge whether a frame shows fire.

        Args:
            frame_bgr: The whole HxWx3 uint8 BGR frame (or its letterboxed copy).

        Returns:
            The highest confidence, 0..1, of a fire, flame or smoke box; 0.0 when none.
        """
        results: Any = self._model.predict(
            frame_bgr, imgsz=self.imgsz, classes=self._classes, verbose=False
        )
        boxes = results[0].boxes
        confs = np.asarray(boxes.conf.cpu()) if boxes is not None else np.zeros(0)
        return float(confs.max()) if len(confs) else 0.0
