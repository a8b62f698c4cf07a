"""End to end, in headless Chromium: an ONNX file uploaded on the Model page (the file chooser fed by
Playwright) shows calc's numbers, a truncated file shows calc's message with the page intact, and
the page with an exported resnet18 (numbers, then the Graph tab) at a projector's and a laptop's
size, normal and in presentation mode, saved as screenshots under artifacts/screenshots/."""

from __future__ import annotations

import pytest
from onnx_graphs import exported_resnet18
from playwright.sync_api import Browser, expect
from test_e2e_browser import OBSERVER_JS, PAGES, Tab, browser, server, tab  # noqa: F401  (fixtures)
from test_graph_onnx import resnet_like

from calc.onnx_source import source_from_bytes
from calc.units import si

pytestmark = pytest.mark.e2e

MODEL = next(app_page for app_page in PAGES if app_page.name == "model")
SMALL = resnet_like(2)


def upload(tab: Tab, name: str, data: bytes, heading: str) -> None:  # noqa: F811
    """Choose "ONNX file" as the source, then give the file chooser ``data`` as ``name``."""
    sidebar = tab.page.get_by_test_id("stSidebar")
    sidebar.locator(".st-key-model_kind").get_by_text("ONNX file", exact=True).click()
    chooser = sidebar.locator('[data-testid="stFileUploader"] input[type="file"]')
    expect(chooser).to_be_attached()
    tab.wait_until_done("Model: none picked")
    payload = {"name": name, "mimeType": "application/octet-stream", "buffer": data}
    tab.rerun(lambda: chooser.set_input_files(payload), heading)


def test_an_uploaded_file_shows_its_macs(tab: Tab):  # noqa: F811
    log_offset = tab.server.log_size()
    tab.open(MODEL)
    upload(tab, "tiny.onnx", SMALL, "Model: tiny.onnx")
    report = source_from_bytes("tiny.onnx", SMALL).count()
    expect(tab.metric_value("MACs")).to_have_text(si(report.macs))
    expect(tab.metric_value("Parameters")).to_have_text(si(report.params))
    expect(tab.page.get_by_text("Loaded tiny.onnx")).to_be_visible()
    tab.assert_no_error(log_offset)
    assert "model=ONNX+file" in tab.page.url


def test_a_truncated_file_gets_calcs_message_and_the_page_stays(tab: Tab):  # noqa: F811
    log_offset = tab.server.log_size()
    tab.open(MODEL)
    upload(tab, "cut.onnx", SMALL[: len(SMALL) // 2], "Model: none picked")
    message = tab.page.get_by_test_id("stSidebar").get_by_test_id("stAlertContentError")
    expect(message).to_contain_text("cut.onnx was not loaded")
    expect(message).to_contain_text("is not an ONNX model (truncated or malformed")
    expect(tab.page.get_by_text("Upload an .onnx file to count it.")).to_be_visible()
    tab.assert_no_error(log_offset)


@pytest.fixture(scope="module")
def resnet18_onnx() -> bytes:
    return exported_resnet18(224)


@pytest.mark.parametrize(
    "width, height",
    [pytest.param(1280, 720, id="1280x720"), pytest.param(1024, 768, id="1024x768")],
)
def test_model_page_with_an_onnx_file_is_shown_whole(
    browser: Browser,  # noqa: F811
    server,  # noqa: F811
    resnet18_onnx: bytes,
    width: int,
    height: int,
):
    """Normal, then presentation mode in the same session: a link cannot bring the file (?present=1
    folds the sidebar away before a file can be chosen), so the toggle turns it on once the file is in;
    one upload of the 45 MB file per window size."""
    context = browser.new_context(viewport={"width": width, "height": height})
    context.add_init_script(OBSERVER_JS)
    try:
        tab = Tab(context.new_page(), server)
        log_offset = server.log_size()
        tab.page.goto(f"{server.url}/{MODEL.url_path}")
        tab.wait_until_done(MODEL.heading)
        upload(tab, "resnet18.onnx", resnet18_onnx, "Model: resnet18.onnx")
        for present in (False, True):
            if present:
                tab.rerun(tab.page.get_by_role("tab", name="Per-layer table").click, "Model: resnet18.onnx")
                toggle = tab.page.get_by_test_id("stSidebar").locator(".st-key-presentation label")
                tab.rerun(toggle.click, "Model: resnet18.onnx")
                assert "present=1" in tab.page.url
            for label in ("MACs", "FLOPs", "Parameters", "Memory traffic", "Other ops"):
                value = tab.metric_value(label)
                expect(value).to_be_visible()
                assert value.evaluate("element => element.scrollWidth <= element.clientWidth + 1"), label
            suffix = f"{width}x{height}{'-present' if present else ''}"
            tab.screenshot(f"model-onnx-resnet18-{suffix}")
            graph_tab = tab.page.get_by_role("tab", name="Graph")
            tab.rerun(graph_tab.click, "Model: resnet18.onnx")
            expect(tab.page.get_by_test_id("stGraphVizChart").locator("svg")).to_be_visible()
            tab.assert_no_error(log_offset)
            tab.screenshot(f"model-onnx-resnet18-graph-{suffix}")
            tab.page.get_by_test_id("stGraphVizChart").scroll_into_view_if_needed()
            tab.screenshot(f"model-onnx-resnet18-graph-drawn-{suffix}")
    finally:
        context.close()
