"""The service's messages, slots and batching policy, without a service."""

from __future__ import annotations

import socket
import struct
from pathlib import Path

import numpy as np
import pytest

from cashwatch.core.poses import Poses
from cashwatch.inference.batching import Pending, make_batches, split_expired
from cashwatch.inference.protocol import (
    ModelInfo,
    ProtocolError,
    poses_from_bytes,
    poses_to_bytes,
    receive_message,
    send_message,
    socket_dir,
    take_message,
)
from cashwatch.inference.slots import InputSlot, input_name


def test_a_message_crosses_a_real_socket_pair_whole_even_in_pieces() -> None:
    left, right = socket.socketpair()
    with left, right:
        body = bytes(range(256)) * 10
        send_message(left, {"id": 7, "ok": True}, body)
        send_message(left, {"id": 8}, b"")
        buffer = bytearray()
        assert receive_message(right, buffer) == ({"id": 7, "ok": True}, body)
        assert receive_message(right, buffer) == ({"id": 8}, b"")
    # a message cut anywhere is incomplete, never misread
    whole = bytearray(struct.pack("<II", 9, 3) + b'{"id": 1}' + b"abc")
    for cut in range(len(whole)):
        assert take_message(bytearray(whole[:cut])) is None
    assert take_message(whole) == ({"id": 1}, b"abc") and whole == b""


def test_garbage_is_refused_with_a_reason() -> None:
    with pytest.raises(ProtocolError, match="too long"):
        take_message(bytearray(struct.pack("<II", 2**30, 0)))
    with pytest.raises(ProtocolError, match="not JSON"):
        take_message(bytearray(struct.pack("<II", 3, 0) + b"{{{"))
    with pytest.raises(ProtocolError, match="JSON object"):
        take_message(bytearray(struct.pack("<II", 2, 0) + b"[]"))
    with pytest.raises(ProtocolError, match="56 floats for 2 people"):
        poses_from_bytes(np.zeros(56, np.float32).tobytes(), 2)


def test_poses_survive_the_trip_as_bytes() -> None:
    rng = np.random.default_rng(1)
    poses = Poses(rng.random((3, 4)) * 640, rng.random(3), rng.random((3, 17, 3)))
    back = poses_from_bytes(poses_to_bytes(poses), len(poses))
    np.testing.assert_array_equal(back.xyxy, poses.xyxy)
    np.testing.assert_array_equal(back.conf, poses.conf)
    np.testing.assert_array_equal(back.keypoints, poses.keypoints)
    assert len(poses_from_bytes(poses_to_bytes(Poses.empty()), 0)) == 0


def test_model_info_round_trip() -> None:
    for info in (ModelInfo("m", 640, None), ModelInfo("m", 640, (640, 640))):
        assert ModelInfo.from_json(info.as_json()) == info
    assert ModelInfo("m", 640, None).any_size and not ModelInfo("m", 640, (640, 640)).any_size


def test_socket_folder_is_owner_only_and_short_enough(tmp_path: Path) -> None:
    short = socket_dir(tmp_path)
    assert short == tmp_path / "run" and short.stat().st_mode & 0o777 == 0o700
    deep = tmp_path / ("d" * 120)
    folder = socket_dir(deep)
    assert len(str(folder / "inference-99.sock")) <= 108  # sun_path
    assert folder.stat().st_mode & 0o777 == 0o700
    assert socket_dir(deep) == folder  # the same installation finds it again


def test_an_input_slot_holds_one_image_and_refuses_a_bigger_one(tmp_path: Path) -> None:
    made = InputSlot.create(tmp_path, 3, 64)
    try:
        assert made.name == input_name(tmp_path, 3)
        seen = InputSlot.attach(made.name)
        image = np.arange(32 * 64 * 3, dtype=np.uint8).reshape(32, 64, 3)
        made.write(image)
        np.testing.assert_array_equal(seen.read(32, 64), image)
        assert made.size == 1280 * 1280 * 3  # a static export of another size fits too
        with pytest.raises(ValueError, match="does not fit"):
            made.write(np.zeros((1281, 1280, 3), np.uint8))
        with pytest.raises(ValueError, match="no 1281x1280x3 image"):
            seen.read(1281, 1280)
        seen.close()
    finally:
        made.close()
    with pytest.raises(FileNotFoundError):
        InputSlot.attach(input_name(tmp_path, 3))  # the owner's close unlinked it


def _pending(client: int, hw: tuple[int, int], received: float, deadline: float = 9.0) -> Pending:
    return Pending(client, 1, "pose", "slot", hw, (720, 1280), deadline, received)


def test_batches_join_one_shape_oldest_first_and_split_at_the_limit() -> None:
    wide, square = (384, 640), (320, 320)
    waiting = [_pending(i, wide if i != 2 else square, received=float(i)) for i in range(5)]
    batches = make_batches(waiting, max_batch=3)
    assert [[p.client for p in batch] for batch in batches] == [[0, 1, 3], [4], [2]]
    with pytest.raises(ValueError, match="at least 1"):
        make_batches(waiting, 0)


def test_requests_past_their_deadline_are_set_apart() -> None:
    waiting = [_pending(i, (384, 640), float(i), deadline=10.0 + i) for i in range(4)]
    live, expired = split_expired(waiting, now=11.5)
    assert [p.client for p in expired] == [0, 1] and [p.client for p in live] == [2, 3]
