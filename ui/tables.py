"""Tables on the page: st.dataframe with every shown column as wide as its widest value.

glide-data-grid draws the cells on a canvas, and a number wider than its column loses
its leading digits with no ellipsis (524,391,936 read "24,391,936" in the Builder). Its
own sizing looks at the data it was first given, not at a preset loaded later; so each
column gets a width in pixels here, from its header and its longest formatted value.
"""

from __future__ import annotations

import math
import numbers

import pandas as pd
import streamlit as st

from ui import style

# The grid's text is 14 px Source Sans: 6.4 px per digit on screen ("524,391,936" spans
# 70 px), 7.2 with a margin; wide letters (m, w) are offset by narrow ones (i, l, comma).
CHAR_PX = 7.2
PADDING_PX = 20          # the cell's padding, both sides
MAX_TEXT_PX = 360        # long text (a source, a description) is cut with an ellipsis instead


def formatted(value, number_format: str | None) -> str:
    """``value`` as the grid shows it under a NumberColumn ``format`` (None: plain)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, bool) or not isinstance(value, numbers.Number):
        return str(value)
    if number_format == "localized":
        return f"{value:,}" if isinstance(value, numbers.Integral) else f"{value:,.3f}"
    if number_format == "percent":
        return f"{100 * value:.2f}%"
    if number_format and "%" in number_format:
        return number_format % value
    if isinstance(value, numbers.Integral):
        return str(value)
    return f"{value:.4f}".rstrip("0").rstrip(".")


def column_width_px(label: str, values: pd.Series, number_format: str | None) -> int:
    header = len(label) * CHAR_PX  # a header too long would end in an ellipsis, not lose digits
    widest = max((len(formatted(value, number_format)) for value in values), default=0) * CHAR_PX
    numeric = pd.api.types.is_numeric_dtype(values)
    return math.ceil(PADDING_PX + max(header, widest if numeric else min(widest, MAX_TEXT_PX)))


def sized(frame: pd.DataFrame, column_config: dict | None = None, column_order=None, scale: float = 1.0) -> dict:
    """``column_config`` with a width for every shown column of ``frame`` (times ``scale``)
    and the first of them pinned."""
    config = dict(column_config or {})
    for column in column_order or frame.columns:
        entry = config.get(column)
        if entry is None and column in config:
            continue  # hidden on purpose
        entry = {"label": entry} if isinstance(entry, str) else dict(entry or {})
        number_format = (entry.get("type_config") or {}).get("format")
        entry["width"] = math.ceil(scale * column_width_px(entry.get("label") or str(column), frame[column],
                                                           number_format))
        config[column] = entry
    first = next((column for column in column_order or frame.columns if config.get(column) is not None), None)
    if first is not None and config[first].get("pinned") is None:
        # A table wider than the window scrolls sideways; its first column (the layer, the
        # model, the device) stays in view so that every row still says what it is.
        config[first]["pinned"] = True
    return config


def show(frame: pd.DataFrame, column_config: dict | None = None, where=st, **kwargs) -> None:
    """st.dataframe (in ``where``: st, a column, a container) with sized columns; the grid's
    text grows with the root font in presentation mode, and so do the columns."""
    scale = style.PRESENTATION_ROOT_PX / style.BASE_ROOT_PX if st.session_state.get("presentation") else 1.0
    config = sized(frame, column_config, kwargs.get("column_order"), scale)
    where.dataframe(frame, column_config=config, **kwargs)
