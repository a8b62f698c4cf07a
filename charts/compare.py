"""Figures that compare models: cost bars, accuracy against cost, cost against resolution."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from calc.analyze import Report
from charts.layers import layout, log_axis


def comparison_table(
    entries: list[tuple[str, Report, float | None]], baseline: str
) -> tuple[pd.DataFrame, str]:
    """A row per (name, report, ImageNet acc@1 or None): input, GMACs, GFLOPs, params (M), acc@1 (%), MACs
    and relative cost (MACs over the baseline's). The baseline is the first row when ``baseline`` has none;
    the baseline used comes back with the table."""
    table = pd.DataFrame.from_records(
        [
            {
                "model": name,
                "input": "×".join(map(str, report.input_shape)),
                "GMACs": report.macs / 1e9,
                "GFLOPs": report.flops / 1e9,
                "params (M)": report.params / 1e6,
                "acc@1 (%)": float("nan") if acc1 is None else acc1,
                "MACs": report.macs,
            }
            for name, report, acc1 in entries
        ]
    )
    if baseline not in set(table["model"]):  # e.g. the Builder stack was the baseline and has an error
        baseline = table["model"].iloc[0]
    base_macs = table.loc[table["model"] == baseline, "MACs"].iloc[0]
    table["relative cost"] = table["MACs"] / base_macs if base_macs else float("nan")
    return table, baseline


def resolution_table(points: list[tuple[str, int, Report]]) -> pd.DataFrame:
    """A row per (model, resolution, its report): the GMACs of macs_against_resolution."""
    return pd.DataFrame.from_records(
        [
            {"model": name, "resolution": resolution, "GMACs": report.macs / 1e9}
            for name, resolution, report in points
        ]
    )


def cost_bars(table: pd.DataFrame, column: str, title: str, axis: str) -> go.Figure:
    ordered = table.sort_values(column)
    figure = go.Figure(
        go.Bar(
            x=ordered[column],
            y=ordered["model"],
            orientation="h",
            marker_color="#1f5fbf",
            customdata=ordered[["relative cost"]].to_numpy(),
            hovertemplate="<b>%{y}</b><br>" + axis + " %{x:,.3f}<br>%{customdata[0]:.2f}× the baseline's MACs"
            "<extra></extra>",
        )
    )
    figure = layout(figure, title, "", axis)
    figure.update_layout(height=max(300, 60 + 28 * len(ordered)))
    return figure


def accuracy_against_cost(table: pd.DataFrame) -> go.Figure:
    """ImageNet top-1 against GMACs (log x), bubble area by params: the classic trade-off chart."""
    rated = table.dropna(subset=["acc@1 (%)"])
    size = rated["params (M)"]
    figure = go.Figure(
        go.Scatter(
            x=rated["GMACs"],
            y=rated["acc@1 (%)"],
            mode="markers+text",
            text=rated["model"],
            textposition="top center",
            marker={
                "size": size,
                "sizemode": "area",
                "sizeref": 2.0 * max(size.max(), 1) / 60**2,
                "sizemin": 5,
                "color": "#1f5fbf",
                "opacity": 0.6,
                "line": {"width": 1, "color": "#0b2e63"},
            },
            customdata=rated[["params (M)", "relative cost"]].to_numpy(),
            hovertemplate="<b>%{text}</b><br>%{x:.3f} GMACs · acc@1 %{y:.2f} %<br>"
            "%{customdata[0]:.2f} M params · "
            "%{customdata[1]:.2f}× the baseline's MACs<extra></extra>",
        )
    )
    figure = layout(
        figure,
        "ImageNet top-1 accuracy against cost (bubble area: parameters)",
        "acc@1 (%)",
        "GMACs (log scale)",
    )
    figure.update_xaxes(
        **log_axis([rated["GMACs"].min() / 1.4, rated["GMACs"].max() * 1.4])
    )  # room for the bubbles
    figure.update_layout(height=460, showlegend=False)
    return figure


def macs_against_resolution(sweep: pd.DataFrame) -> go.Figure:
    figure = go.Figure()
    for model, points in sweep.groupby("model", sort=False):
        figure.add_scatter(
            x=points["resolution"],
            y=points["GMACs"],
            mode="lines+markers",
            name=model,
            hovertemplate=f"<b>{model}</b><br>%{{x}}×%{{x}} px: %{{y:.3f}} GMACs<extra></extra>",
        )
    figure = layout(figure, "MACs against input resolution", "GMACs", "input height = width (pixels)")
    figure.update_layout(height=420)
    return figure
