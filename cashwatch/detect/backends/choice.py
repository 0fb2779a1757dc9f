"""Which backend and cache folder a `ModelConfig` means; cheap, imports no runtime."""

from __future__ import annotations

import platform
from pathlib import Path
from typing import Literal

Backend = Literal["openvino", "onnxruntime", "torch"]
ExportFormat = Literal["onnx", "openvino"]

_X86 = {"x86_64", "amd64", "i386", "i686", "x86"}


def resolve_backend(backend: str, machine: str | None = None) -> Backend:
    """`auto` → OpenVINO on x86 (fastest on Intel/AMD CPUs), ONNX Runtime elsewhere (ARM).

    Example:
        >>> resolve_backend("auto", machine="aarch64")
        'onnxruntime'
    """
    if backend == "auto":
        machine = (machine or platform.machine()).lower()
        return "openvino" if machine in _X86 else "onnxruntime"
    if backend in ("openvino", "onnxruntime", "torch"):
        return backend  # type: ignore[return-value]
    raise ValueError(f"model backend '{backend}' is not one of auto, openvino, onnxruntime, torch")


def export_format(backend: Backend) -> ExportFormat:
    """What .pt weights are exported to for a backend (torch runs the .pt itself)."""
    if backend == "torch":
        raise ValueError("the torch backend runs .pt weights directly; nothing to export")
    return "openvino" if backend == "openvino" else "onnx"


def cache_dir(data_dir: Path, weights_sha256: str, imgsz: int, backend: Backend) -> Path:
    """data_dir/models/<weights sha256[:12]>-<imgsz>-<backend>: new weights or size, new export."""
    return Path(data_dir) / "models" / f"{weights_sha256[:12]}-{imgsz}-{backend}"


def exported_model_path(folder: Path, fmt: ExportFormat) -> Path:
    """The file a backend opens inside an export folder: model.onnx, or the folder (OpenVINO)."""
    return folder / "model.onnx" if fmt == "onnx" else folder
