"""LLM serving as figures: prefill and decode modules on one roofline, and sweeps over batch or
context with the point where memory runs out marked. Phase/SweepPoint in, plotly out."""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from calc.llm_phases import Phase
from calc.llm_sweep import SweepPoint
from calc.roofline import Roofs
from charts.layers import layout, log_axis

PHASE_COLORS = {"prefill": "#1f77b4", "decode": "#d62728"}
MOST_TICKS = 9  # on the x axis of a sweep's half-width subplot


def roofline(prefill: Phase, decode: Phase, names: tuple[str, ...], roofs: Roofs) -> go.Figure:
    """Each module with work as a point (intensity, attained FLOP/s at its roof) for both phases:
    decode's on the bandwidth slope, prefill's under the compute ceiling."""
    figure = go.Figure()
    intensities = []
    for label, phase in (("prefill", prefill), ("decode", decode)):
        worked = (phase.module_flops > 0) & (phase.module_bytes > 0)
        flops, moved = phase.module_flops[worked], phase.module_bytes[worked]
        intensity = flops / moved
        seconds = np.maximum(flops / roofs.peak_flops_per_s, moved / roofs.bandwidth_bytes_per_s)
        intensities.extend(intensity.tolist())
        figure.add_trace(
            go.Scatter(
                x=intensity,
                y=flops / seconds,
                mode="markers",
                name=label,
                marker={"color": PHASE_COLORS[label], "size": 8, "opacity": 0.7},
                text=[name for name, kept in zip(names, worked, strict=True) if kept],
                hovertemplate="%{text}<br>%{x:.3g} FLOPs/byte, %{y:.3s}FLOP/s<extra>" + label + "</extra>",
            )
        )
    low = min([*intensities, roofs.ridge_flops_per_byte]) / 4
    high = max([*intensities, roofs.ridge_flops_per_byte]) * 4
    ridge = roofs.ridge_flops_per_byte
    x = [low, ridge, high]
    figure.add_trace(
        go.Scatter(
            x=x,
            y=[roofs.attainable_flops_per_s(value) for value in x],
            mode="lines",
            name="roof",
            line={"color": "black", "width": 2},
            hoverinfo="skip",
        )
    )
    layout(figure, "Prefill and decode on the roofline, one point per module", "FLOP/s", "FLOPs per byte")
    figure.update_xaxes(type="log")
    figure.update_yaxes(type="log")
    return figure


def layout_title(axis: str) -> str:
    return "batch (sequences)" if axis == "batch" else "context (tokens)"


def sweep_axis(values: list[int]) -> dict:
    """charts.layers.log_axis (1-2-5 ticks and a range from tick to tick) for a half-width subplot:
    only powers of ten where more would run together at a 1024-pixel window, written 1K, 100K."""
    axis = log_axis(values)
    ticks = axis["tickvals"]
    if len(ticks) > MOST_TICKS:
        ticks = [tick for tick in ticks if math.log10(tick).is_integer()]
    return {**axis, "tickvals": ticks, "ticktext": [tick_text(tick) for tick in ticks], "tickangle": 0}


def tick_text(value: float) -> str:
    """1000 -> "1K", 200000 -> "200K": K is a thousand, as everywhere in MACscope."""
    return f"{value / 1000:g}K" if value >= 1000 else f"{value:g}"


def sweep(
    points: tuple[SweepPoint, ...], axis: str, capacity_bytes: float | None, unfit: int | None
) -> go.Figure:
    """Time per output token and tokens/s (left), memory against the device's (right)."""
    values = [point.value for point in points]
    figure = make_subplots(rows=1, cols=2, subplot_titles=("Time per output token", "Memory"))
    figure.add_trace(
        go.Scatter(
            x=values,
            y=[point.time_per_output_token_s * 1e3 for point in points],
            mode="lines+markers",
            name="TPOT (ms)",
        ),
        row=1,
        col=1,
    )
    figure.add_trace(
        go.Scatter(
            x=values,
            y=[point.memory_bytes / 1e9 for point in points],
            mode="lines+markers",
            name="memory (GB)",
        ),
        row=1,
        col=2,
    )
    if capacity_bytes is not None:
        figure.add_hline(
            y=capacity_bytes / 1e9,
            line_dash="dash",
            line_color="black",
            annotation_text="device memory",
            annotation_position="top left",
            row=1,
            col=2,
        )
    if unfit is not None:
        for col in (1, 2):
            figure.add_vline(x=unfit, line_dash="dot", line_color="#d62728", row=1, col=col)
    title = f"Over {axis}" + (f": from {unfit:,} it does not fit" if unfit is not None else "")
    layout(figure, title, "", layout_title(axis))
    # Plotly's own log ticks tilt and run together at a 1024-pixel window ("9001000").
    figure.update_xaxes(**sweep_axis(values), title_text=layout_title(axis))
    figure.update_yaxes(title_text="ms", row=1, col=1)
    figure.update_yaxes(title_text="GB", row=1, col=2)
    # Each subplot's title and axis say what its one line is: a legend would only sit on the
    # right subplot's title (the layout's legend is a row above the plot's top right).
    figure.update_layout(showlegend=False)
    return figure


__all__ = ["roofline", "sweep", "sweep_axis", "tick_text"]
