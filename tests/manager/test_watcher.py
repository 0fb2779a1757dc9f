"""The config watcher: real files, real inotify through watchdog."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import tomlkit

from cashwatch.manager.watcher import DEBOUNCE_S, ConfigWatcher, file_stamp
from cashwatch.status import read_status
from tests.harness import REPO, camera_entry, wait_for, write_config


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


def test_an_edit_between_loading_and_watching_is_a_change(tmp_path: Path) -> None:
    config = tmp_path / "cashwatch.toml"
    config.write_text("[manager]\n")
    loaded_stamp = file_stamp(config)  # as the manager stamps the file it is about to read
    config.write_text("[manager]\nmax_cameras = 4\n")  # edited before the watcher starts
    watcher = ConfigWatcher(config, since=loaded_stamp)
    watcher.start()
    try:
        assert _changed_within(watcher, DEBOUNCE_S * 4)
        assert not _changed_within(watcher, DEBOUNCE_S * 2), "one change, seen once"
    finally:
        watcher.stop()


# The manager in a process of its own whose audit hook edits the config right after the
# manager read it: when it makes its logs folder (after loading the config, before it
# starts watching). Exactly the window in which an edit used to go unnoticed.
EDIT_AFTER_LOAD = """
import os, sys
from cashwatch.cli import main
config, late_camera = sys.argv[1], sys.argv[2]
done = []
def hook(event, args):
    if event == "os.mkdir" and not done and os.fsdecode(args[0]).endswith("/logs"):
        done.append(True)
        with open(config, "a") as handle:
            handle.write(late_camera)
sys.addaudithook(hook)
sys.exit(main(["run", "--config", config]))
"""


@pytest.mark.slow
def test_the_manager_sees_an_edit_made_while_it_starts(tmp_path: Path, make_video) -> None:
    config = write_config(tmp_path / "cashwatch.toml", [camera_entry("first", make_video())])
    late = tomlkit.dumps({"cameras": [camera_entry("late", make_video("late.avi"))]})
    manager = subprocess.Popen(
        [sys.executable, "-c", EDIT_AFTER_LOAD, str(config), "\n" + late],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(
            lambda: read_status(tmp_path)["workers"]["first"]["state"] == "running",
            60,
            "the camera of the config as loaded",
        )
        assert 'id = "late"' in config.read_text(), "the hook edited the file"
        wait_for(
            lambda: read_status(tmp_path)["workers"]["late"]["state"] == "running",
            30,
            "the camera added while the manager started",
        )
    finally:
        manager.send_signal(signal.SIGTERM)
        manager.wait(60)
