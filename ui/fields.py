"""Widgets for a layer's fields, drawn from the registry's Field list.

Each field becomes the widget its ``Field.widget`` names (WIDGETS: a number, a
height/width pair, a padding mode, a checkbox); the value read back is stack JSON, written into the
layer dict by the widget's callback, before the script reruns.

The number widgets have no min/max: Streamlit's would refuse an entry out of range
without a word. The callback checks the value as a stack file's would be checked
(calc.spec.parse_layer); a refused one is not applied, the widget goes back to the
layer's value and the reason is shown under it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, NamedTuple

import streamlit as st

from calc.errors import SpecError
from calc.fields import MAX_DIM, Field
from calc.registry import LayerKind
from calc.spec import parse_layer
from ui import widget_defaults

REFUSED = "refused_entries"  # widget key -> why the value typed there was not applied


def new_layer(kind: LayerKind, incoming_shape: tuple[int, ...] | None) -> dict[str, Any]:
    """A layer of ``kind`` with torch's defaults and each required field's suggested value."""
    layer: dict[str, Any] = {"type": kind.name}
    for field in kind.fields:
        if field.required:
            layer[field.name] = field.suggested(incoming_shape)
    return layer


def _pair_value(value: Any) -> tuple[int, int]:
    return tuple(value) if isinstance(value, (list, tuple)) else (value, value)


def _pack(height: int, width: int) -> int | list[int]:
    return height if height == width else [height, width]


# ---------------------------------------------------------------------------
# one entry per widget kind (Field.widget): its state for a value, its value from the state, drawing it


def _pair_state(key: str, value: Any) -> dict[str, Any]:
    height, width = _pair_value(value)
    return {f"{key}.h": height, f"{key}.w": width}


def _pair_read(state, key: str) -> Any:
    return _pack(int(state[f"{key}.h"]), int(state[f"{key}.w"]))


def _padding_state(key: str, value: Any) -> dict[str, Any]:
    same = value == "same"
    return {f"{key}.mode": "same" if same else "explicit", **_pair_state(key, 0 if same else value)}


def _padding_read(state, key: str) -> Any:
    return "same" if state[f"{key}.mode"] == "same" else _pair_read(state, key)


def _padding_one_axis_state(key: str, value: Any) -> dict[str, Any]:
    same = value == "same"
    return {f"{key}.mode": "same" if same else "explicit", f"{key}.n": 0 if same else value}


def _padding_one_axis_read(state, key: str) -> Any:
    return "same" if state[f"{key}.mode"] == "same" else int(state[f"{key}.n"])


def _auto_pair_state(key: str, value: Any) -> dict[str, Any]:
    return {f"{key}.auto": value is None, **_pair_state(key, 1 if value is None else value)}


def _auto_pair_read(state, key: str) -> Any:
    return None if state[f"{key}.auto"] else _pair_read(state, key)


def _with_range(field: Field) -> str:
    return f"{field.help}; a whole number from {field.minimum} to {MAX_DIM:,}"


def _draw_pair(field: Field, key: str, on_change, args, disabled: bool = False) -> None:
    left, right = st.columns(2)
    for column, axis in ((left, "h"), (right, "w")):
        with column:
            st.number_input(
                f"{field.name} {axis}",
                step=1,
                value=widget_defaults.number(f"{key}.{axis}"),
                key=f"{key}.{axis}",
                help=_with_range(field),
                disabled=disabled,
                on_change=on_change,
                args=args,
            )


def _padding_mode(field: Field, key: str, on_change, args) -> bool:
    return (
        st.radio(
            field.name,
            ("explicit", "same"),
            index=widget_defaults.index(f"{key}.mode", ("explicit", "same")),
            key=f"{key}.mode",
            horizontal=True,
            help=field.help,
            on_change=on_change,
            args=args,
        )
        == "same"
    )


def _draw_padding(field: Field, key: str, on_change, args) -> None:
    _draw_pair(field, key, on_change, args, disabled=_padding_mode(field, key, on_change, args))


def _draw_padding_one_axis(field: Field, key: str, on_change, args) -> None:
    same = _padding_mode(field, key, on_change, args)
    st.number_input(
        field.name,
        step=1,
        value=widget_defaults.number(f"{key}.n"),
        key=f"{key}.n",
        help=_with_range(field),
        disabled=same,
        on_change=on_change,
        args=args,
    )


def _draw_auto_pair(field: Field, key: str, on_change, args) -> None:
    # pooling's stride: None means "as kernel_size"
    automatic = st.checkbox(
        f"{field.name} = kernel_size",
        value=widget_defaults.value(f"{key}.auto", False),
        key=f"{key}.auto",
        help=field.help,
        on_change=on_change,
        args=args,
    )
    _draw_pair(field, key, on_change, args, disabled=automatic)


def _draw_number(field: Field, key: str, on_change, args) -> None:
    st.number_input(
        field.name,
        step=1,
        value=widget_defaults.number(key),
        key=key,
        help=_with_range(field),
        on_change=on_change,
        args=args,
    )


def _draw_checkbox(field: Field, key: str, on_change, args) -> None:
    st.checkbox(
        field.name,
        value=widget_defaults.value(key, False),
        key=key,
        help=field.help,
        on_change=on_change,
        args=args,
    )


def _draw_probability(field: Field, key: str, on_change, args) -> None:
    st.number_input(
        field.name,
        step=0.05,
        value=widget_defaults.number(key, step=0.05),
        key=key,
        help=f"{field.help}; from 0 up to (not including) 1",
        on_change=on_change,
        args=args,
    )


class _Widget(NamedTuple):
    state: Callable[[str, Any], dict[str, Any]]  # (key, JSON value) -> widget state under that key
    read: Callable[[Any, str], Any]  # (session state, key) -> JSON value
    draw: Callable  # (field, key, on_change, args) -> None


WIDGETS = {
    "whole number": _Widget(lambda key, value: {key: value}, lambda state, key: state[key], _draw_number),
    "checkbox": _Widget(lambda key, value: {key: value}, lambda state, key: state[key], _draw_checkbox),
    "probability": _Widget(
        lambda key, value: {key: float(value)}, lambda state, key: float(state[key]), _draw_probability
    ),
    "pair": _Widget(_pair_state, _pair_read, _draw_pair),
    "pair or kernel_size": _Widget(_auto_pair_state, _auto_pair_read, _draw_auto_pair),
    "padding": _Widget(_padding_state, _padding_read, _draw_padding),
    "padding, one axis": _Widget(_padding_one_axis_state, _padding_one_axis_read, _draw_padding_one_axis),
}


def _seed_field(field: Field, key: str, value: Any, force: bool = False) -> None:
    """Initialise a field's widget state from the layer's value when it is not on screen yet
    (or, with ``force``, set it back to that value)."""
    for widget_key, widget_value in WIDGETS[field.widget].state(key, value).items():
        if force or widget_key not in st.session_state:
            st.session_state[widget_key] = widget_value


def refuse(key: str, name: str, typed: Any, reason: str, kept: Any) -> None:
    """Say under the widget ``key`` why ``typed`` was not applied to ``name`` (shown once, on the next
    run)."""
    st.session_state.setdefault(REFUSED, {})[key] = (
        f"{name} {json.dumps(typed)} was not applied: {reason}. It stays {json.dumps(kept)}."
    )


def show_refused(key: str) -> None:
    message = st.session_state.get(REFUSED, {}).pop(key, None)
    if message:
        st.warning(message, icon=":material/block:")


def read_field(field: Field, key: str) -> Any:
    """The field's value as stack JSON, read from its widget state."""
    return WIDGETS[field.widget].read(st.session_state, key)


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


def field_widget(field: Field, key: str, value: Any, on_change, args) -> None:
    """Draw one field's widget(s), state under ``key``, seeded from ``value``."""
    _seed_field(field, key, value)
    WIDGETS[field.widget].draw(field, key, on_change, args)


def edit_layer(
    kind: LayerKind, layer: dict[str, Any], uid: int, error_field: str | None, error_message: str | None
) -> None:
    """Draw every field of ``layer``; each edit is stored by a callback before the rerun."""
    for field in kind.fields:
        key = f"f{uid}.{field.name}"
        field_widget(field, key, layer.get(field.name, field.default), store_field, (layer, field, key))
        show_refused(key)
        if error_message and error_field == field.name:
            st.error(error_message, icon=":material/error:")
    if error_message and error_field not in {field.name for field in kind.fields}:
        st.error(error_message, icon=":material/error:")
