"""Stage 2 of the verified violence method: the learned verifier's parameters and score.

A candidate (`violence_trigger.Candidate`) is scored from two kinds of features: the
video features of the last 2 s around the people (the I3D network's Mixed_5c layer,
averaged; `cashwatch.detect.video_features`) and the scene's pose features. The score is
a logistic regression over both, standardised:

    score = 1 / (1 + exp(-(w · (x - mean) / scale + b)))    x = [video, pose]

fitted by `python -m cashwatch.training.violence_verifier fit` on the development clips
with grouped folds; `threshold` is the score from which it raises an event.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from cashwatch.rules.violence_features import FEATURE_NAMES
from cashwatch.rules.violence_model import logistic, set_vectors

VIDEO_FEATURES = 1024  # I3D Mixed_5c channels
SHIPPED = "violence_verifier.json"


class VerifierModelError(ValueError):
    """A parameters file that does not fit the feature code; the message says what differs."""


@dataclass(frozen=True)
class VerifierModel:
    """Standardise, weigh, squash (see the module docstring).

    Attributes:
        mean: Per-feature mean, video features first, then pose features.
        scale: Per-feature scale (> 0).
        weights: Per-feature weight on the standardised value.
        bias: The intercept.
        threshold: The score, 0..1, from which a candidate is a fight.
        provenance: What it was trained on and how it scored, for people, not for code.
    """

    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray
    bias: float
    threshold: float
    provenance: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        what = f"{VIDEO_FEATURES} video features, then {len(FEATURE_NAMES)} pose features"
        set_vectors(self, VIDEO_FEATURES + len(FEATURE_NAMES), what, VerifierModelError)
        if (self.scale <= 0).any():
            raise VerifierModelError("scale must be > 0 for every feature")
        if not 0.0 < self.threshold < 1.0:
            raise VerifierModelError(f"threshold must be in (0, 1), got {self.threshold}")

    def score(self, video: np.ndarray, pose: np.ndarray) -> float:
        """Score one candidate.

        Args:
            video: Its (1024,) video features.
            pose: Its (len(FEATURE_NAMES),) pose features.

        Returns:
            The score, 0..1; higher is more like the fights it was trained on.
        """
        x = np.concatenate([np.asarray(video, np.float64), np.asarray(pose, np.float64)])
        return logistic(x, self.mean, self.scale, self.weights, self.bias)

    def to_json(self) -> dict[str, Any]:
        """The parameters as the file holds them (`from_json` reads them back).

        Returns:
            A JSON-ready dict.
        """
        return {
            "features": {"video": "i3d-kinetics400-mixed5c-mean", "pose": list(FEATURE_NAMES)},
            "mean": self.mean.round(6).tolist(),
            "scale": self.scale.round(6).tolist(),
            "weights": self.weights.round(6).tolist(),
            "bias": round(self.bias, 6),
            "threshold": self.threshold,
            "provenance": self.provenance,
        }

    @classmethod
    def from_json(cls, raw: Any) -> VerifierModel:
        """Read parameters written by `to_json`.

        Args:
            raw: The parsed JSON.

        Returns:
            The model.

        Raises:
            VerifierModelError: When a key is missing or the pose features differ from
                this code's `FEATURE_NAMES`.
        """
        try:
            pose = raw["features"]["pose"]
            if pose != list(FEATURE_NAMES):
                raise VerifierModelError(
                    f"the file was trained on pose features {pose}; this code computes "
                    f"{list(FEATURE_NAMES)}: train it again"
                )
            return cls(
                np.asarray(raw["mean"]),
                np.asarray(raw["scale"]),
                np.asarray(raw["weights"]),
                float(raw["bias"]),
                float(raw["threshold"]),
                dict(raw.get("provenance", {})),
            )
        except (KeyError, TypeError) as error:
            raise VerifierModelError(f"not a verifier parameters file: missing {error}") from error


def load_verifier_model(path: Path | None = None) -> VerifierModel:
    """The verifier's parameters: those shipped with the package, or a file's.

    Args:
        path: A parameters file; None reads the shipped one.

    Returns:
        The model.

    Raises:
        VerifierModelError: When the file does not fit (the message names it).
    """
    if path is None:
        text = resources.files("cashwatch.rules").joinpath(SHIPPED).read_text(encoding="utf-8")
        where = f"the shipped {SHIPPED}"
    else:
        text, where = path.read_text(encoding="utf-8"), str(path)
    try:
        return VerifierModel.from_json(json.loads(text))
    except (VerifierModelError, ValueError) as error:
        raise VerifierModelError(f"{where}: {error}") from error
