"""Shareable links: a stack survives the URL exactly and compactly; a hostile or broken
link is refused with a message; every page reads its link and writes its state back."""

from __future__ import annotations

import base64
import json
import zlib

import pytest
from streamlit.testing.v1 import AppTest
from test_app import APP, metrics, read_text

import calc
from calc import zoo
from calc.errors import SpecError
from calc.presets import PRESETS, preset
from calc.share import MAX_LINK_CHARS, decode_stack, encode_stack
from calc.spec import stack_to_json
from calc.units import si

SMALL = {"input": [3, 8, 8], "layers": [{"type": "conv2d", "out_channels": 4, "kernel_size": 3}]}


def token(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


@pytest.mark.parametrize("entry", PRESETS, ids=lambda entry: entry.name)
def test_every_preset_survives_a_link(entry):
    stack = stack_to_json(calc.parse_stack(entry.stack))
    assert stack_to_json(decode_stack(encode_stack(stack))) == stack


def test_a_thousand_layer_stack_fits_a_link():
    layers = [
        {"type": "conv2d", "out_channels": 8 + i % 7, "kernel_size": 3, "padding": 1}
        if i % 2 == 0
        else {"type": "relu"}
        for i in range(1000)
    ]
    stack = stack_to_json(calc.parse_stack({"input": [8, 32, 32], "layers": layers}))
    link = encode_stack(stack)
    assert len(link) < 4_000 < len(json.dumps(stack))  # compact: deflate of repetitive JSON
    assert stack_to_json(decode_stack(link)) == stack


@pytest.mark.parametrize(
    "link, message",
    [
        pytest.param("", "empty", id="empty"),
        pytest.param("not*base64", "not valid base64url", id="not-base64"),
        pytest.param("!!!@@@***", "not valid base64url", id="only-characters-outside-base64"),
        pytest.param(
            encode_stack(SMALL)[:-1] + "!", "not valid base64url", id="one-character-outside-base64"
        ),
        pytest.param(
            token(zlib.compress(json.dumps(SMALL).encode())[:-4]), "incomplete", id="cut-at-its-checksum"
        ),
        pytest.param(
            token(zlib.compress(json.dumps(SMALL).encode())[:-1]), "incomplete", id="cut-in-its-checksum"
        ),
        pytest.param(encode_stack(SMALL)[: len(encode_stack(SMALL)) // 2], "incomplete", id="cut-in-half"),
        pytest.param(
            token(zlib.compress(json.dumps(SMALL).encode()) + b"junk"),
            "after its end",
            id="data-after-the-end",
        ),
        pytest.param(
            token(zlib.compress(b'{"input": [3], "layers": [], "input": [4]}')),
            "given twice",
            id="duplicate-key",
        ),
        pytest.param(
            token(
                zlib.compress(
                    b'{"input": [3], "layers": [], "batch": ' + b"[" * 15_000 + b"]" * 15_000 + b"}"
                )
            ),
            "levels deep",
            id="nested-15000-deep",
        ),
        pytest.param(token(b"plain text, not deflated"), "damaged", id="not-deflated"),
        pytest.param(token(zlib.compress(b"\xff\xfe\xfa")), "not UTF-8", id="not-utf8"),
        pytest.param(token(zlib.compress(b"{'input': __import__('os')}")), "JSON", id="python-not-json"),
        pytest.param(
            token(zlib.compress(b'{"input": [3, 8, 8], "layers": [{"type": "conv2d"}]}')),
            "out_channels",
            id="valid-json-invalid-stack",
        ),
        pytest.param(token(zlib.compress(b" " * 50_000_000)), "size limit", id="deflate-bomb"),
        pytest.param("A" * (MAX_LINK_CHARS + 1), "beyond the limit", id="too-long"),
    ],
)
def test_a_broken_or_hostile_stack_link_is_refused(link, message):
    with pytest.raises(SpecError) as raised:
        decode_stack(link)
    assert message in str(raised.value)


# ---------------------------------------------------------------- pages


def open_with(page: str, **query: str) -> AppTest:
    """``page`` opened from a link carrying ``query`` (the app's first run sees it, as a browser's would)."""
    app = AppTest.from_file(APP, default_timeout=60)
    for name, value in query.items():
        app.query_params[name] = value
    app.run()
    if page != "pages/home.py":
        app.switch_page(page).run()
    assert not app.exception, app.exception
    return app


def url(app: AppTest) -> dict[str, str]:
    return {name: app.query_params[name] for name in app.query_params}


def test_builder_link_reproduces_stack_and_selected_layer():
    stack = stack_to_json(calc.parse_stack(preset("MobileNetV2 block").stack))
    app = open_with("pages/builder.py", stack=encode_stack(stack), layer="3", tab="Formula", explain="6")
    assert app.session_state["stack"] == stack
    assert app.selectbox(key="edit_index").value == 3
    assert app.selectbox(key="explain_layer").value == 6
    assert any(r"\text{MACs}" in latex.value or "C_{out}" in latex.value for latex in app.latex)
    assert metrics(app)["MACs"] == si(calc.analyze(calc.parse_stack(stack)).macs)
    assert not app.warning


def test_builder_writes_its_state_into_the_link():
    app = open_with("pages/builder.py")
    app.selectbox(key="add_kind").set_value("linear").run()
    app.button(key="add_layer").click().run()
    assert stack_to_json(decode_stack(url(app)["stack"])) == stack_to_json(
        calc.parse_stack(app.session_state["stack"])
    )
    assert url(app)["layer"] == str(len(app.session_state["stack"]["layers"]) - 1)


@pytest.mark.parametrize(
    "page, query, named",
    [
        pytest.param("pages/builder.py", {"stack": "garbage"}, "“stack”", id="builder-stack"),
        pytest.param("pages/builder.py", {"layer": "-1"}, "“layer”", id="builder-layer"),
        pytest.param("pages/builder.py", {"tab": "Secrets"}, "“tab”", id="builder-tab"),
        pytest.param(
            "pages/model.py", {"model": "__import__('os')", "res": "224"}, "“model”", id="model-name"
        ),
        pytest.param("pages/model.py", {"batch": "1e9"}, "“batch”", id="model-batch"),
        pytest.param("pages/compare.py", {"models": "resnet18,<script>"}, "“models”", id="compare-models"),
        pytest.param(
            "pages/latency.py", {"hw": "This machine: someone's laptop"}, "“hw”", id="latency-probed-device"
        ),
        pytest.param(
            "pages/latency.py",
            {"device": '{"name": "X", "peaks": {"fp32": -1}, "bandwidth": 1}'},
            "“device”",
            id="latency-bad-custom-device",
        ),
        pytest.param("pages/latency.py", {"dtype": "fp64"}, "“dtype”", id="latency-dtype"),
        pytest.param(
            "pages/latency.py",
            {"device": '{"name": "X", "peaks": {"fp32": 1' + "0" * 400 + '}, "bandwidth": 1}'},
            "“device”",
            id="latency-device-peak-an-int-beyond-float",
        ),
        pytest.param(
            "pages/latency.py",
            {"device": '{"name": "X", "peaks": {"fp32": 1e13}, "bandwidth": 1' + "0" * 400 + "}"},
            "“device”",
            id="latency-device-bandwidth-an-int-beyond-float",
        ),
        pytest.param(
            "pages/latency.py", {"device": "[" * 990 + "]" * 990}, "“device”", id="latency-device-990-deep"
        ),
        pytest.param(
            "pages/latency.py",
            {"device": "[" * 15_000 + "]" * 15_000},
            "“device”",
            id="latency-device-15000-deep",
        ),
        pytest.param(
            "pages/latency.py",
            {"device": '{"name": "X", "name": "Y", "peaks": {"fp32": 1e13}, "bandwidth": 1}'},
            "given twice",
            id="latency-device-duplicate-key",
        ),
        pytest.param(
            "pages/latency.py",
            {"device": '{"name": "X", "peaks": [1e13], "bandwidth": 1e11}'},
            "field 'peaks'",
            id="latency-device-peaks-a-list",
        ),
        pytest.param("pages/home.py", {"present": "yes"}, "“present”", id="home-present"),
        pytest.param(
            "pages/builder.py", {"stack": "!!!@@@***"}, "not valid base64url", id="builder-stack-not-base64"
        ),
        pytest.param(
            "pages/builder.py", {"stack": encode_stack(SMALL)[:-3]}, "incomplete", id="builder-stack-cut"
        ),
        pytest.param(
            "pages/builder.py",
            {
                "stack": encode_stack(
                    {
                        "input": [3, 8, 8],
                        "layers": [
                            {"type": "relu"},
                            {"type": "conv2d", "out_channels": 4, "kernel_size": 3, "groups": True},
                        ],
                    }
                )
            },
            "layer 1, field 'groups'",
            id="builder-stack-names-layer-and-field",
        ),
    ],
)
def test_a_malformed_link_shows_a_message_and_the_default(page, query, named):
    app = open_with(page, **query)
    warnings = [read_text(warning.value) for warning in app.warning]
    assert any(named in warning and "could not be read" in warning for warning in warnings), warnings
    assert app.title[0].value


def test_model_link_round_trip():
    app = open_with("pages/model.py", model="vgg16", res="160", batch="4")
    assert app.title[0].value == "Model: vgg16"
    assert metrics(app)["MACs"] == si(zoo.count("vgg16", 160, 4).macs)
    again = open_with("pages/model.py", **url(app))
    assert metrics(again) == metrics(app)


def test_compare_link_keeps_models_and_baseline():
    app = open_with("pages/compare.py", models="resnet18,vgg16", baseline="vgg16")
    assert app.dataframe[0].value["model"].tolist() == ["resnet18", "vgg16"]
    assert app.selectbox(key="compare_baseline").value == "vgg16"
    assert url(app) == {"models": "resnet18,vgg16", "baseline": "vgg16"}


def test_latency_link_with_a_custom_device():
    device = '{"name":"Lab GPU","kind":"GPU","peaks":{"fp32":1e13},"bandwidth":5e11}'
    app = open_with("pages/latency.py", model="mobilenet_v2", hw="Lab GPU", device=device, batch="2")
    assert app.selectbox(key="latency_hardware").value == "Lab GPU"
    again = open_with("pages/latency.py", **url(app))
    assert metrics(again)["(a) FLOPs / peak"] == metrics(app)["(a) FLOPs / peak"]
    assert metrics(again)["(b) Roofline"] == metrics(app)["(b) Roofline"]
    assert json.loads(url(again)["device"])["name"] == "Lab GPU"


def test_presentation_mode_is_kept_in_every_link():
    app = open_with("pages/home.py", present="1")
    assert app.toggle(key="presentation").value is True
    assert url(app).get("present") == "1"
    model = open_with("pages/model.py", present="1", model="resnet18")
    assert model.toggle(key="presentation").value is True
    assert url(model)["present"] == "1" and url(model)["model"] == "resnet18"
    model.toggle(key="presentation").set_value(False).run()
    assert "present" not in url(model) and url(model)["model"] == "resnet18"


@pytest.mark.parametrize(
    "page, key, tab",
    [
        pytest.param("pages/builder.py", "builder_tab", "Formula", id="builder"),
        pytest.param("pages/model.py", "model_tab", "Heaviest layers", id="model"),
        pytest.param("pages/compare.py", "compare_tab", "MACs and params", id="compare"),
        pytest.param("pages/latency.py", "latency_tab", "Roofline", id="latency"),
        pytest.param("pages/separable.py", "sep_tab", "What-if on a model", id="separable"),
        pytest.param("pages/concepts.py", "concepts_tab", "Wrong published figures", id="concepts"),
    ],
)
def test_the_open_tab_is_part_of_the_link(page, key, tab):
    app = open_with(page, tab=tab)
    assert app.session_state[key] == tab
    assert url(app)["tab"] == tab
