"""Form fields generated from the pydantic config models.

Labels, help texts and bounds come from each field's title, description and
`Field(ge=, le=)`, so the form cannot drift from the model. The model still validates
the result (strict bounds like `gt` are only approximated by the widgets). Titles,
descriptions and a nested model's summary are shown in the language in effect (the
config models mark them for the catalogue); so are the config's own words the form
shows, a section's name and a choice's value, where the caller gives their `labels`.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Mapping
from typing import Any

import annotated_types
import streamlit as st
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from cashwatch.i18n import _


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
        help=_help(field),
        key=key,
    )


def _help(field: FieldInfo) -> str | None:
    """The field's description in the language in effect, None without one."""
    return _(field.description) if field.description else None


def _label(word: object, labels: Mapping[str, str]) -> str:
    """A config word (a section's name, a choice's value) as the form shows it: its label
    in the language in effect, the word itself without one. The value stays the word."""
    label = labels.get(str(word))
    return _(label) if label else str(word)


def field_widget(
    name: str, field: FieldInfo, value: Any, key: str, labels: Mapping[str, str] | None = None
) -> Any:
    """One widget for a scalar field; returns the entered value. `labels`: how to show
    a choice's value (marked for the catalogue by the caller)."""
    choices = labels or {}
    label = _(field.title) if field.title else name
    annotation, optional = _unwrap_optional(field.annotation)
    if annotation is bool:
        return st.checkbox(label, value=bool(value), help=_help(field), key=key)
    if annotation is int:
        return _number(label, value, field, key, integer=True)
    if annotation is float:
        return _number(label, value, field, key, integer=False)
    if typing.get_origin(annotation) is typing.Literal:
        options = list(typing.get_args(annotation))
        return st.selectbox(
            label,
            options,
            index=options.index(value),
            format_func=lambda option: _label(option, choices),
            help=_help(field),
            key=key,
        )
    text = st.text_input(
        label, value="" if value is None else str(value), help=_help(field), key=key
    )
    return (text or None) if optional else text


def model_form(
    model: type[BaseModel],
    values: dict[str, Any],
    key: str,
    skip: frozenset[str] = frozenset(),
    depth: int = 0,
    labels: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Widgets for every field of `model`; returns the values.

    Nested models go in an expander at the first level and under a heading below it
    (Streamlit does not nest expanders). `labels`: how to show the config's words, a
    section's name (its field's name) and a choice's value, marked for the catalogue by
    the caller; a word without one is shown as it is (a section's name title-cased).
    """
    words = labels or {}
    out: dict[str, Any] = {}
    for name, field in model.model_fields.items():
        if name in skip:
            continue
        annotation, _optional = _unwrap_optional(field.annotation)
        current = values.get(name)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            heading = getattr(annotation, "FORM_TITLE", None)  # marked N_ in the model
            section = _(words[name]) if name in words else name.title()
            title = f"{section}: {_(heading) if heading else name}"
            nested = f"{key}.{name}"
            if depth == 0:
                with st.expander(title):
                    out[name] = model_form(annotation, current or {}, nested, depth=1, labels=words)
            else:
                st.markdown(f"**{title}**")
                out[name] = model_form(
                    annotation, current or {}, nested, depth=depth + 1, labels=words
                )
        elif typing.get_origin(annotation) is list:
            continue  # lists (zones, cameras) have their own editors
        else:
            out[name] = field_widget(name, field, current, f"{key}.{name}", words)
    return out
