"""`load_pose_model`: the one place a worker turns a `ModelConfig` into a `PoseModel`."""

from __future__ import annotations

from pathlib import Path

from cashwatch.config.detection import ModelConfig
from cashwatch.detect.backends.choice import resolve_backend
from cashwatch.detect.backends.exported import ExportedPoseModel
from cashwatch.detect.backends.prepare import prepare_model
from cashwatch.detect.model import BatchPoseModel
from cashwatch.detect.offline import configure_offline
from cashwatch.detect.weights import resolve_weights


def model_name(stem: str, backend: str, precision: str, imgsz: int) -> str:
    """The model's name stored with every event.

    Args:
        stem: The weights' file name without its suffix, e.g. "yolo11n-pose".
        backend: The resolved backend.
        precision: The precision it runs at ("f32", "f16", "bf16").
        imgsz: The input size, pixels of the longest side.

    Returns:
        E.g. "yolo11n-pose@openvino-f32-640".
    """
    return f"{stem}@{backend}-{precision}-{imgsz}"


def load_pose_model(model: ModelConfig, data_dir: Path) -> BatchPoseModel:
    """Open the configured model on its backend; exports first if the manager has not.

    The openvino and onnxruntime backends import neither torch nor ultralytics.

    Args:
        model: The model settings (weights, backend, precision, size, thresholds).
        data_dir: CashWatch's data folder (relative weights, export cache, runtime
            settings).

    Returns:
        The model, ready to `predict`.

    Raises:
        WeightsError: When the weights cannot be found or the backend cannot run them.
        ExportError: When exporting .pt weights fails.
        ValueError: When the backend or precision is unknown, or a precision other than
            f32 is asked of a backend other than OpenVINO.

    Example (boxes come back as an (n, 4) array in frame pixels):
        >>> pose_model = load_pose_model(ModelConfig(), Path("/srv/cw"))  # doctest: +SKIP
        >>> pose_model.predict(frame_bgr).xyxy  # doctest: +SKIP
    """
    configure_offline(data_dir)  # before a runtime (or ultralytics) is imported
    weights = resolve_weights(model.weights, base_dir=data_dir)
    backend = resolve_backend(
        model.backend, precision=model.precision, weights_format=weights.format
    )
    path = prepare_model(model, data_dir)
    stem = weights.stem
    if backend == "openvino":
        from cashwatch.detect.backends.openvino_runtime import open_openvino

        forward, static_hw, precision = open_openvino(path, model.threads, model.precision)
    elif backend == "onnxruntime":
        from cashwatch.detect.backends.onnx_runtime import open_onnxruntime

        _require_f32(model.precision, backend)
        forward, static_hw = open_onnxruntime(path, model.threads)
        precision = "f32"
    else:
        from cashwatch.detect.backends.torch_runtime import TorchPoseModel

        _require_f32(model.precision, backend)
        return TorchPoseModel(
            model_name(stem, backend, "f32", model.imgsz),
            path,
            model.imgsz,
            model.device,
            model.threads,
            model.conf,
            model.iou,
        )
    return ExportedPoseModel(
        model_name(stem, backend, precision, model.imgsz),
        forward,
        model.imgsz,
        static_hw,
        model.conf,
        model.iou,
    )


def _require_f32(precision: str, backend: str) -> None:
    if precision not in ("auto", "f32"):
        raise ValueError(
            f"model precision '{precision}' needs the openvino backend; "
            f"the {backend} backend runs f32 (use 'auto' or 'f32')"
        )
