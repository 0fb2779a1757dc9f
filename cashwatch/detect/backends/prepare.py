"""Make sure the model a `ModelConfig` names is ready to open; export once if needed.

Runs in the manager before workers start, so it never imports torch, ultralytics or a
runtime: the export happens in a subprocess. With the cache in place it costs one
SHA-256 of the weights file (~15 ms for yolo11n-pose.pt).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from pathlib import Path

from cashwatch.config.detection import ModelConfig
from cashwatch.detect.backends.choice import (
    Backend,
    ExportFormat,
    cache_dir,
    export_format,
    exported_model_path,
    resolve_backend,
)
from cashwatch.detect.offline import configure_offline
from cashwatch.detect.weights import ResolvedWeights, WeightsError, file_sha256, resolve_weights
from cashwatch.util.orphan import parent_environment

EXPORT_TIMEOUT_S = 900.0  # a large model on a busy 2-core machine; yolo11n-pose takes ~10 s


class ExportError(RuntimeError):
    """The export subprocess failed; the message holds the end of its output."""


def prepare_model(model: ModelConfig, data_dir: Path) -> Path:
    """Return the file or folder the backend opens, exporting .pt weights once if needed.

    Exports are cached under data_dir/models/<sha256[:12]>-<imgsz>-<backend>/; an .onnx
    file or OpenVINO folder given as weights is used as it is.

    Args:
        model: The model settings (weights, backend, precision, imgsz).
        data_dir: CashWatch's data folder (relative weights, export cache).

    Returns:
        The .pt, .onnx file or OpenVINO folder the backend opens.

    Raises:
        WeightsError: When the weights cannot be found or the backend cannot run them.
        ExportError: When the export fails or runs past `EXPORT_TIMEOUT_S`.

    Example:
        >>> prepare_model(ModelConfig(backend="onnxruntime"),  # doctest: +SKIP
        ...               Path("/var/lib/cashwatch"))
        PosixPath('/var/lib/cashwatch/models/3f2c…-640-onnxruntime/model.onnx')
    """
    configure_offline(data_dir)
    weights = resolve_weights(model.weights, base_dir=data_dir)
    backend = resolve_backend(
        model.backend, precision=model.precision, weights_format=weights.format
    )
    _check_weights_fit_backend(weights, backend)
    if backend == "torch" or weights.format != "pt":
        return weights.path
    fmt = export_format(backend)
    folder = cache_dir(data_dir, file_sha256(weights.path), model.imgsz, backend)
    if not folder.is_dir():
        export_atomically(weights.path, fmt, model.imgsz, folder, data_dir)
    return exported_model_path(folder, fmt)


def _check_weights_fit_backend(weights: ResolvedWeights, backend: Backend) -> None:
    # OpenVINO reads .onnx itself; ONNX Runtime cannot read OpenVINO IR; torch needs .pt.
    allowed = {
        "torch": {"pt"},
        "onnxruntime": {"pt", "onnx"},
        "openvino": {"pt", "onnx", "openvino"},
    }[backend]
    if weights.format not in allowed:
        raise WeightsError(
            f"model weights '{weights.path}' are {weights.format}, which the {backend} "
            f"backend cannot run; it takes: {', '.join(sorted(allowed))}"
        )


def export_atomically(
    weights: Path, fmt: ExportFormat, imgsz: int, folder: Path, data_dir: Path
) -> None:
    """Export into a temp folder beside `folder`, then rename it into place.

    A crash mid-export leaves only a `.export-*` folder, never a half-written cache that a
    later start would trust. If another process finished the same export first, its result
    is kept and ours dropped.

    Args:
        weights: The .pt weights.
        fmt: The format to export to.
        imgsz: The input size, pixels of the longest side.
        folder: The cache folder the export ends in (`cache_dir`).
        data_dir: CashWatch's data folder, passed to the exporter.

    Raises:
        ExportError: When the export fails or runs past `EXPORT_TIMEOUT_S`.
    """
    folder.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_exports(folder.parent)
    temp = Path(tempfile.mkdtemp(prefix=f".export-{folder.name}-", dir=folder.parent))
    try:
        run_export_subprocess(weights, fmt, imgsz, temp, data_dir)
        try:
            os.rename(temp, folder)
        except OSError:
            if not folder.is_dir():
                raise
    finally:
        shutil.rmtree(temp, ignore_errors=True)


def remove_stale_exports(models_dir: Path) -> None:
    """Delete `.export-*` folders left by an export killed mid-way (older than its timeout).

    Args:
        models_dir: The folder of cached exports, data_dir/models.
    """
    cutoff = time.time() - EXPORT_TIMEOUT_S
    for leftover in models_dir.glob(".export-*"):
        if leftover.stat().st_mtime < cutoff:
            shutil.rmtree(leftover, ignore_errors=True)


def run_export_subprocess(
    weights: Path, fmt: ExportFormat, imgsz: int, out_dir: Path, data_dir: Path
) -> None:
    """Run the exporter in a fresh interpreter, relaying its output to our stderr as progress.

    Args:
        weights: The .pt weights.
        fmt: The format to export to.
        imgsz: The input size, pixels of the longest side.
        out_dir: An existing, empty folder that receives the export.
        data_dir: CashWatch's data folder (the exporter's offline settings).

    Raises:
        ExportError: When the exporter exits non-zero (killed after `EXPORT_TIMEOUT_S`);
            the message ends with its last 30 lines of output.
    """
    arguments = ["--weights", str(weights), "--format", fmt, "--imgsz", str(imgsz)]
    arguments += ["--out", str(out_dir), "--data-dir", str(data_dir)]
    run_exporter("cashwatch.detect.backends.export", arguments, f"exporting {weights} to {fmt}")


def run_exporter(module: str, arguments: list[str], what: str) -> None:
    """Run `python -m module arguments…` in a fresh interpreter, relaying its output.

    A fresh interpreter keeps torch (or whatever the exporter imports) out of the caller.

    Args:
        module: The exporter's module, run with `-m`.
        arguments: Its command-line arguments.
        what: What it does, for the error, e.g. "exporting yolo11n-pose.pt to onnx".

    Raises:
        ExportError: When the exporter exits non-zero (killed after `EXPORT_TIMEOUT_S`);
            the message ends with its last 30 lines of output.
    """
    command = [sys.executable, "-m", module, *arguments]
    tail: deque[str] = deque(maxlen=30)
    with subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
        env=parent_environment(),  # the exporter ends with this process (exit_with_parent)
    ) as process:
        # Reading blocks until the child closes its output, so a hung export is killed
        # by a timer rather than by a wait() timeout that would never be reached.
        killer = threading.Timer(EXPORT_TIMEOUT_S, process.kill)
        killer.start()
        try:
            assert process.stdout is not None
            for line in process.stdout:
                sys.stderr.write(f"[export] {line}")
                tail.append(line)
            code = process.wait()
        finally:
            killer.cancel()
    if code != 0:
        raise ExportError(f"{what} failed (exit {code}):\n{''.join(tail)}")
