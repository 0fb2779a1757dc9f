"""Changing the config file the way a person would: comments and order kept.

The dashboard and the CLI change the system only through these functions; the
manager notices the new file and reconciles. Every change is validated before it is
written, and written atomically.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, cast

import tomlkit
from tomlkit.exceptions import TOMLKitError
from tomlkit.items import AoT, Comment, Table, Whitespace

from cashwatch.config.loader import ConfigError, LoadedConfig, parse_config, resolve_source
from cashwatch.util.files import atomic_write_text, exclusive


def _cameras(doc: tomlkit.TOMLDocument) -> AoT:
    cameras = doc.get("cameras")
    if cameras is None:
        cameras = tomlkit.aot()
        doc.append("cameras", cameras)
    return cameras


def _find(doc: tomlkit.TOMLDocument, camera_id: str) -> Table:
    for table in _cameras(doc):
        if table.get("id") == camera_id:
            return cast(Table, table)
    known = ", ".join(str(t.get("id")) for t in _cameras(doc)) or "none"
    raise ConfigError(f"no camera {camera_id!r} in the config; cameras: {known}")


def _edit(path: Path, change: Callable[[tomlkit.TOMLDocument], None]) -> LoadedConfig:
    with exclusive(path):
        return _edit_locked(path, change)


def _edit_locked(path: Path, change: Callable[[tomlkit.TOMLDocument], None]) -> LoadedConfig:
    text = path.read_text(encoding="utf-8")
    try:
        doc = tomlkit.parse(text)
    except TOMLKitError as exc:  # broken by hand since the caller last read it
        raise ConfigError(f"{path}: not valid TOML, so not changed: {exc}") from exc
    change(doc)
    text = tomlkit.dumps(doc)
    loaded = parse_config(text, path)  # refuse to write a file the manager would reject
    atomic_write_text(path, text)
    return loaded


def set_camera_enabled(path: Path, camera_id: str, enabled: bool) -> LoadedConfig:
    def change(doc: tomlkit.TOMLDocument) -> None:
        cameras, index = _cameras(doc), _index(doc, camera_id)
        if index is None:
            _find(doc, camera_id)  # raises, naming the cameras there are
            return
        if "enabled" in cameras[index]:
            cameras[index]["enabled"] = enabled  # replaced where it stands
        else:
            cameras[index] = _with_key(cameras[index], "enabled", enabled)

    return _edit(path, change)


def _with_key(table: Table, key: str, value: Any) -> Table:
    """`table` with `key` added after its last key, before its trailing comments.

    tomlkit counts the comment block above the next `[[cameras]]` as the end of this
    table's body, and `table[key] = value` appends after it: the key would land under the
    next camera's comments, looking like part of that camera. tomlkit has no public way
    to insert at a position, so the table is rebuilt in order with its header's trivia.
    """
    body = table.value.body
    split = len(body)
    while (
        split
        and body[split - 1][0] is None
        and isinstance(body[split - 1][1], Comment | Whitespace)
    ):
        split -= 1
    rebuilt = tomlkit.table()
    for field in ("indent", "comment_ws", "comment", "trail"):
        setattr(rebuilt.trivia, field, getattr(table.trivia, field))
    for name, item in [*body[:split], (key, value), *body[split:]]:
        rebuilt.append(name, item)  # a None name: a comment or blank line
    return rebuilt


def _camera_entry(camera: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The validated entry as it goes into the file: only what differs from the defaults."""
    from cashwatch.config.camera import CameraConfig

    validated = CameraConfig.model_validate(camera)  # names the bad key before touching the file
    data = validated.model_dump(mode="json", exclude_defaults=True)
    data["id"], data["source"] = validated.id, validated.source
    return validated.id, data


def _index(doc: tomlkit.TOMLDocument, camera_id: str) -> int | None:
    for index, table in enumerate(_cameras(doc)):
        if table.get("id") == camera_id:
            return index
    return None


def _write_camera(
    path: Path, camera: dict[str, Any], mode: Literal["add", "update", "upsert"]
) -> LoadedConfig:
    """Add (`add`), replace (`update`) or either (`upsert`) one camera's entry.

    Whether the id exists is decided on the file as read for this write, not on what the
    caller saw earlier: a camera added by someone else in between is never replaced by
    an `add`, and one removed in between is not brought back by an `update`.
    """
    camera_id, data = _camera_entry(camera)

    def change(doc: tomlkit.TOMLDocument) -> None:
        cameras, index = _cameras(doc), _index(doc, camera_id)
        if index is not None and mode == "add":
            raise ConfigError(
                f"a camera with id {camera_id!r} already exists; choose another "
                "id (or edit that camera to change it)"
            )
        if index is None and mode == "update":
            _find(doc, camera_id)  # raises, naming the cameras there are
        if index is None:
            cameras.append(tomlkit.item(data))
        else:
            _keep_source_as_written(cameras[index], data, path.parent)
            cameras[index] = tomlkit.item(data)

    loaded = _edit(path, change)
    if camera_id in loaded.camera_errors:
        raise ConfigError(loaded.camera_errors[camera_id])
    return loaded


def _keep_source_as_written(old: Any, data: dict[str, Any], config_dir: Path) -> None:
    """The loader makes a relative file source absolute; an edit that keeps the source
    (a zone drawn, a setting changed) must not write that absolute path back, or the
    folder with the config and its videos could no longer be moved."""
    written = old.get("source")
    if isinstance(written, str) and resolve_source(written.strip(), config_dir) == data["source"]:
        data["source"] = written


def add_camera(path: Path, camera: dict[str, Any]) -> LoadedConfig:
    """Add a new camera; refuses an id the file already has. Raises on invalid input."""
    return _write_camera(path, camera, "add")


def update_camera(path: Path, camera: dict[str, Any]) -> LoadedConfig:
    """Replace the entry of an existing camera; refuses an unknown id."""
    return _write_camera(path, camera, "update")


def upsert_camera(path: Path, camera: dict[str, Any]) -> LoadedConfig:
    """Add a camera, or replace the entry with the same id. Raises on invalid input.

    For scripts that mean "make the file say this"; a person adding a camera wants
    `add_camera`, which never replaces one.
    """
    return _write_camera(path, camera, "upsert")


def remove_camera(path: Path, camera_id: str) -> LoadedConfig:
    def change(doc: tomlkit.TOMLDocument) -> None:
        cameras = _cameras(doc)
        _find(doc, camera_id)
        keep = [table for table in cameras if table.get("id") != camera_id]
        doc["cameras"] = tomlkit.aot()
        for table in keep:
            doc["cameras"].append(table)

    return _edit(path, change)
