"""End to end, in Chromium: a shared link opened cold, and a tab clicked before the widgets are drawn.

The widgets' code loads after the first run's output has come; a click in the meantime brings
the browser a later run's output first. Each widget there must still show the link's value: a
widget drawn with its default instead (alexnet, 32 px, the first device) sends that default
back with the next click, and the page and its link change (seen on the Latency page in 3 of 6
cold visits). Here the widgets' code is held back until the click's run has finished, every time.

A click can also come while the first run is still going: Streamlit cuts that run short and
starts the click's. The first run had put the places of the charts it held back in the
session (ui.figures); the click's run drew them there, in a page laid out anew, and the
browser lost the whole page ("'setIn' cannot be called on an ElementNode"), for good. A model
whose count is not cached yet keeps the first run going past the click.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from urllib.parse import quote

import pytest
from playwright.sync_api import Route, expect
from test_e2e_browser import READY_SECONDS, Tab, browser, server, tab  # noqa: F401  (fixtures)

from calc.kv_cache import KV_DTYPE_BYTES
from calc.llm_weights import ACTIVATION_DTYPES, WEIGHT_FORMATS
from calc.share import encode_stack

pytestmark = pytest.mark.e2e

# The lazily loaded code of each kind of widget these pages draw (Streamlit's static/js chunks).
WIDGET_CODE = re.compile(
    r"/static/js/(Selectbox|NumberInput|Multiselect|Radio|Checkbox|TextInput|TextArea|Slider|ButtonGroup)"
    r"\.[^/]*\.js$"
)

# a 3x64x64 image, batch 2 in fp16: conv 3 -> 8, relu, conv 8 -> 16 (the Builder's link)
STACK = {
    "input": [3, 64, 64],
    "batch": 2,
    "dtype": "fp16",
    "layers": [
        {"type": "conv2d", "out_channels": 8, "kernel_size": 3, "padding": 1},
        {"type": "relu"},
        {"type": "conv2d", "out_channels": 16, "kernel_size": 3, "padding": 1},
    ],
}
KV_DTYPES = tuple(name for name in KV_DTYPE_BYTES if name != "fp32")  # as the LLM page lists them


@dataclass(frozen=True)
class Case:
    link: str  # path and query, none of it at the page's defaults
    heading: str  # the page's title once drawn
    early_tab: str  # clicked as soon as it shows, before any widget is drawn
    values: dict[str, str]  # widget key -> the value its input shows (a selectbox: its label)
    in_link: tuple[str, ...]  # what the link must still say after the next click
    later_tab: str  # clicked after the widgets are drawn: that run reads the values the browser sends
    removable: tuple[str, ...] = ()  # a multiselect's chosen items, each with a "Remove" button
    checked: tuple[str, ...] = ()  # keys of toggles and checkboxes that must be on


CASES = [
    Case(
        "latency?model=mobilenet_v3_large&res=160&batch=2&dtype=fp16&hw=NVIDIA+T4&batches=1%2C4&tab=Measure+here",
        "Latency",
        early_tab="Hardware",
        later_tab="Batch sweep",
        values={
            "latency_model": "mobilenet · mobilenet_v3_large",
            "latency_resolution": "160",
            "latency_batch": "2",
            "latency_dtype": "fp16",
            "latency_hardware": "NVIDIA T4",
        },
        removable=("1", "4"),
        in_link=(
            "model=mobilenet_v3_large",
            "res=160",
            "batch=2",
            "dtype=fp16",
            "hw=NVIDIA+T4",
            "batches=1%2C4",
        ),
    ),
    Case(
        "model?model=mobilenet_v3_large&res=160&batch=4&filter=features&present=1",
        "Model: mobilenet_v3_large",
        early_tab="By kind",
        later_tab="Per-layer table",
        values={
            "model_name": "mobilenet · mobilenet_v3_large",
            "model_resolution": "160",
            "model_batch": "4",
            "model_filter": "features",
        },
        checked=("presentation",),
        in_link=("model=mobilenet_v3_large", "res=160", "batch=4", "filter=features", "present=1"),
    ),
    Case(
        "compare?models=resnet18%2Calexnet%2Cvgg11&baseline=alexnet",
        "Compare models",
        early_tab="MACs and params",
        later_tab="Accuracy vs cost",
        values={"compare_baseline": "alexnet"},
        removable=("resnet18", "alexnet", "vgg11"),
        in_link=("models=resnet18%2Calexnet%2Cvgg11", "baseline=alexnet"),
    ),
    Case(
        f"llm?model=hf%3Agpt2&prompt=900&generate=50&batch=3&dtype={ACTIVATION_DTYPES[0]}"
        f"&weights={quote(list(WEIGHT_FORMATS)[-1])}&kv={KV_DTYPES[-1]}&hw=NVIDIA+T4",
        "LLM inference",
        early_tab="Batch sweep",
        later_tab="Roofline",
        values={
            "llm_source": "hf:gpt2",
            "llm_prompt": "900",
            "llm_generate": "50",
            "llm_batch": "3",
            "llm_dtype": ACTIVATION_DTYPES[0],
            "llm_weights": list(WEIGHT_FORMATS)[-1],
            "llm_kv": KV_DTYPES[-1],
            "llm_hardware": "NVIDIA T4",
        },
        in_link=("model=hf%3Agpt2", "prompt=900", "generate=50", "batch=3", "hw=NVIDIA+T4"),
    ),
    Case(
        "separable?in=48&out=96&k=5&size=56&stride=2&padding=2",
        "Depthwise-separable",
        early_tab="Savings heatmap",
        later_tab="Parts",
        values={
            "sep_in": "48",
            "sep_out": "96",
            "sep_kernel": "5",
            "sep_size": "56",
            "sep_stride": "2",
            "sep_padding": "2",
        },
        in_link=("in=48", "out=96", "k=5", "size=56", "stride=2", "padding=2"),
    ),
    Case(
        f"builder?stack={quote(encode_stack(STACK))}&layer=2&explain=2&tab=Formula",
        "Layer Builder",
        early_tab="Charts",
        later_tab="Formula",
        values={"batch": "2", "dtype": "fp16", "explain_layer": "2 · conv2d", "in_h": "64"},
        in_link=("layer=2", "explain=2"),
    ),
]


WHOLE_RUN_FINISHED = 0  # the status of a whole run's script_finished (test_e2e_browser.OBSERVER_JS)


def test_a_click_that_cuts_the_first_run_short_leaves_a_whole_page(tab: Tab):
    """Latency opened on its Roofline tab, whose chart the first run holds back, with a model not
    counted yet at that resolution (the first run counts it, seconds), and another tab clicked as
    soon as it shows: the first run is cut short, the click's run draws the page, and the page,
    its charts and the browser stay whole."""
    log_offset = tab.server.log_size()
    tab.page.goto(f"{tab.server.url}/latency?model=densenet201&res=208&hw=NVIDIA+T4&tab=Roofline")
    hardware = tab.page.get_by_role("tab", name="Hardware", exact=True)
    expect(hardware).to_be_visible(timeout=READY_SECONDS * 1000)
    hardware.click()
    finished = tab.page.evaluate("window.__e2eFinishes")
    assert WHOLE_RUN_FINISHED not in finished, (
        f"the first run had finished ({finished}) before the click: nothing was cut short"
    )
    tab.wait_until_done("Latency")
    expect(hardware).to_have_attribute("aria-selected", "true")
    runs = tab.state()["runs_finished"]
    tab.page.wait_for_timeout(3 * 1000)
    assert tab.state()["runs_finished"] == runs, "the page kept rerunning: a timer of the cut run fires"
    roofline = tab.page.get_by_role("tab", name="Roofline", exact=True)
    roofline.click()
    expect(roofline).to_have_attribute("aria-selected", "true")
    tab.wait_until_done("Latency")
    expect(tab.page.get_by_role("tabpanel").locator(".js-plotly-plot").first).to_be_visible()
    assert "densenet201" in tab.page.url and "tab=Roofline" in tab.page.url, tab.page.url
    tab.assert_no_error(log_offset)


def hold_widget_code(tab: Tab) -> list[Route]:
    held: list[Route] = []
    # a lambda, not held.append: playwright reads a handler's signature, and a builtin method has none
    tab.page.route(WIDGET_CODE, lambda route: held.append(route))  # noqa: PLW0108
    return held


def wait_for_the_click_run(tab: Tab, early_tab) -> None:
    """Until the click's run has finished (its tab is selected, the script is idle for a moment);
    the held code is still in flight, so Tab.wait_until_done would wait for it."""
    expect(early_tab).to_have_attribute("aria-selected", "true", timeout=READY_SECONDS * 1000)
    deadline, idle_since = time.monotonic() + READY_SECONDS, None
    while time.monotonic() < deadline:
        state = tab.state()
        if state["script"] == "notRunning" and state["runs_finished"] >= 1:
            idle_since = idle_since or time.monotonic()
            if time.monotonic() - idle_since >= 1.0:
                return
        else:
            idle_since = None
        tab.page.wait_for_timeout(100)
    tab.page.screenshot(path="/tmp/early-click-failure.png")
    pytest.fail(
        f"the run of the early click on {tab.page.url} did not finish: {tab.state()}; the page says "
        f"{tab.page.locator('body').inner_text()[:500]!r}, its script errors {tab.script_errors[:3]}",
        pytrace=False,
    )


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.link.split("?")[0])
def test_a_link_keeps_its_values_through_a_click_before_the_widgets_are_drawn(tab: Tab, case: Case):
    log_offset = tab.server.log_size()
    held = hold_widget_code(tab)
    tab.page.goto(f"{tab.server.url}/{case.link}")
    early_tab = tab.page.get_by_role("tab", name=case.early_tab, exact=True)
    expect(early_tab).to_be_visible(timeout=READY_SECONDS * 1000)
    early_tab.click()
    wait_for_the_click_run(tab, early_tab)
    assert held, "no widget code was fetched on its own: nothing was held back"
    for route in held:
        route.continue_()
    tab.page.unroute(WIDGET_CODE)
    tab.wait_until_done(case.heading)
    later_tab = tab.page.get_by_role("tab", name=case.later_tab, exact=True)
    later_tab.click()
    expect(later_tab).to_have_attribute("aria-selected", "true")
    tab.wait_until_done(case.heading)
    for key, value in case.values.items():
        expect(tab.page.locator(f".st-key-{key} input, .st-key-{key} textarea").first).to_have_value(value)
    for key in case.checked:
        expect(tab.page.locator(f".st-key-{key} input")).to_be_checked()
    for item in case.removable:
        expect(tab.page.get_by_role("button", name=f"Remove {item}", exact=True)).to_be_visible()
    for part in case.in_link:
        assert part in tab.page.url, f"{part} left the link: {tab.page.url}"
    tab.assert_no_error(log_offset)
