"""charts.llm's sweep: no legend over the Memory subplot's title, and round log ticks that do not
collide at a 1024-pixel window."""

from __future__ import annotations

import pytest

from calc.llm_sweep import SweepPoint
from charts.llm import log_ticks, sweep, tick_text


@pytest.mark.parametrize(
    "low, high, ticks",
    [
        pytest.param(1, 256, [1, 2, 5, 10, 20, 50, 100, 200], id="batch"),
        pytest.param(128, 131_072, [300, 1_000, 3_000, 10_000, 30_000, 100_000], id="context-128k"),
        pytest.param(128, 1_024, [200, 500, 1_000], id="gpt2-context"),
        pytest.param(640, 4_096, [700, 800, 900, 1_000, 2_000, 3_000, 4_000], id="under-a-decade"),
    ],
)
def test_log_ticks_are_round_and_few(low, high, ticks):
    assert log_ticks(low, high) == ticks


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
    assert (
        list(figure.layout.xaxis.tickvals) == list(figure.layout.xaxis2.tickvals) == [1, 2, 3, 4, 5, 6, 7, 8]
    )
