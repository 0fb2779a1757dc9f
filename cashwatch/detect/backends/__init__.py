"""Pose inference backends: OpenVINO and ONNX Runtime (numpy/OpenCV only) and torch.

Importing this package is cheap: runtimes are imported only by `load_pose_model`.
"""

from cashwatch.detect.backends.choice import resolve_backend
from cashwatch.detect.backends.loader import load_pose_model, model_name
from cashwatch.detect.backends.prepare import ExportError, prepare_model

__all__ = ["ExportError", "load_pose_model", "model_name", "prepare_model", "resolve_backend"]
