"""Shared fixtures: where the real test media is, and small videos made at test time."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

pytest_plugins = ["tests.support.rtsp"]

REPO = Path(__file__).resolve().parents[1]
MEDIA = Path(os.environ.get("CASHWATCH_MEDIA", REPO.parent / "shared" / "media"))


_PYTEST_MAIN = sys.modules["__main__"]


@pytest.fixture(autouse=True)
def _main_module_restored() -> Iterator[None]:
    """Streamlit's script runner (AppTest) installs each page script as
    sys.modules["__main__"] and never puts the real one back; a child started with
    multiprocessing's spawn re-runs __main__ first, so after a page test it ran the
    dashboard's app.py instead of its target."""
    yield
    sys.modules["__main__"] = _PYTEST_MAIN


def require_media(relative: str) -> Path:
    """Path of a file in ../shared/media.

    Skips without it, but fails in CI (CASHWATCH_REQUIRE_MEDIA=1).
    """
    path = MEDIA / relative
    if not path.exists():
        message = f"test media {path} is missing (it lives in ../shared/media)"
        if os.environ.get("CASHWATCH_REQUIRE_MEDIA") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture
def media() -> type:
    class _Media:
        root = MEDIA
        get = staticmethod(require_media)

    return _Media


def write_test_video(
    path: Path,
    *,
    seconds: float = 3.0,
    fps: float = 15.0,
    size_wh: tuple[int, int] = (320, 240),
    marker_frame: int | None = None,
) -> Path:
    """A small MJPG/AVI (OpenCV's pip wheels write it everywhere): a moving bar, a counter.

    With `marker_frame`, that frame is solid magenta so it can be found again in a clip.
    """
    width, height = size_wh
    fourcc = cv2.VideoWriter_fourcc(*"MJPG")  # type: ignore[attr-defined]
    writer = cv2.VideoWriter(str(path), fourcc, fps, (width, height))
    assert writer.isOpened(), f"OpenCV cannot write {path}"
    for index in range(round(seconds * fps)):
        frame = np.full((height, width, 3), 40, np.uint8)
        x = int(index * 7 % width)
        frame[:, max(0, x - 10) : x + 10] = (0, 200, 0)
        cv2.putText(frame, str(index), (10, 30), cv2.FONT_HERSHEY_SIMPLEX, 1, (255, 255, 255), 2)
        if marker_frame is not None and index == marker_frame:
            frame[:] = (255, 0, 255)
        writer.write(frame)
    writer.release()
    return path


@pytest.fixture
def make_video(tmp_path: Path):
    def _make(name: str = "cam.avi", **kwargs) -> Path:
        return write_test_video(tmp_path / name, **kwargs)

    return _make


@pytest.fixture(scope="session")
def openvino_model_dir() -> Path:
    """yolo11n-pose exported to OpenVINO once per test run (git-ignored cache).

    Cameras in end-to-end tests point `[model] weights` at it, so each test's manager
    does not export again.
    """
    from cashwatch.config.detection import ModelConfig
    from cashwatch.detect.backends import prepare_model

    cache = REPO / ".pytest_cache" / "cashwatch-models"
    return prepare_model(ModelConfig(backend="openvino"), cache)


@pytest.fixture(scope="session")
def video_model_file() -> Path:
    """The I3D video model exported to ONNX once per test run (the same git-ignored cache).

    Managers in end-to-end tests get it through `share_video_model`, so each test's
    manager finds it in its data folder instead of exporting again (~9 s).
    """
    from cashwatch.detect.video_features import ensure_video_model

    return ensure_video_model(REPO / ".pytest_cache" / "cashwatch-models")


@pytest.fixture(scope="session")
def fire_models() -> dict[str, Path]:
    """Real YOLO fire models whose opinion is known (tests.support.fire_models): "always",
    "never" and "no_fire" (no fire class), built once per test run (the same cache)."""
    from tests.support.fire_models import build

    return build(REPO / ".pytest_cache" / "cashwatch-models" / "fire")


def share_video_model(data_dir: Path, video_model_file: Path) -> None:
    """Make a data folder's models/ hold the cached video model export (a link to it).

    `ensure_video_model` keys its cache by the checkpoint's hash, the folder's name.
    """
    models = data_dir / "models"
    models.mkdir(parents=True, exist_ok=True)
    (models / video_model_file.parent.name).symlink_to(video_model_file.parent)
