"""AppTest of the Latency page with the zoo models that used to break it: a Swin measured
on this CPU (its relative position index survives materialization), a one-size model held
at its size, and a refused resolution that says which sizes the model accepts."""

from __future__ import annotations

from test_app import metrics
from test_app_latency import cpu_probe, latency  # noqa: F401  (fixtures)

from calc import zoo
from calc.units import exact


def test_latency_page_measures_swin_t_on_the_cpu(latency, cpu_probe):  # noqa: F811
    latency.session_state["latency_probes"] = {"cpu": cpu_probe}
    latency.selectbox(key="latency_model").set_value("swin_t").run()
    latency.number_input(key="latency_resolution").set_value(64).run()  # small: a busy CPU times it quickly
    latency.button(key="latency_measure").click().run()
    assert not latency.exception, latency.exception
    assert not latency.error, [error.value for error in latency.error]
    assert metrics(latency)["Measured here"] != "not yet"


def test_latency_page_holds_maxvit_t_at_its_size(latency):  # noqa: F811
    latency.selectbox(key="latency_model").set_value("maxvit_t").run()
    latency.session_state["latency_resolution"] = 240  # as a shared link may ask
    latency.run()
    assert not latency.exception and not latency.error
    resolution = latency.number_input(key="latency_resolution")
    assert resolution.value == 224 and resolution.disabled and "only 224×224" in resolution.help
    assert any(exact(zoo.count("maxvit_t").macs) in caption.value for caption in latency.caption)


def test_latency_page_refused_resolution_names_the_accepted_sizes(latency):  # noqa: F811
    latency.selectbox(key="latency_model").set_value("alexnet").run()
    latency.number_input(key="latency_resolution").set_value(48).run()
    assert not latency.exception
    assert any(
        "alexnet accepts inputs from 63×63 pixels up, not 48×48" in error.value for error in latency.error
    )
    assert latency.sidebar.selectbox(key="latency_model").value == "alexnet"  # the rest stays as it was
