"""AppTest of the LLM page's devices: a custom device (its peak, bandwidth and memory priced as calc
prices them, a bad figure named by its input), this machine (the session's probe, its RAM), both
in the share link, and hostile link values refused by name with the rest of the page intact. The
KV cache caption says a sliding window or MLA only for a cache that has one."""

from __future__ import annotations

import dataclasses

import pytest
from test_app import metrics, open_page, read_text
from test_app_llm import expected as expected_on
from test_links import open_with, url

from calc import hardware as hw
from calc.errors import SpecError
from calc.kv_cache import CacheGeometry, CacheLayer
from calc.llm_phases import Setting
from calc.units import si_bytes
from ui import llm as models
from ui import llm_devices as devices

LLAMA = Setting(512, 128, 1, "bf16", "bf16", "bf16")  # the page's defaults
PROBES = "latency_probes"  # ui.latency_runs.PROBES: the session's probes, the Latency page's too


def expected(device: hw.Hardware, setting: Setting = LLAMA) -> dict[str, str]:
    return expected_on("hf:llama", setting, device)


def custom(peak_tflops: float, bandwidth_gbs: float, memory_gb: float) -> hw.Hardware:
    return hw.custom_hardware(
        devices.CUSTOM, {"bf16": peak_tflops * 1e12}, bandwidth_gbs * 1e9, memory_bytes=memory_gb * 1e9
    )


def set_custom(app, peak: float, bandwidth: float, memory_gb: float):
    app.selectbox(key="llm_hardware").set_value(devices.CUSTOM).run()
    app.number_input(key="llm_custom_peak").set_value(peak).run()
    app.number_input(key="llm_custom_bandwidth").set_value(bandwidth).run()
    app.number_input(key="llm_custom_memory").set_value(memory_gb).run()
    assert not app.exception, app.exception
    return app


@pytest.fixture(scope="module")
def page():
    return open_page("pages/llm.py")


def test_a_custom_device_is_priced_with_its_own_figures(page):
    set_custom(page, 100.0, 500.0, 13.0)
    assert metrics(page) == expected(custom(100, 500, 13))
    assert metrics(page)["Fits?"] == "no"  # 13.48 GB of weights alone exceed 13 GB
    assert any("do not fit" in read_text(warning.value) for warning in page.warning)
    labels = [number.label for number in page.number_input]
    assert {"Peak bf16 (TFLOP/s)", "Memory bandwidth (GB/s)", "Memory (GB)"} <= set(labels)


@pytest.mark.parametrize(
    "key, label",
    [
        pytest.param("llm_custom_peak", "Peak bf16 (TFLOP/s)", id="peak"),
        pytest.param("llm_custom_bandwidth", "Memory bandwidth (GB/s)", id="bandwidth"),
        pytest.param("llm_custom_memory", "Memory (GB)", id="memory"),
    ],
)
def test_a_custom_figure_of_zero_is_refused_naming_its_input(key, label):
    app = set_custom(open_page("pages/llm.py"), 100.0, 500.0, 16.0)
    app.number_input(key=key).set_value(0.0).run()
    assert not app.exception
    shown = [read_text(error.value) for error in app.error]
    assert any(f"field '{label}'" in text and "above 0" in text for text in shown), shown
    assert app.number_input(key="llm_prompt").value == 512  # the rest of the page's settings stay


def test_a_custom_device_travels_in_the_link_and_comes_back():
    app = set_custom(open_page("pages/llm.py"), 123.5, 987.0, 48.0)
    shared = url(app)
    assert (shared["hw"], shared["peak"], shared["bw"], shared["mem"]) == (
        devices.CUSTOM,
        "123.5",
        "987",
        "48",
    )
    opened = open_with("pages/llm.py", **shared)
    assert not opened.warning
    assert metrics(opened) == metrics(app) == expected(custom(123.5, 987, 48))


def test_a_preset_leaves_the_custom_figures_out_of_the_link(page):
    page.selectbox(key="llm_hardware").set_value(devices.DEFAULT).run()
    assert url(page)["hw"] == devices.DEFAULT
    assert not {"peak", "bw", "mem"} & set(url(page))


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("-5", id="negative"),
        pytest.param("0", id="zero"),
        pytest.param("1e999", id="overflows"),
        pytest.param("99999999999", id="absurd"),
        pytest.param("nan", id="nan"),
        pytest.param("inf", id="inf"),
        pytest.param("12 TFLOPS", id="with-a-unit"),
        pytest.param("0x10", id="hex"),
    ],
)
def test_a_hostile_custom_figure_in_a_link_is_refused_by_name_and_the_rest_kept(value):
    app = open_with("pages/llm.py", hw=devices.CUSTOM, peak=value, bw="1000", mem="40", batch="2")
    warnings = " ".join(read_text(warning.value) for warning in app.warning)
    assert "“peak”" in warnings and "above 0 and at most 10,000,000 TFLOP/s" in warnings, warnings
    assert not {"“bw”", "“mem”", "“batch”"} & set(warnings.split())
    default_peak = hw.hardware(devices.DEFAULT).peak("bf16") / 1e12
    assert metrics(app) == expected(custom(default_peak, 1000, 40), dataclasses.replace(LLAMA, batch=2))


def test_an_unknown_device_in_a_link_falls_back_to_the_default():
    app = open_with("pages/llm.py", hw="Warp drive 9000")
    assert any("“hw”" in warning.value for warning in app.warning)
    assert metrics(app) == expected(hw.hardware(devices.DEFAULT))


def fake_probe():
    """This machine's roofs as a probe reports them (figures chosen, not measured)."""
    from calc.torch_probe import Probe

    return Probe(
        "cpu",
        "Test CPU",
        2,
        (("fp32", 2e11), ("bf16", 4e11)),
        (("fp32", 256, 2e11), ("bf16", 256, 4e11)),
        12.5e9,
        256 * 2**20,
        1.0,
    )


def test_this_machine_prices_on_the_sessions_probe_and_its_ram():
    app = open_page("pages/llm.py")
    probe = fake_probe()
    app.session_state[PROBES] = {"cpu": probe}  # probed already (here or on the Latency page)
    app.selectbox(key="llm_hardware").set_value(devices.MACHINE).run()
    assert not app.exception, app.exception
    machine = dataclasses.replace(probe.as_hardware(), memory_bytes=hw.machine_memory_bytes())
    assert metrics(app) == expected(machine)
    assert metrics(app) != expected(hw.hardware(devices.DEFAULT))
    captions = " ".join(read_text(caption.value) for caption in app.caption)
    assert "Test CPU" in captions and f"RAM, {si_bytes(hw.machine_memory_bytes())}" in captions
    assert url(app)["hw"] == devices.MACHINE and "peak" not in url(app)


def test_this_machine_from_a_link_probes_if_it_must():
    app = open_with("pages/llm.py", hw=devices.MACHINE)  # a real probe of this CPU, bounded in time
    assert not app.warning and not app.error
    probe = app.session_state[PROBES]["cpu"]
    machine = dataclasses.replace(probe.as_hardware(), memory_bytes=hw.machine_memory_bytes())
    assert metrics(app) == expected(machine)


def test_a_bad_custom_figure_from_the_form_names_the_input_and_calc_bounds_it():
    with pytest.raises(SpecError) as raised:
        hw.custom_hardware("x", {"bf16": 1e12}, 1e9, memory_bytes=2e15)
    assert raised.value.field == "memory"


ONE = CacheLayer(2 * 8 * 128)


@pytest.mark.parametrize(
    "cache, context, says, never",
    [
        pytest.param(CacheGeometry((ONE,) * 4), 640, "keys and values of 4 layers", "window", id="full"),
        pytest.param(
            CacheGeometry((CacheLayer(256, 4096), ONE) * 2),
            640,
            "the last 4,095 tokens in 2 of the 4 layers",
            "smaller",
            id="window-not-reached",
        ),
        pytest.param(
            CacheGeometry((CacheLayer(256, 4096),) * 4),
            8192,
            "8,192 tokens here: the cache is smaller",
            "MLA",
            id="window-reached",
        ),
        pytest.param(
            CacheGeometry((CacheLayer(576),) * 3, latent=True), 640, "MLA latent of 3", "window", id="mla"
        ),
    ],
)
def test_the_kv_caption_says_what_calcs_cache_has(cache, context, says, never):
    text = models.cache_text(cache) + models.windows_text(cache, context)
    assert says in text and never not in text, text


def test_the_default_llama_caption_names_no_window(page):
    page.selectbox(key="llm_hardware").set_value(devices.DEFAULT).run()
    captions = [read_text(caption.value) for caption in page.caption]
    kv = next(text for text in captions if "bytes per token" in text)
    assert "window" not in kv and "MLA" not in kv, kv


def test_this_machine_probes_again_once_for_a_dtype_the_sessions_probe_lacks(monkeypatch):
    from calc import torch_probe

    fresh, calls = fake_probe(), []
    monkeypatch.setattr(torch_probe, "probe", lambda *args, **kwargs: calls.append(args) or fresh)
    app = open_page("pages/llm.py")
    app.session_state[PROBES] = {"cpu": dataclasses.replace(fresh, peaks=(("fp32", 2e11),))}  # fp32 only
    app.selectbox(key="llm_hardware").set_value(devices.MACHINE).run()
    app.number_input(key="llm_batch").set_value(2).run()
    assert not app.exception and len(calls) == 1  # probed for bf16 once, not on every run
    machine = dataclasses.replace(fresh.as_hardware(), memory_bytes=hw.machine_memory_bytes())
    assert metrics(app) == expected(machine, dataclasses.replace(LLAMA, batch=2))
