"""charts.llm's sweep: no legend over the Memory subplot's title, and round log ticks that do not
run together at a 1024-pixel window."""

from __future__ import annotations

import pytest

from calc.llm_sweep import SweepPoint
from charts.llm import MOST_TICKS, sweep, sweep_axis, tick_text


@pytest.mark.parametrize(
    "values, ticks",
    [
        pytest.param([1, 256], ["1", "2", "5", "10", "20", "50", "100", "200", "500"], id="batch"),
        pytest.param([128, 131_072], ["100", "1K", "10K", "100K"], id="context-to-128k"),
        pytest.param([129, 1_024], ["100", "200", "500", "1K", "2K"], id="gpt2-context"),
    ],
)
def test_a_sweep_axis_has_few_round_level_ticks(values, ticks):
    axis = sweep_axis(values)
    assert axis["ticktext"] == ticks and axis["tickangle"] == 0
    assert len(axis["tickvals"]) <= MOST_TICKS


@pytest.mark.parametrize(
    "value, text", [pytest.param(200, "200", id="hundreds"), pytest.param(100_000, "100K", id="thousands")]
)
def test_tick_text_uses_k_for_a_thousand(value, text):
    assert tick_text(value) == text


def test_the_sweep_has_no_legend_to_sit_on_the_memory_title():
    points = tuple(SweepPoint(value, 1e-3 * value, 1e3, 1e-2, 1e9 * value, True) for value in (1, 2, 4, 8))
    figure = sweep(points, "batch", 80e9, None)
    assert figure.layout.showlegend is False
    assert [annotation.text for annotation in figure.layout.annotations] == [
        "Time per output token",
        "Memory",
        "device memory",
    ]
    assert list(figure.layout.xaxis.tickvals) == list(figure.layout.xaxis2.tickvals) == [1, 2, 5, 10]
