"""The config watcher: real files, real inotify through watchdog."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from cashwatch.manager.watcher import DEBOUNCE_S, ConfigWatcher


def _changed_within(watcher: ConfigWatcher, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if watcher.changed():
            return True
        time.sleep(0.02)  # polling the watcher as the manager loop does
    return False


@pytest.fixture
def watched(tmp_path: Path) -> Iterator[tuple[Path, ConfigWatcher]]:
    config = tmp_path / "cashwatch.toml"
    config.write_text("[manager]\n")
    watcher = ConfigWatcher(config)
    watcher.start()
    yield config, watcher
    watcher.stop()


def test_reading_the_config_is_not_a_change(watched: tuple[Path, ConfigWatcher]) -> None:
    # The manager's own reload and the dashboard both read the file: if opening it
    # counted, every reload would cause the next one.
    config, watcher = watched
    for _ in range(5):
        config.read_text()
    assert not _changed_within(watcher, DEBOUNCE_S * 4)


def test_writing_the_config_is_one_change(watched: tuple[Path, ConfigWatcher]) -> None:
    config, watcher = watched
    config.write_text("[manager]\nmax_cameras = 4\n")
    assert _changed_within(watcher, 5.0)
    config.read_text()  # the reload that follows
    assert not _changed_within(watcher, DEBOUNCE_S * 4)


def test_replacing_the_config_by_rename_is_a_change(watched: tuple[Path, ConfigWatcher]) -> None:
    # Editors and the dashboard save by writing a temp file and renaming it over.
    config, watcher = watched
    temp = config.with_suffix(".tmp")
    temp.write_text("[manager]\nmax_cameras = 3\n")
    temp.replace(config)
    assert _changed_within(watcher, 5.0)
