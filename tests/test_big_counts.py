"""Counts beyond int64: a valid stack (an attention over a very long sequence) whose MACs
exceed 2**63 - 1 is shown exactly in the per-layer table, never crashes the page; normal
tables keep numeric, sortable columns."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from test_app import metrics, open_page

import calc
from calc.presets import preset
from calc.units import si
from charts.tables import COUNT_COLUMNS, INT64_MAX, layer_table, text_columns

# [N, L, D] = [2**16, 2**20, 2**13]: 2·N·L²·D = 2**70 score MACs, while every output stays
# within the element limit (N·L·D = 2**49)
LONG_ATTENTION = {
    "input": [2**20, 2**13],
    "batch": 2**16,
    "layers": [{"type": "attention", "num_heads": 8}, {"type": "relu"}],
}


def test_the_stack_is_valid_and_beyond_int64():
    report = calc.analyze(calc.parse_stack(LONG_ATTENTION))
    n, length, d = 2**16, 2**20, 2**13
    assert report.macs == 4 * n * length * d * d + 2 * n * length * length * d > INT64_MAX


def test_counts_beyond_int64_are_exact_text():
    report = calc.analyze(calc.parse_stack(LONG_ATTENTION))
    table = layer_table(report)
    assert {"MACs", "FLOPs"} <= text_columns(table)
    assert list(table["MACs"]) == [f"{row.macs:,}" for row in report.rows_with_parts()]
    assert list(table["FLOPs"]) == [f"{row.flops:,}" for row in report.rows_with_parts()]
    assert table["params"].dtype == "int64"  # a column within int64 stays a number


@pytest.mark.parametrize("name", ["Small CNN (CIFAR-10)", "Transformer encoder block (ViT-B/16)"])
def test_normal_tables_stay_numeric(name):
    table = layer_table(calc.analyze(calc.parse_stack(preset(name).stack)))
    assert not text_columns(table)
    assert all(pd.api.types.is_integer_dtype(table[column]) for column in COUNT_COLUMNS)


def test_builder_shows_a_stack_beyond_int64():
    builder = open_page("pages/builder.py")
    builder.text_area(key="import_json").input(json.dumps(LONG_ATTENTION)).run()
    builder.button(key="load_json").click().run()
    assert not builder.exception, builder.exception
    report = calc.analyze(calc.parse_stack(LONG_ATTENTION))
    assert metrics(builder)["MACs"] == si(report.macs)
    shown = builder.dataframe[0].value
    assert list(shown["MACs"]) == [f"{row.macs:,}" for row in report.rows_with_parts()]
