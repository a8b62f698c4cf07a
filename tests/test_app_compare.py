"""Compare page: stacks beside zoo models (a preset or the user's own Builder stack), with a
note wherever one cannot be drawn; and the CSV downloads a spreadsheet opens as shown."""

from __future__ import annotations

import io
import math

import pandas as pd
import pytest
from test_app import open_page
from test_links import open_with, url

import calc
from calc.presets import preset
from charts.tables import csv_bytes, layer_table, layer_totals

SMALL = "stack: Small CNN (CIFAR-10)"


@pytest.fixture
def compare():
    return open_page("pages/compare.py")


def captions(app) -> str:
    return " ".join(caption.value for caption in app.caption)


def test_a_stack_preset_is_named_where_it_cannot_be_drawn(compare):
    compare.multiselect(key="compare_models").set_value(["resnet18", SMALL]).run()
    table = compare.dataframe[0].value.set_index("model")
    assert table["acc@1 (%)"].dtype == float and math.isnan(table.loc[SMALL, "acc@1 (%)"])
    assert table.loc["resnet18", "acc@1 (%)"] == calc.zoo.model_info("resnet18").acc1
    assert f"Not on this chart, having no ImageNet accuracy: {SMALL}" in captions(compare)
    compare.session_state["compare_tab"] = "MACs vs resolution"  # only the open tab is built
    compare.run()
    assert f"Not swept: {SMALL}" in captions(compare)


def test_the_builder_stack_can_be_compared(compare):
    compare.toggle(key="compare_builder").set_value(True).run()
    assert not compare.exception
    table = compare.dataframe[0].value.set_index("model")
    own = calc.analyze(calc.parse_stack(preset("Small CNN (CIFAR-10)").stack))  # the Builder's first stack
    assert table.loc["Builder stack", "GMACs"] == own.macs / 1e9
    assert table.loc["Builder stack", "params (M)"] == own.params / 1e6
    compare.selectbox(key="compare_baseline").set_value("Builder stack").run()
    table = compare.dataframe[0].value.set_index("model")
    assert table.loc["vgg16", "relative cost"] == pytest.approx(calc.zoo.count("vgg16").macs / own.macs)
    link = url(compare)
    assert link["builder"] == "1" and link["baseline"] == "Builder stack" and "stack" in link
    again = open_with("pages/compare.py", **link)
    assert again.dataframe[0].value.set_index("model").loc["Builder stack", "GMACs"] == own.macs / 1e9


def test_a_broken_builder_stack_is_left_out_with_a_reason(compare):
    compare.session_state["stack"] = {
        "input": [16],
        "batch": 1,
        "dtype": "fp32",  # a conv on a vector
        "layers": [{"type": "conv2d", "out_channels": 4, "kernel_size": 3}],
    }
    compare.toggle(key="compare_builder").set_value(True).run()
    assert not compare.exception
    assert "Builder stack" not in set(compare.dataframe[0].value["model"])
    assert any(
        "Builder stack is not compared" in warning.value and "layer 0" in warning.value
        for warning in compare.warning
    )


def read_csv(data: bytes) -> tuple[str, pd.DataFrame]:
    text = data.decode("utf-8-sig")  # what a spreadsheet does with the byte-order mark
    first, _, rest = text.partition("\n")
    return first, pd.read_csv(io.StringIO(rest), keep_default_na=False)


def test_layer_csv_has_what_was_counted_and_a_totals_row():
    report = calc.analyze(calc.parse_stack(preset("Transformer encoder block (ViT-B/16)").stack))
    data = csv_bytes(layer_table(report), "input 197×768 · batch 1 · fp32", layer_totals(report))
    assert data.startswith("\ufeff".encode("utf-8"))
    about, table = read_csv(data)
    assert about == "# input 197×768 · batch 1 · fp32"
    assert table["output shape"].iloc[0] == "197×768" and table["input shape"].iloc[0] == "197×768"
    total = table.iloc[-1]
    assert total["#"] == "total" and total["layer"] == "6 layers"
    assert int(total["MACs"]) == report.macs == sum(row.macs for row in report.rows)
    assert int(total["params"]) == report.params and int(total["bytes moved"]) == report.memory_bytes
    parts = table.iloc[:-1]
    assert int(parts.loc[~parts["layer"].str.startswith(" "), "MACs"].astype(int).sum()) == report.macs


def test_what_if_csv_ends_with_the_replaced_convs_together():
    from calc.separable import what_if_stack
    from charts.separable import what_if_table, what_if_totals

    what_if = what_if_stack(calc.parse_stack(preset("Small CNN (CIFAR-10)").stack))
    about, table = read_csv(csv_bytes(what_if_table(what_if), "what-if", what_if_totals(what_if)))
    total = table.iloc[-1]
    before = 32 * 3 * 3 * 3 * 32 * 32 + 64 * 32 * 3 * 3 * 16 * 16 + 128 * 64 * 3 * 3 * 8 * 8
    after = (
        (3 * 3 * 3 * 32 * 32 + 32 * 3 * 32 * 32)
        + (32 * 3 * 3 * 16 * 16 + 64 * 32 * 16 * 16)
        + (64 * 3 * 3 * 8 * 8 + 128 * 64 * 8 * 8)
    )
    assert about == "# what-if" and total["layer"] == "3 replaced convs"
    assert (int(total["MACs before"]), int(total["MACs after"])) == (before, after)
    assert float(total["MACs saved"]) == pytest.approx(1 - after / before)


def test_model_csv_download_is_offered_with_and_without_a_filter():
    model = open_page("pages/model.py")
    assert not model.exception and "model_csv" in [button.key for button in model.get("download_button")]
    model.text_input(key="model_filter").set_value("layer3").run()
    assert not model.exception and "model_csv" in [button.key for button in model.get("download_button")]
