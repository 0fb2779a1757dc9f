from __future__ import annotations

from pathlib import Path

import pytest

from cashwatch.config import ConfigError, load_config, parse_config, resolve_config_path
from cashwatch.config.edit import remove_camera, set_camera_enabled, upsert_camera
from cashwatch.config.loader import data_dir_of_broken_config

GOOD = """
[[cameras]]
id = "front"
source = "rtsp://user:pw@127.0.0.1:8554/front"

[[cameras]]
id = "back"
source = "demo:fire"
[cameras.zones]
cashier = [[0.5, 0.0], [1.0, 0.0], [1.0, 1.0]]
"""


def test_valid_file_loads_all_cameras(tmp_path: Path) -> None:
    loaded = parse_config(GOOD, tmp_path / "c.toml")
    assert list(loaded.cameras) == ["front", "back"]
    assert loaded.data_dir == tmp_path.resolve()
    assert loaded.camera("back").zones.cashier == [(0.5, 0.0), (1.0, 0.0), (1.0, 1.0)]
    assert loaded.camera("front").cooldown_s == 15.0
    assert loaded.camera("front").detection.fps == 7.5


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ("detection = { fps = -3 }", ["camera 'bad'", "detection.fps", "-3", "greater than 0"]),
        ('colour = "red"', ["camera 'bad'", "colour", "unknown key"]),
        (
            "[cameras.zones]\ncounter = [[0.1, 0.1], [1.5, 0.2], [0.3, 0.9]]",
            ["camera 'bad'", "zones.counter", "1.5", "less than or equal to 1"],
        ),
        ('enabled = "maybe"', ["camera 'bad'", "enabled", "maybe", "valid boolean"]),
    ],
)
def test_bad_camera_entry_names_camera_key_value_and_rule(
    tmp_path: Path, entry: str, expected: list[str]
) -> None:
    text = GOOD + f'\n[[cameras]]\nid = "bad"\nsource = "x.mp4"\n{entry}\n'
    loaded = parse_config(text, tmp_path / "c.toml")
    assert list(loaded.cameras) == ["front", "back"], "the good cameras still load"
    message = loaded.camera_errors["bad"]
    for part in expected:
        assert part in message, f"{part!r} not in {message!r}"


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        (
            'id = "front door"\nsource = "demo:fire"',
            ["front door", "not a valid camera id", "letters, digits, '-' and '_'"],
        ),
        ('id = "blank"\nsource = "   "', ["camera 'blank'", "source is empty", "rtsp://"]),
    ],
)
def test_bad_id_or_blank_source_is_explained_in_words(
    tmp_path: Path, entry: str, expected: list[str]
) -> None:
    loaded = parse_config(GOOD + f"\n[[cameras]]\n{entry}\n", tmp_path / "c.toml")
    assert list(loaded.cameras) == ["front", "back"]
    (message,) = loaded.camera_errors.values()
    for part in expected:
        assert part in message, f"{part!r} not in {message!r}"
    assert "^[" not in message, "no regular expression in front of an admin"


def test_relative_file_source_is_relative_to_the_config(tmp_path: Path) -> None:
    text = (
        '[[cameras]]\nid = "a"\nsource = "clips/door.mp4"\n'
        '[[cameras]]\nid = "b"\nsource = "/srv/door.mp4"\n'
        '[[cameras]]\nid = "c"\nsource = "0"\n'
    )
    loaded = parse_config(text, tmp_path / "conf" / "c.toml")
    assert loaded.camera("a").source == str(tmp_path / "conf" / "clips" / "door.mp4")
    assert loaded.camera("b").source == "/srv/door.mp4"
    assert loaded.camera("c").source == "0", "a webcam index is not a path"


def test_unknown_demo_scene_lists_valid_ones(tmp_path: Path) -> None:
    loaded = parse_config('[[cameras]]\nid = "d"\nsource = "demo:party"\n', tmp_path / "c.toml")
    assert "party" in loaded.camera_errors["d"]
    assert "handover" in loaded.camera_errors["d"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[[cameras]\nid=", "not valid TOML"),
        (
            GOOD + '\n[[cameras]]\nid = "front"\nsource = "y.mp4"\n',
            "c.toml: duplicate camera id(s): front",
        ),
        ("[manager]\nheartbeat_timeout_s = 0\n", "manager.heartbeat_timeout_s"),
        ("[modle]\nbackend = 'x'\n", "modle"),
    ],
)
def test_whole_file_errors_raise(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(ConfigError, match=None) as info:
        parse_config(text, tmp_path / "c.toml")
    assert expected in str(info.value)


def test_resolution_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CASHWATCH_CONFIG", str(tmp_path / "env.toml"))
    assert resolve_config_path(tmp_path / "cli.toml") == tmp_path / "cli.toml"
    assert resolve_config_path(None) == tmp_path / "env.toml"
    monkeypatch.delenv("CASHWATCH_CONFIG")
    monkeypatch.chdir(tmp_path)
    assert resolve_config_path(None) == tmp_path / "data" / "cashwatch.toml"


def test_default_config_is_created_with_demo_cameras(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CASHWATCH_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    loaded = load_config()
    assert (tmp_path / "data" / "cashwatch.toml").exists()
    assert all(c.source.startswith("demo:") for c in loaded.cameras.values())
    assert loaded.data_dir == (tmp_path / "data").resolve()


def test_explicit_missing_config_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.toml")


def test_data_dir_relative_to_config(tmp_path: Path) -> None:
    loaded = parse_config('data_dir = "store"\n', tmp_path / "c.toml")
    assert loaded.data_dir == (tmp_path / "store").resolve()


def test_a_broken_config_still_names_its_data_folder(tmp_path: Path) -> None:
    """`cashwatch status` reads the running manager's status where the file says, even
    when the file no longer validates."""
    path = tmp_path / "c.toml"
    path.write_text('data_dir = "/srv/cw"\n[modle]\nbackend = "x"\n')
    with pytest.raises(ConfigError):
        load_config(path)
    assert data_dir_of_broken_config(path) == Path("/srv/cw")
    path.write_text('data_dir = "store"\n[[cameras]\n')  # not even TOML
    assert data_dir_of_broken_config(path) == tmp_path.resolve()


def test_edits_keep_comments_and_validate(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("# my comment\n" + GOOD)
    set_camera_enabled(path, "front", False)
    assert "# my comment" in path.read_text()
    assert load_config(path).camera("front").enabled is False
    upsert_camera(path, {"id": "new", "source": "demo:walk", "site": "bar"})
    assert load_config(path).camera("new").site == "bar"
    with pytest.raises(Exception, match="fps"):
        upsert_camera(path, {"id": "new", "source": "demo:walk", "detection": {"fps": 0}})
    assert load_config(path).camera("new").detection.fps == 7.5, "a rejected edit writes nothing"
    remove_camera(path, "back")
    assert list(load_config(path).cameras) == ["front", "new"]
    with pytest.raises(ConfigError, match="no camera 'ghost'"):
        set_camera_enabled(path, "ghost", True)


# A password that a naive masker (first '@', stop at '/') shows at least in part.
PASSWORD = "Pa@ss/w0rd-9"
SECRET_SOURCE = f"rtsp://admin:{PASSWORD}@10.0.0.9:554/live"


def test_a_single_bracket_cameras_table_is_named_without_its_values(tmp_path: Path) -> None:
    text = f'[cameras]\nid = "till"\nsource = "{SECRET_SOURCE}"\n'
    with pytest.raises(ConfigError) as info:
        parse_config(text, tmp_path / "c.toml")
    message = str(info.value)
    assert "got a table" in message and "[[cameras]]" in message
    assert "w0rd" not in message and "Pa@ss" not in message and "admin" not in message


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        (
            f'source = "ftp://admin:{PASSWORD}@10.0.0.9/x"',
            ["key 'source' (a string, not shown)", "unsupported URL scheme in 'ftp'"],
        ),
        ("source = 554", ["key 'source' (an integer, not shown)", "valid string"]),
        (f'source = ["{SECRET_SOURCE}"]', ["key 'source' (an array, not shown)"]),
        (
            f'source = "{SECRET_SOURCE}"\nname = "{SECRET_SOURCE}{"x" * 80}"',
            ["key 'name' (a string, not shown)", "at most 80"],
        ),
        (f'source = "{SECRET_SOURCE}"\nsite = ""', ["key 'site' = ''", "at least 1"]),
        (
            f'source = "{SECRET_SOURCE}"\nenabled = "rtsp://u:{PASSWORD}@h"',
            ["key 'enabled' (a string, not shown)", "valid boolean"],
        ),
        (
            f'source = "{SECRET_SOURCE}"\nread_timeout_s = "{PASSWORD}"',
            ["key 'read_timeout_s' (a string, not shown)"],
        ),
        # a masker stops at whitespace, so a URL with a space would show the rest
        (
            f'source = "rtsp://admin:x {PASSWORD}@10.0.0.9/live"',
            ["key 'source' (a string, not shown)", "percent-encode them (a space is %20)"],
        ),
    ],
)
def test_camera_errors_never_quote_a_source_or_credential_like_value(
    tmp_path: Path, entry: str, expected: list[str]
) -> None:
    loaded = parse_config(f'[[cameras]]\nid = "till"\n{entry}\n', tmp_path / "c.toml")
    message = loaded.camera_errors["till"]
    for part in expected:
        assert part in message, f"{part!r} not in {message!r}"
    assert "w0rd" not in message and "Pa@ss" not in message


@pytest.mark.parametrize(
    "source",
    [
        f"rtsp:/admin:{PASSWORD}@10.0.0.9/live",
        f"RTSP:/admin:{PASSWORD}@10.0.0.9/live",
        f"rtsp//admin:{PASSWORD}@host/x",
        f"https//admin:{PASSWORD}@host/x",
        f"admin:{PASSWORD}@host/x",
        f"//admin:{PASSWORD}@host/x",
        "rtsp:/10.0.0.9/live",
    ],
)
def test_a_mistyped_url_is_refused_as_a_file_without_being_quoted(
    tmp_path: Path, source: str
) -> None:
    loaded = parse_config(f'[[cameras]]\nid = "till"\nsource = "{source}"\n', tmp_path / "c.toml")
    message = loaded.camera_errors["till"]
    assert "mistyped URL" in message and "starts with rtsp://" in message
    assert "w0rd" not in message and "Pa@ss" not in message and "10.0.0.9" not in message


@pytest.mark.parametrize(
    "source",
    [
        "videos/door.mp4",
        "/srv/cam/a@b.mp4",
        "/srv/x:y@z.mp4",
        "clip 12:30.mp4",
        "0",
        "demo:fire",
        "C.mp4",
    ],
)
def test_file_paths_that_are_no_url_are_still_files(tmp_path: Path, source: str) -> None:
    loaded = parse_config(f'[[cameras]]\nid = "till"\nsource = "{source}"\n', tmp_path / "c.toml")
    assert not loaded.camera_errors


def test_a_credential_like_id_is_not_used_as_the_entrys_label(tmp_path: Path) -> None:
    text = f'[[cameras]]\nid = "{SECRET_SOURCE}"\nsource = "demo:fire"\n'
    loaded = parse_config(text, tmp_path / "c.toml")
    assert list(loaded.camera_errors) == ["#1"]
    assert PASSWORD not in loaded.camera_errors["#1"]
    assert "w0rd" not in loaded.camera_errors["#1"]


def test_whole_file_errors_do_not_quote_a_storage_url(tmp_path: Path) -> None:
    text = f'[storage]\nurl = 5\n[ray]\ncpus_per_camera = "{SECRET_SOURCE}"\n'
    with pytest.raises(ConfigError) as info:
        parse_config(text, tmp_path / "c.toml")
    message = str(info.value)
    assert "'storage.url' (an integer, not shown)" in message
    assert "'ray.cpus_per_camera' (a string, not shown)" in message
    assert "w0rd" not in message


def test_the_source_help_names_every_demo_scene() -> None:
    from cashwatch.config.camera import DEMO_SCENES, CameraConfig

    help_text = CameraConfig.model_fields["source"].description or ""
    assert all(scene in help_text for scene in DEMO_SCENES), help_text
