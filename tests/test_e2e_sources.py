"""End to end, in headless Chromium: the Model page's source picker as a user drives it (switch
to timm, search, pick a model, its numbers shown), and the page with a timm and a Hugging Face
source at a projector's and a laptop's size, normal and in presentation mode, saved as
screenshots under artifacts/screenshots/ to look at."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from playwright.sync_api import Browser, expect
from test_e2e_browser import OBSERVER_JS, PAGES, Tab, browser, server, tab  # noqa: F401  (fixtures)

from calc import sources
from calc.units import si

pytestmark = pytest.mark.e2e

MODEL = next(app_page for app_page in PAGES if app_page.name == "model")


def test_model_page_switch_to_timm_search_and_pick(tab: Tab):  # noqa: F811
    log_offset = tab.server.log_size()
    tab.open(MODEL)
    sidebar = tab.page.get_by_test_id("stSidebar")
    kinds = sidebar.locator(".st-key-model_kind")
    tab.rerun(kinds.get_by_text("timm", exact=True).click, "Model: timm:resnet50")
    sidebar.locator(".st-key-model_timm").click()
    # Typed once the list is open, then the option clicked (as the Latency test picks its model).
    tab.page.get_by_role("listbox").wait_for()
    tab.page.keyboard.type("convnext_tin")
    option = tab.page.get_by_role("option", name="convnext · convnext_tiny", exact=True)
    tab.rerun(option.click, "Model: timm:convnext_tiny")
    report = sources.resolve("timm:convnext_tiny").count()
    expect(tab.metric_value("MACs")).to_have_text(si(report.macs))
    expect(tab.metric_value("Parameters")).to_have_text(si(report.params))
    tab.assert_no_error(log_offset)
    assert "model=timm%3Aconvnext_tiny" in tab.page.url or "model=timm:convnext_tiny" in tab.page.url


TIMM = ("timm:convnext_tiny", "Model: timm:convnext_tiny")
MOE = ("Mixtral-8x7B-v0.1", "Model: Mixtral-8x7B-v0.1")  # its active params in a box of their own


# Each source at a projector's 1280x720 and a laptop's 1024x768, one of them in presentation mode
# (larger type): four views, so the file stays quick; the other four are the same code path.
@pytest.mark.parametrize(
    "source, heading, width, height, present",
    [
        pytest.param(*TIMM, 1280, 720, False, id="timm-1280x720"),
        pytest.param(*TIMM, 1024, 768, True, id="timm-1024x768-present"),
        pytest.param(*MOE, 1280, 720, True, id="moe-1280x720-present"),
        pytest.param(*MOE, 1024, 768, False, id="moe-1024x768"),
    ],
)
def test_model_page_with_a_source_is_shown_whole(
    browser: Browser,  # noqa: F811
    server,  # noqa: F811
    source: str,
    heading: str,
    width: int,
    height: int,
    present: bool,
):
    context = browser.new_context(viewport={"width": width, "height": height})
    context.add_init_script(OBSERVER_JS)
    try:
        tab = Tab(context.new_page(), server)
        log_offset = server.log_size()
        query = {"model": source, **({"present": "1"} if present else {})}
        tab.page.goto(f"{server.url}/{MODEL.url_path}?{urlencode(query)}")
        tab.wait_until_done(heading)
        tab.assert_no_error(log_offset)
        for label in ("MACs", "FLOPs", "Parameters", "Memory traffic", "Other ops"):
            value = tab.metric_value(label)
            expect(value).to_be_visible()
            # A number cut by its card ends in "…" or overflows it: the text's width fits its box.
            assert value.evaluate("element => element.scrollWidth <= element.clientWidth + 1"), label
        name = source.replace(":", "-").replace(".", "_")
        tab.screenshot(f"model-{name}-{width}x{height}{'-present' if present else ''}")
    finally:
        context.close()
