"""ONNX Runtime on the CPU (used where OpenVINO is not: ARM, or by choice)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort

from cashwatch.detect.backends.exported import Forward


def open_onnxruntime(model_path: Path, threads: int) -> tuple[Forward, tuple[int, int] | None]:
    """Open an .onnx file on the CPU.

    Args:
        model_path: The .onnx file.
        threads: The intra-op threads the session may use.

    Returns:
        The forward function, and the static input's (height, width) in pixels; None
        for a dynamic-shape export.
    """
    session = cpu_session(model_path, threads)
    source = session.get_inputs()[0]

    def forward(blob: np.ndarray) -> np.ndarray:
        result: np.ndarray = session.run(None, {source.name: blob})[0]
        return result

    height, width = source.shape[2:4]
    static = isinstance(height, int) and isinstance(width, int)
    return forward, (height, width) if static else None


def cpu_session(model_path: Path, threads: int) -> ort.InferenceSession:
    """An ONNX Runtime session on the CPU whose idle threads sleep, without memory patterns.

    Args:
        model_path: The .onnx file.
        threads: The intra-op threads the session may use.

    Returns:
        The session.
    """
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    # Cores are shared by several camera workers: idle threads must sleep, not spin.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3  # errors only
    # The memory pattern is planned and kept per input shape. Without it, measured: a pose
    # worker holds ~25 MiB less after 60 crop sizes of the motion gate (165 against 192
    # MiB), and the I3D video model ~58 MiB less at its one shape (194 against 252 MiB);
    # neither runs slower.
    options.enable_mem_pattern = False
    return ort.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])
