"""The learned violence score: a logistic regression over `violence_features.FEATURE_NAMES`.

Its parameters are our own, fitted by `cashwatch.training.violence_train` on tracked poses of
labelled clips, and ship as `violence_model.json` next to this module. Scoring is a dot
product in numpy: nothing here imports scikit-learn or torch.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from cashwatch.rules.violence_features import FEATURE_NAMES

SHIPPED_MODEL = Path(__file__).with_name("violence_model.json")


MODEL_KEYS = ("features", "window_s", "mean", "scale", "weights", "bias", "min_score")


class ViolenceModelError(ValueError):
    """A parameters file that does not fit the feature code; the message says what differs."""


@dataclass(frozen=True)
class ViolenceModel:
    """Standardise, weigh, squash: `score = 1 / (1 + exp(-(w · (x - mean) / scale + bias)))`.

    Attributes:
        window_s: seconds of history the features were computed over when it was trained.
        mean, scale: per-feature standardisation (scale > 0).
        weights: per-feature weight on the standardised value.
        bias: the intercept.
        min_score: the clip-level threshold chosen when it was trained (the config default).
        provenance: what it was trained on and how it scored, for people, not for code.

    >>> model = ViolenceModel.neutral()
    >>> model.score(np.zeros(len(FEATURE_NAMES)))
    0.5
    """

    window_s: float
    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray
    bias: float
    min_score: float
    provenance: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        set_vectors(self, len(FEATURE_NAMES), "one per feature", ViolenceModelError)
        if (self.scale <= 0).any():
            bad = [FEATURE_NAMES[i] for i in np.flatnonzero(self.scale <= 0)]
            raise ViolenceModelError(f"scale must be > 0 for every feature; not for {bad}")
        if not self.window_s > 0:
            raise ViolenceModelError(f"window_s must be > 0, got {self.window_s}")
        if not 0.0 < self.min_score < 1.0:
            raise ViolenceModelError(f"min_score must be in (0, 1), got {self.min_score}")

    @classmethod
    def neutral(cls, window_s: float = 1.2) -> ViolenceModel:
        """A model that scores everything 0.5 (for tests and as a shape reference).

        Args:
            window_s: The seconds of history its features summarise.

        Returns:
            The model, with zero weights and bias.
        """
        n = len(FEATURE_NAMES)
        return cls(window_s, np.zeros(n), np.ones(n), np.zeros(n), 0.0, 0.5)

    def score(self, features: np.ndarray) -> float:
        """Score one feature vector.

        Args:
            features: The (N_FEATURES,) vector of a scene window (`SceneWindow.update`).

        Returns:
            The score, 0..1; higher is more like the fights it was trained on.
        """
        return logistic(features, self.mean, self.scale, self.weights, self.bias)

    def to_json(self) -> dict[str, Any]:
        """The parameters as the model file holds them (`from_json` reads them back).

        Returns:
            A JSON-serialisable dict, with the feature names and numbers rounded to 6 places.
        """
        return {
            "features": list(FEATURE_NAMES),
            "window_s": self.window_s,
            "mean": [round(float(v), 6) for v in self.mean],
            "scale": [round(float(v), 6) for v in self.scale],
            "weights": [round(float(v), 6) for v in self.weights],
            "bias": round(self.bias, 6),
            "min_score": self.min_score,
            "provenance": self.provenance,
        }

    @classmethod
    def from_json(cls, raw: Any) -> ViolenceModel:
        """Build a model from a model file's parsed JSON.

        Args:
            raw: The parsed JSON, as `to_json` writes it.

        Returns:
            The model.

        Raises:
            ViolenceModelError: When `raw` is not an object, its features are not this
                version's, a key is missing, or a value is not a (list of) number(s).
        """
        if not isinstance(raw, dict):
            raise ViolenceModelError(
                f"the model file must hold a JSON object with the keys {', '.join(MODEL_KEYS)};"
                f" got a JSON {type(raw).__name__}"
            )
        names = raw.get("features")
        if names != list(FEATURE_NAMES):
            missing = sorted(set(FEATURE_NAMES) - set(names or []))
            extra = sorted(set(names or []) - set(FEATURE_NAMES))
            raise ViolenceModelError(
                "the model's features do not match this version's feature code "
                f"(missing {missing or 'none'}, unknown {extra or 'none'}, or another order); "
                "retrain it with `python -m cashwatch.training.violence_train fit`"
            )
        try:
            return cls(
                float(raw["window_s"]),
                np.asarray(raw["mean"], np.float64),
                np.asarray(raw["scale"], np.float64),
                np.asarray(raw["weights"], np.float64),
                float(raw["bias"]),
                float(raw["min_score"]),
                dict(raw.get("provenance", {})),
            )
        except KeyError as exc:
            raise ViolenceModelError(f"the model file lacks the key {exc.args[0]!r}") from exc
        except (TypeError, ValueError) as exc:  # e.g. "bias": "x"
            raise ViolenceModelError(
                f"window_s, bias and min_score must be numbers and mean, "
                f"scale and weights lists of numbers: {exc}"
            ) from exc


def set_vectors(model: object, n: int, what: str, error: type[ValueError]) -> None:
    """Check a logistic model's `mean`, `scale` and `weights` and store them as float64.

    Args:
        model: A frozen dataclass with those three fields.
        n: How many numbers each must hold.
        what: What the numbers are, for the message ("one per feature").
        error: The exception to raise.

    Raises:
        ValueError: Of type `error`, naming the field, when one is not `n` finite numbers.
    """
    for name in ("mean", "scale", "weights"):
        values = np.asarray(getattr(model, name), np.float64)
        if values.shape != (n,) or not np.isfinite(values).all():
            raise error(f"{name} must be {n} finite numbers ({what}), got shape {values.shape}")
        object.__setattr__(model, name, values)


def logistic(
    x: np.ndarray, mean: np.ndarray, scale: np.ndarray, weights: np.ndarray, bias: float
) -> float:
    """Standardise, weigh, squash: `1 / (1 + exp(-(w · (x - mean) / scale + b)))`.

    Args:
        x: The features.
        mean: Their means.
        scale: Their scales (> 0).
        weights: The weight of each standardised feature.
        bias: The intercept.

    Returns:
        The score, 0..1.

    >>> logistic(np.array([2.0]), np.array([1.0]), np.array([1.0]), np.array([0.0]), 0.0)
    0.5
    """
    z = float(np.dot(weights, (x - mean) / scale)) + bias
    if not math.isfinite(z):  # a broken feature must not read as certainty (min(50, nan) = 50)
        return 0.0 if math.isnan(z) else float(z > 0)
    return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))


def load_violence_model(path: Path = SHIPPED_MODEL) -> ViolenceModel:
    """Read model parameters from a model file.

    Args:
        path: The JSON model file; by default the one shipped with the package.

    Returns:
        The model.

    Raises:
        ViolenceModelError: When the file cannot be read or holds no valid model; the
            message names the file.
    """
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ViolenceModelError(f"cannot read violence model {path}: {exc}") from exc
    try:
        return ViolenceModel.from_json(raw)
    except ViolenceModelError as exc:
        raise ViolenceModelError(f"{path}: {exc}") from exc
