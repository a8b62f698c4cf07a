"""Figures of a counted model: where its MACs go in the module tree, the heaviest
layers, and the breakdown by kind of work."""

from __future__ import annotations

import plotly.graph_objects as go

from calc.analyze import ROOT_NAME, Report
from calc.breakdown import macs_by_work, row_category
from calc.units import si
from charts.colors import WORK_COLORS
from charts.layers import layout


def hierarchy_treemap(report: Report, root_label: str) -> go.Figure:
    """Module tree sized by MACs: each box is a module, its area its share of the total."""
    self_macs: dict[str, int] = {}
    types: dict[str, str] = {}
    for row in report.rows:
        path = "" if row.name == ROOT_NAME else row.name
        self_macs[path] = self_macs.get(path, 0) + row.macs
        types[path] = row.kind
    nodes = {""}
    for path in self_macs:
        parts = path.split(".") if path else []
        nodes.update(".".join(parts[:i]) for i in range(1, len(parts) + 1))
    ordered = sorted(nodes, key=lambda path: (path.count("."), path))
    ids = [path or root_label for path in ordered]
    parents = [
        "" if not path else (path.rsplit(".", 1)[0] if "." in path else root_label) for path in ordered
    ]
    labels = [path.rsplit(".", 1)[-1] if path else root_label for path in ordered]
    # Each box is valued at its whole subtree ("total"), so a container's tooltip gives the MACs
    # inside it; with "remainder" it gave its own MACs, 0 for a block, beside a non-zero share.
    subtree = dict.fromkeys(ordered, 0)
    for path, macs in self_macs.items():
        parts = path.split(".") if path else []
        for depth in range(len(parts) + 1):
            subtree[".".join(parts[:depth])] += macs
    values = [subtree[path] for path in ordered]
    figure = go.Figure(
        go.Treemap(
            ids=ids,
            parents=parents,
            labels=labels,
            values=values,
            branchvalues="total",
            customdata=[[path or root_label, types.get(path, "")] for path in ordered],
            hovertemplate="<b>%{customdata[0]}</b> %{customdata[1]}<br>MACs %{value:,} "
            "(%{percentRoot:.1%} of the model)<extra></extra>",
            maxdepth=3,
            root_color="#f1f4f9",
        )
    )
    layout(figure, f"MACs by module (total {si(report.macs, 'MACs')}): click a box to zoom in", "")
    figure.update_layout(height=460, margin={"l": 0, "r": 0, "t": 50, "b": 0})
    return figure


def top_layers(report: Report, count: int = 10) -> go.Figure:
    rows = sorted(report.rows, key=lambda row: row.macs, reverse=True)[:count][::-1]
    total = report.macs or 1
    figure = go.Figure(
        go.Bar(
            x=[row.macs for row in rows],
            y=[f"{row.name} ({row.kind})" for row in rows],
            orientation="h",
            marker_color=[WORK_COLORS[row_category(row)] for row in rows],
            customdata=[
                [f"{row.macs:,}", f"{100 * row.macs / total:.1f} %", "×".join(map(str, row.output_shape))]
                for row in rows
            ],
            hovertemplate="<b>%{y}</b><br>MACs %{customdata[0]} (%{customdata[1]})<br>output %{customdata[2]}"
            "<extra></extra>",
        )
    )
    figure.update_xaxes(tickformat="~s")
    return layout(figure, f"The {len(rows)} heaviest layers", "", "MACs")


def macs_by_kind_of_work(report: Report) -> go.Figure:
    totals = macs_by_work(report)
    kinds = sorted(totals, key=totals.get)
    total = report.macs or 1
    figure = go.Figure(
        go.Bar(
            x=[totals[kind] for kind in kinds],
            y=[kind.label for kind in kinds],
            orientation="h",
            marker_color=[WORK_COLORS[kind] for kind in kinds],
            customdata=[[f"{totals[kind]:,}", f"{100 * totals[kind] / total:.1f} %"] for kind in kinds],
            hovertemplate="<b>%{y}</b><br>MACs %{customdata[0]} (%{customdata[1]})<extra></extra>",
        )
    )
    figure.update_xaxes(tickformat="~s")
    return layout(figure, "MACs by kind of work", "", "MACs")
