"""Figures that compare models: cost bars, accuracy against cost, cost against resolution."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from charts.layers import layout, log_axis


def cost_bars(table: pd.DataFrame, column: str, title: str, axis: str) -> go.Figure:
    ordered = table.sort_values(column)
    figure = go.Figure(go.Bar(
        x=ordered[column], y=ordered["model"], orientation="h", marker_color="#1f5fbf",
        customdata=ordered[["relative cost"]].to_numpy(),
        hovertemplate="<b>%{y}</b><br>" + axis + " %{x:,.3f}<br>%{customdata[0]:.2f}× the baseline's MACs"
                      "<extra></extra>",
    ))
    figure = layout(figure, title, "", axis)
    figure.update_layout(height=max(300, 60 + 28 * len(ordered)))
    return figure


def accuracy_against_cost(table: pd.DataFrame) -> go.Figure:
    """ImageNet top-1 against GMACs (log x), bubble area by params: the classic trade-off chart."""
    rated = table.dropna(subset=["acc@1 (%)"])
    size = rated["params (M)"]
    figure = go.Figure(go.Scatter(
        x=rated["GMACs"], y=rated["acc@1 (%)"], mode="markers+text", text=rated["model"],
        textposition="top center",
        marker={"size": size, "sizemode": "area", "sizeref": 2.0 * max(size.max(), 1) / 60 ** 2, "sizemin": 5,
                "color": "#1f5fbf", "opacity": 0.6, "line": {"width": 1, "color": "#0b2e63"}},
        customdata=rated[["params (M)", "relative cost"]].to_numpy(),
        hovertemplate="<b>%{text}</b><br>%{x:.3f} GMACs · acc@1 %{y:.2f} %<br>"
                      "%{customdata[0]:.2f} M params · "
                      "%{customdata[1]:.2f}× the baseline's MACs<extra></extra>",
    ))
    figure = layout(figure, "ImageNet top-1 accuracy against cost (bubble area: parameters)", "acc@1 (%)",
                     "GMACs (log scale)")
    figure.update_xaxes(**log_axis([rated["GMACs"].min() / 1.4, rated["GMACs"].max() * 1.4]))  # room for the bubbles
    figure.update_layout(height=460, showlegend=False)
    return figure


def macs_against_resolution(sweep: pd.DataFrame) -> go.Figure:
    figure = go.Figure()
    for model, points in sweep.groupby("model", sort=False):
        figure.add_scatter(x=points["resolution"], y=points["GMACs"], mode="lines+markers", name=model,
                           hovertemplate=f"<b>{model}</b><br>%{{x}}×%{{x}} px: %{{y:.3f}} GMACs<extra></extra>")
    figure = layout(figure, "MACs against input resolution", "GMACs", "input height = width (pixels)")
    figure.update_layout(height=420)
    return figure
