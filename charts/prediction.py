"""Figures and tables of the calibrated prediction: per layer against the profiler's times, and
the held-out models' predicted against measured latency (calc.held_out). No streamlit."""

from __future__ import annotations

import math

import pandas as pd
import plotly.graph_objects as go

from calc.calibration import Prediction, prediction_error
from calc.held_out import HIT, PREDICTORS, Row, Summary
from charts.latency import MEASURED_COLOR, THEORY_COLOR
from charts.layers import layout, log_axis

PREDICTED_COLOR = "#2a9d8f"
# One colour and marker per predictor (calc.held_out.PREDICTORS order), the calibrated one strongest.
PREDICTOR_STYLES = (("#8a8f98", "triangle-up"), (THEORY_COLOR, "square"), (PREDICTED_COLOR, "circle"))
BAND_COLOR = "rgba(42, 157, 143, 0.15)"


def layer_prediction_table(
    prediction: Prediction, measured: dict[str, float] | None = None, speed: float = 1.0
) -> pd.DataFrame:
    """A row per layer: its priced kind of work and bound, the calibrated time (times ``speed``, the
    machine's speed factor during the measurement), and, with the profiler's times, the measured
    time and the prediction's error (predicted / measured − 1)."""
    records = []
    for layer in prediction.layers:
        predicted_s = layer.seconds * speed
        record = {
            "layer": layer.row.name,
            "type": layer.row.kind,
            "priced as": layer.work or "nothing to price",
            "bound": layer.bound,
            "predicted time (ms)": predicted_s * 1e3,
        }
        if measured is not None:
            seconds = measured.get(layer.row.name, 0.0)
            record["measured time (ms)"] = seconds * 1e3
            record["error"] = prediction_error(predicted_s, seconds)
        records.append(record)
    return pd.DataFrame.from_records(records)


def layer_predictions(table: pd.DataFrame, count: int = 20) -> go.Figure:
    """The ``count`` slowest layers (by measured time when there is one): calibrated prediction
    beside the profiler's measured time."""
    measured = "measured time (ms)" in table
    key = "measured time (ms)" if measured else "predicted time (ms)"
    top = table.sort_values(key, ascending=False).head(count).iloc[::-1]
    labels = [f"{name} ({kind})" for name, kind in zip(top["layer"], top["type"], strict=True)]
    figure = go.Figure()
    figure.add_bar(
        name="calibrated prediction",
        x=top["predicted time (ms)"],
        y=labels,
        orientation="h",
        marker_color=PREDICTED_COLOR,
        customdata=top[["priced as", "bound"]].to_numpy(),
        hovertemplate="<b>%{y}</b><br>predicted %{x:.4g} ms (%{customdata[0]}, %{customdata[1]}-bound)"
        "<extra></extra>",
    )
    if measured:
        figure.add_bar(
            name="measured here (profiler)",
            x=top["measured time (ms)"],
            y=labels,
            orientation="h",
            marker_color=MEASURED_COLOR,
            customdata=top[["error"]].to_numpy(),
            hovertemplate="<b>%{y}</b><br>measured %{x:.4g} ms; prediction error %{customdata[0]:+.0%}"
            "<extra></extra>",
        )
    figure.update_layout(barmode="group")
    title = f"The {len(top)} slowest layers" + (
        ": predicted against measured" if measured else " (by predicted time)"
    )
    layout(figure, title, "", "milliseconds per forward pass")
    # the legend under the title, left: on the right it ran into the chart's toolbar at 1024 px
    figure.update_layout(
        height=max(340, 110 + (34 if measured else 22) * len(top)),
        legend={"orientation": "h", "x": 0, "xanchor": "left", "y": 1.0, "yanchor": "bottom"},
        margin={"t": 95},
    )
    return figure


def accuracy_table(rows: list[Row]) -> pd.DataFrame:
    """A row per held-out model: its measured median (over passes, the median of theirs), how many
    passes, the machine's speed factor then, and each predictor's time (scaled by that factor) and
    error."""
    records = []
    for row in rows:
        record = {
            "model": row.model,
            "measured (ms)": row.measured_s * 1e3,
            "passes": max(len(row.passes), 1),
            "speed factor": row.speed,
        }
        for name, predicted, error in zip(PREDICTORS, row.scaled_s, row.errors, strict=True):
            record[f"{name} (ms)"] = predicted * 1e3
            record[f"{name} error"] = error
        record["busy machine"] = row.disturbed
        records.append(record)
    return pd.DataFrame.from_records(records)


def hit_rates_table(summaries: list[Summary], models: int) -> pd.DataFrame:
    """Per predictor: the share of models within ±HIT and the median absolute error."""
    return pd.DataFrame.from_records(
        {
            "predictor": summary.predictor,
            f"within ±{HIT:.0%}": summary.hit_rate,
            "models hit": f"{round(summary.hit_rate * models)} of {models}",
            "median |error|": summary.median_abs_error,
        }
        for summary in summaries
    )


def accuracy(rows: list[Row], summaries: list[Summary]) -> go.Figure:
    """Predicted against measured latency of the held-out models, log axes: a point per model and
    predictor, the diagonal (a perfect prediction) and the ±HIT band around it; each predictor's
    hit rate in its legend entry."""
    measured_ms = [row.measured_s * 1e3 for row in rows]
    predicted_ms = [seconds * 1e3 for row in rows for seconds in row.predicted_s]
    values = [value for value in measured_ms + predicted_ms if value > 0]
    axis = log_axis([min(values) / (1 + HIT), max(values) * (1 + HIT)])
    low, high = (10**end for end in axis["range"])
    figure = go.Figure()
    line = [low, high]
    figure.add_scatter(
        x=line,
        y=[value * (1 - HIT) for value in line],
        mode="lines",
        line={"width": 0},
        hoverinfo="skip",
        showlegend=False,
    )
    figure.add_scatter(
        x=line,
        y=[value * (1 + HIT) for value in line],
        mode="lines",
        line={"width": 0},
        fill="tonexty",
        fillcolor=BAND_COLOR,
        name=f"±{HIT:.0%}",
        hoverinfo="skip",
    )
    figure.add_scatter(
        x=line,
        y=line,
        mode="lines",
        line={"color": "#6c757d", "dash": "dot", "width": 1},
        name="predicted = measured",
        hoverinfo="skip",
    )
    rates = {summary.predictor: summary.hit_rate for summary in summaries}
    for i, (name, (color, symbol)) in enumerate(zip(PREDICTORS, PREDICTOR_STYLES, strict=True)):
        figure.add_scatter(
            x=measured_ms,
            y=[row.predicted_s[i] * 1e3 for row in rows],
            mode="markers",
            marker={"color": color, "symbol": symbol, "size": 11 if i == len(PREDICTORS) - 1 else 8},
            name=f"{name}: {rates[name]:.0%} hit" if name in rates else name,
            customdata=[[row.model, row.errors[i]] for row in rows],
            hovertemplate="<b>%{customdata[0]}</b><br>measured %{x:.4g} ms, " + name + " %{y:.4g} ms "
            "(%{customdata[1]:+.0%})<extra></extra>",
        )
    layout(
        figure,
        f"Predicted against measured: {len(rows)} held-out models",
        "predicted ms (log scale)",
        "measured ms (log scale)",
    )
    figure.update_xaxes(**axis)
    figure.update_yaxes(**axis)
    # traceorder: a fill to the next trace would otherwise reverse the legend; the right margin keeps
    # the last tick label of the x axis, which plotly drops when it would overflow the plot
    figure.update_layout(
        height=520,
        legend={"y": 1.0, "yanchor": "bottom", "font": {"size": 13}, "traceorder": "normal"},
        margin={"t": 90, "r": 40},
    )
    return figure


def signed_percent(error: float) -> str:
    """+12%, −8%: a prediction's error as the page writes it, with a true minus ("—" when there is none)."""
    if not math.isfinite(error):
        return "—"
    return f"{error:+.0%}".replace("-", "−")


__all__ = [
    "accuracy",
    "accuracy_table",
    "hit_rates_table",
    "layer_prediction_table",
    "layer_predictions",
    "signed_percent",
]
