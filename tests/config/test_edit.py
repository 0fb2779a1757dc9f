"""Adding, updating and replacing camera entries in the file, and refusing what must not be."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from cashwatch.config import ConfigError, load_config
from cashwatch.config.edit import (
    add_camera,
    exclusive,
    set_camera_enabled,
    update_camera,
    upsert_camera,
)

CONFIG = """\
# kept by every edit
[[cameras]]
id = "front"
name = "Front till"
site = "shop"
source = "demo:fire"
cooldown_s = 40.0
enabled = false
[cameras.zones]
cashier = [[0.5, 0.0], [1.0, 0.0], [1.0, 1.0]]

[[cameras]]
id = "broken"
source = "demo:fire"
detection = { fps = -1 }
"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "cashwatch.toml"
    path.write_text(CONFIG)
    return path


@pytest.mark.parametrize("camera_id", ["front", "broken"])  # a rejected entry is still there
def test_add_refuses_an_id_the_file_has_and_writes_nothing(config: Path, camera_id: str) -> None:
    with pytest.raises(ConfigError, match=f"a camera with id '{camera_id}' already exists"):
        add_camera(config, {"id": camera_id, "source": "demo:walk"})
    assert config.read_text() == CONFIG


def test_add_appends_a_new_camera_and_keeps_the_others(config: Path) -> None:
    add_camera(config, {"id": "back", "source": "demo:walk", "site": "shop"})
    loaded = load_config(config)
    assert list(loaded.cameras) == ["front", "back"]
    front = loaded.camera("front")
    assert (front.name, front.cooldown_s, front.enabled) == ("Front till", 40.0, False)
    assert front.zones.cashier is not None
    assert config.read_text().startswith("# kept by every edit\n")


def test_update_replaces_an_existing_camera_only(config: Path) -> None:
    update_camera(config, {"id": "front", "source": "demo:walk", "site": "shop"})
    assert load_config(config).camera("front").source == "demo:walk"
    before = config.read_text()
    with pytest.raises(ConfigError, match="no camera 'ghost' in the config"):
        update_camera(config, {"id": "ghost", "source": "demo:walk"})
    assert config.read_text() == before, "an update does not bring back a removed camera"


def test_upsert_still_adds_or_replaces(config: Path) -> None:
    upsert_camera(config, {"id": "front", "source": "demo:walk"})
    upsert_camera(config, {"id": "back", "source": "demo:walk"})
    loaded = load_config(config)
    assert loaded.camera("front").source == "demo:walk" and "back" in loaded.cameras


@pytest.mark.parametrize(
    ("typo", "message"),
    [
        ("[[cameras]\nid =", "not valid TOML, so not changed"),
        ("[modle]\nbackend = 'onnx'", "modle"),  # TOML, but not a config
    ],
)
def test_a_file_broken_by_hand_is_not_rewritten(config: Path, typo: str, message: str) -> None:
    config.write_text(CONFIG + "\n" + typo + "\n")
    broken = config.read_text()
    with pytest.raises(ConfigError, match=message):
        add_camera(config, {"id": "back", "source": "demo:walk"})
    with pytest.raises(ConfigError, match=message):
        set_camera_enabled(config, "front", True)
    assert config.read_text() == broken


def test_an_edit_keeps_a_relative_source_relative(tmp_path: Path) -> None:
    """The loader resolves `clips/door.mp4` against the config's folder; saving the
    camera's zones must not write that absolute path back into the file."""
    path = tmp_path / "cashwatch.toml"
    path.write_text('[[cameras]]\nid = "door"\nsource = "clips/door.mp4"\n')
    camera = load_config(path).camera("door")
    assert camera.source == str(tmp_path / "clips" / "door.mp4")
    zones = {"cashier": [[0.5, 0.0], [1.0, 0.0], [1.0, 1.0]]}
    update_camera(path, {**camera.model_dump(mode="json"), "zones": zones})
    assert 'source = "clips/door.mp4"' in path.read_text()
    assert load_config(path).camera("door").zones.cashier is not None
    moved = update_camera(path, {**camera.model_dump(mode="json"), "source": "/srv/door.mp4"})
    assert moved.camera("door").source == "/srv/door.mp4", "a new source is written as given"


def test_a_second_writer_waits_for_the_first(config: Path) -> None:
    """The dashboard's sessions and the CLI take turns: an edit started while another
    holds the file waits, then applies to the file as the first left it."""
    done = threading.Event()

    def start_front() -> None:
        set_camera_enabled(config, "front", True)
        done.set()

    with exclusive(config):
        writer = threading.Thread(target=start_front)
        writer.start()
        assert not done.wait(0.5), "the second writer waited"
        text = config.read_text()
        config.write_text(text + '\n[[cameras]]\nid = "cam-z"\nsource = "demo:fire"\n')
    writer.join(10)
    assert done.is_set()
    loaded = load_config(config)
    assert loaded.camera("front").enabled is True and "cam-z" in loaded.cameras


def test_stop_and_start_keep_every_camera_and_comment_where_it_was(tmp_path: Path) -> None:
    # tomlkit counts the comments above the next [[cameras]] as the end of the previous
    # table: a new `enabled` key once landed under them, in the next camera's block.
    from cashwatch.config.defaults import DEMO_CONFIG

    path = tmp_path / "cashwatch.toml"
    path.write_text(DEMO_CONFIG)
    cameras = list(load_config(path).cameras)
    for camera_id in cameras * 2:
        set_camera_enabled(path, camera_id, False)
        set_camera_enabled(path, camera_id, True)
    lines = path.read_text().splitlines()
    assert [line for line in lines if line != "enabled = true"] == DEMO_CONFIG.splitlines()
    # each camera's `enabled` ends the run of keys that starts with its id
    for camera_id in cameras:
        at = lines.index(f'id = "{camera_id}"')
        while at + 1 < len(lines) and " = " in lines[at + 1] and not lines[at + 1].startswith("#"):
            at += 1
        assert lines[at] == "enabled = true", camera_id
