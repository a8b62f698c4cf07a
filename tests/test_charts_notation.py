"""Figures and text say counts one way: a container's treemap tooltip gives the MACs inside
it, chart titles put a space between a number and its unit, descriptions use × and →."""

from __future__ import annotations

import re

import pytest

import calc
from calc import zoo
from calc.presets import PRESETS
from charts.layers import macs_per_layer
from charts.model import hierarchy_treemap


def test_treemap_container_holds_the_macs_of_its_layers():
    report = zoo.count("resnet18")
    treemap = hierarchy_treemap(report, "resnet18").data[0]
    value = dict(zip(treemap.ids, treemap.values, strict=True))
    assert treemap.branchvalues == "total"
    assert value["resnet18"] == report.macs
    layer4 = sum(row.macs for row in report.rows if row.name.startswith("layer4."))
    assert value["layer4"] == layer4 > 0
    assert value["layer4.0"] == sum(row.macs for row in report.rows if row.name.startswith("layer4.0."))
    assert "%{value:,}" in treemap.hovertemplate and "percentRoot" in treemap.hovertemplate


def test_a_small_total_has_a_space_before_its_unit():
    tiny = calc.analyze(calc.parse_stack({"input": [4], "layers": [{"type": "linear", "out_features": 2}]}))
    assert tiny.macs == 4 * 2
    assert "(total 8 MACs)" in macs_per_layer(tiny).layout.title.text


@pytest.mark.parametrize("entry", [pytest.param(entry, id=entry.name) for entry in PRESETS])
def test_descriptions_use_times_and_arrow(entry):
    assert "->" not in entry.description and not re.search(r"\dx\d|\(x\d", entry.description)
