"""Fixtures for the fault tests: clips that make events, and a small tmpfs for a full disk."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import require_media
from tests.faults.helpers import FIRE_CLIP, write_fire_loop


@pytest.fixture(scope="session")
def fire_loop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """12 s of real flames then black: one fire event per pass of the looped file."""
    return write_fire_loop(
        require_media(FIRE_CLIP), tmp_path_factory.mktemp("fire") / "fire_loop.ts"
    )


@pytest.fixture
def small_tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A 48 MiB tmpfs: a disk that really fills (ENOSPC), unlike a file-size limit.

    Mounting needs root (CAP_SYS_ADMIN); elsewhere the test skips and says so.
    """
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=48m", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)
