"""docs/configuration.md is generated from the models' titles and descriptions, so the
reference and the validation can never disagree. `python -m cashwatch.config.docs`."""

from __future__ import annotations

import sys
import typing
from pathlib import Path

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from cashwatch.config.alerts import EmailTarget, MqttTarget, WebhookTarget
from cashwatch.config.app import AppConfig
from cashwatch.config.camera import CameraConfig

HEADER = """# Configuration reference

Generated from the pydantic models by `python -m cashwatch.config.docs`; do not edit.
One TOML file (`--config PATH`, else `$CASHWATCH_CONFIG`, else `data/cashwatch.toml`).
Unknown keys are errors. The manager reloads the file when it changes: a broken file
keeps the last good config running; a broken camera entry keeps that camera's last good
settings (or shows it in error) and never affects the other cameras. `cashwatch check`
validates a file without running anything.

Each camera is a `[[cameras]]` entry (an array of tables); its sub-tables follow it as
`[cameras.detection.cash]`, `[cameras.zones]` and so on, and belong to the entry above
them. Zones are polygons of at least three `[x, y]` points, each from 0 to 1 as a share
of the frame's width and height (so they survive a change of resolution):

```toml
[[cameras]]
id = "front-desk"
source = "rtsp://user:password@10.0.0.21:554/stream1"
site = "lobby"

[cameras.zones]
cashier = [[0.55, 0.0], [1.0, 0.0], [1.0, 1.0], [0.55, 1.0]]
counter = [[0.4, 0.3], [0.7, 0.3], [0.7, 0.8], [0.4, 0.8]]
```
"""

ALERTS_INTRO = """
## Alerts

Each alert target is an `[[alerts]]` entry with a `name` and a `kind`: `webhook`, `mqtt`
or `email`; the keys of each kind follow. A broken entry is left out (and said in the
log, the status header and `cashwatch check`); the other targets and every camera run.
How alerts are sent, retried and formatted: [alerts.md](alerts.md)."""

# arrays of tables, rendered after the global sections
_LISTS = ("cameras", "alerts")
_HEADINGS = {
    "": "Top level",
    "cameras": "`[[cameras]]` (one entry per camera)",
    "alerts.webhook": '`[[alerts]]` with `kind = "webhook"`',
    "alerts.mqtt": '`[[alerts]]` with `kind = "mqtt"`',
    "alerts.email": '`[[alerts]]` with `kind = "email"`',
}

_BOUNDS = (
    ("ge", "≥"),
    ("gt", ">"),
    ("le", "≤"),
    ("lt", "<"),
    ("min_length", "length ≥"),
    ("max_length", "length ≤"),
)


def _model_of(annotation: object) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _model_of(arg)
        if found is not None:
            return found
    return None


def _default(field: typing.Any) -> str:
    if field.default_factory is not None or field.default is PydanticUndefined:
        return "required" if field.is_required() else ""
    return f"`{field.default!r}`".replace("|", "\\|")


def _valid(field: typing.Any) -> str:
    """What the validation accepts, as far as the field's own constraints say."""
    annotation = field.annotation
    extra = field.json_schema_extra
    if isinstance(extra, dict) and isinstance(extra.get("valid"), str):
        return str(extra["valid"])  # a rule checked in a validator, said in words
    if typing.get_origin(annotation) is typing.Literal:
        return "one of " + ", ".join(f"`{choice}`" for choice in typing.get_args(annotation))
    if annotation is bool:
        return "`true`, `false`"
    bounds = [
        f"{sign} {getattr(item, attr)}"
        for item in field.metadata
        for attr, sign in _BOUNDS
        if getattr(item, attr, None) is not None
    ]
    return ", ".join(bounds)


def render_model(model: type[BaseModel], section: str, out: list[str]) -> None:
    rows, nested = [], []
    for name, field in model.model_fields.items():
        if name in _LISTS:
            continue  # arrays of tables: rendered on their own below
        sub = _model_of(field.annotation)
        if sub is not None:
            nested.append((f"{section}.{name}" if section else name, sub))
            continue
        text = " ".join(filter(None, [field.title and f"**{field.title}**.", field.description]))
        rows.append(f"| `{name}` | {_default(field)} | {_valid(field)} | {text} |")
    if rows:
        heading = _HEADINGS.get(section, f"`[{section}]`")
        out += [
            f"\n## {heading}",
            "",
            "| key | default | valid | meaning |",
            "|---|---|---|---|",
            *rows,
        ]
    for sub_section, sub_model in nested:
        render_model(sub_model, sub_section, out)


def render() -> str:
    out = [HEADER]
    render_model(AppConfig, "", out)
    render_model(CameraConfig, "cameras", out)
    out.append(ALERTS_INTRO)
    for kind, target in (("webhook", WebhookTarget), ("mqtt", MqttTarget), ("email", EmailTarget)):
        render_model(target, f"alerts.{kind}", out)
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else None
    if target:
        target.write_text(render())
    else:
        sys.stdout.write(render())
