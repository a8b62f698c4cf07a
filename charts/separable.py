"""Figures of depthwise-separable convolutions: the parts against the standard conv, the
savings over C_out × k, what FLOPs saved became in time, and a model's what-if."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from calc.analyze import Report
from calc.roofline import Roofs, roofline_seconds
from calc.separable import Comparison, WhatIf
from calc.units import exact, si
from charts.latency import MEASURED_COLOR, THEORY_COLOR
from charts.layers import FONT_PX, LEGEND_RIGHT, layout

STANDARD_COLOR, DEPTHWISE_COLOR, POINTWISE_COLOR = "#1f5fbf", "#2a9d8f", "#8ab17d"


def savings_formulas(comparison: Comparison) -> tuple[str, str, str]:
    """The savings as LaTeX: the textbook ratio in symbols, with this layer's C_out and k, and
    exactly from the counted MACs. Each over lines aligned on "=", so that the result is on
    screen at 1024 px in presentation mode."""
    symbols = (
        r"\begin{aligned}\text{saved} &= 1 - \frac{C_{in} K^2 H' W' + C_{out} C_{in} H' W'}"
        r"{C_{out} C_{in} K^2 H' W'} \\ &= 1 - "
        r"\left(\frac{1}{C_{out}} + \frac{1}{K^2}\right)\end{aligned}"
    )
    textbook = (
        rf"= 1 - \left(\frac{{1}}{{{comparison.out_channels}}} + "
        rf"\frac{{1}}{{{comparison.kernel_size}^2}}\right) = {comparison.approximate_savings:.4f}"
    )
    counted = (
        rf"\begin{{aligned}}\text{{exactly: saved}} &= 1 - "
        rf"\frac{{{exact(comparison.depthwise_macs)} + "
        rf"{exact(comparison.pointwise_macs)}}}{{{exact(comparison.standard_macs)}}} \\ &= 1 - "
        rf"\frac{{{exact(comparison.separable_macs)}}}{{{exact(comparison.standard_macs)}}} = "
        rf"{comparison.savings:.4f}\end{{aligned}}"
    ).replace(",", "{,}")
    return symbols, textbook, counted


def parts(comparison: Comparison) -> go.Figure:
    """MACs and params: the standard conv as one bar, the separable as depthwise + pointwise stacked.
    Bars are labelled in SI (the exact counts are in the hover and the metrics above): an
    exact 924,844,032 did not fit a half-width bar and was turned on its side."""
    figure = make_subplots(rows=1, cols=2, subplot_titles=("MACs", "Parameters"), horizontal_spacing=0.12)
    bars = (
        ("standard", STANDARD_COLOR, comparison.standard_macs, comparison.standard_params, None),
        ("depthwise", DEPTHWISE_COLOR, comparison.depthwise_macs, comparison.depthwise_params, "separable"),
        ("pointwise", POINTWISE_COLOR, comparison.pointwise_macs, comparison.pointwise_params, "separable"),
    )
    for name, color, macs, params, column in bars:
        x = [column or "standard"]
        for col, value in ((1, macs), (2, params)):
            figure.add_bar(
                x=x,
                y=[value],
                name=name,
                marker_color=color,
                showlegend=col == 1,
                legendgroup=name,
                text=[si(value)],
                textposition="inside",
                textangle=0,
                row=1,
                col=col,
                hovertemplate=f"<b>{name}</b><br>%{{y:,}}<extra></extra>",
            )
    figure.update_layout(barmode="stack")
    figure.update_yaxes(tickformat="~s")
    layout(
        figure,
        f"Standard {comparison.kernel_size}×{comparison.kernel_size} conv against depthwise + pointwise",
        "",
    )
    figure.update_layout(
        height=420, margin_t=90, legend=LEGEND_RIGHT
    )  # subplot titles under the figure's title
    return figure


def savings_heatmap(grid: list[tuple[int, int, float]], chosen: tuple[int, int] | None = None) -> go.Figure:
    """Savings (1 - separable / standard MACs) for each output width and kernel size."""
    out_channels = sorted({c for c, _, _ in grid})
    kernels = sorted({k for _, k, _ in grid})
    cells = {(c, k): value for c, k, value in grid}
    z = [[cells[(c, k)] for c in out_channels] for k in kernels]
    figure = go.Figure(
        go.Heatmap(
            x=[str(c) for c in out_channels],
            y=[f"{k}×{k}" for k in kernels],
            z=z,
            zmin=-1,
            zmax=1,
            colorscale=[[0, "#c0392b"], [0.5, "#f7f7f7"], [1, "#1f5fbf"]],
            text=[[f"{value:.1%}" for value in row] for row in z],
            texttemplate="%{text}",
            colorbar={"title": {"text": "savings"}, "tickformat": ".0%", "tickfont": {"size": FONT_PX}},
            hovertemplate="C_out %{x}, kernel %{y}: saves %{text} of the MACs<extra></extra>",
        )
    )
    if chosen and chosen[0] in out_channels and chosen[1] in kernels:
        figure.add_scatter(
            x=[str(chosen[0])],
            y=[f"{chosen[1]}×{chosen[1]}"],
            mode="markers",
            name="your layer",
            marker={"symbol": "square-open", "size": 42, "color": "#111827", "line": {"width": 3}},
            hoverinfo="skip",
        )
    layout(
        figure,
        "MACs saved by going separable: 1 − (1/C_out + 1/k²); a 1×1 kernel loses",
        "kernel",
        "output channels C_out",
    )
    figure.update_xaxes(type="category")
    figure.update_yaxes(type="category")
    figure.update_layout(height=380, showlegend=False)
    return figure


def measured_table(
    standard: Report,
    separable: Report,
    standard_seconds: float,
    separable_seconds: float,
    part_seconds: dict[str, float],
    roofs: Roofs,
) -> pd.DataFrame:
    """The standard conv and the separable's depthwise and pointwise parts, measured here beside the
    roofline on this machine's ``roofs``. The parts split ``separable_seconds`` (the interleaved
    median) in the shares of ``part_seconds`` (the profiler's time of each of ``separable``'s rows)."""
    parts_total = sum(part_seconds.values()) or 1.0
    rows = [("standard conv", standard.rows[0], standard_seconds)]
    rows += [
        (f"{label} part", row, separable_seconds * part_seconds[row.name] / parts_total)
        for label, row in zip(("depthwise", "pointwise"), separable.rows, strict=True)
    ]
    return pd.DataFrame.from_records(
        [
            {
                "layer": label,
                "FLOPs": row.flops,
                "bytes moved": row.memory_bytes,
                "FLOPs per byte": row.intensity,
                "bound here (roofline)": "memory"
                if row.intensity < roofs.ridge_flops_per_byte
                else "compute",
                "roofline time (ms)": roofline_seconds(row.flops, row.memory_bytes, roofs) * 1e3,
                "measured (ms)": seconds * 1e3,
                "achieved FLOP/s": row.flops / seconds if seconds else float("nan"),
            }
            for label, row, seconds in rows
        ]
    )


def time_shares(flops_share: float, time_share: float) -> pd.DataFrame:
    """The one row of flops_against_time: separable over standard, in FLOPs and in measured time."""
    return pd.DataFrame(
        {"what": ["separable / standard"], "FLOPs share": [flops_share], "time share": [time_share]}
    )


def flops_against_time(table: pd.DataFrame) -> go.Figure:
    """Separable as a share of standard: FLOPs (theory) against measured time, side by side."""
    figure = go.Figure()
    figure.add_bar(
        x=table["what"],
        y=table["FLOPs share"],
        name="FLOPs: separable / standard",
        marker_color=THEORY_COLOR,
        text=[f"{v:.1%}" for v in table["FLOPs share"]],
        textposition="outside",
    )
    figure.add_bar(
        x=table["what"],
        y=table["time share"],
        name="measured time: separable / standard",
        marker_color=MEASURED_COLOR,
        text=[f"{v:.1%}" for v in table["time share"]],
        textposition="outside",
    )
    figure.update_yaxes(tickformat=".0%", rangemode="tozero")
    layout(figure, "FLOPs saved is not time saved", "share of the standard conv")
    figure.update_layout(barmode="group", height=380)
    return figure


def what_if_bars(what_if: WhatIf, count: int = 20) -> go.Figure:
    """MACs before and after, for the ``count`` changed layers that were heaviest before."""
    changes = sorted(what_if.changes, key=lambda change: change.macs_before, reverse=True)[:count][::-1]
    labels = [change.name for change in changes]
    figure = go.Figure()
    figure.add_bar(
        y=labels,
        x=[c.macs_before for c in changes],
        orientation="h",
        name="standard (before)",
        marker_color=STANDARD_COLOR,
        hovertemplate="<b>%{y}</b><br>before %{x:,} MACs<extra></extra>",
    )
    figure.add_bar(
        y=labels,
        x=[c.macs_after for c in changes],
        orientation="h",
        name="separable (after)",
        marker_color=POINTWISE_COLOR,
        hovertemplate="<b>%{y}</b><br>after %{x:,} MACs<extra></extra>",
    )
    figure.update_xaxes(tickformat="~s")
    layout(figure, f"The {len(changes)} heaviest replaced convolutions", "", "MACs")
    figure.update_layout(barmode="group", height=max(320, 80 + 30 * len(changes)))
    return figure


def what_if_table(what_if: WhatIf) -> pd.DataFrame:
    return pd.DataFrame.from_records(
        [
            {
                "layer": change.name,
                "before": change.kind_before,
                "after": change.kind_after,
                "MACs before": change.macs_before,
                "MACs after": change.macs_after,
                "params before": change.params_before,
                "params after": change.params_after,
                "MACs saved": change.savings,
            }
            for change in what_if.changes
        ],
        columns=[
            "layer",
            "before",
            "after",
            "MACs before",
            "MACs after",
            "params before",
            "params after",
            "MACs saved",
        ],
    )


def what_if_totals(what_if: WhatIf) -> dict:
    """The diff's totals row: the replaced convolutions together (each a different layer, so
    their sum counts nothing twice); the whole model's totals are in the metrics."""
    before = sum(change.macs_before for change in what_if.changes)
    after = sum(change.macs_after for change in what_if.changes)
    return {
        "layer": f"{len(what_if.changes)} replaced convs",
        "before": "",
        "after": "",
        "MACs before": before,
        "MACs after": after,
        "params before": sum(change.params_before for change in what_if.changes),
        "params after": sum(change.params_after for change in what_if.changes),
        "MACs saved": 1 - after / before if before else 0.0,
    }
