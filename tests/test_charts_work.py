"""Charts read data, not display text: a kind of work has one colour (charts.colors), and
a measurement is drawn as one because it is flagged so, not because its label says so."""

from __future__ import annotations

import pandas as pd
import pytest

import calc
from calc.breakdown import macs_by_work, row_category
from calc.presets import preset
from calc.roofline import Roofs, estimate
from charts.colors import WORK_COLORS
from charts.latency import MEASURED_COLOR, THEORY_COLOR, batch_sweep, comparison, layer_times_table, roofline
from charts.model import macs_by_kind_of_work, top_layers

ROOFS = Roofs(10e12, 500e9, "a test device")


def preset_report(name: str):
    return calc.analyze(calc.parse_stack(preset(name).stack))


@pytest.mark.parametrize(
    "name",
    [
        pytest.param("Transformer encoder block (ViT-B/16)", id="vit-block"),
        pytest.param("MobileNetV2 block", id="mbv2-block"),
        pytest.param("Worked example: separable 3x3 conv 32 -> 64", id="separable"),
    ],
)
def test_kinds_of_work_are_coloured_from_one_table(name):
    report = preset_report(name)
    bars = macs_by_kind_of_work(report).data[0]
    totals = macs_by_work(report)
    works = sorted(totals, key=totals.get)
    assert list(bars.y) == [work.label for work in works]
    assert list(bars.marker.color) == [WORK_COLORS[work] for work in works]
    heaviest = top_layers(report).data[0]
    rows = sorted(report.rows, key=lambda row: row.macs, reverse=True)[:10][::-1]
    assert list(heaviest.marker.color) == [WORK_COLORS[row_category(row)] for row in rows]
    figure = roofline(ROOFS, layer_times_table(estimate(report, ROOFS)), measured=False)
    points = {trace.name: trace.marker.color for trace in figure.data if trace.mode == "markers"}
    kinds = {row_category(row) for row in report.rows if row.macs}
    assert points == {work.label: WORK_COLORS[work] for work in kinds}


def test_the_measured_bar_is_the_one_passed_as_measured_whatever_its_label():
    figure = comparison([("measured-looking theory", 0.002, "a formula")], ("median", 0.003, 0.0004))
    bar = figure.data[0]
    assert list(bar.y) == ["measured-looking theory", "median"]
    assert list(bar.marker.color) == [THEORY_COLOR, MEASURED_COLOR]
    assert list(bar.error_x.array) == [0, 0.0004 * 1e3 / 2]


def test_a_sweep_line_is_solid_when_measured_whatever_its_name():
    sweep = pd.DataFrame.from_records(
        [
            {"batch": 1, "series": "measured-looking theory", "measured": False, "seconds": 0.001},
            {"batch": 2, "series": "measured-looking theory", "measured": False, "seconds": 0.002},
            {"batch": 1, "series": "here", "measured": True, "seconds": 0.0015},
            {"batch": 2, "series": "here", "measured": True, "seconds": 0.0025},
        ]
    )
    lines = {trace.name: (trace.line.color, trace.line.dash) for trace in batch_sweep(sweep).data}
    color, dash = lines["measured-looking theory"]
    assert dash == "dash" and color != MEASURED_COLOR
    assert lines["here"] == (MEASURED_COLOR, "solid")
