"""Tables and the one figure of the Concepts page: the units ladder, the worked examples,
where the roofline puts a model's time, and why LLM decode is memory-bound. No streamlit."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import plotly.graph_objects as go

from calc.analyze import Report
from calc.decode_bound import DecodeBound
from calc.roofline import Estimate
from calc.units import duration, exact, si, si_bytes
from charts.latency import MEASURED_COLOR, THEORY_COLOR
from charts.layers import LEGEND_RIGHT, layout

_SUPERSCRIPTS = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")


@dataclass(frozen=True)
class ScaleExample:
    prefix: str  # "K", "M", ...
    scale: int  # 10**3, 10**6, ...
    example: str  # what was counted, in words
    unit: str  # "MACs" | "FLOPs" | "params"
    count: int  # the exact count, from calc


def power_text(scale: int) -> str:
    """10**9 -> '1000³ = 10⁹'."""
    exponent = len(str(scale)) - 1
    return f"1000{str(exponent // 3).translate(_SUPERSCRIPTS)} = 10{str(exponent).translate(_SUPERSCRIPTS)}"


def units_table(examples: list[ScaleExample]) -> pd.DataFrame:
    """A row per SI prefix: its power of 1000 and one live count at that scale."""
    return pd.DataFrame.from_records(
        [
            {
                "prefix": example.prefix,
                "means": power_text(example.scale),
                "example": example.example,
                "exact count": f"{exact(example.count)} {example.unit}",
                "in SI": si(example.count, example.unit),
            }
            for example in examples
        ]
    )


def worked_table(reports: dict[str, tuple[str, Report]], params_without_bias: dict[str, int]) -> pd.DataFrame:
    """A row per worked example: MACs, FLOPs and parameters (with and without bias), exact (its description
    is shown with its formula)."""
    return pd.DataFrame.from_records(
        [
            {
                "example": name.removeprefix("Worked example: "),
                "MACs": report.macs,
                "FLOPs": report.flops,
                "params": report.params,
                "params without bias": params_without_bias[name],
                "MACs (SI)": si(report.macs),
            }
            for name, (_, report) in reports.items()
        ]
    )


def gap_table(estimates: dict[str, Estimate]) -> pd.DataFrame:
    """A row per model: its counts, intensity, and the two theoretical times on one device."""
    return pd.DataFrame.from_records(
        [
            {
                "model": name,
                "FLOPs": si(estimate.flops),
                "FLOPs per byte": round(estimate.flops / estimate.memory_bytes, 1),
                "memory-bound layers": f"{len(estimate.memory_bound_layers)} of {len(estimate.layers)}",
                "time in them": f"{estimate.memory_bound_share:.0%}",
                "(a) FLOPs / peak": duration(estimate.peak_seconds),
                "(b) roofline": duration(estimate.roofline_seconds),
                "(b) / (a)": f"{estimate.roofline_seconds / estimate.peak_seconds:.1f}×",
            }
            for name, estimate in estimates.items()
        ]
    )


def gap_bars(estimates: dict[str, Estimate]) -> go.Figure:
    """Per model: (a) FLOPs / peak, and (b) the roofline split into compute- and memory-bound layers."""
    figure = go.Figure()
    names = list(estimates)
    rows = [(f"{name} (a) FLOPs / peak", f"{name} (b) roofline") for name in names]
    labels = [label for pair in rows for label in pair]
    peak = [estimates[name].peak_seconds * 1e3 for name in names]
    compute = [
        sum(layer.seconds for layer in estimates[name].layers if not layer.memory_bound) * 1e3
        for name in names
    ]
    memory = [sum(layer.seconds for layer in estimates[name].memory_bound_layers) * 1e3 for name in names]
    figure.add_bar(
        y=labels,
        x=[value for pair in zip(peak, [0] * len(names), strict=True) for value in pair],
        orientation="h",
        name="all FLOPs at peak",
        marker_color="#9bb7e0",
        hovertemplate="%{x:.4f} ms<extra></extra>",
    )
    figure.add_bar(
        y=labels,
        x=[value for pair in zip([0] * len(names), compute, strict=True) for value in pair],
        orientation="h",
        name="compute-bound layers",
        marker_color=THEORY_COLOR,
        hovertemplate="%{x:.4f} ms<extra></extra>",
    )
    figure.add_bar(
        y=labels,
        x=[value for pair in zip([0] * len(names), memory, strict=True) for value in pair],
        orientation="h",
        name="memory-bound layers",
        marker_color=MEASURED_COLOR,
        hovertemplate="%{x:.4f} ms<extra></extra>",
    )
    figure.update_layout(barmode="stack")
    figure.update_yaxes(autorange="reversed")
    layout(figure, "", "", "milliseconds per image")
    figure.update_layout(
        height=250,
        margin={"l": 10, "r": 10, "t": 20, "b": 10},
        legend={**LEGEND_RIGHT, "traceorder": "normal"},
    )
    return figure


def decode_formulas(bound: DecodeBound) -> list[str]:
    """Why decode is memory-bound, as LaTeX with the numbers substituted: the intensity of one
    step, the device's ridge point, and the two floors of the time per token. Each on lines
    that fit a 1024-pixel window."""

    def text(value: str) -> str:
        return rf"\text{{{value}}}"

    peak, bandwidth = (
        text(si(bound.peak_flops_per_s, "FLOP/s")),
        text(si_bytes(bound.bandwidth_bytes_per_s) + "/s"),
    )
    weights, kv = text(si_bytes(bound.weight_bytes)), text(si_bytes(bound.kv_cache_bytes))
    memory_floor, compute_floor = text(duration(bound.memory_seconds)), text(duration(bound.compute_seconds))
    return [
        (
            r"\begin{aligned}\text{intensity} &= \frac{\text{FLOPs}}{\text{bytes read}}"
            r" \approx \frac{2N}{N\,b + \text{KV}} \\"
            rf" &= \frac{{2 \times {text(si(bound.params))}}}{{{weights} + {kv}}}"
            rf" = {text(f'{bound.intensity:.2f} FLOPs/byte')}\end{{aligned}}"
        ),
        (
            r"\text{ridge} = \frac{\text{peak}}{\text{bandwidth}}"
            rf" = \frac{{{peak}}}{{{bandwidth}}} = {text(f'{bound.ridge_flops_per_byte:.0f} FLOPs/byte')}"
        ),
        (
            r"\begin{aligned}\text{TPOT} &\geq \frac{\text{bytes read}}{\text{bandwidth}}"
            rf" = \frac{{{text(si_bytes(bound.bytes))}}}{{{bandwidth}}} = {memory_floor} \\"
            r" &\gg \frac{\text{FLOPs}}{\text{peak}}"
            rf" = \frac{{{text(si(bound.flops, 'FLOPs'))}}}{{{peak}}} = {compute_floor}"
            r"\end{aligned}"
        ),
    ]
