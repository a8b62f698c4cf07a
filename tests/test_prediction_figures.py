"""charts.prediction without a browser: the per-layer table and bars of the calibrated prediction
against the profiler, and the held-out models' log-log chart with its ±25 % band and hit rates."""

from __future__ import annotations

import dataclasses
import math

import pytest

import calc
from calc import calibration as model
from calc.held_out import HIT, PREDICTORS, Pass, Row, summarize
from charts import prediction as charts

FINGERPRINT = model.Fingerprint("cpu", "Test CPU", 2, "2.14.1", "fp32")
# conv 3 -> 8 (3x3, padding 1), relu, flatten, linear 512 -> 10 on [3, 8, 8]
TINY = calc.analyze(
    calc.parse_stack(
        {
            "input": [3, 8, 8],
            "layers": [
                {"type": "conv2d", "out_channels": 8, "kernel_size": 3, "padding": 1},
                {"type": "relu"},
                {"type": "flatten"},
                {"type": "linear", "out_features": 10},
            ],
        }
    )
)


def flat(value: float) -> model.EfficiencyTable:
    return model.EfficiencyTable((6.0,), (value,))


CALIBRATION = model.Calibration(
    FINGERPRINT,
    100e9,
    10e9,
    5e-6,
    2e-6,
    tuple(
        model.KindFit(kind, flat(0.5) if kind in model.MAC_KINDS else None, flat(0.5), 3)
        for kind in model.CALIBRATED_KINDS
    ),
)
PREDICTION = model.predict(TINY, CALIBRATION)


def test_the_layer_table_is_the_prediction_without_a_measurement():
    table = charts.layer_prediction_table(PREDICTION)
    assert list(table["layer"]) == [row.name for row in TINY.rows]
    assert list(table["predicted time (ms)"]) == [layer.seconds * 1e3 for layer in PREDICTION.layers]
    assert "measured time (ms)" not in table and "error" not in table
    flatten = table.set_index("layer").loc[TINY.rows[2].name]
    assert flatten["priced as"] == "nothing to price" and flatten["bound"] == ""


def test_the_layer_table_sets_each_prediction_against_its_profiled_time():
    names = [row.name for row in TINY.rows]
    measured = {names[0]: 2e-5, names[1]: 1e-5, names[3]: 4e-5}  # flatten: no profiled time
    table = charts.layer_prediction_table(PREDICTION, measured).set_index("layer")
    for layer in PREDICTION.layers:
        name = layer.row.name
        if name in measured:
            assert table.loc[name, "measured time (ms)"] == measured[name] * 1e3
            assert table.loc[name, "error"] == pytest.approx(layer.seconds / measured[name] - 1)
        else:
            assert table.loc[name, "measured time (ms)"] == 0 and math.isnan(table.loc[name, "error"])


@pytest.mark.parametrize(
    "measured, count, traces",
    [
        pytest.param(None, 20, ["calibrated prediction"], id="predicted-only"),
        pytest.param(True, 20, ["calibrated prediction", "measured here (profiler)"], id="with-measured"),
        pytest.param(True, 2, ["calibrated prediction", "measured here (profiler)"], id="top-two"),
    ],
)
def test_the_layer_bars_show_the_slowest_layers(measured, count, traces):
    profiled = {row.name: 1e-5 * (i + 1) for i, row in enumerate(TINY.rows)} if measured else None
    figure = charts.layer_predictions(charts.layer_prediction_table(PREDICTION, profiled), count)
    assert [trace.name for trace in figure.data] == traces
    shown = min(count, len(TINY.rows))
    assert len(figure.data[0].y) == shown
    if measured:  # the slowest measured on top (the last bar of a horizontal chart)
        slowest = sorted(profiled, key=profiled.get)[-shown:]
        assert [label.split(" (")[0] for label in figure.data[1].y] == slowest
        assert list(figure.data[1].x) == pytest.approx([profiled[name] * 1e3 for name in slowest])


ROWS = [
    Row("a", 1e-3, (0.5e-3, 0.8e-3, 1.1e-3)),  # errors −50 %, −20 %, +10 %
    Row("b", 10e-3, (5e-3, 6e-3, 13e-3)),  # −50 %, −40 %, +30 %
    Row("c", 100e-3, (50e-3, 90e-3, 110e-3), disturbed=True),  # −50 %, −10 %, +10 %
]


def test_the_accuracy_chart_has_the_band_the_diagonal_and_each_predictor():
    summaries = summarize(ROWS)
    figure = charts.accuracy(ROWS, summaries)
    lower, upper, diagonal, *points = figure.data
    assert list(lower.y) == pytest.approx([x * (1 - HIT) for x in lower.x])
    assert list(upper.y) == pytest.approx([x * (1 + HIT) for x in upper.x]) and upper.fill == "tonexty"
    assert list(diagonal.y) == list(diagonal.x)
    assert [trace.name for trace in points] == [
        f"{name}: {summary.hit_rate:.0%} hit" for name, summary in zip(PREDICTORS, summaries, strict=True)
    ]
    assert [trace.name for trace in points][-1] == "calibrated: 67% hit"  # 2 of 3 within ±25 %
    for i, trace in enumerate(points):
        assert list(trace.x) == pytest.approx([row.measured_s * 1e3 for row in ROWS])
        assert list(trace.y) == pytest.approx([row.predicted_s[i] * 1e3 for row in ROWS])
    assert figure.layout.xaxis.type == figure.layout.yaxis.type == "log"
    low, high = (10**end for end in figure.layout.xaxis.range)
    every = [row.measured_s * 1e3 for row in ROWS] + [s * 1e3 for row in ROWS for s in row.predicted_s]
    assert low <= min(every) and max(every) <= high  # no point off the axes
    assert (lower.x[0], lower.x[-1]) == pytest.approx((low, high))  # the band spans them


def test_the_hit_rate_table_is_the_summary():
    table = charts.hit_rates_table(summarize(ROWS), len(ROWS))
    assert list(table["predictor"]) == list(PREDICTORS)
    assert list(table["within ±25%"]) == pytest.approx([0 / 3, 2 / 3, 2 / 3])
    assert list(table["models hit"]) == ["0 of 3", "2 of 3", "2 of 3"]
    assert list(table["median |error|"]) == pytest.approx([0.5, 0.2, 0.1])


def test_the_layer_table_scales_each_prediction_by_the_speed_factor():
    measured = {layer.row.name: 1e-3 for layer in PREDICTION.layers}
    table = charts.layer_prediction_table(PREDICTION, measured, speed=1.25).set_index("layer")
    for layer in PREDICTION.layers:
        assert table.loc[layer.row.name, "predicted time (ms)"] == pytest.approx(layer.seconds * 1.25 * 1e3)
        assert table.loc[layer.row.name, "error"] == pytest.approx(layer.seconds * 1.25 / 1e-3 - 1)


def test_the_accuracy_table_shows_the_speed_factor_and_the_scaled_predictions():
    row = dataclasses.replace(ROWS[1], speed=0.8)
    table = charts.accuracy_table([row]).set_index("model")
    assert table.loc["b", "speed factor"] == pytest.approx(0.8)
    assert table.loc["b", "calibrated (ms)"] == pytest.approx(13 * 0.8)
    assert table.loc["b", "calibrated error"] == pytest.approx(13 * 0.8 / 10 - 1)


def test_the_accuracy_table_counts_each_models_passes():
    rows = [ROWS[0], Row.of_passes("d", (1e-3, 1e-3, 1e-3), [Pass(1e-3), Pass(2e-3), Pass(1.5e-3)])]
    assert list(charts.accuracy_table(rows)["passes"]) == [1, 3]


def test_the_accuracy_table_has_each_models_times_and_errors():
    table = charts.accuracy_table(ROWS).set_index("model")
    assert table.loc["b", "measured (ms)"] == pytest.approx(10.0)
    assert table.loc["b", "roofline (ms)"] == pytest.approx(6.0)
    assert table.loc["b", "calibrated error"] == pytest.approx(13 / 10 - 1)
    assert list(table["busy machine"]) == [False, False, True]


@pytest.mark.parametrize(
    "error, text",
    [
        pytest.param(0.123, "+12%", id="slow"),
        pytest.param(-0.08, "−8%", id="fast"),
        pytest.param(0.0, "+0%", id="exact"),
        pytest.param(float("nan"), "—", id="none"),
    ],
)
def test_signed_percent(error, text):
    assert charts.signed_percent(error) == text
