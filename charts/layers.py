"""Figures of one Report: MACs per layer, and where the work goes by layer kind."""

from __future__ import annotations

import math

import plotly.graph_objects as go

from calc.analyze import Report, Row
from calc.registry import layer_kind
from calc.units import si

# One colour per layer group, readable on light and dark backgrounds and when projected.
GROUP_COLORS = {
    "convolution": "#1f5fbf",
    "linear": "#d9730d",
    "attention": "#8e44ad",
    "normalization": "#2a9d8f",
    "activation": "#e76f51",
    "pooling": "#6c757d",
    "reshape": "#adb5bd",
}


def _group(kind: str) -> str:
    return layer_kind(kind).group


def _shape(shape: tuple[int, ...]) -> str:
    return "×".join(map(str, shape))


# Chart text sizes in pixels: readable from the back of a classroom. Presentation mode
# scales every size in a figure by PRESENTATION_SCALE (for_presentation).
FONT_PX = 15
PRESENTATION_SCALE = 1.25
# A legend right of the plot, top-aligned: plotly makes room for it there. A horizontal
# legend above a figure without a title, or below one, was drawn over bars and tick labels.
LEGEND_RIGHT = {"orientation": "v", "x": 1.02, "xanchor": "left", "y": 1, "yanchor": "top"}


def layout(figure: go.Figure, title: str, y_title: str, x_title: str = "") -> go.Figure:
    figure.update_layout(
        title={"text": title, "x": 0, "xanchor": "left", "font": {"size": FONT_PX + 3}},
        margin={"l": 10, "r": 10, "t": 50, "b": 10},
        height=400,
        font={"size": FONT_PX},
        legend={
            "orientation": "h",
            "x": 1,
            "xanchor": "right",
            "y": 1.02,
            "yanchor": "bottom",
            "font": {"size": FONT_PX},
        },
        yaxis={"title": {"text": y_title}, "automargin": True},
        xaxis={"title": {"text": x_title}, "automargin": True},
        hoverlabel={"font_size": FONT_PX},
        # A label that does not fit its bar at this size is left off, not shrunk to a speck.
        uniformtext={"minsize": FONT_PX - 3, "mode": "hide"},
    )
    # Sizes on every axis, subplots' too: Streamlit's chart theme sets smaller ones otherwise.
    figure.update_xaxes(tickfont_size=FONT_PX, title_font_size=FONT_PX)
    figure.update_yaxes(tickfont_size=FONT_PX, title_font_size=FONT_PX)
    return figure


def _scaled(size: float | None, scale: float) -> float | None:
    return size * scale if size else None


def for_presentation(figure: go.Figure, scale: float = PRESENTATION_SCALE) -> go.Figure:
    """The same figure for a projector: every font size set in it times ``scale`` (layout,
    title, legend, axes, hover labels, annotations such as subplot titles, colour bars,
    traces' text), and a taller plot so that the larger labels leave the data its room.
    Plotly lays the figure out again at the width it is given, so nothing is cut."""
    figure = go.Figure(figure)
    layout_ = figure.layout
    figure.update_layout(
        font_size=_scaled(layout_.font.size or FONT_PX, scale),
        title_font_size=_scaled(layout_.title.font.size, scale),
        legend_font_size=_scaled(layout_.legend.font.size, scale),
        hoverlabel_font_size=_scaled(layout_.hoverlabel.font.size, scale),
        uniformtext_minsize=_scaled(layout_.uniformtext.minsize, scale),
        height=round((layout_.height or 400) * scale),
    )
    for axis in [*figure.select_xaxes(), *figure.select_yaxes()]:
        axis.update(
            tickfont_size=_scaled(axis.tickfont.size, scale),
            title_font_size=_scaled(axis.title.font.size, scale),
        )
    for annotation in layout_.annotations:
        if annotation.font.size:  # the others follow the layout's font
            annotation.font.size = annotation.font.size * scale
    for trace in figure.data:
        textfont = getattr(trace, "textfont", None)
        if textfont is not None and textfont.size:
            textfont.size = textfont.size * scale
        colorbar = getattr(trace, "colorbar", None)
        if colorbar is not None:
            colorbar.update(
                tickfont_size=_scaled(colorbar.tickfont.size, scale),
                title_font_size=_scaled(colorbar.title.font.size, scale),
            )
    return figure


def log_axis(axis_values: list[float]) -> dict:
    """Axis settings for a log scale over ``axis_values`` (all > 0): ticks at 1, 2, 5 x 10^k
    with their values written out, and a range from the tick below the smallest to the
    tick above the largest. Plotly's own ticks on a short log range read "4 5 6 7 8 9 1 2 3"."""
    low, high = min(axis_values), max(axis_values)
    mantissas = (1, 2, 5) if high / low < 1e4 else (1,)  # over many decades, 2 and 5 crowd the axis
    candidates = [
        mantissa * 10.0**exponent
        for exponent in range(math.floor(math.log10(low)), math.ceil(math.log10(high)) + 1)
        for mantissa in mantissas
    ]
    below = [value for value in candidates if value <= low][-1]
    above = next(value for value in candidates if value >= high)
    values = [value for value in candidates if below <= value <= above]
    return {
        "type": "log",
        "tickvals": values,
        "ticktext": [f"{value:g}" for value in values],
        "range": [math.log10(values[0]), math.log10(values[-1])],
    }


def layer_label(row: Row) -> str:
    return f"{row.name} {row.kind}"


def macs_per_layer(report: Report) -> go.Figure:
    """A bar per layer, coloured by group; hover gives shape, exact MACs, share, params."""
    figure = go.Figure()
    total = report.macs or 1
    for group, color in GROUP_COLORS.items():
        rows = [row for row in report.rows if _group(row.kind) == group]
        if not rows:
            continue
        figure.add_bar(
            name=group,
            x=[layer_label(row) for row in rows],
            y=[row.macs for row in rows],
            marker_color=color,
            customdata=[
                [
                    _shape(row.output_shape),
                    f"{row.macs:,}",
                    f"{100 * row.macs / total:.1f} %",
                    f"{row.params:,}",
                    f"{row.other_ops:,}",
                ]
                for row in rows
            ],
            hovertemplate=(
                "<b>%{x}</b><br>output %{customdata[0]}<br>MACs %{customdata[1]} "
                "(%{customdata[2]} of total)<br>params %{customdata[3]}<br>"
                "other ops %{customdata[4]}<extra></extra>"
            ),
        )
    figure.update_xaxes(
        categoryorder="array",
        categoryarray=[layer_label(row) for row in report.rows],
        tickangle=-45 if len(report.rows) > 8 else 0,
    )
    figure.update_yaxes(tickformat="~s")
    return layout(figure, f"MACs per layer (total {si(report.macs, 'MACs')})", "MACs")


def macs_by_kind(report: Report) -> go.Figure:
    """MACs summed by layer kind (horizontal bars), largest first."""
    totals: dict[str, int] = {}
    for row in report.rows:
        totals[row.kind] = totals.get(row.kind, 0) + row.macs
    kinds = sorted(totals, key=totals.get)
    total = report.macs or 1
    figure = go.Figure(
        go.Bar(
            x=[totals[kind] for kind in kinds],
            y=kinds,
            orientation="h",
            marker_color=[GROUP_COLORS[_group(kind)] for kind in kinds],
            customdata=[[f"{totals[kind]:,}", f"{100 * totals[kind] / total:.1f} %"] for kind in kinds],
            hovertemplate="<b>%{y}</b><br>MACs %{customdata[0]} (%{customdata[1]})<extra></extra>",
        )
    )
    figure.update_xaxes(tickformat="~s")
    return layout(figure, "MACs by layer kind", "", "MACs")


def other_ops_by_label(report: Report) -> go.Figure:
    """Other ops (never part of MACs) by what they are: bias, norm, activation, pooling..."""
    totals = report.other_ops_by_label()
    labels = sorted(totals, key=totals.get)
    figure = go.Figure(
        go.Bar(
            x=[totals[label] for label in labels],
            y=labels,
            orientation="h",
            marker_color="#6c757d",
            customdata=[f"{totals[label]:,}" for label in labels],
            hovertemplate="<b>%{y}</b><br>%{customdata} ops<extra></extra>",
        )
    )
    figure.update_xaxes(tickformat="~s")
    return layout(figure, "Other ops by kind (not in MACs)", "", "ops")
