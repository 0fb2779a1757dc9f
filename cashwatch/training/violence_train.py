"""Train and cross-validate the learned violence score (development only; workers never import it).

Three steps, each a subcommand of `python -m cashwatch.training.violence_train`:

1. `record LABELS.csv CACHE_DIR`: every clip of a labels file goes once through the live
   pipeline (`DetectionProcessor`: sampling, motion gate, pose model, tracker) and the
   tracked poses the violence rule is handed are stored, one `.npz` per clip, outside the
   repository. Minutes of CPU, once.
2. `cv CACHE_DIR`: stratified k-fold cross-validation grouped by clip (a clip's windows are
   never split between training and test), repeated with different seeds. Each fold fits
   the model on the training clips, chooses `min_score` on them, and scores the test clips
   with the same online rule the product runs (`LearnedViolenceRule`'s gate, hits and
   persistence). `--holdout` names clips that stay out of training and are only reported.
3. `fit CACHE_DIR OUT.json`: the same fit on all training clips; writes the parameters.

The model is an L2-regularised logistic regression fitted by Newton's method in numpy
(a few dozen parameters for ~100 clips: anything bigger learns the clips, not fights).
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from cashwatch.config.detection import ViolenceRuleConfig
from cashwatch.core.events import DetectedEvent, EventType
from cashwatch.core.observation import Observation
from cashwatch.core.poses import Poses
from cashwatch.core.spans import Subject
from cashwatch.core.sustained import SustainedEvidence
from cashwatch.rules.violence_features import FEATURE_NAMES, SceneWindow
from cashwatch.rules.violence_learned import hit_window
from cashwatch.rules.violence_model import ViolenceModel

# Thresholds tried for min_score; the middle of the best plateau on the training clips wins.
SCORE_GRID = tuple(round(0.3 + 0.025 * i, 3) for i in range(27))  # 0.30 .. 0.95
DEFAULT_WINDOW_S = 1.6
DEFAULT_L2 = 1.0


@dataclass
class Recording:
    """What the violence rule was handed for one clip: tracked poses per detection."""

    label_path: str
    fight: bool
    ts: np.ndarray  # (n,)
    poses: list[Poses]

    def save(self, path: Path) -> None:
        counts = np.array([len(p) for p in self.poses], np.int64)

        def joined(attr: str, shape: tuple[int, ...]) -> np.ndarray:
            parts = [getattr(p, attr) for p in self.poses if len(p)]
            return np.concatenate(parts) if parts else np.zeros((0, *shape))

        np.savez_compressed(
            path,
            label_path=self.label_path,
            fight=self.fight,
            ts=self.ts,
            counts=counts,
            xyxy=joined("xyxy", (4,)),
            conf=joined("conf", ()),
            keypoints=joined("keypoints", (17, 3)),
            track_id=joined("track_id", ()),
        )

    @classmethod
    def load(cls, path: Path) -> Recording:
        with np.load(path) as data:
            bounds = np.concatenate([[0], np.cumsum(data["counts"])])
            poses = []
            for start, end in itertools.pairwise(bounds):
                pose = Poses(
                    data["xyxy"][start:end], data["conf"][start:end], data["keypoints"][start:end]
                )
                pose.track_id = data["track_id"][start:end].astype(np.int64)
                poses.append(pose)
            return cls(str(data["label_path"]), bool(data["fight"]), data["ts"].copy(), poses)


class _RecordingRule:
    """Stands in for the pipeline's violence rule and keeps copies of what it is handed:
    the fresh poses, as the live rule is fed them."""

    event_type: ClassVar[EventType] = "violence"
    uses_poses: ClassVar[bool] = True
    active = True

    def __init__(self) -> None:
        self.ts: list[float] = []
        self.poses: list[Poses] = []

    def observe(self, observation: Observation) -> list[DetectedEvent]:
        poses = observation.fresh
        if poses is None:
            return []
        copy = Poses(poses.xyxy.copy(), poses.conf.copy(), poses.keypoints.copy())
        copy.track_id = poses.track_id.copy()
        self.ts.append(observation.ts)
        self.poses.append(copy)
        return []

    def evidence_ts(self, subject: Subject) -> float | None:
        return None


def record_clips(labels_csv: Path, cache_dir: Path, data_dir: Path) -> None:
    """Run every clip through the live pipeline once; skips clips already recorded."""

    from cashwatch.config import CameraSettings, ModelConfig
    from cashwatch.detect.backends import load_pose_model
    from cashwatch.detect.clips import sampled_frames
    from cashwatch.detect.evaluate import read_labels
    from cashwatch.detect.pipeline import DetectionProcessor

    cache_dir.mkdir(parents=True, exist_ok=True)
    model = load_pose_model(ModelConfig(backend="openvino", precision="f32"), data_dir)
    for clip in read_labels(labels_csv, CameraSettings()):
        target = cache_dir / (clip.label_path.replace("/", "__") + ".npz")
        if target.exists():
            continue
        processor = DetectionProcessor(clip.settings, model)
        rule = _RecordingRule()
        processor.rules["violence"] = rule
        for frame, ts in sampled_frames(clip.path, clip.settings.detection.fps):
            processor.process(frame, ts)
        Recording(clip.label_path, "violence" in clip.expected, np.array(rule.ts), rule.poses).save(
            target
        )
        print(f"{clip.label_path}: {len(rule.ts)} detections", file=sys.stderr, flush=True)


def load_recordings(cache_dir: Path) -> list[Recording]:
    paths = sorted(cache_dir.glob("*.npz"))
    if not paths:
        raise FileNotFoundError(f"no recordings (*.npz) in {cache_dir}; run `record` first")
    return [Recording.load(path) for path in paths]


@dataclass
class ClipWindows:
    """A clip's feature vector and gate on every detection, as the live rule computes them."""

    label_path: str
    fight: bool
    features: np.ndarray  # (n, len(FEATURE_NAMES))
    within_reach: np.ndarray  # (n,) bool


def clip_windows(recording: Recording, window_s: float, config: ViolenceRuleConfig) -> ClipWindows:
    scene = SceneWindow(window_s, config.min_keypoint_conf)
    rows, within = [], []
    for poses, ts in zip(recording.poses, recording.ts, strict=True):
        rows.append(scene.update(poses, float(ts)))
        within.append(scene.people_within(config.max_gap))
    features = np.array(rows, np.float64).reshape(-1, len(FEATURE_NAMES))
    return ClipWindows(recording.label_path, recording.fight, features, np.array(within, bool))


def fit_logistic(
    features: np.ndarray, labels: np.ndarray, l2: float = DEFAULT_L2, iterations: int = 30
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Standardise, then Newton's method on the L2-penalised log loss (bias unpenalised).

    Returns (mean, scale, weights, bias).

    >>> x = np.array([[0.0], [1.0], [2.0], [3.0]]); y = np.array([0, 0, 1, 1])
    >>> _, _, w, _ = fit_logistic(x, y, l2=0.1)
    >>> bool(w[0] > 0)
    True
    """
    if len(features) != len(labels) or len(features) == 0:
        raise ValueError(
            f"need as many labels as rows (> 0), got {len(features)} rows and {len(labels)} labels"
        )
    mean = features.mean(axis=0)
    scale = features.std(axis=0)
    scale[scale < 1e-6] = 1.0  # a constant feature: leave it unscaled, it gets no weight
    z = np.hstack([(features - mean) / scale, np.ones((len(features), 1))])
    y = labels.astype(np.float64)
    penalty = l2 * np.diag(np.r_[np.ones(z.shape[1] - 1), 0.0])
    w = np.zeros(z.shape[1])
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-np.clip(z @ w, -50, 50)))
        gradient = z.T @ (p - y) + penalty @ w
        step = _newton_step(z, p * (1 - p), np.diag(penalty), gradient)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return mean, scale, w[:-1], float(w[-1])


def _newton_step(
    z: np.ndarray, curvature: np.ndarray, penalty: np.ndarray, gradient: np.ndarray
) -> np.ndarray:
    """Solve (zᵀ diag(curvature) z + diag(penalty)) step = gradient.

    With more features than rows (1,000+ video features, a few hundred windows) the
    rows-by-rows form of the same solve (Woodbury's identity) is ~10x cheaper; the
    unpenalised bias then gets a tiny penalty so that the diagonal can be inverted.
    """
    rows, columns = z.shape
    step: np.ndarray
    if rows >= columns:
        step = np.linalg.solve((z * curvature[:, None]).T @ z + np.diag(penalty), gradient)
        return step
    inverse = 1.0 / np.maximum(penalty, 1e-6)
    zd = z * inverse  # z D⁻¹
    inner = np.diag(1.0 / np.maximum(curvature, 1e-12)) + zd @ z.T
    step = inverse * gradient - zd.T @ np.linalg.solve(inner, zd @ gradient)
    return step


def clip_fires(
    scores: np.ndarray, within_reach: np.ndarray, min_score: float, config: ViolenceRuleConfig
) -> bool:
    """Whether the live rule's hits and persistence raise an event on this clip."""
    window = SustainedEvidence[None](hit_window(config))
    hits = within_reach & (scores >= min_score)
    return any(window.add(float(index), None, bool(hit)) for index, hit in enumerate(hits))


def model_scores(model: ViolenceModel, clip: ClipWindows) -> np.ndarray:
    return np.array([model.score(row) for row in clip.features])


def choose_min_score(
    model: ViolenceModel, clips: Sequence[ClipWindows], config: ViolenceRuleConfig
) -> float:
    """The threshold with the best clip accuracy on `clips`, middle of the best plateau."""
    scored = [(model_scores(model, c), c) for c in clips]
    accuracy = [
        np.mean([clip_fires(s, c.within_reach, th, config) == c.fight for s, c in scored])
        for th in SCORE_GRID
    ]
    best = [th for th, acc in zip(SCORE_GRID, accuracy, strict=True) if acc == max(accuracy)]
    return best[len(best) // 2]


def train(
    clips: Sequence[ClipWindows],
    config: ViolenceRuleConfig,
    window_s: float,
    l2: float = DEFAULT_L2,
) -> ViolenceModel:
    """Fit on every window of `clips` (label: the clip's), then choose `min_score`."""
    features = np.vstack([c.features for c in clips])
    labels = np.concatenate([np.full(len(c.features), c.fight) for c in clips])
    mean, scale, weights, bias = fit_logistic(features, labels, l2)
    model = ViolenceModel(window_s, mean, scale, weights, bias, 0.5)
    return ViolenceModel(
        window_s, mean, scale, weights, bias, choose_min_score(model, clips, config)
    )


def stratified_folds(fights: Sequence[bool], k: int, seed: int) -> np.ndarray:
    """A fold number per clip, fights and non-fights each spread evenly over the folds."""
    rng = np.random.default_rng(seed)
    folds = np.zeros(len(fights), np.int64)
    labels = np.asarray(fights, bool)
    for value in (False, True):
        index = np.flatnonzero(labels == value)
        rng.shuffle(index)
        folds[index] = np.arange(len(index)) % k
    return folds


@dataclass
class CvResult:
    accuracies: list[float]  # one per repeat
    min_scores: list[float]  # one per fold and repeat

    def summary(self) -> dict[str, Any]:
        return {
            "mean": round(float(np.mean(self.accuracies)), 4),
            "min": round(min(self.accuracies), 4),
            "max": round(max(self.accuracies), 4),
            "repeats": len(self.accuracies),
            "min_score_range": [min(self.min_scores), max(self.min_scores)],
        }


def cross_validate(
    clips: Sequence[ClipWindows],
    config: ViolenceRuleConfig,
    window_s: float,
    k: int = 5,
    repeats: int = 10,
    l2: float = DEFAULT_L2,
) -> CvResult:
    """Clip accuracy of the online rule on held-out folds, per repeat."""
    result = CvResult([], [])
    for seed in range(repeats):
        folds = stratified_folds([c.fight for c in clips], k, seed)
        correct = 0
        for fold in range(k):
            train_clips = [c for c, f in zip(clips, folds, strict=True) if f != fold]
            model = train(train_clips, config, window_s, l2)
            result.min_scores.append(model.min_score)
            for clip, f in zip(clips, folds, strict=True):
                if f == fold:
                    fires = clip_fires(
                        model_scores(model, clip), clip.within_reach, model.min_score, config
                    )
                    correct += fires == clip.fight
        result.accuracies.append(correct / len(clips))
    return result


def split_holdout(
    clips: Sequence[ClipWindows],
    holdout: Sequence[str],
) -> tuple[list[ClipWindows], list[ClipWindows]]:
    """(training clips, held-out clips); a held-out name matches a clip by substring."""
    held = [c for c in clips if any(h in c.label_path for h in holdout)]
    return [c for c in clips if c not in held], held


def holdout_report(
    model: ViolenceModel, clips: Sequence[ClipWindows], config: ViolenceRuleConfig
) -> list[dict[str, Any]]:
    rows = []
    for clip in clips:
        scores = model_scores(model, clip)
        hits = clip.within_reach & (scores >= model.min_score)
        rows.append(
            {
                "clip": clip.label_path,
                "fight": clip.fight,
                "fires": clip_fires(scores, clip.within_reach, model.min_score, config),
                "detections": len(scores),
                "hit_rate": round(float(hits.mean()), 4) if len(scores) else 0.0,
            }
        )
    return rows


def _windows(
    cache_dir: Path, window_s: float, config: ViolenceRuleConfig, holdout: Sequence[str]
) -> tuple[list[ClipWindows], list[ClipWindows]]:
    recordings = load_recordings(cache_dir)
    return split_holdout([clip_windows(r, window_s, config) for r in recordings], holdout)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m cashwatch.training.violence_train",
        description=__doc__.splitlines()[0] if __doc__ else None,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    rec = sub.add_parser("record", help="run clips through the live pipeline once")
    rec.add_argument("labels", type=Path)
    rec.add_argument("cache", type=Path)
    rec.add_argument(
        "--data-dir",
        type=Path,
        default=Path("data"),
        help="where the exported pose model is cached",
    )
    for name in ("cv", "fit"):
        p = sub.add_parser(name)
        p.add_argument("cache", type=Path)
        if name == "fit":
            p.add_argument("out", type=Path)
        p.add_argument(
            "--holdout",
            default="video/",
            help="comma-separated parts of clip paths kept out of training",
        )
        p.add_argument("--window-s", type=float, default=DEFAULT_WINDOW_S)
        p.add_argument("--l2", type=float, default=DEFAULT_L2)
        p.add_argument("--folds", type=int, default=5)
        p.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args(argv)
    if args.command == "record":
        record_clips(args.labels.absolute(), args.cache, args.data_dir.absolute())
        return 0
    config = ViolenceRuleConfig()
    holdout = [h for h in args.holdout.split(",") if h]
    clips, held = _windows(args.cache, args.window_s, config, holdout)
    cv = cross_validate(clips, config, args.window_s, args.folds, args.repeats, args.l2)
    model = train(clips, config, args.window_s, args.l2)
    report = {
        "clips": len(clips),
        "fights": sum(c.fight for c in clips),
        "cv_accuracy": cv.summary(),
        "min_score": model.min_score,
        "in_sample_accuracy": round(
            float(
                np.mean(
                    [
                        clip_fires(model_scores(model, c), c.within_reach, model.min_score, config)
                        == c.fight
                        for c in clips
                    ]
                )
            ),
            4,
        ),
        "holdout": holdout_report(model, held, config),
    }
    print(json.dumps(report, indent=2))
    if args.command == "fit":
        provenance = {
            key: report[key] for key in ("clips", "fights", "cv_accuracy", "in_sample_accuracy")
        }
        provenance.update(
            trained=dt.date.today().isoformat(),
            l2=args.l2,
            folds=args.folds,
            held_out=holdout,
            persistence=[config.min_hits, config.hit_window],
            max_gap=config.max_gap,
        )
        final = ViolenceModel(
            model.window_s,
            model.mean,
            model.scale,
            model.weights,
            model.bias,
            model.min_score,
            provenance,
        )
        args.out.write_text(json.dumps(final.to_json(), indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
