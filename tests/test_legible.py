"""What keeps numbers legible on a projector, without a browser: formulas broken over
lines that fit, log axes with written-out ticks, chart text enlarged in presentation
mode, and table columns as wide as their widest value. tests/test_e2e_layout.py checks
the same on screen."""

from __future__ import annotations

import pandas as pd
import pytest
import streamlit as st

import calc
from calc.explain import MAX_LINE_CHARS, chain, explain, visible_chars
from calc.presets import PRESETS, preset
from calc.separable import compare, savings_grid
from charts import separable as separable_charts
from charts.layers import FONT_PX, PRESENTATION_SCALE, for_presentation, log_axis
from charts.tables import SCREEN_COLUMNS, layer_table
from ui.tables import CHAR_PX, FIT_PX, PADDING_PX, PRESENTATION_FIT_PX, column_groups, formatted, sized

VIT_BLOCK = "Transformer encoder block (ViT-B/16)"


def lines(latex: str) -> list[str]:
    body = latex.removeprefix(r"\begin{aligned}").removesuffix(r"\end{aligned}")
    return body.split(r" \\ ")


def formulas() -> list:
    return [
        pytest.param(row.cost, id=f"{entry.name[:28]}-{row.name}")
        for entry in PRESETS
        for row in calc.analyze(calc.parse_stack(entry.stack)).rows
        if row.cost.terms
    ]


@pytest.mark.parametrize("cost", formulas())
def test_every_formula_line_fits_and_each_count_ends_a_line(cost):
    text = explain(cost)
    for latex in (text.macs_symbolic, text.macs_substituted, text.flops, *text.term_lines):
        for line in lines(latex):
            # over the limit only when the line is one step ("= a·b·c") that cannot be broken further
            assert visible_chars(line) <= MAX_LINE_CHARS or line.count("=") + line.count("+") <= 1, line
    total = f"{cost.macs:,}".replace(",", "{,}")
    assert lines(text.macs_substituted)[-1].endswith(f"= {total}")
    lined_terms = cost.terms if len(cost.terms) > 1 else ()  # one term: its line is the total's
    for line, term in zip(text.term_lines, lined_terms, strict=True):
        assert lines(line)[-1].endswith(f"= {term.value:,}".replace(",", "{,}"))


def test_attention_substitution_puts_the_total_on_its_own_line():
    row = next(
        row for row in calc.analyze(calc.parse_stack(preset(VIT_BLOCK).stack)).rows if row.kind == "attention"
    )
    substituted = lines(explain(row.cost).macs_substituted)
    assert substituted[-1] == "&= 524{,}391{,}936"  # 197*768*2304 + 2*12*197*197*64 + 197*768*768
    assert row.macs == 197 * 768 * 2304 + 2 * 12 * 197 * 197 * 64 + 197 * 768 * 768 == 524_391_936
    assert len(substituted) == len(row.cost.terms) + 1  # a term per line, then the total


def test_a_short_formula_stays_on_one_line():
    assert chain(r"\text{MACs}", [("=", "N"), ("=", "1")]) == r"\text{MACs} = N = 1"


@pytest.mark.parametrize(
    ("values", "ticks"),
    [
        pytest.param([0.2297, 0.538], [0.2, 0.5, 1.0], id="short-range"),
        pytest.param([0.3, 80], [0.2, 0.5, 1, 2, 5, 10, 20, 50, 100], id="two-decades"),
        pytest.param(
            [0.5, 20_000], [0.1, 1, 10, 100, 1_000, 10_000, 100_000], id="many-decades-powers-of-ten"
        ),
    ],
)
def test_log_axes_have_written_out_ticks_around_the_data(values, ticks):
    axis = log_axis(values)
    assert axis["tickvals"] == pytest.approx(ticks)
    assert axis["ticktext"] == [f"{tick:g}" for tick in axis["tickvals"]]
    assert 10 ** axis["range"][0] <= min(values) and 10 ** axis["range"][1] >= max(values)


def test_presentation_enlarges_every_text_of_a_figure_and_leaves_the_original():
    comparison = compare(32, 64, 3, 224, 1, 1)
    figure = separable_charts.parts(comparison)  # subplots: two x axes, annotated titles
    shown = for_presentation(figure)
    assert shown.layout.font.size == pytest.approx(FONT_PX * PRESENTATION_SCALE)
    for axis in [*shown.select_xaxes(), *shown.select_yaxes()]:
        assert axis.tickfont.size == pytest.approx(FONT_PX * PRESENTATION_SCALE)
    assert shown.layout.height > figure.layout.height
    assert figure.layout.font.size == FONT_PX  # the figure given is untouched
    heatmap = for_presentation(separable_charts.savings_heatmap(savings_grid(32, (16, 64), (1, 3), 224, 1)))
    assert heatmap.data[0].colorbar.tickfont.size == pytest.approx(FONT_PX * PRESENTATION_SCALE)


@pytest.mark.parametrize(
    ("value", "number_format", "text"),
    [
        pytest.param(524_391_936, "localized", "524,391,936", id="localized-int"),
        pytest.param(0.4571, "percent", "45.71%", id="percent"),
        pytest.param(0.53801, "%.4f", "0.5380", id="printf"),
        pytest.param(2.5, "%.2f×", "2.50×", id="printf-with-unit"),
        pytest.param(12.5, None, "12.5", id="plain-float"),
        pytest.param("32×32×32", None, "32×32×32", id="text"),
    ],
)
def test_values_are_formatted_as_the_grid_shows_them(value, number_format, text):
    assert formatted(value, number_format) == text


def test_builder_columns_are_as_wide_as_the_attention_counts():
    # 524,391,936 MACs read "24,391,936" when the grid sized its columns for the default stack
    table = layer_table(calc.analyze(calc.parse_stack(preset(VIT_BLOCK).stack)))
    config = sized(
        table,
        {
            "MACs": st.column_config.NumberColumn(format="localized"),
            "FLOPs": st.column_config.NumberColumn(format="localized"),
            "params": st.column_config.NumberColumn(format="localized"),
        },
        SCREEN_COLUMNS,
    )
    for column, widest in (("MACs", "524,391,936"), ("FLOPs", "1,048,783,872"), ("params", "2,362,368")):
        assert formatted(table[column].max(), "localized") == widest
        assert config[column]["width"] >= len(widest) * CHAR_PX + PADDING_PX
    assert set(config) == set(SCREEN_COLUMNS)
    assert config["MACs"]["type_config"]["format"] == "localized"  # the page's own settings stay


def test_a_column_is_never_narrower_than_its_header():
    config = sized(pd.DataFrame({"memory-bound layers": ["1"]}))
    assert config["memory-bound layers"]["width"] >= len("memory-bound layers") * CHAR_PX + PADDING_PX


@pytest.mark.parametrize(
    "widths, pinned, budget, groups",
    [
        pytest.param({"#": 40, "a": 100, "b": 100}, ["#"], 40 + 100 + 100, [["a", "b"]], id="fits-exactly"),
        pytest.param(
            {"#": 40, "a": 100, "b": 100}, ["#"], 40 + 100 + 100 - 1, [["a"], ["b"]], id="one-pixel-over"
        ),
        pytest.param(
            {"#": 40, "layer": 60, "a": 300, "b": 200, "c": 90},
            ["#", "layer"],
            40 + 60 + 300,
            [["a"], ["b", "c"]],
            id="pinned-columns-take-their-room",
        ),
        pytest.param(
            {"name": 50, "wide": 900}, ["name"], 400, [["wide"]], id="a-column-wider-than-all-stays-alone"
        ),
    ],
)
def test_columns_are_cut_into_groups_that_fit_beside_the_pinned_ones(widths, pinned, budget, groups):
    assert column_groups(widths, pinned, budget) == groups


@pytest.mark.parametrize(
    "presentation", [pytest.param(False, id="normal"), pytest.param(True, id="presentation")]
)
def test_every_column_group_of_the_vit_block_table_fits_a_1024_pixel_window(presentation):
    # The grid scrolled sideways at 1024x768 and its edge column read "146,81" for 146,810,000.
    table = layer_table(calc.analyze(calc.parse_stack(preset(VIT_BLOCK).stack)))
    config = sized(table, None, SCREEN_COLUMNS, scale=19 / 16 if presentation else 1.0)
    budget = PRESENTATION_FIT_PX if presentation else FIT_PX
    pinned = [column for column in SCREEN_COLUMNS if config[column].get("pinned")]
    groups = column_groups({column: config[column]["width"] for column in SCREEN_COLUMNS}, pinned, budget)
    assert pinned == ["#", "layer"]
    assert [column for group in groups for column in group] == SCREEN_COLUMNS[
        2:
    ]  # every column, once, in order
    for group in groups:
        assert sum(config[column]["width"] for column in pinned + group) <= budget
