"""Video requests (the violence verifier's windows) through a real service loop, with the
real I3D model, real sockets and real shared-memory slots."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from cashwatch.detect.model import BatchPoseModel
from cashwatch.detect.video_features import VideoFeatureModel, prepare_window
from cashwatch.detect.video_verifier import LocalVideoVerifier
from cashwatch.inference.client import RemotePoseModel
from cashwatch.inference.protocol import receive_message, send_message, socket_path
from cashwatch.inference.slots import InputSlot, video_input_name
from cashwatch.inference.video_client import RemoteVideoVerifier
from cashwatch.rules.violence_features import FEATURE_NAMES
from cashwatch.rules.violence_trigger import Candidate
from cashwatch.rules.violence_verified import Verdict, VerifyRequest
from tests.conftest import require_media
from tests.harness import wait_for
from tests.inference.service_thread import ServiceThread as Service

pytestmark = pytest.mark.media

FIGHT = "video/v1_fight_at_shop_counter__fightsurv_fi082.mp4"
# around the two men at the counter, in pixels of the 426x240 clip
FIGHTERS_BOX = (120.0, 20.0, 330.0, 240.0)


@pytest.fixture(scope="module")
def video(video_model_file: Path) -> VideoFeatureModel:
    return VideoFeatureModel(video_model_file, threads=1)


@pytest.fixture(scope="module")
def ring() -> list[np.ndarray]:
    """16 sampled frames of the fight clip (25 frames/s, every 3rd: ~8 a second)."""
    capture = cv2.VideoCapture(str(require_media(FIGHT)))
    frames = []
    while len(frames) < 48:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    capture.release()
    return frames[::3][:16]


def request_of(ring: list[np.ndarray], box: tuple[float, float, float, float] = FIGHTERS_BOX):
    candidate = Candidate(1.0, "pair", box, np.zeros(len(FEATURE_NAMES)))
    return VerifyRequest(candidate, list(ring), 1.0)


@pytest.fixture
def video_slots(tmp_path: Path) -> Iterator[list[InputSlot]]:
    made = [InputSlot.create_video(tmp_path, slot) for slot in range(3)]
    yield made
    for slot in made:
        slot.close()


def verdict_of(verifier: RemoteVideoVerifier, timeout_s: float = 30.0) -> Verdict:
    verdicts = wait_for(verifier.poll, timeout_s, "a verdict", interval_s=0.01)
    assert len(verdicts) == 1
    return verdicts[0]  # type: ignore[no-any-return]


def test_the_first_service_answers_the_features_the_model_gives_in_process(
    tmp_path: Path,
    pose: BatchPoseModel,
    video: VideoFeatureModel,
    ring: list[np.ndarray],
    video_slots: list[InputSlot],
) -> None:
    service = Service(tmp_path, pose, video=video)
    verifier = RemoteVideoVerifier(service.path, video_slots[0].name, timeout_s=30.0)
    try:
        request = request_of(ring)
        assert verifier.submit(request)
        assert not verifier.submit(request), "one request in flight at a time"
        verdict = verdict_of(verifier)
        assert verdict.request is request and verdict.error == ""
        local = LocalVideoVerifier(video)
        local.submit(request)
        [here] = local.poll()
        assert here.video is not None and verdict.video is not None
        assert verdict.video.shape == (1024,) and verdict.video.dtype == np.float32
        np.testing.assert_allclose(verdict.video, here.video, rtol=1e-5, atol=1e-5)
        expected, _ = video.features(prepare_window(ring, FIGHTERS_BOX))
        np.testing.assert_allclose(verdict.video, expected, rtol=1e-5, atol=1e-5)
        times = []
        for _ in range(3):
            assert verifier.submit(request)
            verdict_of(verifier)
            times.append(verifier.last_ms)
        report = wait_for(lambda: service.reports[-1].videos == 4 and service.reports[-1], 5, "4")
        print(
            f"one verification through the service: {min(times):.0f} ms round trip "
            f"({report.video_ms:.0f} ms in the model)"
        )
        assert report.requests == 0, "video windows are not counted as pose requests"
        assert "video=" in report.models
    finally:
        verifier.close()
        service.stop()


def test_a_pose_request_does_not_wait_for_video_windows(
    tmp_path: Path,
    pose: BatchPoseModel,
    video: VideoFeatureModel,
    ring: list[np.ndarray],
    video_slots: list[InputSlot],
) -> None:
    """Windows run on the video model's own thread: three cameras' windows sent first,
    a pose request asked while the first runs is answered before it finishes."""
    service = Service(tmp_path, pose, video=video)
    pose_slot = InputSlot.create(tmp_path, 9, 640)
    camera = RemotePoseModel([service.path], pose_slot.name, 30.0, "waiting")
    sockets = []
    try:
        camera.predict(ring[0])  # connected
        window = prepare_window(ring, FIGHTERS_BOX)
        for number, slot in enumerate(video_slots):  # three cameras' windows, sent first
            slot.write(window)
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(60)
            sock.connect(str(service.path))
            receive_message(sock, bytearray())
            send_message(
                sock, {"id": number, "model": "video", "slot": slot.name, "deadline": 1e12}
            )
            sockets.append(sock)
        wait_for(lambda: service.server._lane.busy, 10, "the first window to start")  # type: ignore[union-attr]
        asked = time.monotonic()
        found = camera.predict(ring[-1])
        posed = time.monotonic()
        answered = []
        for sock in sockets:
            answer, body = receive_message(sock, bytearray())
            assert answer["ok"] and len(body) == 1024 * 4
            answered.append(time.monotonic())
        video_s = service.reports[-1].video_ms / 1000.0
        print(
            f"pose answered in {posed - asked:.2f} s while three video windows "
            f"of {video_s:.2f} s each ran"
        )
        assert len(found) > 0
        # asked while the first window ran, answered before it finished: it never waited
        assert answered[0] > posed, "the pose request waited for a video window"
        # reported every 0.5 s: the count may trail the answers just read
        wait_for(lambda: service.reports[-1].videos == 3, 5, "three windows counted")
    finally:
        for sock in sockets:
            sock.close()
        camera.close()
        pose_slot.close()
        service.stop()


def test_another_service_says_which_hosts_the_video_model(
    tmp_path: Path, pose: BatchPoseModel, ring: list[np.ndarray], video_slots: list[InputSlot]
) -> None:
    service = Service(
        tmp_path,
        pose,
        index=1,
        no_video="inference-1 hosts no video model; send video requests to inference-0",
    )
    verifier = RemoteVideoVerifier(service.path, video_slots[0].name, timeout_s=5.0)
    try:
        assert verifier.submit(request_of(ring))
        verdict = verdict_of(verifier)
        assert verdict.video is None
        assert verdict.error == (
            "inference-1: inference-1 hosts no video model; send video requests to inference-0"
        )
    finally:
        verifier.close()
        service.stop()


def test_a_video_request_naming_a_pose_slot_closes_its_connection(
    tmp_path: Path, pose: BatchPoseModel, video: VideoFeatureModel
) -> None:
    service = Service(tmp_path, pose, video=video)
    pose_slot = InputSlot.create(tmp_path, 0, 640)
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(10)
            sock.connect(str(service.path))
            buffer = bytearray()
            receive_message(sock, buffer)
            header = {"id": 1, "model": "video", "slot": pose_slot.name, "deadline": 1e12}
            send_message(sock, header)
            with pytest.raises(ConnectionError):
                receive_message(sock, buffer)
        assert video_input_name(tmp_path, 0).endswith("_v0")
    finally:
        pose_slot.close()
        service.stop()


def test_a_service_down_or_silent_gives_an_error_verdict_by_the_deadline(
    tmp_path: Path, ring: list[np.ndarray], video_slots: list[InputSlot]
) -> None:
    down = RemoteVideoVerifier(
        socket_path(tmp_path, 0),
        video_slots[0].name,
        timeout_s=0.5,
        why_down=lambda: "exited with SIGKILL; restarting in 0.5 s",
    )
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(socket_path(tmp_path, 5)))
    listener.listen(1)  # accepts, never says a word: a hung service
    hung = RemoteVideoVerifier(socket_path(tmp_path, 5), video_slots[1].name, timeout_s=0.5)
    try:
        assert down.submit(request_of(ring))
        assert verdict_of(down, 5).error == (
            "inference-0 is down (exited with SIGKILL; restarting in 0.5 s)"
        )
        started = time.monotonic()
        assert hung.submit(request_of(ring))
        verdict = verdict_of(hung, 5)
        assert verdict.video is None and "inference-5 is down" in verdict.error
        assert time.monotonic() - started < 3.0, "the deadline ends the wait"
        assert hung.submit(request_of(ring)), "free again after an error verdict"
    finally:
        down.close()
        hung.close()
        listener.close()


def test_frames_no_window_can_be_made_of_give_an_error_verdict(
    tmp_path: Path, video_slots: list[InputSlot]
) -> None:
    verifier = RemoteVideoVerifier(socket_path(tmp_path, 0), video_slots[0].name, timeout_s=1.0)
    try:
        frames = [np.zeros((240, 426, 3), np.uint8), np.zeros((100, 100, 3), np.uint8)]
        assert verifier.submit(request_of(frames))
        assert "cannot make the video window" in verdict_of(verifier, 5).error
    finally:
        verifier.close()
