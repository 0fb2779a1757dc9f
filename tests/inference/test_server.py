"""A real service loop (in a thread) with the real pose model, real sockets and slots."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from cashwatch.detect.model import BatchPoseModel, ModelUnavailable
from cashwatch.inference.client import InferenceUnavailable, RemotePoseModel
from cashwatch.inference.protocol import receive_message, send_message, socket_path
from cashwatch.inference.slots import InputSlot
from tests.conftest import require_media
from tests.harness import wait_for
from tests.inference.service_thread import ServiceThread as Service


@pytest.fixture(scope="module")
def model(pose: BatchPoseModel) -> BatchPoseModel:
    return pose


@pytest.fixture(scope="module")
def frames() -> list[np.ndarray]:
    capture = cv2.VideoCapture(
        str(require_media("video/a2_counter_cashier_customer__fightsurv_nofi100.mp4"))
    )
    read = []
    while len(read) < 60:
        ok, frame = capture.read()
        if not ok:
            break
        read.append(frame)
    capture.release()
    return read[::15]  # a cashier and a customer in every frame


@pytest.fixture
def service(tmp_path: Path, model: BatchPoseModel) -> Iterator[Service]:
    running = Service(tmp_path, model, batch_wait_s=0.03)
    yield running
    running.stop()


@pytest.fixture
def slots(tmp_path: Path) -> Iterator[list[InputSlot]]:
    made = [InputSlot.create(tmp_path, slot, 640) for slot in range(3)]
    yield made
    for slot in made:
        slot.close()


def _remote(service: Service, slot: InputSlot, timeout_s: float = 5.0) -> RemotePoseModel:
    return RemotePoseModel([service.path], slot.name, timeout_s, fallback_name="waiting")


def test_the_service_finds_the_same_people_as_the_model_in_the_worker(
    service: Service, slots: list[InputSlot], model: BatchPoseModel, frames: list[np.ndarray]
) -> None:
    remote = _remote(service, slots[0])
    assert remote.name == "waiting" and not remote.any_size  # nothing known before it asks
    people = 0
    for frame in frames:
        for crop, imgsz in ((frame, None), (frame[100:500, 200:900], 416)):
            here, there = model.predict(crop, imgsz), remote.predict(crop, imgsz)
            np.testing.assert_allclose(there.xyxy, here.xyxy, atol=1e-3)
            np.testing.assert_allclose(there.keypoints, here.keypoints, atol=1e-3)
            people += len(there)
    assert people >= 5, "the footage has people: the comparison must compare some"
    assert remote.name == model.name and remote.any_size == model.any_size
    wait_for(lambda: service.latest().requests == 2 * len(frames), 5, "every request reported")
    remote.close()


def test_requests_of_several_cameras_at_once_run_as_one_batch(
    service: Service, slots: list[InputSlot], model: BatchPoseModel, frames: list[np.ndarray]
) -> None:
    remotes = [_remote(service, slot) for slot in slots]
    for remote in remotes:
        remote.predict(frames[0])  # connected, model known
    expected = [model.predict(frames[i]) for i in range(3)]
    found: dict[int, object] = {}
    gate = threading.Barrier(3)

    def ask(i: int) -> None:
        gate.wait()
        found[i] = remotes[i].predict(frames[i])

    for _attempt in range(5):  # three threads sent within the 30 ms wait, almost always
        threads = [threading.Thread(target=ask, args=(i,)) for i in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        if max(remote.last_batch for remote in remotes) > 1:
            break
    assert max(remote.last_batch for remote in remotes) > 1, "never batched in 5 tries"
    for i in range(3):  # each camera got its own frame's people back
        np.testing.assert_allclose(found[i].xyxy, expected[i].xyxy, atol=1e-3)  # type: ignore[attr-defined]
    assert wait_for(lambda: max(r.batch_max for r in service.reports), 5, "batch_max") > 1
    for remote in remotes:
        remote.close()


def test_a_request_past_its_deadline_is_dropped_counted_and_answered(
    service: Service, slots: list[InputSlot]
) -> None:
    slots[0].write(np.zeros((384, 640, 3), np.uint8))
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(10)
        sock.connect(str(service.path))
        buffer = bytearray()
        hello, _ = receive_message(sock, buffer)
        assert "pose" in hello["models"]
        request = {"id": 5, "model": "pose", "slot": slots[0].name, "h": 384, "w": 640}
        send_message(sock, {**request, "fh": 720, "fw": 1280, "deadline": time.time() - 1})
        answer, _ = receive_message(sock, buffer)
    assert answer["id"] == 5 and answer["ok"] is False and "deadline" in answer["error"]
    assert wait_for(lambda: service.reports[-1].dropped, 5, "the drop counted") == 1


def test_a_bad_request_closes_only_that_connection(
    service: Service, slots: list[InputSlot], frames: list[np.ndarray], tmp_path: Path
) -> None:
    good = _remote(service, slots[0])
    good.predict(frames[0])
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(10)
        sock.connect(str(service.path))
        buffer = bytearray()
        receive_message(sock, buffer)
        # another installation's segment (or any other name) is never opened
        send_message(sock, {"id": 1, "model": "pose", "slot": "psm_other", "h": 1, "w": 1})
        with pytest.raises(ConnectionError):
            receive_message(sock, buffer)
    assert len(good.predict(frames[-1])) >= 0  # the other camera is still served
    good.close()


def test_without_a_service_a_camera_waits_no_longer_than_its_deadline(
    tmp_path: Path, slots: list[InputSlot], frames: list[np.ndarray]
) -> None:
    missing = RemotePoseModel([socket_path(tmp_path, 7)], slots[0].name, 0.5, "waiting")
    with pytest.raises(InferenceUnavailable, match=r"inference-7 is down \(FileNotFoundError"):
        missing.predict(frames[0])
    # a service that accepts but never answers (hung): the deadline ends the wait
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(socket_path(tmp_path, 8)))
    listener.listen(1)
    hung = RemotePoseModel([socket_path(tmp_path, 8)], slots[0].name, 0.5, "waiting")
    started = time.monotonic()
    with pytest.raises(ModelUnavailable):  # what the pipeline catches
        hung.predict(frames[0])
    assert time.monotonic() - started < 3.0  # the 0.5 s deadline, not a socket default
    assert missing.dropped == hung.dropped == 1
    listener.close()


def test_a_camera_says_why_its_service_is_down_as_the_manager_knows_it(
    tmp_path: Path, slots: list[InputSlot], frames: list[np.ndarray]
) -> None:
    remote = RemotePoseModel(
        [socket_path(tmp_path, 0), socket_path(tmp_path, 1)],
        slots[0].name,
        0.5,
        "waiting",
        why_down=lambda index: f"exited with code 1: WeightsError (service {index})",
    )
    with pytest.raises(InferenceUnavailable) as raised:
        remote.predict(frames[0])
    assert str(raised.value) == (
        "inference-0 is down (exited with code 1: WeightsError (service 0)); "
        "inference-1 is down (exited with code 1: WeightsError (service 1))"
    )
