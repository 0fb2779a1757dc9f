"""OpenVINO on the CPU: compile an exported model with a thread count and precision."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
import openvino as ov
import openvino.properties as props
import openvino.properties.hint as hints

from cashwatch.detect.backends.exported import Forward

Precision = Literal["f32", "bf16"]

# OpenVINO's CPU plugin keeps the kernels it prepared for every input shape it has seen,
# ~5,000 entries by default. The motion gate's crops bring a new shape now and then, so a
# worker grew by ~7 MiB a shape, without end: 603 MiB after the benchmark's capacity
# search, and a bare process 900 MiB after 150 random shapes. Without that cache it
# re-prepares on a change of shape instead. Measured on 300 sampled frames of the walking
# footage (149 crops): +108 MiB against +259, for 10 % more model time (~4 % more CPU for
# a gated camera); a capacity of 1,500 entries kept the time but held +236 MiB.
RUNTIME_CACHE_CAPACITY = 0


def resolve_precision(precision: str, core: ov.Core) -> Precision:
    """`auto` → bf16 where the CPU has it (AMX: ~2.4x faster, keypoints drift ≤2 px), else f32.

    Args:
        precision: The configured precision: "auto", "f32" or "bf16".
        core: The OpenVINO core whose CPU capabilities decide.

    Returns:
        "bf16" or "f32".

    Raises:
        ValueError: When `precision` is unknown, or bf16 on a CPU without it.
    """
    capabilities = core.get_property("CPU", props.device.capabilities)
    if precision == "auto":
        return "bf16" if "BF16" in capabilities else "f32"
    if precision == "bf16" and "BF16" not in capabilities:
        raise ValueError(
            f"model precision 'bf16' is not supported by this CPU (OpenVINO "
            f"reports {', '.join(capabilities)}); use 'auto' or 'f32'"
        )
    if precision not in ("f32", "bf16"):
        raise ValueError(f"model precision '{precision}' is not one of auto, f32, bf16")
    return precision  # type: ignore[return-value]


def open_openvino(
    model_path: Path, threads: int, precision: str
) -> tuple[Forward, tuple[int, int] | None, Precision]:
    """Compile a model for the CPU.

    Args:
        model_path: An OpenVINO folder or an .onnx file (OpenVINO reads both).
        threads: The inference threads it may use.
        precision: The configured precision: "auto", "f32" or "bf16".

    Returns:
        The forward function; the static input's (height, width) in pixels, None for a
        dynamic-shape export; and the precision chosen.

    Raises:
        ValueError: When `precision` is unknown, or bf16 on a CPU without it.
    """
    core = ov.Core()
    chosen = resolve_precision(precision, core)
    if model_path.is_dir():
        model_path = next(model_path.glob("*.xml"))
    compiled = core.compile_model(
        str(model_path),
        "CPU",
        {
            # Without an explicit hint OpenVINO picks bf16 by itself on AMX CPUs.
            hints.inference_precision: ov.Type.bf16 if chosen == "bf16" else ov.Type.f32,
            props.inference_num_threads: threads,
            props.num_streams: 1,
            hints.performance_mode: hints.PerformanceMode.LATENCY,
            # The manager pins each worker with psutil; OpenVINO's own pinning would fight it.
            hints.enable_cpu_pinning: False,
            "CPU_RUNTIME_CACHE_CAPACITY": RUNTIME_CACHE_CAPACITY,
        },
    )
    request = compiled.create_infer_request()
    output = compiled.output(0)

    def forward(blob: np.ndarray) -> np.ndarray:
        # shares the request's buffer until the next call
        result: np.ndarray = request.infer({0: blob})[output]
        return result

    shape = compiled.input(0).get_partial_shape()
    static_hw = None if shape.is_dynamic else (shape[2].get_length(), shape[3].get_length())
    return forward, static_hw, chosen
