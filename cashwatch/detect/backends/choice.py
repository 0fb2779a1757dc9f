"""Which backend and cache folder a `ModelConfig` means; cheap, imports no runtime."""

from __future__ import annotations

import platform
from pathlib import Path
from typing import Literal

Backend = Literal["openvino", "onnxruntime", "torch"]
ExportFormat = Literal["onnx", "openvino"]

_X86 = {"x86_64", "amd64", "i386", "i686", "x86"}
# CPU flags with which OpenVINO runs the model in bf16 (AMX on Xeon 4th gen+, Zen 4).
_BF16_FLAGS = frozenset({"amx_bf16", "avx512_bf16"})


def resolve_backend(
    backend: str,
    machine: str | None = None,
    *,
    precision: str = "auto",
    weights_format: str | None = None,
    cpu_flags: frozenset[str] | None = None,
) -> Backend:
    """`auto` → OpenVINO where it is the faster runtime, ONNX Runtime elsewhere.

    Measured on CPUs (docs/benchmarks.md): OpenVINO runs bf16 on CPUs with AMX or
    AVX512-BF16 and is then ~2.4x faster than f32; on an AVX2-only CPU both run f32 at the
    same speed (66.6 ms ONNX Runtime vs 71.4 ms OpenVINO at 640 px) and ONNX Runtime
    keeps a worker ~30 MiB smaller. OpenVINO folders as weights need OpenVINO; ARM gets
    ONNX Runtime.

    Args:
        backend: The configured backend: "auto", "openvino", "onnxruntime" or "torch".
        machine: The CPU architecture as `platform.machine()` names it; None for this one.
        precision: The configured precision; "bf16" makes `auto` pick OpenVINO on x86.
        weights_format: The weights' format ("openvino" for an OpenVINO folder); None
            for .pt or .onnx weights.
        cpu_flags: The CPU's feature flags; None reads this machine's /proc/cpuinfo.

    Returns:
        The backend to run.

    Raises:
        ValueError: When `backend` is not one of the four names.

    Example:
        >>> resolve_backend("auto", machine="aarch64")
        'onnxruntime'
        >>> resolve_backend("auto", machine="x86_64", cpu_flags=frozenset({"avx2"}))
        'onnxruntime'
        >>> resolve_backend("auto", machine="x86_64", cpu_flags=frozenset({"amx_bf16"}))
        'openvino'
    """
    if backend == "auto":
        if weights_format == "openvino":
            return "openvino"
        if (machine or platform.machine()).lower() not in _X86:
            return "onnxruntime"
        flags = cpu_flags if cpu_flags is not None else _cpu_flags()
        has_bf16 = bool(flags & _BF16_FLAGS)
        return "openvino" if precision == "bf16" or has_bf16 else "onnxruntime"
    if backend in ("openvino", "onnxruntime", "torch"):
        return backend  # type: ignore[return-value]
    raise ValueError(f"model backend '{backend}' is not one of auto, openvino, onnxruntime, torch")


def _cpu_flags() -> frozenset[str]:
    """The CPU's feature flags (Linux /proc/cpuinfo); empty where that is not readable."""
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return frozenset()
    for line in text.splitlines():
        if line.startswith("flags"):
            return frozenset(line.partition(":")[2].split())
    return frozenset()


def export_format(backend: Backend) -> ExportFormat:
    """What .pt weights are exported to for a backend.

    Args:
        backend: The resolved backend, not "torch".

    Returns:
        "openvino" for OpenVINO, "onnx" for ONNX Runtime.

    Raises:
        ValueError: For the torch backend, which runs the .pt itself.
    """
    if backend == "torch":
        raise ValueError("the torch backend runs .pt weights directly; nothing to export")
    return "openvino" if backend == "openvino" else "onnx"


def cache_dir(data_dir: Path, weights_sha256: str, imgsz: int, backend: Backend) -> Path:
    """The folder an export is cached in: new weights or size, new export.

    Args:
        data_dir: CashWatch's data folder.
        weights_sha256: The .pt weights' SHA-256, hex.
        imgsz: The model's input size, pixels of the longest side.
        backend: The resolved backend.

    Returns:
        data_dir/models/<sha256[:12]>-<imgsz>-<backend>.
    """
    return Path(data_dir) / "models" / f"{weights_sha256[:12]}-{imgsz}-{backend}"


def exported_model_path(folder: Path, fmt: ExportFormat) -> Path:
    """What a backend opens in an export folder.

    Args:
        folder: The export folder (`cache_dir`).
        fmt: The export's format.

    Returns:
        folder/model.onnx for ONNX; the folder itself for OpenVINO.
    """
    return folder / "model.onnx" if fmt == "onnx" else folder
