"""AppTest of the Latency page: the theory is calc's on every control, bad input says
what to fix and leaves the rest as it was, and measuring, sweeping and probing on this
machine's CPU fill the page without an exception."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest
from test_app import metrics, open_page, read_text

import calc
from calc import hardware as hw
from calc import roofline, zoo
from calc.presets import preset
from calc.units import duration, si

SMALL = "stack: Small CNN (CIFAR-10)"


@pytest.fixture(scope="module")
def cpu_probe():
    """A real probe of this CPU, short, made once: measuring tests start from it."""
    from calc import torch_probe

    return torch_probe.probe("cpu", budget_seconds_per_dtype=0.3)


@pytest.fixture
def latency() -> AppTest:
    return open_page("pages/latency.py")


def theory(report: calc.Report, device: str, dtype: str) -> dict[str, str]:
    estimate = roofline.estimate(report, hw.hardware(device).roofs(dtype))
    return {
        "(a) FLOPs / peak": duration(estimate.peak_seconds),
        "(b) Roofline": duration(estimate.roofline_seconds),
        "Memory-bound layers": f"{len(estimate.memory_bound_layers)} of {len(estimate.layers)}",
    }


def shown(app: AppTest) -> dict[str, str]:
    return {
        label: value
        for label, value in metrics(app).items()
        if label in ("(a) FLOPs / peak", "(b) Roofline", "Memory-bound layers")
    }


def test_default_is_resnet50_on_the_rtx_3090(latency):
    assert (
        metrics(latency)["(a) FLOPs / peak"] == "0.2297 ms"
    )  # the check: 8.178 GFLOPs / 35.6 TFLOP/s
    assert shown(latency) == theory(zoo.count("resnet50"), "NVIDIA RTX 3090", "fp32")
    assert metrics(latency)["Measured here"] == "not yet"
    assert any(r"\text{GFLOPs}" in latex.value and "0.2297" in latex.value for latex in latency.latex)


@pytest.mark.parametrize(
    "device, dtype",
    [
        pytest.param("NVIDIA A100 80GB SXM", "bf16", id="a100-bf16"),
        pytest.param("NVIDIA A100 40GB SXM", "tf32", id="a100-tf32-stored-as-fp32"),
        pytest.param("Google TPU v4", "int8", id="tpu-int8"),
        pytest.param("Raspberry Pi 5 CPU", "fp16", id="pi-fp16"),
    ],
)
def test_device_and_dtype_change_the_theory(latency, device, dtype):
    latency.selectbox(key="latency_hardware").set_value(device).run()
    latency.selectbox(key="latency_dtype").set_value(dtype).run()
    assert not latency.exception
    storage = hw.STORAGE_DTYPE[dtype]
    assert shown(latency) == theory(zoo.count("resnet50", dtype=storage), device, dtype)


def test_tpu_v4_has_no_fp32_peak_and_says_so(latency):
    latency.selectbox(key="latency_hardware").set_value("Google TPU v4").run()
    assert not latency.exception
    assert any("no fp32 peak" in warning.value and "bf16" in warning.value for warning in latency.warning)
    latency.selectbox(key="latency_dtype").set_value("bf16").run()
    assert not latency.warning
    assert shown(latency) == theory(zoo.count("resnet50", dtype="bf16"), "Google TPU v4", "bf16")


def test_batch_and_resolution_feed_the_count(latency):
    latency.number_input(key="latency_batch").set_value(8).run()
    latency.number_input(key="latency_resolution").set_value(160).run()
    assert shown(latency) == theory(zoo.count("resnet50", 160, 8), "NVIDIA RTX 3090", "fp32")


def test_builder_stack_is_a_source(latency):
    latency.radio(key="latency_kind").set_value("builder").run()
    assert not latency.exception
    report = calc.analyze(calc.parse_stack(preset("Small CNN (CIFAR-10)").stack))
    assert shown(latency) == theory(report, "NVIDIA RTX 3090", "fp32")


def test_a_broken_builder_stack_says_where_to_fix_it(latency):
    stack = dict(preset("Small CNN (CIFAR-10)").stack)
    stack["layers"] = [
        {"type": "relu"},
        {"type": "conv2d", "out_channels": 8, "kernel_size": 64},
    ]  # 32x32 input
    latency.session_state["stack"] = stack
    latency.session_state["layer_uids"] = [1, 2]
    latency.radio(key="latency_kind").set_value("builder").run()
    assert not latency.exception
    assert any("layer 1" in error.value and "Builder" in error.value for error in latency.error)


def test_a_custom_device_is_added_and_used(latency):
    latency.text_input(key="latency_custom_name").input("Lab GPU").run()
    latency.number_input(key="latency_custom_fp32").set_value(10.0).run()
    latency.number_input(key="latency_custom_bandwidth").set_value(500.0).run()
    latency.button(key="latency_custom_add").click().run()
    assert not latency.exception
    assert latency.selectbox(key="latency_hardware").value == "Lab GPU"
    device = hw.custom_hardware("Lab GPU", {"fp32": 10e12}, 500e9)
    estimate = roofline.estimate(zoo.count("resnet50"), device.roofs("fp32"))
    assert (
        metrics(latency)["(a) FLOPs / peak"]
        == duration(estimate.peak_seconds)
        == duration(2 * 4089184256 / 10e12)
    )
    assert metrics(latency)["(b) Roofline"] == duration(estimate.roofline_seconds)


@pytest.mark.parametrize(
    "name, fp32, message",
    [
        pytest.param("", 10.0, "name of 1 to 60 characters", id="no-name"),
        pytest.param("NVIDIA T4", 10.0, "a preset's name", id="preset-name"),
        pytest.param("Lab GPU", 0.0, "at least one dtype", id="no-peak"),
    ],
)
def test_a_bad_custom_device_says_what_is_wrong(latency, name, fp32, message):
    latency.selectbox(key="latency_hardware").set_value("NVIDIA T4").run()
    latency.text_input(key="latency_custom_name").input(name).run()
    latency.number_input(key="latency_custom_fp32").set_value(fp32).run()
    latency.button(key="latency_custom_add").click().run()
    assert not latency.exception
    assert any(message in read_text(error.value) for error in latency.error)
    assert latency.selectbox(key="latency_hardware").value == "NVIDIA T4"  # the rest stays as it was


def test_measuring_a_small_model_on_the_cpu(latency, cpu_probe):
    latency.session_state["latency_probes"] = {"cpu": cpu_probe}
    latency.selectbox(key="latency_model").set_value(SMALL).run()
    latency.button(key="latency_measure").click().run()
    assert not latency.exception, latency.exception
    assert not latency.error
    shown_metrics = metrics(latency)
    assert shown_metrics["Measured here"] != "not yet"
    run = next(iter(latency.session_state["latency_results"].values()))
    assert shown_metrics["Measured here"] == duration(run.measurement.median_s)
    assert run.measurement.min_s <= run.measurement.median_s <= run.measurement.max_s
    report = zoo.count(SMALL)
    assert set(run.profile.seconds) == {row.name for row in report.rows}
    on_probe = roofline.estimate(report, cpu_probe.as_hardware().roofs("fp32"))
    expected = f"{roofline.efficiency(on_probe.roofline_seconds, run.measurement.median_s):.1%}"
    assert shown_metrics["Roofline efficiency"] == expected
    per_layer = next(frame.value for frame in latency.dataframe if "measured time (ms)" in frame.value)
    assert len(per_layer) == len(report.rows)
    assert (per_layer["measured time (ms)"] >= 0).all()


def test_measurement_refused_beyond_the_memory_budget(latency, cpu_probe):
    latency.session_state["latency_probes"] = {"cpu": cpu_probe}
    latency.selectbox(key="latency_model").set_value("vgg16").run()
    latency.number_input(key="latency_batch").set_value(1024).run()
    latency.button(key="latency_measure").click().run()
    assert not latency.exception
    assert any(
        "beyond the memory budget" in error.value and "lower the batch" in error.value
        for error in latency.error
    )
    assert metrics(latency)["Measured here"] == "not yet"
    assert shown(latency) == theory(zoo.count("vgg16", batch=1024), "NVIDIA RTX 3090", "fp32")


def test_batch_sweep_measures_each_batch(latency, cpu_probe):
    latency.session_state["latency_probes"] = {"cpu": cpu_probe}
    latency.session_state["latency_tab"] = "Batch sweep"  # its chart is drawn only while the tab is open
    latency.selectbox(key="latency_model").set_value(SMALL).run()
    latency.multiselect(key="latency_batches").set_value([1, 4]).run()
    latency.button(key="latency_sweep").click().run()
    assert not latency.exception
    measured = next(iter(latency.session_state["latency_sweeps"].values()))
    assert sorted(measured) == [1, 4]
    chart = next(chart for chart in latency.get("plotly_chart") if "Batch sweep" in chart.proto.spec)
    assert "measured here (cpu)" in chart.proto.spec


def test_probe_button_measures_this_machine(latency):
    latency.button(key="latency_probe").click().run()
    assert not latency.exception
    probe = latency.session_state["latency_probes"]["cpu"]
    assert all(flops > 0 for _, flops in probe.peaks) and probe.bandwidth_bytes_per_s > 0
    assert metrics(latency)["fp32 matmul peak (FLOP/s)"] == si(probe.peak_flops_per_s["fp32"])
    assert probe.as_hardware().name in latency.selectbox(key="latency_hardware").options
    latency.selectbox(key="latency_hardware").set_value(probe.as_hardware().name).run()
    assert not latency.exception
    estimate = roofline.estimate(zoo.count("resnet50"), probe.as_hardware().roofs("fp32"))
    assert metrics(latency)["(a) FLOPs / peak"] == duration(estimate.peak_seconds)


# --- one measurement at a time, and a disturbed machine said so ---------------------------------------------


def recorded_progress(monkeypatch) -> list[str]:
    """Every progress text the page's runs show (the bars are emptied when done)."""
    from ui import latency_runs

    messages: list[str] = []
    real_bar = latency_runs.progress_bar

    def recording_bar(text):
        bar, progress = real_bar(text)
        return bar, lambda fraction, message: (messages.append(message), progress(fraction, message))

    monkeypatch.setattr(latency_runs, "progress_bar", recording_bar)
    return messages


def test_a_second_measurement_waits_its_turn_and_says_so(latency, cpu_probe, monkeypatch):
    import threading
    import time

    from ui.device_queue import QUEUE
    from ui.latency_runs import DURATION_HELP, MAX_SECONDS

    messages = recorded_progress(monkeypatch)
    latency.session_state["latency_probes"] = {"cpu": cpu_probe}
    latency.selectbox(key="latency_model").set_value(SMALL).run()
    holding, release = threading.Event(), threading.Event()

    def other_session() -> None:  # another session's measurement on this CPU
        with QUEUE.turn("cpu"):
            holding.set()
            release.wait(10)

    threading.Thread(target=other_session).start()
    holding.wait(5)
    threading.Timer(1.0, release.set).start()
    started = time.perf_counter()
    latency.button(key="latency_measure").click().run()
    assert not latency.exception and not latency.error
    assert any("Waiting: 2nd in line for cpu" in message for message in messages), messages
    run = next(iter(latency.session_state["latency_results"].values()))
    assert run.waited_seconds >= 0.3 and run.wall_seconds <= MAX_SECONDS  # released 1 s after the click
    assert time.perf_counter() - started >= run.waited_seconds
    assert any("in line behind another session's measurement" in caption.value for caption in latency.caption)
    assert latency.button(key="latency_measure").help == DURATION_HELP


def test_a_measurement_on_a_busy_machine_says_so(latency, cpu_probe, monkeypatch):
    from calc import machine_load

    monkeypatch.setattr(machine_load, "other_cores", lambda before, after: 1.5)  # two programs spinning
    latency.session_state["latency_probes"] = {"cpu": cpu_probe}
    latency.selectbox(key="latency_model").set_value(SMALL).run()
    latency.button(key="latency_measure").click().run()
    assert not latency.exception
    assert any(
        "busy machine" in warning.value and "other programs used 1.5 CPU cores" in warning.value
        for warning in latency.warning
    ), [warning.value for warning in latency.warning]
