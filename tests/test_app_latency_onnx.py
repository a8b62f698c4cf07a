"""AppTest of the Latency page with an ONNX file: its theory from its graph, node by node, and its
measurement with ONNX Runtime (there is no torch model). A torchvision model measured with ONNX
Runtime beside torch: tests/test_app_latency_onnx_torch.py.

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

from calc import roofline
from calc.onnx_source import source_from_bytes
from calc.units import duration
from tests.onnx_graphs import graph_model
from ui import source_picker


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


CHARTED_TABS = {"Per layer": "roofline time", "Roofline": "Roofline", "Batch sweep": "Batch sweep"}


def test_each_node_of_an_onnx_file_is_charted(onnx_latency):
    report = source_from_bytes("conv_net.onnx", conv_net()).count(batch=1)
    for tab, chart_title in CHARTED_TABS.items():  # one page for the three tabs: AppTests are slow here
        onnx_latency.session_state["latency_tab"] = tab  # charts are drawn in the open tab only
        onnx_latency.run()
        assert not onnx_latency.exception, (tab, onnx_latency.exception)
        specs = [chart.proto.spec for chart in onnx_latency.get("plotly_chart")]
        assert any(chart_title in spec for spec in specs), tab
        if tab != "Batch sweep":
            assert all(row.name in "".join(specs) for row in report.rows if row.macs), tab  # nodes by name
    assert not [button for button in onnx_latency.button if button.key == "latency_sweep"]
    assert any("measures with torch" in caption.value for caption in onnx_latency.caption)


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
