"""`cashwatch eval LABELS.csv`: the live pipeline over labelled clips, scored per event type.

Each clip runs exactly as a live camera would (same stride, motion gate, tracker, rules
and cooldown), only unpaced. LABELS.csv has the columns `path,events[,camera]`: paths
relative to the CSV, events `;`-separated (empty for none), and an optional TOML file
(relative to the CSV) holding that clip's camera settings (`CameraSettings`: zones,
rules, cooldown).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from pydantic import ValidationError

from cashwatch.config import CameraSettings, ModelConfig, load_config
from cashwatch.config.loader import describe_errors
from cashwatch.core.events import FRAME_EVENT_TYPES
from cashwatch.detect.clips import ClipUnreadable, sampled_frames
from cashwatch.detect.model import PoseModel
from cashwatch.detect.pipeline import DetectionProcessor
from cashwatch.detect.video_verifier import LocalVideoVerifier, VideoFeatures
from cashwatch.i18n import _


class LabelsError(ValueError):
    """The labels file cannot be used; the message names the row and the bad value."""


@dataclass
class Clip:
    """One row of the labels file.

    Attributes:
        path: The clip's video file.
        expected: The event types labelled in it; empty for none.
        settings: The camera settings it runs under (the row's camera file, or the
            defaults).
        label_path: The path as the labels file spells it (what reports show).
    """

    path: Path
    expected: set[str]
    settings: CameraSettings
    label_path: str


@dataclass
class ClipResult:
    """What one clip gave.

    Attributes:
        clip: The clip.
        detected: The event types raised on it; empty for none.
        frames: The frames the detection stride sampled.
        inferred: Of those, the frames the pose model ran on.
        seconds: The wall-clock time its processing took.
        degraded: Why a rule ran in a reduced mode on some of its frames (the verified
            violence method's pose fallback); empty when none did.
    """

    clip: Clip
    detected: set[str]
    frames: int
    inferred: int
    seconds: float
    degraded: set[str] = field(default_factory=set)


@dataclass
class Score:
    """Clip counts of one event type: true and false positives and negatives."""

    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0

    def add(self, expected: bool, detected: bool) -> None:
        """Count one clip.

        Args:
            expected: Whether the clip is labelled with the event type.
            detected: Whether the pipeline raised it.
        """
        if expected and detected:
            self.tp += 1
        elif detected:
            self.fp += 1
        elif expected:
            self.fn += 1
        else:
            self.tn += 1

    def as_dict(self) -> dict[str, Any]:
        """The counts and the ratios made from them.

        Returns:
            tp, fp, fn, tn, and precision, recall and accuracy (0..1, 4 places; None
            where undefined, e.g. precision with nothing detected).
        """
        total = self.tp + self.fp + self.fn + self.tn
        return {
            "tp": self.tp,
            "fp": self.fp,
            "fn": self.fn,
            "tn": self.tn,
            "precision": _ratio(self.tp, self.tp + self.fp),
            "recall": _ratio(self.tp, self.tp + self.fn),
            "accuracy": _ratio(self.tp + self.tn, total),
        }


@dataclass
class Report:
    """The results of an evaluation run.

    Attributes:
        results: One result per clip, in the labels file's order.
        seconds: The wall-clock time of the whole run.
    """

    results: list[ClipResult] = field(default_factory=list)
    seconds: float = 0.0

    def scores(self) -> dict[str, Score]:
        """Score every event type over the clips.

        Returns:
            One score per event type, every type present (all zero without clips).
        """
        scores: dict[str, Score] = {event_type: Score() for event_type in FRAME_EVENT_TYPES}
        for result in self.results:
            for event_type, score in scores.items():
                score.add(event_type in result.clip.expected, event_type in result.detected)
        return scores

    @property
    def fps(self) -> float:
        """Sampled frames processed per second of the run; 0.0 before it has run."""
        return sum(r.frames for r in self.results) / self.seconds if self.seconds > 0 else 0.0

    def as_json(self) -> dict[str, Any]:
        """The report as `cashwatch eval --json` prints it.

        Returns:
            "types" (each type's `Score.as_dict`), "clips" (path, expected, detected)
            and "fps".
        """
        return {
            "types": {name: score.as_dict() for name, score in self.scores().items()},
            "clips": [
                {
                    "path": r.clip.label_path,
                    "expected": sorted(r.clip.expected),
                    "detected": sorted(r.detected),
                }
                for r in self.results
            ],
            "fps": round(self.fps, 2),
        }


def _ratio(numerator: int, denominator: int) -> float | None:
    """None where the ratio is undefined (e.g. precision with nothing detected)."""
    return round(numerator / denominator, 4) if denominator else None


def read_labels(labels_csv: Path, default: CameraSettings) -> list[Clip]:
    """The clips of a labels file, each with its camera settings.

    Args:
        labels_csv: The labels file (`path,events[,camera]`; see the module docstring).
        default: The settings of rows that name no camera file.

    Returns:
        One clip per row, in order.

    Raises:
        LabelsError: When the file, a clip or a camera file is missing or invalid; the
            message names the row.
    """
    if not labels_csv.is_file():
        raise LabelsError(f"labels file {labels_csv} does not exist")
    base = labels_csv.parent
    with labels_csv.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        columns = set(reader.fieldnames or ())
        if not {"path", "events"} <= columns:
            raise LabelsError(
                f"{labels_csv}: header must have 'path,events[,camera]', "
                f"got {','.join(reader.fieldnames or [])!r}"
            )
        cameras: dict[str, CameraSettings] = {}
        return [
            _clip(row, line, base, default, cameras, labels_csv)
            for line, row in enumerate(reader, start=2)
        ]


def _clip(
    row: dict[str, str],
    line: int,
    base: Path,
    default: CameraSettings,
    cameras: dict[str, CameraSettings],
    labels_csv: Path,
) -> Clip:
    where = f"{labels_csv}:{line}"
    path = base / row["path"].strip()
    if not path.is_file():
        raise LabelsError(
            f"{where}: clip {row['path']!r} does not exist (paths are relative to the labels file)"
        )
    expected = {e.strip() for e in (row.get("events") or "").split(";") if e.strip()}
    unknown = sorted(expected - set(FRAME_EVENT_TYPES))
    if unknown:
        raise LabelsError(
            f"{where}: unknown event type(s) {', '.join(unknown)}; "
            f"valid: {', '.join(FRAME_EVENT_TYPES)} (separated by ';')"
        )
    camera = (row.get("camera") or "").strip()
    if camera and camera not in cameras:
        cameras[camera] = read_camera_settings(base / camera, where)
    return Clip(path, expected, cameras[camera] if camera else default, row["path"].strip())


def read_camera_settings(path: Path, where: str) -> CameraSettings:
    """Read a clip's camera settings from a TOML file.

    Args:
        path: The TOML file.
        where: The labels file and line that name it, for the error message.

    Returns:
        The validated settings.

    Raises:
        LabelsError: When the file is missing, not TOML, or not valid settings.
    """
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise LabelsError(f"{where}: camera file {path} does not exist") from exc
    except tomllib.TOMLDecodeError as exc:
        raise LabelsError(f"{where}: camera file {path} is not valid TOML: {exc}") from exc
    try:
        return CameraSettings.model_validate(raw)
    except ValidationError as exc:
        raise LabelsError(f"{where}: camera file {path}: {describe_errors(exc)}") from exc


def evaluate_clip(
    clip: Clip, model: PoseModel | None, video: VideoFeatures | None = None
) -> ClipResult:
    """Run one clip through a fresh processor, like a camera that has just started.

    Args:
        clip: The clip and its settings.
        model: The pose model; None when no clip's rules need one (then unused).
        video: The video model of the verified violence method, run in this process;
            None: that method's pose fallback decides (and `degraded` says so).

    Returns:
        The event types raised and the frame counts.

    Raises:
        LabelsError: When OpenCV cannot open the clip.
    """
    detection = clip.settings.detection
    pose_model = model if detection.needs_pose_model else None
    verifier = LocalVideoVerifier(video) if video and detection.uses_video_verifier else None
    processor = DetectionProcessor(clip.settings, pose_model, violence_verifier=verifier)
    detected: set[str] = set()
    degraded: set[str] = set()
    started = time.perf_counter()
    try:
        for frame, ts in sampled_frames(clip.path, detection.fps):
            result = processor.process(frame, ts)
            detected.update(event.event_type for event in result.events)
            degraded.update([result.degraded] if result.degraded else [])
    except ClipUnreadable as exc:  # only this: a processing error is not a labels error
        raise LabelsError(str(exc)) from exc
    finally:
        processor.close()
    return ClipResult(
        clip,
        detected,
        processor.counters.frames,
        processor.counters.inferred,
        time.perf_counter() - started,
        degraded,
    )


def evaluate(
    clips: list[Clip],
    model: PoseModel | None,
    progress: TextIO | None,
    video: VideoFeatures | None = None,
) -> Report:
    """Run every clip, in order.

    Args:
        clips: The clips (`read_labels`).
        model: The pose model; None when no clip's rules need one.
        progress: Where a progress bar is drawn; None draws none.
        video: The video model for clips whose violence rule uses the verified method.

    Returns:
        The per-clip results and the run's time.

    Raises:
        LabelsError: When OpenCV cannot open a clip.
    """
    report = Report()
    started = time.perf_counter()
    for number, clip in enumerate(clips, start=1):
        if progress is not None:
            _draw_progress(progress, number - 1, len(clips), clip.label_path)
        report.results.append(evaluate_clip(clip, model, video))
    report.seconds = time.perf_counter() - started
    if progress is not None:
        _draw_progress(progress, len(clips), len(clips), "done")
        progress.write("\n")
    return report


def _draw_progress(stream: TextIO, done: int, total: int, label: str, width: int = 30) -> None:
    filled = round(width * done / max(1, total))
    stream.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} {label[-50:]:<50}")
    stream.flush()


def print_table(report: Report, out: TextIO) -> None:
    """Write the scores as a table, with a line of frame counts and speed.

    Args:
        report: The evaluation's report.
        out: Where to write it.
    """
    out.write(
        f"{'type':<10}{'tp':>5}{'fp':>5}{'fn':>5}{'tn':>5}"
        f"{'precision':>11}{'recall':>8}{'accuracy':>10}\n"
    )
    for name, score in report.scores().items():
        row = score.as_dict()
        cells = "".join(
            f"{_pct(row[key]):>{width}}"
            for key, width in (("precision", 11), ("recall", 8), ("accuracy", 10))
        )
        out.write(f"{name:<10}{score.tp:>5}{score.fp:>5}{score.fn:>5}{score.tn:>5}{cells}\n")
    frames = sum(r.frames for r in report.results)
    inferred = sum(r.inferred for r in report.results)
    out.write(
        f"{len(report.results)} clips, {frames} sampled frames, pose model on "
        f"{inferred} ({100 * inferred / max(1, frames):.0f}%), "
        f"{report.fps:.1f} frames/s processed\n"
    )


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add `cashwatch eval`'s arguments.

    Args:
        parser: The `eval` subcommand's parser.
    """
    parser.add_argument(
        "labels",
        type=Path,
        metavar="LABELS.csv",
        help=_("CSV with path,events[,camera] (paths relative to it)"),
    )
    parser.add_argument("--json", action="store_true", help=_("print the report as JSON"))
    parser.add_argument(
        "--config",
        metavar="PATH",
        help=_(
            "cashwatch.toml whose [model] (and data folder, for the model "
            "cache) are used; without it the defaults and ./data"
        ),
    )
    parser.add_argument(
        "--backend",
        choices=("auto", "openvino", "onnxruntime", "torch"),
        help=_("override the model backend"),
    )
    parser.add_argument(
        "--precision",
        choices=("auto", "f32", "bf16"),
        default="f32",
        help=_("model precision (default f32, the same figures on every CPU)"),
    )


def run(args: argparse.Namespace) -> int:
    """Run `cashwatch eval`: print the table, or the JSON report with `--json`.

    Args:
        args: The parsed arguments (`add_arguments`).

    Returns:
        The exit status: 0, or 2 when the labels or a clip cannot be used.
    """
    model_config, data_dir = _model_settings(args)
    try:
        clips = read_labels(args.labels.absolute(), CameraSettings())
    except LabelsError as exc:
        print(f"cashwatch eval: {exc}", file=sys.stderr)
        return 2
    model: PoseModel | None = None
    if any(clip.settings.detection.needs_pose_model for clip in clips):
        from cashwatch.detect.backends import load_pose_model

        model = load_pose_model(model_config, data_dir)
    try:
        video = _video_model(clips, model_config, data_dir)
    except Exception as exc:  # no checkpoint, a failed export: the method cannot be scored
        message = f"the verified violence method needs the video model: {exc}"
        print(f"cashwatch eval: {message}", file=sys.stderr)
        return 2
    try:
        report = evaluate(clips, model, sys.stderr, video)
    except LabelsError as exc:  # a listed clip that exists but cannot be decoded
        print(f"\ncashwatch eval: {exc}", file=sys.stderr)
        return 2
    _warn_degraded(report, sys.stderr)
    if args.json:
        print(json.dumps(report.as_json(), indent=2))
    else:
        if model is not None:
            print(f"model: {model.name}")
        print_table(report, sys.stdout)
    return 0


def _video_model(
    clips: list[Clip], model_config: ModelConfig, data_dir: Path
) -> VideoFeatures | None:
    """The video model, exported once into data_dir, when a clip uses the verified method."""
    if not any(clip.settings.detection.uses_video_verifier for clip in clips):
        return None
    from cashwatch.detect.video_features import VideoFeatureModel, ensure_video_model

    return VideoFeatureModel(ensure_video_model(data_dir), threads=model_config.threads)


def _warn_degraded(report: Report, out: TextIO) -> None:
    """Say which clips a rule ran in a reduced mode on: their scores are not its own."""
    reasons: dict[str, list[str]] = {}
    for result in report.results:
        for reason in result.degraded:
            reasons.setdefault(reason, []).append(result.clip.label_path)
    for reason, paths in reasons.items():
        out.write(f"cashwatch eval: {reason} on {len(paths)} clip(s), e.g. {paths[0]}\n")


def _model_settings(args: argparse.Namespace) -> tuple[ModelConfig, Path]:
    if args.config:
        loaded = load_config(args.config, create=False)
        model, data_dir = loaded.app.model, loaded.data_dir
    else:
        model, data_dir = ModelConfig(), Path("data").absolute()
    update: dict[str, str] = {"precision": args.precision}
    if args.backend:
        update["backend"] = args.backend
    return model.model_copy(update=update), data_dir
