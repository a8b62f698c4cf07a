"""An uploaded ONNX file in the shared source picker (ui.onnx_upload), in Streamlit's AppTest: the
Model page counts it as calc does (batch applied, unsupported ops and unresolved dimensions said, the
BatchNorm note), draws its graph, caches its count per file, and a bad file is refused with calc's
message while the page stays; a link says the file is not in it; Compare takes it, Separable says
why it cannot, Latency gets its Source; the JSON uploaders keep their small caps."""

from __future__ import annotations

import pytest
from onnx import helper
from onnx_graphs import graph_model
from streamlit.testing.v1 import AppTest
from test_app import metrics, open_page, read_text
from test_app_graph import drawn_dot, open_graph_tab
from test_app_latency import cpu_probe  # noqa: F401  (a fixture)
from test_graph_onnx import resnet_like
from test_links import open_with, url

from calc.errors import SpecError
from calc.onnx_source import source_from_bytes
from calc.units import duration, si
from ui import onnx_files, stack_state
from ui.onnx_upload import NOT_IN_LINK, ONNX_PARAMS_NOTE, SHARE_NOTE
from ui.source_text import ONNX_TEXT

MODEL = resnet_like(2)  # a stem, two residual blocks, a classifier; batch symbolic ("N")


def upload(app: AppTest, data: bytes, name: str = "tiny.onnx", prefix: str = "model") -> AppTest:
    app.radio(key=f"{prefix}_kind").set_value("onnx").run()
    uploads = app.session_state.get("source_onnx_uploads", 0)
    uploader = app.file_uploader(key=f"source_onnx_upload_{uploads}")
    return uploader.upload(name, data, "application/octet-stream").run()


def errors(app: AppTest) -> str:
    return " ".join(read_text(error.value) for error in app.error)


@pytest.fixture
def model_page() -> AppTest:
    return open_page("pages/model.py")


def test_an_uploaded_onnx_file_is_counted_as_calc_counts_it(model_page):
    upload(model_page, MODEL)
    assert not model_page.exception and not model_page.error
    report = source_from_bytes("tiny.onnx", MODEL).count()
    assert metrics(model_page)["MACs"] == si(report.macs)
    assert metrics(model_page)["Parameters"] == si(report.params)
    assert read_text(model_page.title[0].value) == "Model: tiny.onnx"
    assert any("Loaded tiny.onnx" in read_text(message.value) for message in model_page.success)
    caption = " ".join(read_text(caption.value) for caption in model_page.caption)
    assert ONNX_PARAMS_NOTE in caption and "Up to 200 MB per file" in caption
    table = model_page.dataframe[0].value
    assert "stage.0.conv1.Conv" in set(table["module path"]) and "Conv" in set(table["type"])


def test_the_batch_applies_to_an_onnx_file(model_page):
    upload(model_page, MODEL)
    model_page.number_input(key="model_batch").set_value(4).run()
    assert metrics(model_page)["MACs"] == si(source_from_bytes("tiny.onnx", MODEL).count(batch=4).macs)


def test_a_rerun_reads_the_count_from_its_cache(model_page, monkeypatch):
    upload(model_page, MODEL)
    shown = metrics(model_page)

    def refuse(*arguments, **keywords):
        raise AssertionError("counted again")

    monkeypatch.setattr("calc.onnx_source.load", refuse)
    model_page.run()
    assert not model_page.exception and metrics(model_page) == shown


@pytest.mark.parametrize(
    "data, needle",
    [
        pytest.param(
            MODEL[: len(MODEL) // 2], "is not an ONNX model (truncated or malformed", id="truncated"
        ),
        pytest.param(b"\x00\xff" * 64, "bad.onnx", id="garbage"),
        pytest.param(b"", "holds no ONNX graph", id="empty"),
    ],
)
def test_a_bad_file_is_refused_with_calcs_message_and_the_page_stays(model_page, data, needle):
    upload(model_page, data, "bad.onnx")
    assert not model_page.exception
    assert "bad.onnx was not loaded" in errors(model_page) and needle in errors(model_page)
    assert model_page.radio(key="model_kind").value == "onnx"
    assert model_page.file_uploader(key="source_onnx_upload_1").value is None  # let go, a fresh uploader


def test_a_bad_file_keeps_the_good_one_before_it(model_page):
    upload(model_page, MODEL)
    shown = metrics(model_page)
    upload(model_page, MODEL[:100], "bad.onnx")
    assert "bad.onnx was not loaded" in errors(model_page)
    assert metrics(model_page) == shown


def test_unsupported_ops_and_unresolved_dimensions_are_named(model_page):
    mystery = helper.make_node("Hardmax", ["x"], ["y"], name="mystery")
    upload(model_page, graph_model([mystery], {"x": (1, 10)}).SerializeToString(), "mystery.onnx")
    assert "Ops without a formula, not counted: Hardmax" in " ".join(w.value for w in model_page.warning)
    relu = helper.make_node("Relu", ["x"], ["y"], name="relu")
    upload(model_page, graph_model([relu], {"x": ("N", "C", 8, 8)}).SerializeToString(), "open.onnx")
    assert "'x' axis 1 ('C')" in errors(model_page)


def test_the_graph_tab_draws_an_uploaded_file():
    app = open_graph_tab("pages/model.py", "model_tab")
    upload(app, MODEL)
    assert not app.exception and not app.error
    dot = drawn_dot(app)
    assert "stage.0.conv1.Conv · Conv ×2" in dot  # the two identical blocks folded, at layer depth


def test_a_link_keeps_the_settings_and_says_the_file_is_not_in_it(model_page):
    upload(model_page, MODEL)
    link = url(model_page)
    assert link["model"] == ONNX_TEXT and set(link) <= {"model", "batch", "tab", "filter", "res", "seq"}
    infos = " ".join(info.value for info in model_page.sidebar.info)
    assert SHARE_NOTE in infos
    opened = open_with("pages/model.py", **link)
    assert not opened.exception
    assert NOT_IN_LINK in read_text(" ".join(warning.value for warning in opened.warning))
    assert opened.radio(key="model_kind").value == "onnx"  # the uploader is waiting for the file


def test_compare_takes_an_uploaded_file():
    app = open_page("pages/compare.py")
    upload(app, MODEL, prefix="compare_add")
    app.button(key="compare_add").click().run()
    assert not app.exception
    table = app.dataframe[0].value
    assert ONNX_TEXT in set(table["model"])


def test_separable_says_an_onnx_file_needs_a_torch_model():
    app = open_page("pages/separable.py")
    app.session_state["sep_tab"] = "What-if on a model"
    app.run()
    upload(app, MODEL, prefix="sep")
    assert not app.exception
    assert "an ONNX file has none to rewrite" in errors(app)


def test_latency_gets_the_uploaded_source():
    app = open_page("pages/latency.py")
    upload(app, MODEL, prefix="latency")
    assert not app.exception
    macs = source_from_bytes("tiny.onnx", MODEL).count().macs
    captions = " ".join(read_text(caption.value) for caption in app.caption)
    assert f"tiny.onnx: input 3×16×16, batch 1, fp32 · {macs:,} MACs" in captions  # the theory's count


def test_latency_measures_the_uploaded_file_with_onnx_runtime(cpu_probe):  # noqa: F811
    app = open_page("pages/latency.py")
    upload(app, MODEL, prefix="latency")
    app.session_state["latency_probes"] = {"cpu": cpu_probe}
    app.button(key="latency_measure_onnx").click().run()
    assert not app.exception and not app.error, (app.exception, errors(app))
    run = next(iter(app.session_state["latency_onnx_results"].values()))
    assert run.measurement.device == "cpu (onnxruntime)"
    assert metrics(app)["ONNX Runtime median"] == duration(run.measurement.median_s)


@pytest.mark.parametrize(
    "page, key, cap",
    [
        pytest.param("pages/builder.py", "upload_json_0", stack_state.MAX_UPLOAD_MB, id="stack-json"),
        pytest.param("pages/llm.py", "llm_upload", stack_state.MAX_UPLOAD_MB, id="llm-config"),
        pytest.param("pages/model.py", "source_onnx_upload_0", onnx_files.MAX_UPLOAD_MB, id="onnx"),
    ],
)
def test_each_uploader_caps_its_files_in_the_browser(page, key, cap):
    app = open_page(page)
    if key.startswith("source_onnx"):
        app.radio(key="model_kind").set_value("onnx").run()
    assert app.file_uploader(key=key).proto.max_upload_size_mb == cap


def test_an_open_image_size_takes_the_resolution(model_page):
    conv = helper.make_node("Conv", ["x", "w"], ["y"], name="conv", pads=[1] * 4)
    data = graph_model([conv], {"x": ("N", 3, "H", "W")}, {"w": (8, 3, 3, 3)}).SerializeToString()
    upload(model_page, data, "open.onnx")
    assert model_page.number_input(key="model_resolution").value == 224
    model_page.number_input(key="model_resolution").set_value(64).run()
    assert not model_page.error
    assert metrics(model_page)["MACs"] == si(8 * 3 * 3 * 3 * 64 * 64)  # C_out·C_in·K·K·H·W


def test_a_fixed_image_size_holds_the_resolution_box(model_page):
    conv = helper.make_node("Conv", ["x", "w"], ["y"], name="conv")
    data = graph_model([conv], {"x": (1, 3, 24, 32)}, {"w": (8, 3, 1, 1)}).SerializeToString()
    upload(model_page, data, "fixed.onnx")
    box = model_page.number_input(key="model_resolution")
    assert box.disabled and not model_page.error
    assert metrics(model_page)["MACs"] == si(8 * 3 * 24 * 32)  # its own 24×32, not a square


def test_a_file_no_session_holds_is_asked_for_again():
    with pytest.raises(SpecError, match="upload it again"):
        onnx_files.held("0" * 64)


def test_a_file_over_the_upload_limit_is_refused_before_it_is_parsed(monkeypatch):
    monkeypatch.setattr(onnx_files, "MAX_UPLOAD_BYTES", len(MODEL) - 1)
    with pytest.raises(SpecError, match=f"is {len(MODEL):,} bytes, beyond the upload limit"):
        onnx_files.read_upload("big.onnx", MODEL)


def test_the_server_holds_a_bounded_number_of_files():
    digests = []
    for channels in range(1, onnx_files.MAX_FILES + 2):
        relu = helper.make_node("Relu", ["x"], ["y"], name="relu")
        data = graph_model([relu], {"x": (1, channels)}).SerializeToString()
        digests.append(onnx_files.read_upload(f"{channels}.onnx", data)[0])
    with pytest.raises(SpecError):
        onnx_files.held(digests[0])  # the oldest let go
    assert onnx_files.held(digests[-1]).name == f"{onnx_files.MAX_FILES + 1}.onnx"
