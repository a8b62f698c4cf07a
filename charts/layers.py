"""Figures of one Report: MACs per layer, and where the work goes by layer kind."""

from __future__ import annotations

import plotly.graph_objects as go

from calc.analyze import Report, Row
from calc.registry import layer_kind
from calc.units import si

# One colour per layer group, readable on light and dark backgrounds and when projected.
GROUP_COLORS = {
    "convolution": "#1f5fbf", "linear": "#d9730d", "attention": "#8e44ad", "normalization": "#2a9d8f",
    "activation": "#e76f51", "pooling": "#6c757d", "reshape": "#adb5bd",
}


def _group(kind: str) -> str:
    return layer_kind(kind).group


def _shape(shape: tuple[int, ...]) -> str:
    return "×".join(map(str, shape))


def layout(figure: go.Figure, title: str, y_title: str, x_title: str = "") -> go.Figure:
    figure.update_layout(
        title={"text": title, "x": 0, "xanchor": "left"}, margin={"l": 10, "r": 10, "t": 50, "b": 10},
        height=400, font={"size": 14},
        legend={"orientation": "h", "x": 1, "xanchor": "right", "y": 1.0, "yanchor": "bottom"},
        yaxis={"title": {"text": y_title}, "automargin": True},
        xaxis={"title": {"text": x_title}, "automargin": True},
        hoverlabel={"font_size": 14},
    )
    return figure


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
            name=group, x=[layer_label(row) for row in rows], y=[row.macs for row in rows], marker_color=color,
            customdata=[[_shape(row.output_shape), f"{row.macs:,}", f"{100 * row.macs / total:.1f} %",
                         f"{row.params:,}", f"{row.other_ops:,}"] for row in rows],
            hovertemplate=("<b>%{x}</b><br>output %{customdata[0]}<br>MACs %{customdata[1]} "
                           "(%{customdata[2]} of total)<br>params %{customdata[3]}<br>"
                           "other ops %{customdata[4]}<extra></extra>"),
        )
    figure.update_xaxes(categoryorder="array", categoryarray=[layer_label(row) for row in report.rows],
                        tickangle=-45 if len(report.rows) > 8 else 0)
    figure.update_yaxes(tickformat="~s")
    return layout(figure, f"MACs per layer (total {si(report.macs, 'MACs')})", "MACs")


def macs_by_kind(report: Report) -> go.Figure:
    """MACs summed by layer kind (horizontal bars), largest first."""
    totals: dict[str, int] = {}
    for row in report.rows:
        totals[row.kind] = totals.get(row.kind, 0) + row.macs
    kinds = sorted(totals, key=totals.get)
    total = report.macs or 1
    figure = go.Figure(go.Bar(
        x=[totals[kind] for kind in kinds], y=kinds, orientation="h",
        marker_color=[GROUP_COLORS[_group(kind)] for kind in kinds],
        customdata=[[f"{totals[kind]:,}", f"{100 * totals[kind] / total:.1f} %"] for kind in kinds],
        hovertemplate="<b>%{y}</b><br>MACs %{customdata[0]} (%{customdata[1]})<extra></extra>",
    ))
    figure.update_xaxes(tickformat="~s")
    return layout(figure, "MACs by layer kind", "", "MACs")


def other_ops_by_label(report: Report) -> go.Figure:
    """Other ops (never part of MACs) by what they are: bias, norm, activation, pooling..."""
    totals = report.other_ops_by_label()
    labels = sorted(totals, key=totals.get)
    figure = go.Figure(go.Bar(
        x=[totals[label] for label in labels], y=labels, orientation="h", marker_color="#6c757d",
        customdata=[f"{totals[label]:,}" for label in labels],
        hovertemplate="<b>%{y}</b><br>%{customdata} ops<extra></extra>",
    ))
    figure.update_xaxes(tickformat="~s")
    return layout(figure, "Other ops by kind (not in MACs)", "", "ops")
