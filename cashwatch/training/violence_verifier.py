"""Train and cross-validate the verified violence method (development only).

Three subcommands of `python -m cashwatch.training.violence_verifier`, after the pose
recordings of `cashwatch.training.violence_train record`:

1. `candidates LABELS.csv POSES_DIR OUT_DIR`: every recorded clip replayed through the
   live rule itself (`VerifiedViolenceRule`: its frame ring, trigger and policy of when
   to ask) with the in-process verifier; each candidate it asks about is stored with its
   video features and pose features, one `.npz` per clip. Minutes of CPU, once.
2. `cv OUT_DIR --groups groups.csv`: grouped k-fold cross-validation (no source video in
   both parts), repeated with different group deals. Each fold fits the verifier on the
   training clips' candidates (label: the clip's), chooses its L2 penalty by an inner
   grouped CV and its threshold on that inner CV's held-out scores, and scores the
   held-out clips with the live decision: a clip raises violence when one of its
   candidates reaches the threshold. It prints the table per fold and the means.
3. `fit OUT_DIR PARAMS.json --groups groups.csv`: the same fit on every development clip;
   writes the parameters the package ships (`cashwatch/rules/violence_verifier.json`).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cashwatch.config.detection import ViolenceRuleConfig
from cashwatch.core.observation import Observation
from cashwatch.detect.evaluate import Score
from cashwatch.rules.violence_features import FEATURE_NAMES
from cashwatch.rules.violence_trigger import Candidate
from cashwatch.rules.violence_verified import (
    RING_FRAMES,
    Verdict,
    VerifiedViolenceRule,
    VerifyRequest,
    VideoVerifier,
)
from cashwatch.rules.violence_verifier_model import VIDEO_FEATURES, VerifierModel
from cashwatch.training.groups import group_of, grouped_folds, read_groups
from cashwatch.training.violence_train import Recording, fit_logistic

L2_GRID = (10.0, 100.0, 1000.0, 10000.0)
# An operator switches off an alarm that is wrong too often: the threshold keeps at least
# this share of alarms real on held-out clips, and is the most accurate one that does.
MIN_PRECISION = 0.85
THRESHOLDS = tuple(round(0.2 + 0.025 * i, 3) for i in range(31))  # 0.20 .. 0.95


@dataclass
class ClipCandidates:
    """One clip's candidates: their times, reasons, pose and video features."""

    label_path: str
    fight: bool
    ts: np.ndarray  # (k,)
    reasons: list[str]
    pose: np.ndarray  # (k, len(FEATURE_NAMES))
    video: np.ndarray  # (k, VIDEO_FEATURES)

    def save(self, path: Path) -> None:
        np.savez_compressed(
            path,
            label_path=self.label_path,
            fight=self.fight,
            ts=self.ts,
            reasons=np.array(self.reasons, dtype=str),
            pose=self.pose,
            video=self.video,
        )

    @classmethod
    def load(cls, path: Path) -> ClipCandidates:
        with np.load(path) as data:
            return cls(
                str(data["label_path"]),
                bool(data["fight"]),
                data["ts"].copy(),
                [str(r) for r in data["reasons"]],
                data["pose"].reshape(-1, len(FEATURE_NAMES)),
                data["video"].reshape(-1, VIDEO_FEATURES),
            )

    @property
    def rows(self) -> np.ndarray:
        return np.hstack([self.video, self.pose])


class _Keeper:
    """A `VideoVerifier` around another that keeps each candidate with its video features."""

    def __init__(self, inner: VideoVerifier) -> None:
        self.inner = inner
        self.found: list[tuple[Candidate, np.ndarray]] = []

    def submit(self, request: VerifyRequest) -> bool:
        return self.inner.submit(request)

    def poll(self) -> list[Verdict]:
        verdicts = self.inner.poll()
        self.found += [(v.request.candidate, v.video) for v in verdicts if v.video is not None]
        return verdicts


def _never_confirms() -> VerifierModel:
    """Scores every candidate 0.5 against a threshold of 0.99: the rule keeps asking."""
    n = VIDEO_FEATURES + len(FEATURE_NAMES)
    return VerifierModel(np.zeros(n), np.ones(n), np.zeros(n), 0.0, 0.99)


def replay_candidates(
    recording: Recording, frames: Sequence[tuple[np.ndarray, float]], verifier: VideoVerifier
) -> ClipCandidates:
    """Replay one clip through the live rule itself (its ring, trigger and policy of when
    to ask), the model looking where it looked when recorded; the candidates it asks
    about, with their video features."""
    keeper = _Keeper(verifier)
    rule = VerifiedViolenceRule(ViolenceRuleConfig(), _never_confirms(), keeper)
    by_ts = {round(float(t), 4): i for i, t in enumerate(recording.ts)}
    for frame, ts in frames:
        index = by_ts.get(round(ts, 4))
        fresh = recording.poses[index] if index is not None else None
        rule.observe(Observation(ts, frame, fresh, fresh))
    keeper.poll()  # the verdict on the last frame's request
    found = keeper.found
    return ClipCandidates(
        recording.label_path,
        recording.fight,
        np.array([c.ts for c, _ in found], np.float64),
        [c.reason for c, _ in found],
        np.array([c.pose_features for c, _ in found]).reshape(-1, len(FEATURE_NAMES)),
        np.array([v for _, v in found]).reshape(-1, VIDEO_FEATURES),
    )


def record_candidates(labels_csv: Path, poses_dir: Path, out_dir: Path, data_dir: Path) -> None:
    """Replay every recorded clip; skips clips already done."""
    from cashwatch.config import CameraSettings
    from cashwatch.detect.clips import sampled_frames
    from cashwatch.detect.evaluate import read_labels
    from cashwatch.detect.video_features import VideoFeatureModel, ensure_video_model
    from cashwatch.detect.video_verifier import LocalVideoVerifier

    verifier = LocalVideoVerifier(VideoFeatureModel(ensure_video_model(data_dir)))
    out_dir.mkdir(parents=True, exist_ok=True)
    for clip in read_labels(labels_csv, CameraSettings()):
        name = clip.label_path.replace("/", "__")
        target, source = out_dir / f"{name}.npz", poses_dir / f"{name}.npz"
        if target.exists() or not source.exists():
            continue
        recording = Recording.load(source)
        frames = sampled_frames(clip.path, clip.settings.detection.fps)
        found = replay_candidates(recording, list(frames), verifier)
        found.save(target)
        print(f"{clip.label_path}: {len(found.ts)} candidates", file=sys.stderr, flush=True)


def load_candidates(out_dir: Path, only: str = "fightsurv/") -> list[ClipCandidates]:
    paths = sorted(out_dir.glob("*.npz"))
    clips = [ClipCandidates.load(p) for p in paths]
    return [c for c in clips if only in c.label_path]


# ---------------------------------------------------------------------------- fitting


def _training_rows(clips: Sequence[ClipCandidates]) -> tuple[np.ndarray, np.ndarray]:
    rows = [c.rows for c in clips if len(c.ts)]
    labels = [np.full(len(c.ts), c.fight) for c in clips if len(c.ts)]
    return np.vstack(rows), np.concatenate(labels)


def _fit(clips: Sequence[ClipCandidates], l2: float) -> VerifierModel:
    x, y = _training_rows(clips)
    mean, scale, weights, bias = fit_logistic(x, y, l2)
    return VerifierModel(mean, scale, weights, bias, 0.5)


def clip_score(model: VerifierModel, clip: ClipCandidates) -> float:
    """The clip's highest candidate score (0 without candidates): it fires from the threshold."""
    n = len(FEATURE_NAMES)
    scores = [model.score(row[:-n], row[-n:]) for row in clip.rows]
    return max(scores, default=0.0)


def _log_loss(model: VerifierModel, clips: Sequence[ClipCandidates]) -> float:
    x, y = _training_rows(clips)
    n = len(FEATURE_NAMES)
    p = np.clip([model.score(r[:-n], r[-n:]) for r in x], 1e-6, 1 - 1e-6)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def inner_cv(
    clips: Sequence[ClipCandidates], groups: Sequence[str], seed: int
) -> tuple[float, np.ndarray]:
    """An inner grouped 4-fold CV over the training clips.

    Returns the L2 penalty with the least held-out log loss, and each clip's held-out
    score under it (what the threshold is chosen on: a model's scores on the clips it was
    fitted to are far surer than on new ones, so a threshold chosen on those would be
    too low or too high for the clips it meets).
    """
    folds = grouped_folds(list(groups), [c.fight for c in clips], 4, seed)
    losses, scores = [], []
    for l2 in L2_GRID:
        held = np.zeros(len(clips))
        loss = []
        for k in range(4):
            part = [c for c, f in zip(clips, folds, strict=True) if f == k]
            model = _fit([c for c, f in zip(clips, folds, strict=True) if f != k], l2)
            if any(len(c.ts) for c in part):
                loss.append(_log_loss(model, part))
            held[folds == k] = [clip_score(model, c) for c in part]
        losses.append(float(np.mean(loss)))
        scores.append(held)
    best = int(np.argmin(losses))
    return L2_GRID[best], scores[best]


def choose_threshold(
    scores: np.ndarray, fights: np.ndarray, min_precision: float = MIN_PRECISION
) -> float:
    """The clip threshold with the best accuracy among those whose precision reaches
    `min_precision` (the highest-precision one when none does); ties: the middle one.

    Args:
        scores: Each clip's held-out score (`clip_score`).
        fights: Whether each clip is a fight.
        min_precision: The share of alarms that must be fights.

    Returns:
        The threshold, one of `THRESHOLDS`.

    >>> choose_threshold(np.array([0.9, 0.8, 0.7, 0.3]), np.array([True, True, False, False]))
    0.775
    """
    fired = scores[None, :] >= np.array(THRESHOLDS)[:, None]
    alarms = fired.sum(axis=1)
    precision = np.where(alarms > 0, (fired & fights).sum(axis=1) / np.maximum(alarms, 1), 0.0)
    accuracy = (fired == fights).mean(axis=1)
    allowed = precision >= min_precision
    key = np.where(allowed, accuracy, -1.0) if allowed.any() else precision
    best = [t for t, k in zip(THRESHOLDS, key, strict=True) if k == key.max()]
    return best[len(best) // 2]


def train(clips: Sequence[ClipCandidates], groups: Sequence[str], seed: int = 0) -> VerifierModel:
    """Fit on every candidate of `clips`; penalty and threshold from an inner grouped CV."""
    l2, held_scores = inner_cv(clips, groups, seed)
    model = _fit(clips, l2)
    threshold = choose_threshold(held_scores, np.array([c.fight for c in clips]))
    return VerifierModel(model.mean, model.scale, model.weights, model.bias, threshold, {"l2": l2})


# ---------------------------------------------------------------------------- scoring


def confusion(fired: Sequence[bool], fights: Sequence[bool]) -> dict[str, Any]:
    """Clip counts and ratios, as `cashwatch eval` reports them (`evaluate.Score`)."""
    score = Score()
    for detected, expected in zip(fired, fights, strict=True):
        score.add(expected, detected)
    return score.as_dict()


def cross_validate(
    clips: Sequence[ClipCandidates], groups: Sequence[str], k: int, repeats: int
) -> dict[str, Any]:
    """Grouped k-fold CV of the verified method, `repeats` deals of the groups."""
    fights = [c.fight for c in clips]
    per_repeat, fired_all = [], []
    for seed in range(repeats):
        folds = grouped_folds(groups, fights, k, seed)
        fired = [False] * len(clips)
        for fold in range(k):
            train_idx = [i for i in range(len(clips)) if folds[i] != fold]
            model = train([clips[i] for i in train_idx], [groups[i] for i in train_idx], seed)
            for i in np.flatnonzero(folds == fold).tolist():
                fired[i] = clip_score(model, clips[i]) >= model.threshold
        per_repeat.append(confusion(fired, fights))
        fired_all.append(fired)
    triggered = confusion([len(c.ts) > 0 for c in clips], fights)
    return {
        "clips": len(clips),
        "fights": sum(fights),
        "groups": len(set(groups)),
        "trigger": triggered,
        "repeats": per_repeat,
        "mean": {
            key: round(float(np.mean([r[key] for r in per_repeat if r[key] is not None])), 4)
            for key in ("accuracy", "precision", "recall")
        },
        "errors": _errors(clips, fired_all),
    }


def _errors(clips: Sequence[ClipCandidates], fired_all: list[list[bool]]) -> list[dict[str, Any]]:
    """Clips wrong in most repeats, with what the trigger saw of them."""
    wrong = np.mean([[f != c.fight for f, c in zip(r, clips, strict=True)] for r in fired_all], 0)
    return [
        {
            "clip": c.label_path,
            "fight": c.fight,
            "wrong_share": round(float(w), 2),
            "candidates": len(c.ts),
            "reasons": sorted(set(c.reasons)),
        }
        for c, w in zip(clips, wrong, strict=True)
        if w > 0.5
    ]


# ---------------------------------------------------------------------------- command


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cashwatch.training.violence_verifier")
    sub = parser.add_subparsers(dest="command", required=True)
    cand = sub.add_parser("candidates", help="replay clips through the trigger, video features")
    cand.add_argument("labels", type=Path)
    cand.add_argument("poses", type=Path)
    cand.add_argument("out", type=Path)
    cand.add_argument("--data-dir", type=Path, default=Path("data"))
    for name in ("cv", "fit"):
        p = sub.add_parser(name)
        p.add_argument("candidates", type=Path)
        if name == "fit":
            p.add_argument("params", type=Path)
        p.add_argument("--groups", type=Path, required=True)
        p.add_argument("--folds", type=int, default=5)
        p.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    if args.command == "candidates":
        record_candidates(args.labels.absolute(), args.poses, args.out, args.data_dir.absolute())
        return 0
    clips = load_candidates(args.candidates)
    table = read_groups(args.groups)
    groups = [group_of(c.label_path, table) for c in clips]
    report = cross_validate(clips, groups, args.folds, args.repeats)
    print(json.dumps(report, indent=1))
    if args.command == "fit":
        model = train(clips, groups)
        provenance = {
            "trained": dt.date.today().isoformat(),
            "clips": len(clips),
            "fights": sum(c.fight for c in clips),
            "grouped_cv": report["mean"],
            "folds": args.folds,
            "repeats": args.repeats,
            "l2": model.provenance["l2"],
            "verify_every_s": ViolenceRuleConfig().verify_every_s,
            "window_frames": RING_FRAMES,
        }
        final = VerifierModel(
            model.mean, model.scale, model.weights, model.bias, model.threshold, provenance
        )
        args.params.write_text(json.dumps(final.to_json()) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
