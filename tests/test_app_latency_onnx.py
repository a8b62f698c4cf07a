"""AppTest of the Latency page with ONNX Runtime: an ONNX file's theory from its graph and its
measurement with ONNX Runtime (there is no torch model), and a torchvision model exported to ONNX
and measured with ONNX Runtime beside torch, both in the metrics and in the chart.

The ONNX file reaches the page as the sidebar picker hands it over: a Picked whose Source is
calc.onnx_source's (the picker's upload is tested with the picker)."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import helper
from streamlit.testing.v1 import AppTest
from test_app import metrics, open_page
from test_app_latency import cpu_probe, shown, theory  # noqa: F401  (cpu_probe: a fixture)

from calc import onnx_export, roofline, zoo
from calc.onnx_source import source_from_bytes
from calc.units import duration
from tests.onnx_graphs import graph_model
from ui import source_picker

TORCH_MODEL, RESOLUTION = "squeezenet1_0", 64  # small at 64 px: exported and timed in seconds


def conv_net() -> bytes:
    """conv 3 -> 16 (3×3, padding 1), relu, global average pool, flatten, gemm 16 -> 10 on x[N, 3, 32, 32]."""
    rng = np.random.default_rng(0)
    weights = [
        onnx.numpy_helper.from_array(rng.standard_normal(shape).astype(np.float32), name)
        for name, shape in (("w", (16, 3, 3, 3)), ("fc", (10, 16)), ("fc_b", (10,)))
    ]
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"], name="features.conv", pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c"], ["r"], name="features.relu"),
        helper.make_node("GlobalAveragePool", ["r"], ["p"], name="pool"),
        helper.make_node("Flatten", ["p"], ["f"], name="flatten"),
        helper.make_node("Gemm", ["f", "fc", "fc_b"], ["y"], name="classifier", transB=1),
    ]
    return graph_model(nodes, {"x": ("N", 3, 32, 32)}, initializers=tuple(weights)).SerializeToString()


@pytest.fixture
def onnx_latency(monkeypatch) -> AppTest:
    """The Latency page with an uploaded ONNX file picked in the sidebar."""
    source = source_from_bytes("conv_net.onnx", conv_net())
    picked = source_picker.Picked("conv_net.onnx", source, None, "conv_net.onnx")
    monkeypatch.setattr(source_picker, "pick", lambda *args, **kwargs: picked)
    return open_page("pages/latency.py")


def test_an_onnx_file_gets_the_theory_of_its_graph(onnx_latency):
    report = source_from_bytes("conv_net.onnx", conv_net()).count(batch=1)
    assert report.macs == 16 * 3 * 3 * 3 * 32 * 32 + 16 * 10
    assert shown(onnx_latency) == theory(report, "NVIDIA RTX 3090", "fp32")
    assert metrics(onnx_latency)["Measured here"] == "not yet"
    per_layer = next(frame.value for frame in onnx_latency.dataframe if "roofline time (ms)" in frame.value)
    assert len(per_layer) == len(report.rows)
    assert onnx_latency.button(key="latency_measure_onnx").label == "Measure with ONNX Runtime"
    assert not [button for button in onnx_latency.button if button.key == "latency_measure"]  # no torch
    assert any("no torch model" in caption.value for caption in onnx_latency.caption)
    onnx_latency.number_input(key="latency_batch").set_value(4).run()
    assert shown(onnx_latency) == theory(
        source_from_bytes("conv_net.onnx", conv_net()).count(batch=4), "NVIDIA RTX 3090", "fp32"
    )


def test_an_onnx_file_is_measured_with_onnx_runtime(onnx_latency, cpu_probe):  # noqa: F811
    onnx_latency.session_state["latency_probes"] = {"cpu": cpu_probe}
    onnx_latency.button(key="latency_measure_onnx").click().run()
    assert not onnx_latency.exception, onnx_latency.exception
    assert not onnx_latency.error
    run = next(iter(onnx_latency.session_state["latency_onnx_results"].values()))
    m = run.measurement
    assert m.device == "cpu (onnxruntime)" and not m.generated_weights
    assert m.min_s <= m.median_s <= m.max_s
    shown_metrics = metrics(onnx_latency)
    assert shown_metrics["Measured here"] == duration(m.median_s)
    assert shown_metrics["ONNX Runtime median"] == duration(m.median_s)
    assert shown_metrics["ONNX Runtime spread"] == f"{m.iqr_s / m.median_s:.0%}"
    report = source_from_bytes("conv_net.onnx", conv_net()).count(batch=1)
    on_probe = roofline.estimate(report, cpu_probe.as_hardware().roofs("fp32"))
    assert shown_metrics["Roofline efficiency"] == f"{on_probe.roofline_seconds / m.median_s:.1%}"
    chart = next(chart for chart in onnx_latency.get("plotly_chart") if "theory against" in chart.proto.spec)
    assert "measured here, ONNX Runtime (median)" in chart.proto.spec
    assert "measured here, torch" not in chart.proto.spec


def test_a_torchvision_model_is_measured_with_torch_and_onnx_runtime(cpu_probe):  # noqa: F811
    latency = open_page("pages/latency.py")
    latency.session_state["latency_probes"] = {"cpu": cpu_probe}
    latency.selectbox(key="latency_model").set_value(TORCH_MODEL).run()
    latency.number_input(key="latency_resolution").set_value(RESOLUTION).run()
    latency.button(key="latency_measure").click().run()
    assert not latency.exception, latency.exception
    assert latency.button(key="latency_measure_onnx").label == "Also measure with ONNX Runtime"
    assert onnx_export.cached(TORCH_MODEL, RESOLUTION, 1) is None  # exported on the press, not before
    latency.button(key="latency_measure_onnx").click().run()
    assert not latency.exception, latency.exception
    assert not latency.error, [error.value for error in latency.error]
    exported = onnx_export.cached(TORCH_MODEL, RESOLUTION, 1)
    assert exported is not None  # kept for the next press, per model, resolution and batch
    torch_run = next(iter(latency.session_state["latency_results"].values()))
    onnx_run = next(iter(latency.session_state["latency_onnx_results"].values()))
    assert onnx_run.exported_s is not None and onnx_run.exported_s > 0
    torch_s, onnx_s = torch_run.measurement.median_s, onnx_run.measurement.median_s
    shown_metrics = metrics(latency)
    assert shown_metrics["Measured here"] == duration(torch_s)  # torch's, as before
    assert shown_metrics["ONNX Runtime median"] == duration(onnx_s)
    assert shown_metrics["ONNX Runtime / torch"] == f"{onnx_s / torch_s:.2f}×"
    assert "Roofline efficiency" in shown_metrics and "ONNX Runtime efficiency" in shown_metrics  # both rows
    chart = next(chart for chart in latency.get("plotly_chart") if "theory against" in chart.proto.spec)
    assert "measured here, torch (median)" in chart.proto.spec
    assert "measured here, ONNX Runtime (median)" in chart.proto.spec
    # The export counts as the torch model does (the ONNX count's oracle): the same model was timed
    from calc.onnx_source import source_from_path

    assert source_from_path(str(exported)).count().macs == zoo.count(TORCH_MODEL, RESOLUTION).macs
