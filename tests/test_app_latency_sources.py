"""AppTest of the Latency page and the Separable what-if on any source: a timm model's theory,
its measurement on this CPU and its what-if; a Hugging Face model's theory, and a plain word where
one is not measured (nor rewritten) here; and links that keep the source."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest
from test_app import metrics, open_page, read_text
from test_app_latency import cpu_probe, shown, theory  # noqa: F401  (cpu_probe: a fixture)
from test_links import open_with, url

from calc import sources


@pytest.fixture
def latency() -> AppTest:
    return open_page("pages/latency.py")


def test_a_timm_model_gets_its_theory_and_is_measured_here(latency, cpu_probe):  # noqa: F811
    latency.session_state["latency_probes"] = {"cpu": cpu_probe}
    latency.radio(key="latency_kind").set_value("timm").run()
    latency.selectbox(key="latency_timm").set_value("timm:resnet18").run()
    latency.number_input(key="latency_resolution").set_value(64).run()  # small: a busy CPU times it quickly
    assert shown(latency) == theory(sources.resolve("timm:resnet18").count(64), "NVIDIA RTX 3090", "fp32")
    latency.button(key="latency_measure").click().run()
    assert not latency.exception and not latency.error, [error.value for error in latency.error]
    assert metrics(latency)["Measured here"] != "not yet"
    assert url(latency)["model"] == "timm:resnet18" and url(latency)["res"] == "64"


def test_a_hugging_face_model_gets_its_theory_and_no_word_against_measuring(latency):
    latency.radio(key="latency_kind").set_value("hf").run()
    latency.selectbox(key="latency_hf").set_value("GPT-2").run()
    assert not latency.exception and not latency.error
    assert shown(latency) == theory(sources.resolve("GPT-2").count(), "NVIDIA RTX 3090", "fp32")
    assert "Theory only" not in " ".join(read_text(info.value) for info in latency.info)


def test_a_model_of_two_inputs_gets_its_theory_and_says_it_is_not_measured(latency):
    latency.radio(key="latency_kind").set_value("hf").run()
    latency.selectbox(key="latency_hf").set_value("CLIP ViT-B/32").run()
    assert not latency.exception and not latency.error
    assert shown(latency) == theory(sources.resolve("CLIP ViT-B/32").count(), "NVIDIA RTX 3090", "fp32")
    assert "Theory only" in " ".join(read_text(info.value) for info in latency.info)
    latency.button(key="latency_measure").click().run()  # pressed anyway: said, not raised
    assert not latency.exception
    assert "input_ids and pixel_values" in " ".join(read_text(error.value) for error in latency.error)
    assert metrics(latency)["(b) Roofline"]  # the rest of the page stays


def test_a_latency_link_keeps_a_checkpoint_and_its_sequence_length():
    app = open_with("pages/latency.py", model="GPT-2", seq="256", batch="2")
    assert not app.warning
    assert shown(app) == theory(
        sources.resolve("GPT-2").count(seq_len=256, batch=2), "NVIDIA RTX 3090", "fp32"
    )


def test_an_old_latency_link_with_source_builder_stack_still_opens_the_stack():
    app = open_with("pages/latency.py", source="Builder stack")
    assert app.radio(key="latency_kind").value == "builder" and not app.warning
    assert "source" not in url(app) and url(app)["model"] == "Builder stack"


# --- Separable: the what-if on any source ------------------------------------------------------


def what_if_tab(query: dict[str, str] | None = None) -> AppTest:
    return open_with("pages/separable.py", tab="What-if on a model", **(query or {}))


def test_the_what_if_takes_a_timm_model():
    from calc.torch_separable import what_if_source

    app = what_if_tab()
    app.radio(key="sep_kind").set_value("timm").run()
    app.selectbox(key="sep_timm").set_value("timm:resnet18").run()
    assert not app.exception and not app.error
    expected = what_if_source(sources.resolve("timm:resnet18"))
    assert metrics(app)["MACs saved"] == f"{expected.savings:.1%}"
    assert expected.changes and url(app)["model"] == "timm:resnet18"


def test_the_what_if_link_keeps_a_timm_model():
    app = what_if_tab({"model": "timm:resnet18"})
    assert not app.warning and app.radio(key="sep_kind").value == "timm"
    assert "MACs saved" in metrics(app)


@pytest.mark.parametrize(
    ("model", "said"),
    [
        pytest.param("GPT-2", "has no standard k×k convolution", id="a text model: nothing to replace"),
        pytest.param("CLIP ViT-B/32", "input_ids and pixel_values", id="two inputs: not built to change"),
    ],
)
def test_the_what_if_on_a_hugging_face_model_says_what_it_found(model, said):
    app = what_if_tab({"model": model})
    assert not app.exception
    assert said in " ".join(read_text(message.value) for message in [*app.error, *app.info])
    assert "Standard MACs" in metrics(app)  # the layer's comparison above stays
