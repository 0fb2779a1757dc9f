"""Changing the config file the way a person would: comments and order kept.

The dashboard and the CLI change the system only through these functions; the
manager notices the new file and reconciles. Every change is validated before it is
written, and written atomically.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import tomlkit
from tomlkit.items import AoT, Table

from cashwatch.config.loader import ConfigError, LoadedConfig, parse_config
from cashwatch.util.files import atomic_write_text


def _cameras(doc: tomlkit.TOMLDocument) -> AoT:
    cameras = doc.get("cameras")
    if cameras is None:
        cameras = tomlkit.aot()
        doc.append("cameras", cameras)
    return cameras


def _find(doc: tomlkit.TOMLDocument, camera_id: str) -> Table:
    for table in _cameras(doc):
        if table.get("id") == camera_id:
            return table
    known = ", ".join(str(t.get("id")) for t in _cameras(doc)) or "none"
    raise ConfigError(f"no camera {camera_id!r} in the config; cameras: {known}")


def _edit(path: Path, change: Callable[[tomlkit.TOMLDocument], None]) -> LoadedConfig:
    doc = tomlkit.parse(path.read_text(encoding="utf-8"))
    change(doc)
    text = tomlkit.dumps(doc)
    loaded = parse_config(text, path)  # refuse to write a file the manager would reject
    atomic_write_text(path, text)
    return loaded


def set_camera_enabled(path: Path, camera_id: str, enabled: bool) -> LoadedConfig:
    def change(doc: tomlkit.TOMLDocument) -> None:
        _find(doc, camera_id)["enabled"] = enabled

    return _edit(path, change)


def upsert_camera(path: Path, camera: dict[str, Any]) -> LoadedConfig:
    """Add a camera, or replace the entry with the same id. Raises on invalid input."""
    from cashwatch.config.camera import CameraConfig

    validated = CameraConfig.model_validate(camera)  # names the bad key before touching the file
    data = validated.model_dump(mode="json", exclude_defaults=True)
    data["id"], data["source"] = validated.id, validated.source

    def change(doc: tomlkit.TOMLDocument) -> None:
        cameras = _cameras(doc)
        for index, table in enumerate(cameras):
            if table.get("id") == validated.id:
                cameras[index] = tomlkit.item(data)
                return
        cameras.append(tomlkit.item(data))

    loaded = _edit(path, change)
    if validated.id in loaded.camera_errors:
        raise ConfigError(loaded.camera_errors[validated.id])
    return loaded


def remove_camera(path: Path, camera_id: str) -> LoadedConfig:
    def change(doc: tomlkit.TOMLDocument) -> None:
        cameras = _cameras(doc)
        _find(doc, camera_id)
        keep = [table for table in cameras if table.get("id") != camera_id]
        doc["cameras"] = tomlkit.aot()
        for table in keep:
            doc["cameras"].append(table)

    return _edit(path, change)
