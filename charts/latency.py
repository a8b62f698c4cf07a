"""Figures and tables of latency: theory against measurement, per layer, the roofline,
batch sweeps and this machine's matmul sweep. No streamlit."""

from __future__ import annotations

import math

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from calc.analyze import Report
from calc.breakdown import row_category
from calc.hardware import COMPUTE_DTYPES, Hardware
from calc.roofline import AgainstMeasurement, Estimate, Roofs
from calc.roofline import estimate as roofline_estimate
from calc.units import duration, si, si_bytes
from calc.work import Work
from charts.colors import WORK_COLORS
from charts.layers import layout, log_axis

MEASURED_COLOR, THEORY_COLOR, ROOF_COLOR = "#d9730d", "#1f5fbf", "#8a8f98"
RUNTIME_COLOR = "#7a3e9d"  # another runtime's measurement (ONNX Runtime): apart from torch's orange


def rate_text(flops_per_s: float) -> str:
    return si(flops_per_s, "FLOP/s")


def bandwidth_text(bytes_per_s: float) -> str:
    return si_bytes(bytes_per_s) + "/s"


def comparison(
    theory: list[tuple[str, float, str]],
    measured: tuple[str, float, float] | None = None,
    runtime: tuple[str, float, float] | None = None,
) -> go.Figure:
    """Horizontal bars of latency: the theory bars, (label, seconds, how it was obtained) each,
    then the measured bar, (label, median seconds, IQR seconds), with its IQR as an error bar, and
    ``runtime``'s, another runtime's measurement of the same model (ONNX Runtime), in its own color."""
    bars = list(theory)
    colors = [THEORY_COLOR] * len(bars)
    error = None
    timed = [
        (entry, color) for entry, color in ((measured, MEASURED_COLOR), (runtime, RUNTIME_COLOR)) if entry
    ]
    for label, median_s, iqr_s in (entry for entry, _ in timed):
        bars.append((label, median_s, f"IQR {duration(iqr_s)}"))
    colors += [color for _, color in timed]
    if timed:
        halves = [entry[2] * 1e3 / 2 for entry, _ in timed]
        error = {"type": "data", "array": [0] * len(theory) + halves, "visible": True}
    labels = [label for label, _, _ in bars]
    values = [seconds * 1e3 for _, seconds, _ in bars]
    figure = go.Figure(
        go.Bar(
            x=values,
            y=labels,
            orientation="h",
            marker_color=colors,
            error_x=error,
            text=[duration(seconds) for _, seconds, _ in bars],
            textposition="auto",
            customdata=[[how, duration(seconds)] for _, seconds, how in bars],
            hovertemplate="<b>%{y}</b>: %{customdata[1]}<br>%{customdata[0]}<extra></extra>",
        )
    )
    # The axis starts a third below the shortest bar, so that bar has a visible length.
    figure.update_xaxes(**log_axis([min(values) / 3, *values]))
    figure.update_yaxes(autorange="reversed")
    layout(figure, "Latency of one forward pass: theory against measurement", "", "milliseconds (log scale)")
    figure.update_layout(height=max(260, 90 + 48 * len(bars)), showlegend=False)
    return figure


def latex_quantity(text: str) -> str:
    """'8.178 GFLOPs' -> '8.178\\,\\text{GFLOPs}' (units upright in LaTeX)."""
    number, _, unit = text.partition(" ")
    return rf"{number}\,\text{{{unit}}}" if unit else number


def theory_formulas(theory: Estimate) -> tuple[str, str]:
    """(a) and (b) as LaTeX, symbols then this model's numbers on ``theory.roofs``."""
    peak = (
        rf"t_a = \frac{{\text{{FLOPs}}}}{{P}} = \frac{{{latex_quantity(si(theory.flops, 'FLOPs'))}}}"
        rf"{{{latex_quantity(rate_text(theory.roofs.peak_flops_per_s))}}} = "
        rf"{latex_quantity(duration(theory.peak_seconds))}"
    )
    roof = (
        rf"t_b = \sum_i \max\left(\frac{{\text{{FLOPs}}_i}}{{P}}, \frac{{\text{{bytes}}_i}}{{B}}\right)"
        rf" = {latex_quantity(duration(theory.roofline_seconds))}"
    )
    return peak, roof


def comparison_bars(
    theory: Estimate, here: AgainstMeasurement, device: str, spec_source: str | None, probe_source: str
) -> list[tuple[str, float, str]]:
    """The theory bars of ``comparison``: (a) and (b) on the chosen device, (a) on this machine's
    spec-sheet peak (``spec_source`` says where it comes from; None: no such bar), (a) and (b) on
    the probed roofs. The measured bar is given to ``comparison`` apart."""
    label = theory.roofs.label
    bars = [
        (f"(a) {label}", theory.peak_seconds, "FLOPs / peak"),
        (f"(b) {label}", theory.roofline_seconds, "roofline, summed over layers"),
    ]
    if here.spec_peak_seconds is not None:
        bars.append(
            (
                f"(a) this {'GPU' if device.startswith('cuda') else 'CPU'}'s spec-sheet peak",
                here.spec_peak_seconds,
                spec_source or "",
            )
        )
    return [
        *bars,
        ("(a) this machine's measured peak", here.probed.peak_seconds, probe_source),
        ("(b) this machine's measured roofs", here.probed.roofline_seconds, "roofline on the probed roofs"),
    ]


def batch_sweep_table(
    reports: dict[int, Report],
    roofs: Roofs,
    probed: dict[str, Roofs],
    measured: dict[int, float],
    device: str,
) -> pd.DataFrame:
    """The points of ``batch_sweep``: per batch size, (b) of its report on ``roofs`` and on each
    device's probed roofs, then the times ``measured`` on ``device``; with samples per second."""
    points = []
    for size, report in sorted(reports.items()):
        points.append(
            {
                "batch": size,
                "series": f"(b) roofline, {roofs.label}",
                "measured": False,
                "seconds": roofline_estimate(report, roofs).roofline_seconds,
            }
        )
        for probe_device, probe_roofs in probed.items():
            points.append(
                {
                    "batch": size,
                    "series": f"(b) roofline, this machine ({probe_device}, measured roofs)",
                    "measured": False,
                    "seconds": roofline_estimate(report, probe_roofs).roofline_seconds,
                }
            )
    points += [
        {"batch": size, "series": f"measured here ({device})", "measured": True, "seconds": seconds}
        for size, seconds in sorted(measured.items())
    ]
    table = pd.DataFrame.from_records(points, columns=["batch", "series", "measured", "seconds"])
    table["samples per s"] = table["batch"] / table["seconds"]
    return table


def layer_times_table(estimate: Estimate, measured: dict[str, float] | None = None) -> pd.DataFrame:
    """A row per layer: FLOPs, bytes, intensity, roofline time and bound; measured time,
    achieved FLOP/s and efficiency when there is a per-layer measurement."""
    records = []
    for layer in estimate.layers:
        row = layer.row
        record = {
            "layer": row.name,
            "type": row.kind,
            "kind of work": row_category(row),
            "FLOPs": row.flops,
            "bytes moved": row.memory_bytes,
            "FLOPs per byte": row.intensity,
            "roofline time (ms)": layer.seconds * 1e3,
            "bound": layer.bound,
        }
        if measured is not None:
            seconds = measured.get(row.name, 0.0)
            record["measured time (ms)"] = seconds * 1e3
            record["achieved FLOP/s"] = row.flops / seconds if seconds > 0 else float("nan")
            record["efficiency"] = layer.seconds / seconds if seconds > 0 else float("nan")
        records.append(record)
    return pd.DataFrame.from_records(records)


def layer_times(table: pd.DataFrame, count: int = 20) -> go.Figure:
    """The ``count`` slowest layers: roofline time beside measured time when there is one."""
    measured = "measured time (ms)" in table
    key = "measured time (ms)" if measured else "roofline time (ms)"
    top = table.sort_values(key, ascending=False).head(count).iloc[::-1]
    labels = [f"{name} ({kind})" for name, kind in zip(top["layer"], top["type"], strict=True)]
    figure = go.Figure()
    figure.add_bar(
        name="roofline (theory)",
        x=top["roofline time (ms)"],
        y=labels,
        orientation="h",
        marker_color=THEORY_COLOR,
        customdata=top[["bound", "FLOPs per byte"]].to_numpy(),
        hovertemplate="<b>%{y}</b><br>roofline %{x:.4g} ms (%{customdata[0]}-bound, "
        "%{customdata[1]:.2f} FLOPs/byte)<extra></extra>",
    )
    if measured:
        figure.add_bar(
            name="measured here",
            x=top["measured time (ms)"],
            y=labels,
            orientation="h",
            marker_color=MEASURED_COLOR,
            hovertemplate="<b>%{y}</b><br>measured %{x:.4g} ms<extra></extra>",
        )
    figure.update_layout(barmode="group")
    title = f"The {len(top)} slowest layers" + (" (measured)" if measured else " (by roofline time)")
    layout(figure, title, "", "milliseconds per forward pass")
    figure.update_layout(height=max(320, 80 + (34 if measured else 22) * len(top)))
    return figure


def roofline(roofs: Roofs, table: pd.DataFrame, measured: bool, nominal: Roofs | None = None) -> go.Figure:
    """Arithmetic intensity (x) against FLOP/s (y), log-log: the device's roof, a point per
    layer with MACs, coloured by kind of work. Points are achieved FLOP/s when measured,
    otherwise where the roof puts each layer."""
    rows = table[table["FLOPs"] > 0]
    if measured:
        rows = rows[rows["achieved FLOP/s"].notna() & (rows["achieved FLOP/s"] > 0)]
        heights = rows["achieved FLOP/s"]
    else:
        heights = rows["FLOPs per byte"].map(roofs.attainable_flops_per_s)
    intensities = [*rows["FLOPs per byte"], roofs.ridge_flops_per_byte]
    low, high = min(intensities) / 4, max(intensities) * 4
    figure = go.Figure()
    for ceiling, name, dash in ((roofs, "roof", "solid"), (nominal, "spec-sheet roof", "dot")):
        if ceiling is None:
            continue
        xs = (
            [low, ceiling.ridge_flops_per_byte, high]
            if low < ceiling.ridge_flops_per_byte < high
            else [low, high]
        )
        figure.add_scatter(
            x=xs,
            y=[ceiling.attainable_flops_per_s(x) for x in xs],
            mode="lines",
            name=f"{name}: {rate_text(ceiling.peak_flops_per_s)}, "
            f"{bandwidth_text(ceiling.bandwidth_bytes_per_s)}",
            line={"color": ROOF_COLOR, "width": 3 if dash == "solid" else 2, "dash": dash},
            hovertemplate="%{x:.3g} FLOPs/byte → at most %{y:.4s}FLOP/s<extra></extra>",
        )
    figure.add_annotation(
        x=math.log10(roofs.ridge_flops_per_byte),
        y=math.log10(roofs.peak_flops_per_s),
        text=f"ridge: {roofs.ridge_flops_per_byte:.3g} FLOPs/byte",
        showarrow=True,
        ay=-30,
        font={"size": 13},
    )
    for value in sorted(set(rows["kind of work"])):
        mask = rows["kind of work"] == value
        part = rows[mask]
        work = Work(value)  # layer_times_table put in a Work; the table holds it as its value, as text
        figure.add_scatter(
            x=part["FLOPs per byte"],
            y=heights[mask],
            mode="markers",
            name=work.label,
            marker={
                "size": 10,
                "color": WORK_COLORS[work],
                "opacity": 0.85,
                "line": {"width": 1, "color": "white"},
            },
            customdata=part[["layer", "type", "bound", "roofline time (ms)"]].to_numpy(),
            hovertemplate="<b>%{customdata[0]}</b> %{customdata[1]}<br>%{x:.3g} FLOPs/byte, "
            "%{y:.4s}FLOP/s<br>%{customdata[2]}-bound; roofline %{customdata[3]:.4g} ms<extra></extra>",
        )
    figure.update_xaxes(type="log", dtick=1)
    figure.update_yaxes(type="log", tickformat="~s", dtick=1)
    what = "achieved (measured)" if measured else "attainable (on the roof)"
    layout(
        figure,
        f"Roofline, {roofs.label}",
        f"{what} FLOP/s per layer (log)",
        "arithmetic intensity: FLOPs per byte moved (log)",
    )
    figure.update_layout(
        height=480, legend={"orientation": "v", "x": 1.02, "xanchor": "left", "y": 1, "yanchor": "top"}
    )
    return figure


def batch_sweep(sweep: pd.DataFrame) -> go.Figure:
    """Throughput (samples/s) and latency against batch size, one line per series
    (columns: batch, series, measured (true for a measurement, false for theory), seconds)."""
    figure = make_subplots(
        rows=1,
        cols=2,
        subplot_titles=("Throughput (samples/s)", "Latency (ms per batch)"),
        horizontal_spacing=0.1,
    )
    palette = [THEORY_COLOR, "#2a9d8f", "#8e44ad", MEASURED_COLOR]
    for index, ((series, measured), points) in enumerate(sweep.groupby(["series", "measured"], sort=False)):
        color = MEASURED_COLOR if measured else palette[index % 3]
        dash = "solid" if measured else "dash"
        common = {
            "name": series,
            "mode": "lines+markers",
            "line": {"color": color, "dash": dash},
            "legendgroup": series,
        }
        figure.add_scatter(
            x=points["batch"],
            y=points["batch"] / points["seconds"],
            row=1,
            col=1,
            **common,
            hovertemplate=f"<b>{series}</b><br>batch %{{x}}: %{{y:,.4g}} samples/s<extra></extra>",
        )
        figure.add_scatter(
            x=points["batch"],
            y=points["seconds"] * 1e3,
            row=1,
            col=2,
            showlegend=False,
            **common,
            hovertemplate=f"<b>{series}</b><br>batch %{{x}}: %{{y:.4g}} ms<extra></extra>",
        )
    figure.update_xaxes(type="log", title_text="batch size (log)", dtick=math.log10(2))
    figure.update_yaxes(type="log", tickformat="~s", row=1, col=1)
    figure.update_yaxes(**log_axis(list(sweep["seconds"] * 1e3)), row=1, col=2)
    layout(figure, "Batch sweep: theory (dashed) against measurement (solid)", "")
    figure.update_layout(
        height=430,
        margin_t=90,
        legend={"orientation": "h", "x": 0, "xanchor": "left", "y": -0.2, "yanchor": "top"},
    )
    return figure


def devices_table(entries: list[Hardware]) -> pd.DataFrame:
    """A row per device: dense peaks per dtype (T FLOP/s; int8 T OP/s), bandwidth, source;
    "≈" marks a figure that was derived rather than quoted."""

    def mark(entry: Hardware, key: str, value: float) -> str:
        return ("≈ " if key in entry.derived else "") + f"{value:.4g}"

    records = []
    for entry in entries:
        peaks = entry.peak_flops_per_s
        records.append(
            {
                "device": entry.name,
                "kind": entry.kind,
                **{
                    f"{dtype} T{'OP' if dtype == 'int8' else 'FLOP'}/s": mark(
                        entry, dtype, peaks[dtype] / 1e12
                    )
                    if dtype in peaks
                    else "—"
                    for dtype in COMPUTE_DTYPES
                },
                "bandwidth GB/s": mark(entry, "bandwidth", entry.bandwidth_bytes_per_s / 1e9),
                "source": ("estimate: " if entry.estimate else "")
                + entry.source
                + (f" ({entry.note})" if entry.note else ""),
            }
        )
    return pd.DataFrame.from_records(records)


def gemm_sweep(points: list[tuple[str, int, float]]) -> go.Figure:
    """Achieved FLOP/s of n×n matmuls, per dtype: the probe behind this machine's peak."""
    figure = go.Figure()
    for dtype in dict.fromkeys(dtype for dtype, _, _ in points):
        mine = [(n, flops) for d, n, flops in points if d == dtype]
        figure.add_scatter(
            x=[n for n, _ in mine],
            y=[flops for _, flops in mine],
            mode="lines+markers",
            name=dtype,
            hovertemplate=f"<b>{dtype}</b> %{{x}}×%{{x}} matmul: %{{y:.4s}}FLOP/s<extra></extra>",
        )
    figure.update_xaxes(type="log", dtick=math.log10(2))
    figure.update_yaxes(tickformat="~s", rangemode="tozero")
    layout(figure, "This machine: achieved FLOP/s of n×n matmuls (2n³ FLOPs each)", "FLOP/s", "n (log)")
    figure.update_layout(height=360)
    return figure
