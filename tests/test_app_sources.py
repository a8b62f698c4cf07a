"""AppTest of the source picker on the Model page: a timm model, a Hugging Face checkpoint, an
uploaded config.json, the Builder's stack, links of each kind, and bad names, configs and links
refused with a message while the rest of the page keeps working. Numbers come from calc."""

from __future__ import annotations

import json

import pytest
from streamlit.testing.v1 import AppTest
from test_app import metrics, open_page, read_text
from test_links import open_with, url

from calc import hf_models, parse_stack, sources, zoo
from calc.presets import preset
from calc.share import encode_config, encode_stack
from calc.spec import stack_to_json
from calc.units import si

# A tiny Llama: two layers of width 64, counted in a second (values as a config.json spells them).
TINY_LLAMA = {
    "model_type": "llama",
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "vocab_size": 1000,
    "max_position_embeddings": 256,
}
# and a mixture of experts as small: four experts, two per token
TINY_MIXTRAL = dict(TINY_LLAMA, model_type="mixtral", num_local_experts=4, num_experts_per_tok=2)


def tiny_llama_params() -> int:
    width, inner, layers, vocab = 64, 128, 2, 1000
    kv_width = 2 * (64 // 4)  # two key-value heads of 16
    attention = width * width * 2 + width * kv_width * 2  # q and o; k and v
    mlp = 3 * width * inner  # gate, up, down
    norms = 2 * width
    return vocab * width * 2 + layers * (attention + mlp + norms) + width  # embedding and head untied


def warnings(app: AppTest) -> str:
    return " ".join(read_text(warning.value) for warning in app.warning)


def errors(app: AppTest) -> str:
    return " ".join(read_text(error.value) for error in app.error)


@pytest.fixture
def model_page() -> AppTest:
    return open_page("pages/model.py")


def test_picking_a_timm_model_counts_it(model_page):
    model_page.radio(key="model_kind").set_value("timm").run()
    model_page.selectbox(key="model_timm").set_value("timm:resnet18").run()
    assert not model_page.exception and not model_page.error
    assert model_page.title[0].value == "Model: timm:resnet18"
    assert metrics(model_page)["MACs"] == si(sources.resolve("timm:resnet18").count().macs)
    assert metrics(model_page)["Parameters"] == si(11_689_512)  # torchvision's resnet18 has the same
    assert model_page.number_input(key="model_resolution").value == 224
    assert url(model_page)["model"] == "timm:resnet18"


def test_a_timm_label_names_its_family_for_the_search(model_page):
    model_page.radio(key="model_kind").set_value("timm").run()
    box = model_page.selectbox(key="model_timm")
    assert len(box.options) == len(sources.KINDS["timm"].names())
    assert "resnet · resnet18" in box.options


def test_picking_a_checkpoint_shows_its_tokens_and_params(model_page):
    model_page.radio(key="model_kind").set_value("hf").run()
    model_page.selectbox(key="model_hf").set_value("GPT-2").run()
    assert not model_page.exception and not model_page.error
    assert metrics(model_page)["Parameters"] == si(124_439_808)
    assert model_page.number_input(key="model_seq_len").value == 128
    assert "resolution" not in [
        widget.key for widget in model_page.number_input if widget.key == "resolution"
    ]
    model_page.number_input(key="model_seq_len").set_value(64).run()
    expected = sources.resolve("GPT-2").count(seq_len=64)
    assert metrics(model_page)["MACs"] == si(expected.macs)
    assert (
        url(model_page)["model"] == "GPT-2"
        and url(model_page)["seq"] == "64"
        and "res" not in url(model_page)
    )


def test_a_sequence_beyond_the_positions_is_refused_naming_the_field(model_page):
    model_page.radio(key="model_kind").set_value("hf").run()
    model_page.selectbox(key="model_hf").set_value("GPT-2").run()
    model_page.number_input(key="model_seq_len").set_value(2048).run()
    assert not model_page.exception
    assert "seq_len" in errors(model_page) and "1,024 positions" in errors(model_page)
    assert model_page.sidebar.selectbox(key="model_hf").value == "GPT-2"  # the choice stays


def upload(app: AppTest, name: str, data: bytes) -> AppTest:
    app.radio(key="model_kind").set_value("config").run()
    return app.file_uploader(key="source_config_upload_0").upload(name, data, "application/json").run()


def test_an_uploaded_config_is_counted_and_travels_in_the_link(model_page):
    upload(model_page, "tiny.json", json.dumps(TINY_LLAMA).encode())
    assert not model_page.exception and not model_page.error
    assert metrics(model_page)["Parameters"] == si(tiny_llama_params())
    assert read_text(model_page.title[0].value) == "Model: tiny.json (llama)"  # the file name as plain text
    link = url(model_page)
    assert link["model"] == "config.json" and len(link["config"]) < 400
    again = open_with("pages/model.py", **link)
    assert metrics(again)["MACs"] == metrics(model_page)["MACs"] and not again.warning


def test_a_mixture_of_experts_shows_its_active_params(model_page):
    upload(model_page, "moe.json", json.dumps(TINY_MIXTRAL).encode())
    report = sources.source_from_json("moe.json", json.dumps(TINY_MIXTRAL)).count()
    assert report.active_params is not None and report.active_params < report.params
    shown = " ".join(read_text(info.value) for info in model_page.info)
    assert f"{si(report.active_params)} of its {si(report.params)} params" in shown


@pytest.mark.parametrize(
    "config, needle",
    [
        pytest.param(dict(TINY_LLAMA, auto_map={"AutoModel": "x.Y"}), "auto_map", id="custom-code"),
        pytest.param(dict(TINY_LLAMA, hidden_size=10**12), "hidden_size", id="absurd-width"),
        pytest.param(dict(TINY_LLAMA, num_hidden_layers=-1), "num_hidden_layers", id="negative-layers"),
        pytest.param({"hidden_size": 64}, "model_type", id="no-model-type"),
        pytest.param("[1, 2", "JSON", id="not-json"),
    ],
)
def test_a_bad_config_is_refused_naming_the_field(model_page, config, needle):
    data = config.encode() if isinstance(config, str) else json.dumps(config).encode()
    upload(model_page, "bad.json", data)
    assert not model_page.exception
    assert needle in errors(model_page) and "bad.json" in errors(model_page), errors(model_page)
    assert model_page.sidebar.radio(key="model_kind").value == "config"  # the page stays, nothing counted


def test_a_config_over_the_size_limit_is_refused(model_page):
    from calc.spec import MAX_JSON_BYTES

    upload(model_page, "big.json", b" " * (MAX_JSON_BYTES + 1))
    assert "beyond the limit" in errors(model_page)


def test_the_builders_stack_is_a_source(model_page):
    model_page.radio(key="model_kind").set_value("builder").run()
    assert not model_page.exception and not model_page.error
    stack = model_page.session_state["stack"]
    expected = sources.source_from_json("s", json.dumps(stack)).count(batch=1)
    assert metrics(model_page)["MACs"] == si(expected.macs)
    assert url(model_page)["model"] == "Builder stack" and "stack" in url(model_page)


@pytest.mark.parametrize(
    "query, title, macs",
    [
        pytest.param(
            {"model": "timm:resnet18"},
            "timm:resnet18",
            lambda: sources.resolve("timm:resnet18").count().macs,
            id="timm",
        ),
        pytest.param(
            {"model": "hf:gpt2", "seq": "32"},
            "hf:gpt2",
            lambda: sources.resolve("hf:gpt2").count(seq_len=32).macs,
            id="hf-type",
        ),
        pytest.param(
            {"model": "GPT-2"}, "GPT-2", lambda: sources.resolve("GPT-2").count().macs, id="checkpoint"
        ),
        pytest.param(
            {"model": "torchvision:resnet18", "res": "160"},
            "resnet18",
            lambda: zoo.count("resnet18", 160).macs,
            id="torchvision",
        ),
        pytest.param(
            {"model": "config.json", "config": encode_config(TINY_LLAMA)},
            "config.json (llama)",
            lambda: sources.source_from_json("c", json.dumps(TINY_LLAMA)).count().macs,
            id="config",
        ),
    ],
)
def test_a_link_opens_each_kind_of_source(query, title, macs):
    app = open_with("pages/model.py", **query)
    assert not app.warning and not app.error, warnings(app)
    assert read_text(app.title[0].value) == f"Model: {title}"
    assert metrics(app)["MACs"] == si(macs())


def test_a_link_with_the_builders_stack():
    stack = stack_to_json(parse_stack(preset("MobileNetV2 block").stack))
    app = open_with("pages/model.py", model="Builder stack", stack=encode_stack(stack))
    assert app.session_state["stack"] == stack
    assert metrics(app)["MACs"] == si(sources.source_from_json("s", json.dumps(stack)).count(batch=1).macs)


@pytest.mark.parametrize(
    "query, needles",
    [
        pytest.param({"model": "resnet5"}, ["resnet50"], id="misspelt-torchvision"),
        pytest.param({"model": "timm:convnext_tinyy"}, ["timm:convnext_tiny"], id="misspelt-timm"),
        pytest.param({"model": "hf:lama"}, ["hf:llama"], id="misspelt-hf-type"),
        pytest.param({"model": "/etc/passwd"}, ["not a model name"], id="a-path"),
        pytest.param({"model": "config.json"}, ["config="], id="config-without-contents"),
        pytest.param(
            {"model": "config.json", "config": encode_config(dict(TINY_LLAMA, auto_map={"a": "b"}))},
            ["auto_map", "custom code"],
            id="config-with-custom-code",
        ),
        pytest.param(
            {"model": "config.json", "config": encode_config(TINY_LLAMA)[:-4]},
            ["incomplete"],
            id="config-cut",
        ),
    ],
)
def test_a_bad_link_names_the_closest_and_shows_the_default(query, needles):
    app = open_with("pages/model.py", **query)
    text = warnings(app)
    assert all(needle in text for needle in needles), text
    assert app.title[0].value == "Model: resnet50" and metrics(app)["MACs"] == si(zoo.count("resnet50").macs)


def test_the_curated_checkpoints_are_listed_by_their_usual_names(model_page):
    model_page.radio(key="model_kind").set_value("hf").run()
    options = model_page.selectbox(key="model_hf").options
    assert options[: len(hf_models.CHECKPOINTS)] == [
        f"{name} · {entry.model_type}" for name, entry in hf_models.CHECKPOINTS.items()
    ]
    assert "hf:llama · its defaults" in options


# --- Compare: any sources side by side -----------------------------------------------------------


@pytest.fixture
def compare_page() -> AppTest:
    return open_page("pages/compare.py")


def add(app: AppTest, kind: str, key: str, name: str) -> AppTest:
    app.radio(key="compare_add_kind").set_value(kind).run()
    app.selectbox(key=key).set_value(name).run()
    return app.button(key="compare_add").click().run()


def test_compare_mixes_timm_hf_and_the_builders_stack(compare_page):
    """A review puts its block next to resnet50 and convnext_tiny, and an LLM beside them."""
    compare_page.multiselect(key="compare_models").set_value(["resnet50"]).run()
    add(compare_page, "timm", "compare_add_timm", "timm:resnet18")
    add(compare_page, "hf", "compare_add_hf", "GPT-2")
    compare_page.toggle(key="compare_builder").set_value(True).run()
    assert not compare_page.exception and not compare_page.warning
    table = compare_page.dataframe[0].value.set_index("model")
    assert list(table.index) == ["resnet50", "timm:resnet18", "GPT-2", "Builder stack"]
    assert table.loc["timm:resnet18", "GMACs"] == sources.resolve("timm:resnet18").count().macs / 1e9
    assert table.loc["GPT-2", "params (M)"] == 124_439_808 / 1e6
    assert table.loc["GPT-2", "input"] == "128"
    link = url(compare_page)
    assert link["models"] == "resnet50,timm:resnet18,GPT-2" and link["builder"] == "1"
    again = open_with("pages/compare.py", **link)
    assert list(again.dataframe[0].value["model"]) == list(table.index) and not again.warning


def test_compare_takes_an_uploaded_config_through_its_link():
    app = open_with("pages/compare.py", models="resnet18,config.json", config=encode_config(TINY_LLAMA))
    table = app.dataframe[0].value.set_index("model")
    assert table.loc["config.json", "params (M)"] == tiny_llama_params() / 1e6
    assert url(app)["config"] == encode_config(TINY_LLAMA)


def test_compare_sweeps_timm_models_but_not_text_models():
    app = open_with("pages/compare.py", models="timm:resnet18,GPT-2", tab="MACs vs resolution")
    assert not app.exception
    assert "Not swept: GPT-2" in " ".join(caption.value for caption in app.caption)


@pytest.mark.parametrize(
    "models, needle",
    [
        pytest.param("resnet50,timm:resnet1800", "timm:resnet18", id="misspelt-timm"),
        pytest.param("resnet50,config.json", "config=", id="config-without-contents"),
    ],
)
def test_compare_bad_link_names_the_closest_and_keeps_the_defaults(models, needle):
    app = open_with("pages/compare.py", models=models)
    assert needle in warnings(app)
    assert "resnet50" in set(app.dataframe[0].value["model"])  # the default models are compared
