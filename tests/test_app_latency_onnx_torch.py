"""AppTest of the Latency page: a zoo model measured with torch, then exported to ONNX
(once per model, resolution and batch) and measured with ONNX Runtime, the two side by side in the
metrics and in the chart."""

from __future__ import annotations

from test_app import metrics
from test_app_latency import cpu_probe  # noqa: F401  (a fixture)
from test_links import open_with

from calc import onnx_export, zoo
from calc.onnx_source import source_from_path
from calc.units import duration

# A zoo model listed with torchvision's, built and exported by the same path (calc.sources), and
# small: exported and timed in seconds on a busy machine, where squeezenet1_0 at 64 px took a minute.
TORCH_MODEL, RESOLUTION = "stack: Small CNN (CIFAR-10)", 32  # its native input, which the page sets


def test_a_zoo_model_is_measured_with_torch_and_onnx_runtime(cpu_probe):  # noqa: F811
    latency = open_with("pages/latency.py", model=TORCH_MODEL)
    latency.session_state["latency_probes"] = {"cpu": cpu_probe}
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
    assert source_from_path(str(exported)).count().macs == zoo.count(TORCH_MODEL, RESOLUTION).macs
