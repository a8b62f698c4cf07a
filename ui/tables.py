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

from ui import style, widget_defaults

# The grid's text is 14 px Source Sans: 6.4 px per digit on screen ("524,391,936" spans
# 70 px), 7.2 with a margin; wide letters (m, w) are offset by narrow ones (i, l, comma).
CHAR_PX = 7.2
PADDING_PX = 20  # the cell's padding, both sides
MAX_TEXT_PX = 360  # long text (a source, a description) is cut with an ellipsis instead


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


def column_label(column, entry: dict) -> str:
    """The header a column shows: its configured label, else its name."""
    return entry.get("label") or str(column)


def sized(
    frame: pd.DataFrame, column_config: dict | None = None, column_order=None, scale: float = 1.0
) -> dict:
    """``column_config`` with a width for every shown column of ``frame`` (times ``scale``)
    and its leading columns pinned."""
    config = dict(column_config or {})
    for column in column_order or frame.columns:
        entry = config.get(column)
        if entry is None and column in config:
            continue  # hidden on purpose
        entry = {"label": entry} if isinstance(entry, str) else dict(entry or {})
        number_format = (entry.get("type_config") or {}).get("format")
        entry["width"] = math.ceil(
            scale * column_width_px(column_label(column, entry), frame[column], number_format)
        )
        config[column] = entry
    # A table wider than the window scrolls sideways; its leading columns stay in view so that
    # every row still says what it is: the first column, and the next when that is a "#".
    shown = shown_columns(config, column_order or frame.columns)
    for column in shown[: 2 if shown[:1] == ["#"] else 1]:
        if config[column].get("pinned") is None:
            config[column]["pinned"] = True
    return config


def shown_columns(config: dict, column_order) -> list[str]:
    return [column for column in column_order if config.get(column) is not None]


# The width a table must fit without scrolling sideways, in CSS pixels: a grid that scrolls
# shows part of a number at its edge ("146,81" for 146,810,000), drawn on a canvas. Measured
# in Chromium at 1024x768, the narrowest window MACscope is laid out for: the main area is
# 660 px wide beside the open sidebar, 967 px in presentation mode (sidebar collapsed); a
# vertical scrollbar's room is kept free.
FIT_PX = 644
PRESENTATION_FIT_PX = 951


def column_groups(widths: dict[str, int], pinned: list[str], budget_px: int) -> list[list[str]]:
    """The unpinned columns, in order, cut into groups that fit ``budget_px`` beside the pinned ones."""
    room = budget_px - sum(widths[column] for column in pinned)
    groups: list[list[str]] = [[]]
    used = 0
    for column, width in widths.items():
        if column in pinned:
            continue
        if groups[-1] and used + width > room:
            groups.append([])
            used = 0
        groups[-1].append(column)
        used += width
    return groups


def group_label(group: list[str], config: dict) -> str:
    names = [column_label(column, config[column]) for column in group]
    return names[0] if len(names) == 1 else f"{names[0]} … {names[-1]}"


def show(
    frame: pd.DataFrame, column_config: dict | None = None, where=st, key: str | None = None, **kwargs
) -> None:
    """st.dataframe (in ``where``: st, a column, a container) with sized columns; the grid's
    text grows with the root font in presentation mode, and so do the columns.

    A table wider than a 1024-pixel window shows its columns in groups, picked above it,
    beside its pinned leading columns; the frame (and so a download of it) keeps them all.
    """
    presentation = bool(st.session_state.get("presentation"))
    scale = style.PRESENTATION_ROOT_PX / style.BASE_ROOT_PX if presentation else 1.0
    order = list(kwargs.pop("column_order", None) or frame.columns)
    config = sized(frame, column_config, order, scale)
    shown = shown_columns(config, order)
    pinned = [column for column in shown if config[column].get("pinned")]
    widths = {column: config[column]["width"] for column in shown}
    groups = column_groups(widths, pinned, PRESENTATION_FIT_PX if presentation else FIT_PX)
    if len(groups) > 1:
        labels = [group_label(group, config) for group in groups]
        choice_key = f"table_columns.{key or '|'.join(map(str, shown))}"
        if st.session_state.get(choice_key) not in labels:
            st.session_state[choice_key] = labels[0]  # the columns changed (another preset, another mode)
        beside = ", ".join(column_label(column, config[column]) for column in pinned)
        choice = where.segmented_control(
            "Columns",
            labels,
            default=widget_defaults.option(choice_key, labels),
            key=choice_key,
            label_visibility="collapsed",
            help=f"The whole table is wider than the window: pick the columns shown beside {beside}. "
            "The download has every column.",
        )
        shown = pinned + groups[labels.index(choice) if choice in labels else 0]
    where.dataframe(frame, column_config=config, column_order=shown, key=key, **kwargs)
