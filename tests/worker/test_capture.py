"""Sources whose names are not ASCII, and sources OpenCV refuses: the reader runs them or
reports a clear error and keeps retrying; it never dies on them."""

from __future__ import annotations

import threading
import unicodedata
from collections.abc import Iterator
from pathlib import Path

import pytest

from cashwatch.config import CameraConfig
from cashwatch.worker.capture import SourceError, open_source
from cashwatch.worker.reader import FrameReader
from tests.conftest import write_test_video
from tests.support.http_folder import serve_folder

KOREAN_NAME = "입구 카메라 é"  # Hangul syllables and an accent: NFC and NFD differ


class ReaderProbe:
    """A FrameReader on a real source, its states and frames recorded."""

    def __init__(self, source: str) -> None:
        self.states: list[tuple[str, str | None]] = []
        self.frames = 0
        self.changed = threading.Condition()
        self.stop = threading.Event()
        camera = CameraConfig(
            id="cam", source=source, pace=False, open_timeout_s=3.0, read_timeout_s=3.0
        )
        self.reader = FrameReader(camera, self._on_frame, self._on_state, self.stop)

    def _on_frame(self, frame: object, ts: float) -> None:
        with self.changed:
            self.frames += 1
            self.changed.notify_all()

    def _on_state(self, state: str, error: str | None) -> None:
        with self.changed:
            self.states.append((state, error))
            self.changed.notify_all()

    def wait(self, condition: str, timeout_s: float = 15.0) -> None:
        checks = {
            "frames": lambda: self.frames >= 5,
            "error": lambda: any(state == "error" for state, _ in self.states),
        }
        with self.changed:
            assert self.changed.wait_for(checks[condition], timeout_s), (
                f"no {condition} within {timeout_s} s; states {self.states}"
            )

    def __enter__(self) -> ReaderProbe:
        self.reader.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        self.reader.join(10)
        assert not self.reader.is_alive()


def _video(folder: Path, name: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return write_test_video(folder / name, seconds=1.0)


def test_a_file_with_a_korean_and_accented_name_is_read(tmp_path: Path) -> None:
    path = _video(tmp_path / "카메라 café", f"{KOREAN_NAME}.avi")
    with ReaderProbe(str(path)) as probe:
        probe.wait("frames")
        assert probe.reader.is_alive()
        assert ("running", None) in probe.states


def test_a_name_copied_from_a_mac_nfd_is_found_from_the_nfc_config(tmp_path: Path) -> None:
    nfd_name = unicodedata.normalize("NFD", f"{KOREAN_NAME}.avi")
    path = _video(tmp_path, nfd_name)
    typed = unicodedata.normalize("NFC", str(path))
    assert typed != str(path) and not Path(typed).exists(), "the two forms differ on disk"
    with ReaderProbe(typed) as probe:
        probe.wait("frames")


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("²", "file not found: "),  # str.isdigit, but not a webcam index int() takes
        ("①", "file not found: "),
        ("99999999999999999999", "OpenCV cannot open 99999999999999999999"),
        ("/nonexistent/입구.avi", "file not found: /nonexistent/입구.avi"),
    ],
)
def test_a_source_opencv_refuses_is_an_error_the_reader_survives(
    source: str, expected: str
) -> None:
    with pytest.raises(SourceError, match=expected.split(":")[0]):
        open_source(source, open_timeout_s=1.0)
    with ReaderProbe(source) as probe:
        probe.wait("error")
        assert probe.reader.is_alive(), "the reader thread keeps retrying"
        errors = [error for state, error in probe.states if state == "error"]
        assert errors and expected in str(errors[0]), errors


@pytest.fixture
def http_folder(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A plain HTTP server on loopback serving `tmp_path`."""
    with serve_folder(tmp_path) as base:
        yield tmp_path, base


def test_an_http_url_with_a_korean_path_is_read(http_folder: tuple[Path, str]) -> None:
    folder, base = http_folder
    _video(folder, "입구.avi")
    with ReaderProbe(f"{base}/입구.avi") as probe:
        probe.wait("frames")
