"""Widgets for a layer's fields, drawn from the registry's Field list.

Each field becomes the widget its type needs (a number, a height/width pair, a
padding mode, a checkbox); the value read back is stack JSON, written into the
layer dict by the widget's callback, before the script reruns.

The number widgets have no min/max: Streamlit's would refuse an entry out of range
without a word. The callback checks the value as a stack file's would be checked
(calc.spec.parse_layer); a refused one is not applied, the widget goes back to the
layer's value and the reason is shown under it.
"""

from __future__ import annotations

import json
from typing import Any

import streamlit as st

from calc.errors import SpecError
from calc.registry import MAX_DIM, Field, LayerKind
from calc.spec import parse_layer

# What a new layer starts with where torch has no default (the registry's REQUIRED fields).
SUGGESTED = {"out_channels": 64, "out_features": 128, "kernel_size": 3}
REFUSED = "refused_entries"  # widget key -> why the value typed there was not applied


def _heads_for(features: int) -> int:
    return next(heads for heads in (8, 4, 2, 1) if features % heads == 0)


def new_layer(kind: LayerKind, incoming_shape: tuple[int, ...] | None) -> dict[str, Any]:
    """A layer of ``kind`` with torch's defaults and a sensible value for required fields."""
    layer: dict[str, Any] = {"type": kind.name}
    for field in kind.fields:
        if field.required:
            if field.name == "num_heads":
                layer[field.name] = _heads_for(incoming_shape[-1]) if incoming_shape else 1
            else:
                layer[field.name] = SUGGESTED[field.name]
    return layer


def _pair_value(value: Any) -> tuple[int, int]:
    return tuple(value) if isinstance(value, (list, tuple)) else (value, value)


def _pack(height: int, width: int) -> int | list[int]:
    return height if height == width else [height, width]


def _seed_field(field: Field, key: str, value: Any, force: bool = False) -> None:
    """Initialise a field's widget state from the layer's value when it is not on screen yet
    (or, with ``force``, set it back to that value)."""
    def seed(widget_key: str, widget_value: Any) -> None:
        if force or widget_key not in st.session_state:
            st.session_state[widget_key] = widget_value

    if field.type == "padding":
        seed(f"{key}.mode", "same" if value == "same" else "explicit")
        value = 0 if value == "same" else value
    elif field.type == "pair" and field.default is None:
        seed(f"{key}.auto", value is None)
        value = 1 if value is None else value
    if field.type in ("padding", "pair"):
        height, width = _pair_value(value)
        seed(f"{key}.h", height)
        seed(f"{key}.w", width)
    elif field.type == "probability":
        seed(key, float(value))
    else:
        seed(key, value)


def refuse(key: str, name: str, typed: Any, reason: str, kept: Any) -> None:
    """Say under the widget ``key`` why ``typed`` was not applied to ``name`` (shown once, on the next run)."""
    st.session_state.setdefault(REFUSED, {})[key] = (f"{name} {json.dumps(typed)} was not applied: {reason}. "
                                                     f"It stays {json.dumps(kept)}.")


def show_refused(key: str) -> None:
    message = st.session_state.get(REFUSED, {}).pop(key, None)
    if message:
        st.warning(message, icon=":material/block:")


def read_field(field: Field, key: str) -> Any:
    """The field's value as stack JSON, read from its widget state."""
    state = st.session_state
    if field.type == "padding" and state[f"{key}.mode"] == "same":
        return "same"
    if field.type == "pair" and field.default is None and state[f"{key}.auto"]:
        return None
    if field.type in ("padding", "pair"):
        return _pack(int(state[f"{key}.h"]), int(state[f"{key}.w"]))
    if field.type == "probability":
        return float(state[key])
    return state[key]


def store_field(layer: dict[str, Any], field: Field, key: str) -> None:
    """Widget callback: write the field's new value into the layer (defaults left out); a value the
    stack format refuses (0, -3, 10**12) is not written and the widget shows the layer's value again."""
    value = read_field(field, key)
    try:
        parse_layer({**layer, field.name: value}, 0)
    except SpecError as error:
        if error.field == field.name:
            kept = layer.get(field.name, field.default)
            refuse(key, field.name, value, error.reason, kept)
            _seed_field(field, key, kept, force=True)
            return
    if field.required or value != field.default:
        layer[field.name] = value
    else:
        layer.pop(field.name, None)


def _pair(field: Field, key: str, on_change, args, disabled: bool = False) -> None:
    left, right = st.columns(2)
    for column, axis in ((left, "h"), (right, "w")):
        with column:
            st.number_input(f"{field.name} {axis}", step=1, key=f"{key}.{axis}", help=_with_range(field),
                            disabled=disabled, on_change=on_change, args=args)


def _with_range(field: Field) -> str:
    return f"{field.help}; a whole number from {field.minimum} to {MAX_DIM:,}"


def field_widget(field: Field, key: str, value: Any, on_change, args) -> None:
    """Draw one field's widget(s), state under ``key``, seeded from ``value``."""
    _seed_field(field, key, value)
    if field.type == "int":
        st.number_input(field.name, step=1, key=key, help=_with_range(field), on_change=on_change, args=args)
    elif field.type == "bool":
        st.checkbox(field.name, key=key, help=field.help, on_change=on_change, args=args)
    elif field.type == "probability":
        st.number_input(field.name, step=0.05, key=key, help=f"{field.help}; from 0 up to (not including) 1",
                        on_change=on_change, args=args)
    elif field.type == "padding":
        same = st.radio("padding", ("explicit", "same"), key=f"{key}.mode", horizontal=True, help=field.help,
                        on_change=on_change, args=args) == "same"
        _pair(field, key, on_change, args, disabled=same)
    elif field.type == "pair" and field.default is None:  # pooling stride: None means "= kernel_size"
        automatic = st.checkbox(f"{field.name} = kernel_size", key=f"{key}.auto", help=field.help,
                                on_change=on_change, args=args)
        _pair(field, key, on_change, args, disabled=automatic)
    elif field.type == "pair":
        _pair(field, key, on_change, args)
    else:
        raise AssertionError(f"no widget for field type {field.type}")


def edit_layer(kind: LayerKind, layer: dict[str, Any], uid: int,
               error_field: str | None, error_message: str | None) -> None:
    """Draw every field of ``layer``; each edit is stored by a callback before the rerun."""
    for field in kind.fields:
        key = f"f{uid}.{field.name}"
        field_widget(field, key, layer.get(field.name, field.default), store_field, (layer, field, key))
        show_refused(key)
        if error_message and error_field == field.name:
            st.error(error_message, icon=":material/error:")
    if error_message and error_field not in {field.name for field in kind.fields}:
        st.error(error_message, icon=":material/error:")
