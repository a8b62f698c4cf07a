"""Streamlit AppTest: every page runs without an exception, and the Builder's main
interactions change the totals exactly as calc says they should."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

import calc
from calc.presets import PRESETS, preset
from calc.units import si, si_bytes

APP = str(Path(__file__).resolve().parents[1] / "app.py")
PAGES = [
    pytest.param("pages/home.py", id="home"),
    pytest.param("pages/concepts.py", id="concepts"),
    pytest.param("pages/builder.py", id="builder"),
    pytest.param("pages/model.py", id="model"),
    pytest.param("pages/compare.py", id="compare"),
    pytest.param("pages/latency.py", id="latency"),
    pytest.param("pages/separable.py", id="separable"),
    pytest.param("pages/llm.py", id="llm"),
]


def open_page(page: str) -> AppTest:
    app = AppTest.from_file(APP, default_timeout=60).run()
    app.switch_page(page).run()
    assert not app.exception, app.exception
    return app


def read_text(markdown: str) -> str:
    """What a visitor reads of a Markdown body whose user text is escaped (ui.text.plain)."""
    return re.sub(r"\\(.)", r"\1", markdown).replace("\u200b", "")


def metrics(app: AppTest) -> dict[str, str]:
    return {metric.label: metric.value for metric in app.metric}


def expected_metrics(stack_json: dict) -> dict[str, str]:
    report = calc.analyze(calc.parse_stack(stack_json))
    return {
        "MACs": si(report.macs),
        "FLOPs": si(report.flops),
        "Parameters": si(report.params),
        "Memory traffic": si_bytes(report.memory_bytes),
        "Other ops": si(report.other_ops),
    }


def stack(app: AppTest) -> dict:
    return app.session_state["stack"]


def field_key(app: AppTest, index: int, field: str) -> str:
    return f"f{app.session_state['layer_uids'][index]}.{field}"


@pytest.fixture
def builder() -> AppTest:
    return open_page("pages/builder.py")


@pytest.mark.parametrize("page", PAGES)
def test_page_runs_without_exception(page):
    app = open_page(page)
    assert app.title[0].value


def test_home_example_is_computed_by_calc():
    app = open_page("pages/home.py")
    row = calc.analyze(calc.parse_stack(preset("Worked example: 3x3 conv, RGB in").stack)).rows[0]
    assert row.macs == 64 * 3 * 3 * 3 * 224 * 224
    assert any("86{,}704{,}128" in latex.value for latex in app.latex)


def test_builder_starts_with_the_default_preset(builder):
    assert metrics(builder) == expected_metrics(preset("Small CNN (CIFAR-10)").stack)
    assert not builder.error


def test_add_layer_updates_totals(builder):
    before = calc.analyze(calc.parse_stack(stack(builder)))
    builder.selectbox(key="add_kind").set_value("linear").run()
    builder.button(key="add_layer").click().run()
    assert not builder.exception
    assert stack(builder)["layers"][-1] == {"type": "linear", "out_features": 128}
    after = calc.analyze(calc.parse_stack(stack(builder)))
    assert after.params - before.params == 10 * 128 + 128
    assert after.macs - before.macs == 10 * 128
    assert metrics(builder) == expected_metrics(stack(builder))
    assert builder.selectbox(key="edit_index").value == len(stack(builder)["layers"]) - 1


def test_edit_field_updates_totals(builder):
    builder.selectbox(key="edit_index").set_value(0).run()
    builder.number_input(key=field_key(builder, 0, "out_channels")).set_value(16).run()
    assert stack(builder)["layers"][0]["out_channels"] == 16
    report = calc.analyze(calc.parse_stack(stack(builder)))
    assert report.rows[0].macs == 16 * 3 * 3 * 3 * 32 * 32
    assert metrics(builder) == expected_metrics(stack(builder))


def test_edit_kernel_pair_and_padding_mode(builder):
    builder.selectbox(key="edit_index").set_value(0).run()
    builder.number_input(key=field_key(builder, 0, "kernel_size") + ".w").set_value(5).run()
    builder.radio(key=field_key(builder, 0, "padding") + ".mode").set_value("same").run()
    layer = stack(builder)["layers"][0]
    assert layer["kernel_size"] == [3, 5] and layer["padding"] == "same"
    assert calc.analyze(calc.parse_stack(stack(builder))).rows[0].macs == 32 * 3 * 3 * 5 * 32 * 32


def test_delete_duplicate_and_move(builder):
    layers = [dict(layer) for layer in stack(builder)["layers"]]
    builder.selectbox(key="edit_index").set_value(2).run()
    builder.button(key="delete").click().run()
    assert stack(builder)["layers"] == layers[:2] + layers[3:]
    builder.selectbox(key="edit_index").set_value(0).run()
    builder.button(key="duplicate").click().run()
    assert stack(builder)["layers"][:2] == [layers[0], layers[0]]
    assert builder.selectbox(key="edit_index").value == 1  # the copy is selected
    builder.button(key="move_down").click().run()
    assert builder.selectbox(key="edit_index").value == 2
    assert stack(builder)["layers"][:3] == [layers[0], layers[1], layers[0]]
    builder.button(key="move_up").click().run()
    assert stack(builder)["layers"][:3] == [layers[0], layers[0], layers[1]]
    assert not builder.exception
    assert metrics(builder) == expected_metrics(stack(builder))


def test_bad_field_shows_error_on_that_layer_and_keeps_the_others(builder):
    layers = [dict(layer) for layer in stack(builder)["layers"]]
    builder.selectbox(key="edit_index").set_value(4).run()
    builder.number_input(key=field_key(builder, 4, "groups")).set_value(5).run()
    assert not builder.exception
    messages = [error.value for error in builder.error]
    assert any("layer 4" in message.lower() and "'groups'" in message for message in messages), messages
    assert len(stack(builder)["layers"]) == len(layers)
    assert [layer for i, layer in enumerate(stack(builder)["layers"]) if i != 4] == layers[:4] + layers[5:]
    # the totals cover the layers before the bad one
    prefix = dict(stack(builder), layers=layers[:4])
    assert metrics(builder)["MACs"] == expected_metrics(prefix)["MACs"]
    builder.number_input(key=field_key(builder, 4, "groups")).set_value(1).run()
    assert not builder.error
    assert metrics(builder) == expected_metrics(stack(builder))


def test_input_shape_and_batch_scale_the_totals(builder):
    builder.number_input(key="batch").set_value(4).run()
    one = calc.analyze(calc.parse_stack(dict(stack(builder), batch=1)))
    assert calc.analyze(calc.parse_stack(stack(builder))).macs == 4 * one.macs
    builder.number_input(key="in_h").set_value(64).run()
    builder.number_input(key="in_w").set_value(64).run()
    assert stack(builder)["input"] == [3, 64, 64]
    assert metrics(builder) == expected_metrics(stack(builder))


def test_switching_to_tokens_flags_the_first_conv(builder):
    builder.radio(key="input_kind").set_value("tokens L×D").run()
    assert not builder.exception
    assert any("layer 0" in error.value.lower() and "image" in error.value for error in builder.error)


@pytest.mark.parametrize("entry", [pytest.param(entry, id=entry.name) for entry in PRESETS])
def test_every_preset_loads(builder, entry):
    builder.selectbox(key="preset").set_value(entry.name).run()
    builder.button(key="load_preset").click().run()
    assert not builder.exception
    assert metrics(builder) == expected_metrics(entry.stack)


def test_import_pasted_json(builder):
    pasted = {
        "input": [32, 224, 224],
        "layers": [{"type": "conv2d", "out_channels": 64, "kernel_size": 3, "padding": 1}],
    }
    builder.text_area(key="import_json").input(json.dumps(pasted)).run()
    builder.button(key="load_json").click().run()
    assert stack(builder)["layers"] == pasted["layers"]
    report = calc.analyze(calc.parse_stack(pasted))
    assert report.macs == 64 * 32 * 3 * 3 * 224 * 224
    assert metrics(builder)["MACs"] == si(report.macs)


@pytest.mark.parametrize(
    "text, needle",
    [
        pytest.param("{not json", "not valid JSON", id="malformed"),
        pytest.param(
            '{"input": [3, 8, 8], "layers": [{"type": "conv3d"}]}', "unknown layer type", id="unknown-kind"
        ),
        pytest.param(
            '{"input": [3, 8, 8], "layers": [{"type": "conv2d", "kernel_size": 3}]}',
            "out_channels",
            id="missing-field",
        ),
        pytest.param('{"input": [0, 8, 8], "layers": []}', "input", id="bad-input"),
    ],
)
def test_bad_import_keeps_the_stack(builder, text, needle):
    layers = [dict(layer) for layer in stack(builder)["layers"]]
    builder.text_area(key="import_json").input(text).run()
    builder.button(key="load_json").click().run()
    assert not builder.exception
    assert stack(builder)["layers"] == layers
    assert any(needle in read_text(error.value) and "unchanged" in error.value for error in builder.error), [
        error.value for error in builder.error
    ]


def test_upload_json(builder):
    uploaded = preset("Transformer encoder block (ViT-B/16)").stack
    builder.file_uploader(key="upload_json_0").upload(
        "block.json", json.dumps(uploaded).encode(), "application/json"
    ).run()
    assert not builder.exception
    assert metrics(builder) == expected_metrics(uploaded)


def test_formula_tab_substitutes_the_numbers(builder):
    builder.selectbox(key="explain_layer").set_value(4).run()
    latex = " ".join(element.value for element in builder.latex)
    assert "4{,}718{,}592" in latex  # 64 * 32 * 3 * 3 * 16 * 16, layer 4 of the small CNN
    assert calc.analyze(calc.parse_stack(stack(builder))).rows[4].macs == 64 * 32 * 3 * 3 * 16 * 16


def test_downloads_offer_the_stack_and_the_table(builder):
    labels = [button.proto.label for button in builder.get("download_button")]
    assert "Download stack JSON" in labels and "Download table (CSV)" in labels


def test_csv_table_has_every_byte_figure():
    from charts.tables import layer_table

    report = calc.analyze(calc.parse_stack(preset("Worked example: 3x3 conv, RGB in").stack))
    row = layer_table(report).iloc[0]
    assert row["weight bytes"] == 4 * (64 * 3 * 3 * 3 + 64)
    assert row["input bytes"] == 4 * 3 * 224 * 224
    assert row["output bytes"] == 4 * 64 * 224 * 224
    assert row["bytes moved"] == row["weight bytes"] + row["input bytes"] + row["output bytes"]
    assert row["MACs"] == 64 * 3 * 3 * 3 * 224 * 224 and row["FLOPs"] == 2 * row["MACs"]


# ---------------------------------------------------------------- Model page


@pytest.fixture
def model_page() -> AppTest:
    return open_page("pages/model.py")


def test_model_page_defaults_to_resnet50_counted_by_calc(model_page):
    from calc import zoo

    report = zoo.count("resnet50")
    assert metrics(model_page)["MACs"] == si(report.macs) == si(4_089_184_256)
    assert metrics(model_page)["Parameters"] == si(25_557_032)
    assert "4.089" in " ".join(caption.value for caption in model_page.caption)


def test_model_page_switches_model_and_resets_resolution(model_page):
    from calc import zoo

    model_page.number_input(key="model_resolution").set_value(160).run()
    assert metrics(model_page)["MACs"] == si(zoo.count("resnet50", 160).macs)
    model_page.selectbox(key="model_name").set_value("inception_v3").run()
    assert model_page.number_input(key="model_resolution").value == 299
    assert metrics(model_page)["MACs"] == si(zoo.count("inception_v3").macs)
    assert not model_page.exception


def test_model_page_batch_scales_macs(model_page):
    from calc import zoo

    model_page.number_input(key="model_batch").set_value(8).run()
    assert metrics(model_page)["MACs"] == si(8 * zoo.count("resnet50").macs)


def test_model_page_refused_resolution_says_what_to_fix(model_page):
    model_page.selectbox(key="model_name").set_value("alexnet").run()
    model_page.number_input(key="model_resolution").set_value(40).run()
    assert not model_page.exception
    assert [error.value for error in model_page.error] == [
        (
            "field 'resolution': alexnet accepts inputs from 63×63 pixels up, not 40×40; "
            "its native size is 224. Set the resolution back to 224 in the sidebar."
        )
    ]
    assert model_page.title[0].value == "Model: alexnet" and model_page.sidebar.number_input


@pytest.mark.parametrize("name", ["maxvit_t", "vit_b_16"])
def test_model_page_holds_a_one_size_model_at_its_size(model_page, name):
    from calc import zoo

    model_page.selectbox(key="model_name").set_value(name).run()
    model_page.session_state["model_resolution"] = 240  # as a shared link may ask
    model_page.run()
    assert not model_page.exception and not model_page.error
    resolution = model_page.number_input(key="model_resolution")
    assert resolution.value == 224 and resolution.disabled and "only 224×224" in resolution.help
    assert metrics(model_page)["MACs"] == si(zoo.count(name).macs)


def test_model_page_filter_narrows_the_table(model_page):
    model_page.text_input(key="model_filter").input("layer4").run()
    table = model_page.dataframe[0].value
    assert len(table) > 0 and table["module path"].str.startswith("layer4").all()


def test_model_page_shows_stack_presets_too(model_page):
    model_page.selectbox(key="model_name").set_value("stack: MobileNetV2 block").run()
    assert not model_page.exception
    assert metrics(model_page)["MACs"] == expected_metrics(preset("MobileNetV2 block").stack)["MACs"]


# ---------------------------------------------------------------- Compare page


@pytest.fixture
def compare_page() -> AppTest:
    return open_page("pages/compare.py")


def test_compare_page_relative_cost_to_baseline(compare_page):
    from calc import zoo

    table = compare_page.dataframe[0].value.set_index("model")
    vgg_over_mobilenet = zoo.count("vgg16").macs / zoo.count("mobilenet_v2").macs
    assert table.loc["mobilenet_v2", "relative cost"] == 1
    assert table.loc["vgg16", "relative cost"] == pytest.approx(vgg_over_mobilenet)
    assert round(vgg_over_mobilenet) == 51  # "VGG-16 costs about 51x MobileNetV2"
    compare_page.selectbox(key="compare_baseline").set_value("resnet50").run()
    table = compare_page.dataframe[0].value.set_index("model")
    assert table.loc["resnet50", "relative cost"] == 1
    assert table.loc["mobilenet_v2", "GMACs"] == zoo.count("mobilenet_v2").macs / 1e9


def test_compare_page_mixes_models_and_stacks(compare_page):
    compare_page.session_state["compare_tab"] = "MACs vs resolution"
    compare_page.multiselect(key="compare_models").set_value(
        ["resnet18", "vit_b_16", "stack: Small CNN (CIFAR-10)"]
    ).run()
    assert not compare_page.exception
    table = compare_page.dataframe[0].value.set_index("model")
    assert (
        table.loc["stack: Small CNN (CIFAR-10)", "GMACs"]
        == calc.analyze(calc.parse_stack(preset("Small CNN (CIFAR-10)").stack)).macs / 1e9
    )
    assert any("vit_b_16" in caption.value for caption in compare_page.caption)  # fixed 224x224 input


def plotly_ids(app: AppTest) -> str:
    return " ".join(chart.proto.id for chart in app.get("plotly_chart"))  # each id holds the chart's key


def test_compare_page_counts_the_resolution_sweep_only_in_its_open_tab(compare_page):
    # Seven resolutions per model: on a page's first visit that would be 35 counts for a chart not on screen.
    assert "compare_resolution" not in plotly_ids(compare_page) and not compare_page.get("progress")
    compare_page.session_state["compare_tab"] = "MACs vs resolution"
    compare_page.run()
    assert not compare_page.exception
    assert "compare_resolution" in plotly_ids(compare_page)


def test_compare_page_with_nothing_chosen_says_so(compare_page):
    compare_page.multiselect(key="compare_models").set_value([]).run()
    assert not compare_page.exception
    assert any("Pick at least one model" in info.value for info in compare_page.info)
    assert [title.value for title in compare_page.title] == ["Compare models"]  # not a blank page
