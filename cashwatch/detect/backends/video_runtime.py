"""The I3D video model's ONNX file on ONNX Runtime or OpenVINO, on the CPU, f32.

Each opener imports its runtime only when called, so a process loads just the one it uses.
"""

from __future__ import annotations

import platform
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import numpy as np

VideoRuntime = Literal["onnxruntime", "openvino"]
VIDEO_RUNTIMES: tuple[VideoRuntime, ...] = ("onnxruntime", "openvino")
_X86 = {"x86_64", "amd64", "i386", "i686", "x86"}

# (1, T, H, W, 3) float32 in [-1, 1] → features (1, 1024), logits (1, 400); fresh arrays
VideoForward = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]


def resolve_video_runtime(runtime: str, machine: str | None = None) -> VideoRuntime:
    """`auto` → OpenVINO on x86, ONNX Runtime elsewhere.

    Unlike the pose model (where the two run f32 at one speed), I3D's 3D convolutions ran
    ~1.6x faster on OpenVINO: 370 against 600 ms a window on an AVX-512 Xeon, one thread.

    Args:
        runtime: "auto", "onnxruntime" or "openvino".
        machine: The CPU architecture as `platform.machine()` names it; None for this one.

    Returns:
        The runtime to open.

    Raises:
        ValueError: When `runtime` is none of those.

    Example:
        >>> resolve_video_runtime("auto", machine="aarch64")
        'onnxruntime'
        >>> resolve_video_runtime("auto", machine="x86_64")
        'openvino'
    """
    if runtime == "auto":
        return "openvino" if (machine or platform.machine()).lower() in _X86 else "onnxruntime"
    if runtime in VIDEO_RUNTIMES:
        return runtime
    raise ValueError(f"video runtime '{runtime}' is not one of auto, {', '.join(VIDEO_RUNTIMES)}")


def open_video_runtime(model_path: Path, runtime: VideoRuntime, threads: int) -> VideoForward:
    """Open the exported network on one runtime.

    Args:
        model_path: The i3d.onnx file.
        runtime: "onnxruntime" or "openvino".
        threads: The inference threads it may use.

    Returns:
        The forward function.

    Raises:
        ValueError: When the runtime is not one of `VIDEO_RUNTIMES`.
    """
    if runtime == "onnxruntime":
        return _open_onnxruntime(model_path, threads)
    if runtime == "openvino":
        return _open_openvino(model_path, threads)
    raise ValueError(f"video runtime '{runtime}' is not one of {', '.join(VIDEO_RUNTIMES)}")


def _open_onnxruntime(model_path: Path, threads: int) -> VideoForward:
    from cashwatch.detect.backends.onnx_runtime import cpu_session

    session = cpu_session(model_path, threads)
    source = session.get_inputs()[0].name

    def forward(video: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        features, logits = session.run(None, {source: video})
        return features, logits

    return forward


def _open_openvino(model_path: Path, threads: int) -> VideoForward:
    import openvino as ov
    import openvino.properties as props
    import openvino.properties.hint as hints

    compiled = ov.Core().compile_model(
        str(model_path),
        "CPU",
        {
            # f32 as the reference computes; OpenVINO would pick bf16 by itself on AMX CPUs
            hints.inference_precision: ov.Type.f32,
            props.inference_num_threads: threads,
            props.num_streams: 1,
            hints.performance_mode: hints.PerformanceMode.LATENCY,
            # the manager pins processes with psutil; OpenVINO's own pinning would fight it
            hints.enable_cpu_pinning: False,
        },
    )
    request = compiled.create_infer_request()
    outputs = compiled.outputs

    def forward(video: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        result = request.infer({0: video})
        # the request reuses its buffers on the next call: hand out copies
        return np.array(result[outputs[0]]), np.array(result[outputs[1]])

    return forward
