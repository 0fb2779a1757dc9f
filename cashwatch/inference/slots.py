"""Per-camera input slots: where a worker leaves the model input for the service.

The manager makes one per camera slot (it owns every segment, so a killed worker
leaks nothing); the camera's worker writes a letterboxed image at its start and sends
the slot's name; the service reads it there. A worker has one request in flight at a
time, so one image per slot is enough; one whose deadline passed may be overwritten
while the service still reads it, and the worker then ignores that late answer.

A camera whose violence rule uses the verified method has a second one, its video
slot, for the verifier's (16, 224, 224, 3) window; the same one-in-flight rule holds.
"""

from __future__ import annotations

from multiprocessing import shared_memory
from pathlib import Path

import numpy as np

from cashwatch.inference.protocol import VIDEO_WINDOW_SHAPE
from cashwatch.shm import segments


def input_name(data_dir: Path, slot: int) -> str:
    """The segment name of camera slot `slot`'s model input."""
    return segments.prefix_for(data_dir) + f"m{slot}"


def video_input_name(data_dir: Path, slot: int) -> str:
    """The segment name of camera slot `slot`'s video window (the violence verifier's)."""
    return segments.prefix_for(data_dir) + f"v{slot}"


VIDEO_INPUT_BYTES = int(np.prod(VIDEO_WINDOW_SHAPE))  # 2.4 MB: one window, uint8


# A static-shape export (a user's OpenVINO folder) may run another size than `imgsz`;
# the segment's pages cost memory only once written, so room for the largest is free.
LARGEST_SIDE = 1280


def input_bytes(imgsz: int) -> int:
    """Room for the largest letterboxed input: its side² x 3 bytes, at least 1280 px."""
    side = max(imgsz, LARGEST_SIDE)
    return side * side * 3


class InputSlot:
    """A view of one input segment; `create` (manager) or `attach` (worker, service)."""

    def __init__(self, shm: shared_memory.SharedMemory, owner: bool) -> None:
        self._shm = shm
        self._owner = owner
        self.name = str(shm.name)
        self.size = shm.size

    @classmethod
    def create(cls, data_dir: Path, slot: int, imgsz: int) -> InputSlot:
        return cls(segments.create(input_name(data_dir, slot), input_bytes(imgsz)), owner=True)

    @classmethod
    def create_video(cls, data_dir: Path, slot: int) -> InputSlot:
        """The video slot of camera slot `slot` (only for the verified violence method)."""
        return cls(segments.create(video_input_name(data_dir, slot), VIDEO_INPUT_BYTES), owner=True)

    @classmethod
    def attach(cls, name: str) -> InputSlot:
        return cls(segments.attach(name), owner=False)

    def write(self, image: np.ndarray) -> None:
        """Copy an HxWx3 uint8 image to the slot's start; ValueError when it is too big."""
        if image.nbytes > self.size:
            raise ValueError(
                f"model input of {image.shape} ({image.nbytes} bytes) does not fit the "
                f"input slot {self.name} ({self.size} bytes)"
            )
        view = np.ndarray(image.shape, np.uint8, buffer=self._shm.buf)
        view[...] = image
        del view  # no export of the buffer may outlive close()

    def read(self, height: int, width: int) -> np.ndarray:
        """A copy of the HxWx3 image at the slot's start; ValueError when it cannot be."""
        if height <= 0 or width <= 0 or height * width * 3 > self.size:
            raise ValueError(f"no {height}x{width}x3 image fits input slot {self.name}")
        return self.read_array((height, width, 3))

    def read_array(self, shape: tuple[int, ...]) -> np.ndarray:
        """A copy of the uint8 array of `shape` at the slot's start; ValueError when it
        cannot be there."""
        if min(shape) <= 0 or int(np.prod(shape)) > self.size:
            raise ValueError(f"no {'x'.join(map(str, shape))} array fits input slot {self.name}")
        view = np.ndarray(shape, np.uint8, buffer=self._shm.buf)
        array = view.copy()
        del view
        return array

    def close(self) -> None:
        self._shm.close()
        if self._owner:
            segments.unlink_quietly(self.name)
