"""Form fields generated from the pydantic config models.

Labels, help texts and bounds come from each field's title, description and
`Field(ge=, le=)`, so the form cannot drift from the model. The model still validates
the result (strict bounds like `gt` are only approximated by the widgets).
"""

from __future__ import annotations

import types
import typing
from typing import Any

import annotated_types
import streamlit as st
from pydantic import BaseModel
from pydantic.fields import FieldInfo


def _bounds(field: FieldInfo) -> tuple[float | None, float | None]:
    low = high = None
    for item in field.metadata:
        if isinstance(item, annotated_types.Ge | annotated_types.Gt):
            low = item.ge if isinstance(item, annotated_types.Ge) else item.gt
        if isinstance(item, annotated_types.Le | annotated_types.Lt):
            high = item.le if isinstance(item, annotated_types.Le) else item.lt
    return low, high  # type: ignore[return-value]


def _unwrap_optional(annotation: Any) -> tuple[Any, bool]:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0], True
    return annotation, False


def _number(label: str, value: Any, field: FieldInfo, key: str, integer: bool) -> Any:
    low, high = _bounds(field)
    cast = int if integer else float
    return st.number_input(
        label,
        value=cast(value),
        min_value=cast(low) if low is not None else None,
        max_value=cast(high) if high is not None else None,
        step=1 if integer else None,
        format=None if integer else "%g",
        help=field.description or None,
        key=key,
    )


def field_widget(name: str, field: FieldInfo, value: Any, key: str) -> Any:
    """One widget for a scalar field; returns the entered value."""
    label = field.title or name
    annotation, optional = _unwrap_optional(field.annotation)
    if annotation is bool:
        return st.checkbox(label, value=bool(value), help=field.description or None, key=key)
    if annotation is int:
        return _number(label, value, field, key, integer=True)
    if annotation is float:
        return _number(label, value, field, key, integer=False)
    if typing.get_origin(annotation) is typing.Literal:
        options = list(typing.get_args(annotation))
        return st.selectbox(
            label, options, index=options.index(value), help=field.description or None, key=key
        )
    text = st.text_input(
        label, value="" if value is None else str(value), help=field.description or None, key=key
    )
    return (text or None) if optional else text


def model_form(
    model: type[BaseModel],
    values: dict[str, Any],
    key: str,
    skip: frozenset[str] = frozenset(),
    depth: int = 0,
) -> dict[str, Any]:
    """Widgets for every field of `model`; returns the values.

    Nested models go in an expander at the first level and under a heading below it
    (Streamlit does not nest expanders).
    """
    out: dict[str, Any] = {}
    for name, field in model.model_fields.items():
        if name in skip:
            continue
        annotation, _ = _unwrap_optional(field.annotation)
        current = values.get(name)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            title = f"{name.title()}: {(annotation.__doc__ or name).strip().splitlines()[0]}"
            if depth == 0:
                with st.expander(title):
                    out[name] = model_form(annotation, current or {}, f"{key}.{name}", depth=1)
            else:
                st.markdown(f"**{title}**")
                out[name] = model_form(annotation, current or {}, f"{key}.{name}", depth=depth + 1)
        elif typing.get_origin(annotation) is list:
            continue  # lists (zones, cameras) have their own editors
        else:
            out[name] = field_widget(name, field, current, f"{key}.{name}")
    return out
