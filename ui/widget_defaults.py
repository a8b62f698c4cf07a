"""A keyed widget's default is the value its key holds in the session.

A widget whose value the script sets through ``st.session_state`` (a shared link read by
ui.links.restore, a resolution set to a new model's native size) carries that value only in
the output of the run that set it; later runs send the widget with its default and leave the
value to the browser, which holds it once the widget is on screen. A browser that first draws
the widget from a later run's output shows the default instead. That happens on a cold visit:
the widget's code loads after the first run's output has come, and a click in the meantime (a
tab) brings a later run first. The Latency page opened from a link, its Prediction tab clicked
at once, showed alexnet at 32 px and the first device in 3 of 6 cold visits while it computed
the link's model; the next click sent those values back, and the page and its link changed model.

So every keyed widget takes for its default the value its key holds (``tests/test_widget_defaults``
reads the pages and fails on one that does not): whichever run's output the browser draws it
from, it shows the session's value. On the server nothing changes, since a key's value outranks
the default; Streamlit's log line for a default beside a value set through the session state is
turned off in .streamlit/config.toml.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import streamlit as st

NUMBER_FALLBACK = "min"  # number_input's own default: its min_value, or 0 without one


def index(key: str, options: Sequence, fallback: int = 0) -> int:
    """A selectbox's, radio's or select slider's index: the key's value among the options, else
    ``fallback`` (the widget's own default)."""
    options = list(options)
    value = st.session_state.get(key)
    return options.index(value) if key in st.session_state and value in options else fallback


def option(key: str, options: Sequence, fallback: Any = None) -> Any:
    """The tabs' or a segmented control's default: the key's value if it is among the options
    (Streamlit refuses any other), else ``fallback``."""
    value = st.session_state.get(key)
    return value if key in st.session_state and value in list(options) else fallback


def value(key: str, fallback: Any) -> Any:
    """A toggle's, checkbox's, slider's or text box's value: the key's, else ``fallback``."""
    return st.session_state.get(key, fallback)


def number(
    key: str,
    *,
    min_value: float | None = None,
    max_value: float | None = None,
    step: float = 1,
    fallback: float | str = NUMBER_FALLBACK,
) -> float | int | str:
    """A number input's value: the key's, held within the input's bounds (Streamlit refuses a
    value outside them, where a key's value outside them is let through: an ONNX graph's fixed
    16 px under a 32 px minimum) and of the step's type (it refuses an int value beside a float
    step, and a float beside whole-number arguments); else ``fallback``. Pass the input's own
    ``min_value``, ``max_value`` and ``step``."""
    held = st.session_state.get(key)
    if held is None or isinstance(held, bool) or not isinstance(held, int | float):
        return fallback
    if min_value is not None:
        held = max(held, min_value)
    if max_value is not None:
        held = min(held, max_value)
    if isinstance(step, float):
        return float(held)
    return int(held) if float(held).is_integer() else held


def chosen(key: str, options: Sequence, fallback: Sequence = ()) -> list:
    """A multiselect's default: the key's values that are among
    the options (Streamlit refuses any other), else ``fallback``."""
    if key not in st.session_state:
        return list(fallback)
    held = st.session_state[key]
    values = held if isinstance(held, list | tuple) else [held]
    known = list(options)
    return [item for item in values if item in known]
