"""Finding, reading and validating `cashwatch.toml`.

A broken file as a whole raises `ConfigError` (the manager then keeps its last good
config). A broken camera entry only removes that camera: its error is kept in
`LoadedConfig.camera_errors` and the other cameras load normally.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from cashwatch.config.app import AppConfig
from cashwatch.config.camera import CameraConfig, source_kind
from cashwatch.util.redact import mask_credentials

ENV_VAR = "CASHWATCH_CONFIG"
DEFAULT_CONFIG = Path("data") / "cashwatch.toml"


class ConfigError(Exception):
    """The file as a whole cannot be used; the message says where and why."""


@dataclass(frozen=True)
class LoadedConfig:
    path: Path
    data_dir: Path
    app: AppConfig
    camera_errors: dict[str, str] = field(default_factory=dict)
    # the `site` each rejected entry names (CameraConfig's default when it names none):
    # who may be shown why it was rejected
    camera_error_sites: dict[str, str] = field(default_factory=dict)
    # `[[alerts]]` entries left out, by name (or position), and why
    alert_errors: dict[str, str] = field(default_factory=dict)

    @property
    def cameras(self) -> dict[str, CameraConfig]:
        return {camera.id: camera for camera in self.app.cameras}

    def camera(self, camera_id: str) -> CameraConfig:
        cameras = self.cameras
        if camera_id not in cameras:
            known = ", ".join(sorted(cameras)) or "none"
            raise KeyError(f"no camera {camera_id!r} in {self.path}; cameras: {known}")
        return cameras[camera_id]


def resolve_config_path(cli_value: str | os.PathLike[str] | None = None) -> Path:
    """`--config`, else `$CASHWATCH_CONFIG`, else `data/cashwatch.toml`."""
    if cli_value:
        return Path(cli_value).expanduser().absolute()
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR]).expanduser().absolute()
    return DEFAULT_CONFIG.absolute()


# Keys whose values are never shown in an error, whatever they hold: a source or URL
# can carry a password, the others are secrets by name.
_SECRET_KEY_WORDS = frozenset(
    {
        "source",
        "sources",
        "url",
        "uri",
        "password",
        "passwd",
        "pass",
        "pwd",
        "token",
        "secret",
        "key",
        "apikey",
        "auth",
        "credential",
        "credentials",
    }
)
_SHOWN_STRING_MAX = 40  # longer strings are not "short enum-like" values any more
_TYPE_NAMES = {
    dict: "a table",
    list: "an array",
    str: "a string",
    bool: "a boolean",
    int: "an integer",
    float: "a number",
}


def describe_errors(exc: ValidationError, prefix: str = "") -> str:
    """One line per problem: where, the bad value when it is harmless, and what is valid.

    Never the raw value of a source, URL or secret, nor of any table, array or long
    string: these messages reach the log, the status table, `cashwatch status` and every
    dashboard account, and a value (pydantic's `input`) can hold a camera password.
    """
    lines = []
    for err in exc.errors():
        location = ".".join(str(part) for part in err["loc"]) or "(top level)"
        where = mask_credentials(f"{prefix}key '{location}'")
        if err["type"] == "extra_forbidden":
            lines.append(f"{where}: unknown key (check the spelling; see docs/configuration.md)")
        elif err["type"] == "missing":
            lines.append(f"{where}: required but missing")
        else:
            value = shown_value(err["loc"], err.get("input"))
            lines.append(f"{where} {value}: {mask_credentials(err['msg'])}")
    return "; ".join(lines)


def shown_value(location: tuple[int | str, ...], value: Any) -> str:
    """`= <value>` for a harmless value, else `(<its type>, not shown)`.

    >>> shown_value(("detection", "fps"), -3)
    '= -3'
    >>> shown_value(("enabled",), "maybe")
    "= 'maybe'"
    >>> shown_value(("cameras", 0, "source"), "rtsp://a:b@h/x")
    '(a string, not shown)'
    >>> shown_value(("cameras",), {"id": "x", "source": "rtsp://a:b@h/x"})
    '(a table, not shown)'
    """
    if _harmless(location, value):
        return f"= {value!r}"
    return f"({_TYPE_NAMES.get(type(value), 'a value')}, not shown)"


def _harmless(location: tuple[int | str, ...], value: Any) -> bool:
    """Numbers, booleans and short plain words under a key that is not a secret's."""
    words = {word for name in location for word in re.split(r"[^a-z0-9]+", str(name).lower())}
    if words & _SECRET_KEY_WORDS:  # by word: `min_keypoint_conf` is no key
        return False
    if value is None or isinstance(value, (bool, int, float)):
        return True
    return isinstance(value, str) and harmless_text(value)


def harmless_text(value: str) -> bool:
    """Short, one line, nothing URL- or credential-like: fine to quote in an error."""
    return (
        len(value) <= _SHOWN_STRING_MAX
        and value.isprintable()
        and "://" not in value
        and "@" not in value
        and mask_credentials(value) == value
    )


def _camera_label(raw: Any, index: int) -> str:
    """The entry's id when it is a harmless string (it names the entry in errors and in
    status), else its position."""
    if (
        isinstance(raw, dict)
        and isinstance(raw.get("id"), str)
        and raw["id"]
        and harmless_text(raw["id"])
    ):
        return str(raw["id"])
    return f"#{index + 1}"


def _site_of(raw: Any) -> str:
    site = raw.get("site") if isinstance(raw, dict) else None
    return site if isinstance(site, str) else str(CameraConfig.model_fields["site"].default)


def _validate_cameras(
    raw_cameras: Any, path: Path
) -> tuple[list[CameraConfig], dict[str, str], dict[str, str]]:
    if not isinstance(raw_cameras, list):
        # the value itself is never quoted: it is usually a camera with its source
        got = _TYPE_NAMES.get(type(raw_cameras), "a value")
        hint = (
            " (write each camera as [[cameras]], two brackets)"
            if isinstance(raw_cameras, dict)
            else ""
        )
        raise ConfigError(
            f"{path}: 'cameras' must be an array of tables ([[cameras]]), got {got}{hint}"
        )
    ids = [_camera_label(raw, i) for i, raw in enumerate(raw_cameras)]
    duplicates = sorted({cid for cid in ids if ids.count(cid) > 1 and not cid.startswith("#")})
    if duplicates:
        raise ConfigError(
            f"{path}: duplicate camera id(s): {', '.join(duplicates)}; every id must be unique"
        )
    cameras: list[CameraConfig] = []
    errors: dict[str, str] = {}
    sites: dict[str, str] = {}
    for index, raw in enumerate(raw_cameras):
        label = _camera_label(raw, index)
        try:
            cameras.append(
                _with_file_source_resolved(CameraConfig.model_validate(raw), path.parent)
            )
        except ValidationError as exc:
            errors[label] = describe_errors(exc, prefix=f"camera '{label}': ")
            sites[label] = _site_of(raw)
    return cameras, errors, sites


def _validate_alerts(raw_alerts: Any, path: Path) -> tuple[list[Any], dict[str, str]]:
    """Each `[[alerts]]` entry on its own: a broken one is left out and said (in the log
    and the status header), the others and every camera run."""
    from cashwatch.config.alerts import TARGET_MODELS

    if not isinstance(raw_alerts, list):
        got = _TYPE_NAMES.get(type(raw_alerts), "a value")
        raise ConfigError(f"{path}: 'alerts' must be an array of tables ([[alerts]]), got {got}")
    targets: list[Any] = []
    errors: dict[str, str] = {}
    for index, raw in enumerate(raw_alerts):
        name = raw.get("name") if isinstance(raw, dict) else None
        label = name if isinstance(name, str) and name and harmless_text(name) else f"#{index + 1}"
        if any(getattr(t, "name", None) == label for t in targets) or label in errors:
            errors[f"{label} (#{index + 1})"] = (
                f"alert '{label}': a second target with this name; every name must be unique"
            )
            continue
        kind = raw.get("kind") if isinstance(raw, dict) else None
        model = TARGET_MODELS.get(kind) if isinstance(kind, str) else None
        if model is None:
            shown = shown_value(("kind",), kind)
            errors[label] = (
                f"alert '{label}': key 'kind' {shown}: must be one of {', '.join(TARGET_MODELS)}"
            )
            continue
        try:
            targets.append(model.model_validate(raw))
        except ValidationError as exc:
            errors[label] = describe_errors(exc, prefix=f"alert '{label}': ")
    return targets, errors


def resolve_source(source: str, config_dir: Path) -> str:
    """A relative file path is relative to the config file, as `data_dir` is, not to
    whichever folder the manager happened to be started from."""
    if source_kind(source) != "file":
        return source
    path = Path(source).expanduser()
    return source if path.is_absolute() else str(config_dir / path)


def _with_file_source_resolved(camera: CameraConfig, config_dir: Path) -> CameraConfig:
    resolved = resolve_source(camera.source, config_dir)
    return camera if resolved == camera.source else camera.model_copy(update={"source": resolved})


def data_dir_of_broken_config(path: str | os.PathLike[str] | None = None) -> Path:
    """The data folder a config names even when it does not validate (where the manager,
    still running its last good settings, publishes status); its folder if unreadable."""
    config_path = resolve_config_path(path)
    try:
        value = tomllib.loads(config_path.read_text(encoding="utf-8")).get("data_dir")
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        value = None
    return _data_dir(Path(value) if isinstance(value, str) and value else None, config_path)


def _data_dir(value: Path | None, config_path: Path) -> Path:
    """`data_dir` as the file gives it, relative to the file; the file's folder if unset."""
    data_dir = value.expanduser() if value is not None else Path(".")
    return (config_path.parent / data_dir).resolve()


def parse_config(text: str, path: Path) -> LoadedConfig:
    """Validate TOML text as if it were the file at `path`."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {mask_credentials(str(exc))}") from exc
    cameras, camera_errors, error_sites = _validate_cameras(raw.pop("cameras", []), path)
    alerts, alert_errors = _validate_alerts(raw.pop("alerts", []), path)
    try:
        app = AppConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(f"{path}: {describe_errors(exc)}") from exc
    app = app.model_copy(update={"cameras": cameras, "alerts": alerts})
    return LoadedConfig(
        path=path,
        data_dir=_data_dir(app.data_dir, path),
        app=app,
        camera_errors=camera_errors,
        camera_error_sites=error_sites,
        alert_errors=alert_errors,
    )


def load_config(path: str | os.PathLike[str] | None = None, *, create: bool = True) -> LoadedConfig:
    """Read and validate the config; create the demo config at the default path."""
    config_path = resolve_config_path(path)
    if not config_path.exists():
        if create and path is None and not os.environ.get(ENV_VAR):
            from cashwatch.config.defaults import write_demo_config

            write_demo_config(config_path)
        else:
            raise ConfigError(
                f"config file {config_path} does not exist "
                "(pass --config PATH or set CASHWATCH_CONFIG)"
            )
    try:
        text = config_path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read {config_path}: {exc.strerror}") from exc
    return parse_config(text, config_path)
