"""What the manager hands a new worker: small, picklable, no live objects.

Camera credentials and Ray: a local worker gets its spec through a pipe from its own
parent, so the source travels whole. A Ray actor's spec is pickled into the cluster (the
head's GCS keeps actor creation arguments, and without TLS they cross the network in
clear), so `seal_source` replaces a source that carries credentials by its masked form
and the actor's node reads the real source itself (`unseal_source`), from:

1. the TOML file named by `$CASHWATCH_SOURCES_FILE` on that node (`[sources]`, camera id
   = full URL): per-site secrets, so a node holds only its own cameras' passwords;
2. the config file: the manager's (`config_path`, same path on every node, as the data
   folder), else `$CASHWATCH_CONFIG` on the node, else `<data_dir>/cashwatch.toml`.

The source found must mask to exactly what the manager sent, so a node never runs a
camera at a host or path other than the manager's config names.
"""

from __future__ import annotations

import dataclasses
import os
import stat
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cashwatch.util.redact import mask_credentials

SOURCES_FILE_ENV = "CASHWATCH_SOURCES_FILE"
CONFIG_ENV = "CASHWATCH_CONFIG"  # as cashwatch.config.loader.ENV_VAR (not imported: light)


class CredentialsUnavailable(Exception):
    """The node cannot find the camera's real source; says where it looked (no secret)."""


@dataclass(frozen=True)
class WorkerSpec:
    camera: dict[str, Any]  # CameraConfig as JSON data
    model: dict[str, Any]  # ModelConfig as JSON data
    data_dir: str
    slot: int
    manager_pid: int
    live_every_n: int
    run_id: str
    storage_url: str = ""  # where clips and snapshots go; empty: the data folder
    # True: camera["source"] is masked; the worker's node reads the real one
    source_on_node: bool = False
    config_path: str = ""  # the manager's config file, where a node looks first
    # the shared inference services' sockets; empty: the worker loads its own model
    inference_sockets: tuple[str, ...] = ()
    input_slot: str = ""  # where it leaves the model input for them
    # where it leaves the violence verifier's video window for the first of them; empty:
    # the camera has no video verifier (its violence rule's pose fallback decides)
    video_slot: str = ""


def seal_source(spec: WorkerSpec, config_path: str = "") -> WorkerSpec:
    """The spec with a credentialed source masked, for a worker on another machine.

    >>> spec = WorkerSpec(camera={"id": "c", "source": "rtsp://u:pw@h/x"}, model={},
    ...                   data_dir="/d", slot=0, manager_pid=0, live_every_n=1, run_id="r")
    >>> seal_source(spec).camera["source"], seal_source(spec).source_on_node
    ('rtsp://u:***@h/x', True)
    """
    source = str(spec.camera.get("source", ""))
    masked = mask_credentials(source)
    if masked == source:
        return spec  # nothing secret in it: sent whole, nothing to set up on nodes
    return dataclasses.replace(
        spec, camera={**spec.camera, "source": masked}, source_on_node=True, config_path=config_path
    )


def unseal_source(spec: WorkerSpec) -> WorkerSpec:
    """The spec with the real source read on this node; CredentialsUnavailable if none."""
    if not spec.source_on_node:
        return spec
    camera_id = str(spec.camera.get("id", ""))
    wanted = str(spec.camera.get("source", ""))
    looked: list[str] = []
    for path, table in _places(spec):
        source = _source_in(path, table, camera_id, looked)
        if source is None:
            continue
        if mask_credentials(source) != wanted:
            raise CredentialsUnavailable(
                f"camera {camera_id}: {path} on this node names {mask_credentials(source)}, "
                f"the manager {wanted}; make them the same"
            )
        return dataclasses.replace(
            spec, camera={**spec.camera, "source": source}, source_on_node=False
        )
    raise CredentialsUnavailable(
        f"camera {camera_id}: its credentials are not on this node (looked in: "
        f"{'; '.join(looked) or 'nowhere'}); set {SOURCES_FILE_ENV} or put the config at "
        "the manager's path (docs/deployment.md)"
    )


def _places(spec: WorkerSpec) -> list[tuple[Path, str]]:
    """(file, table) pairs in the order a node tries them."""
    places: list[tuple[Path, str]] = []
    if os.environ.get(SOURCES_FILE_ENV):
        places.append((Path(os.environ[SOURCES_FILE_ENV]), "sources"))
    configs = [
        spec.config_path,
        os.environ.get(CONFIG_ENV, ""),
        str(Path(spec.data_dir) / "cashwatch.toml"),
    ]
    for config in dict.fromkeys(c for c in configs if c):  # once each, in order
        places.append((Path(config), "cameras"))
    return places


def _source_in(path: Path, table: str, camera_id: str, looked: list[str]) -> str | None:
    """The camera's source in one file, or None (noting why in `looked`)."""
    try:
        if table == "sources":
            _refuse_if_public(path)
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        looked.append(f"{path} (missing)")
        return None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        # the message of a TOML error names a line, never its text
        looked.append(f"{path} ({mask_credentials(str(exc))})")
        return None
    source = _lookup(data, table, camera_id)
    if source is None:
        looked.append(f"{path} (no camera {camera_id})")
    return source


def _lookup(data: dict[str, Any], table: str, camera_id: str) -> str | None:
    if table == "sources":
        value = (data.get("sources") or {}).get(camera_id)
        return value.strip() if isinstance(value, str) else None
    cameras = data.get("cameras")
    for entry in cameras if isinstance(cameras, list) else []:
        if (
            isinstance(entry, dict)
            and entry.get("id") == camera_id
            and isinstance(entry.get("source"), str)
        ):
            return str(entry["source"]).strip()  # as the config's validator strips it
    return None


def _refuse_if_public(path: Path) -> None:
    """A secrets file anyone on the node can read is a leak already: say so, use none."""
    mode = path.stat().st_mode
    if mode & (stat.S_IROTH | stat.S_IWOTH):
        raise OSError(
            f"readable or writable by every user (mode {stat.S_IMODE(mode):o}); chmod 600 it"
        )
