"""docs/configuration.md is generated from the models' titles and descriptions, so the
reference and the validation can never disagree. `python -m cashwatch.config.docs`."""

from __future__ import annotations

import sys
import typing
from pathlib import Path

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from cashwatch.config.app import AppConfig
from cashwatch.config.camera import CameraConfig

HEADER = """# Configuration reference

Generated from the pydantic models by `python -m cashwatch.config.docs`; do not edit.
One TOML file (`--config PATH`, else `$CASHWATCH_CONFIG`, else `data/cashwatch.toml`).
Unknown keys are errors. The manager reloads the file when it changes: a broken file
keeps the last good config running; a broken camera entry keeps that camera's last good
settings (or shows it in error) and never affects the other cameras.
"""


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


def render_model(model: type[BaseModel], section: str, out: list[str]) -> None:
    rows, nested = [], []
    for name, field in model.model_fields.items():
        sub = _model_of(field.annotation)
        if sub is not None and name != "cameras":
            nested.append((f"{section}.{name}" if section else name, sub))
            continue
        if name == "cameras":
            continue
        text = " ".join(filter(None, [field.title and f"**{field.title}**.", field.description]))
        rows.append(f"| `{name}` | {_default(field)} | {text} |")
    if rows:
        out += [f"\n## `[{section}]`" if section else "\n## Top level", "",
                "| key | default | meaning |", "|---|---|---|", *rows]
    for sub_section, sub_model in nested:
        render_model(sub_model, sub_section, out)


def render() -> str:
    out = [HEADER]
    render_model(AppConfig, "", out)
    render_model(CameraConfig, "cameras", out)
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else None
    if target:
        target.write_text(render())
    else:
        sys.stdout.write(render())
