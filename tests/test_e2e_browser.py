"""End to end: `streamlit run serve.py` (which serves app.py) driven by a real headless Chromium.

Every page of the navigation opens without an exception and is saved as a 1280x720
screenshot under artifacts/screenshots/ (what a teacher sharing a screen shows); on
the Layer Builder, clicking "Add layer" changes the MACs metric.

The browser is Debian's chromium at /usr/bin/chromium (`make browser` installs it);
a missing browser fails the test, it never skips.
"""

from __future__ import annotations

import ast
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Locator, Page, expect, sync_playwright

import calc
from calc import layer_kind
from calc.units import si
from ui.fields import new_layer

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[1]
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
CHROMIUM = Path("/usr/bin/chromium")
VIEWPORT = {"width": 1280, "height": 720}
STARTUP_SECONDS = 60
READY_SECONDS = 30  # one page load or rerun, from request to a quiet, fully drawn page
QUIET_MS = 500  # no DOM change and no HTTP request for this long: the frontend is done drawing


@dataclass(frozen=True)
class AppPage:
    name: str  # the screenshot's file name
    url_path: str  # st.Page's url_path: "" for the default page
    script: str  # the st.Page source, as app.py names it
    heading: str  # the page's st.title: seeing it means the main area is drawn


# The pages of app.py's st.navigation, one row each. test_table_lists_every_page fails
# when app.py gains a page that is not here.
PAGES = (
    AppPage("home", "", "pages/home.py", "MACscope"),
    AppPage("concepts", "concepts", "pages/concepts.py", "Concepts"),
    AppPage("builder", "builder", "pages/builder.py", "Layer Builder"),
    AppPage("model", "model", "pages/model.py", "Model: resnet50"),
    AppPage("compare", "compare", "pages/compare.py", "Compare models"),
    AppPage("latency", "latency", "pages/latency.py", "Latency: theory and measurement"),
    AppPage("separable", "separable", "pages/separable.py", "Depthwise-separable convolutions"),
    AppPage("llm", "llm?model=hf%3Agpt2", "pages/llm.py", "LLM inference"),  # GPT-2: a quick first count
)
MEASURE_SECONDS = 120  # probe this CPU, time a small model, profile its layers

# Installed before any page script: counts finished script runs, keeps their statuses, and stamps
# the last DOM change. A run ends with a script_finished message (ForwardMsg field 6, its status: 0
# a whole run, 2 one ended early for a rerun, 3 a fragment's run; each websocket frame is one
# ForwardMsg): a quick rerun may never show "running" in the app element's data-test-script-state,
# as React draws the messages of one burst at once. A run cut short by a click sends none.
OBSERVER_JS = """
window.__e2eRunsFinished = 0;
window.__e2eFinishes = [];
window.__e2eLastMutation = performance.now();
const topLevelFields = (bytes) => {  // the field numbers of a protobuf message, and varints' values
  const fields = [];
  let at = 0;
  const varint = () => {
    let value = 0, shift = 0, byte;
    do { byte = bytes[at++]; value += (byte & 0x7f) * 2 ** shift; shift += 7; } while (byte & 0x80);
    return value;
  };
  while (at < bytes.length) {
    const key = varint(), wire = key % 8;
    fields.push([Math.floor(key / 8), wire === 0 ? varint() : null]);
    if (wire === 0) continue;
    else if (wire === 1) at += 8;
    else if (wire === 2) at += varint();
    else if (wire === 5) at += 4;
    else break;
  }
  return fields;
};
const E2eNativeSocket = window.WebSocket;
window.WebSocket = class extends E2eNativeSocket {
  constructor(...args) {
    super(...args);
    this.addEventListener("message", (event) => {
      if (!(event.data instanceof ArrayBuffer)) return;
      const finished = topLevelFields(new Uint8Array(event.data)).find(([field]) => field === 6);
      if (finished) {
        window.__e2eRunsFinished += 1;
        window.__e2eFinishes.push(finished[1]);
      }
    });
  }
};
new MutationObserver(() => {
  window.__e2eLastMutation = performance.now();
}).observe(document, {subtree: true, childList: true, attributes: true, characterData: true});
"""

APP_STATE_JS = """() => {
  const app = document.querySelector('[data-testid="stApp"]');
  return {
    script: app ? app.getAttribute("data-test-script-state") : null,
    connection: app ? app.getAttribute("data-test-connection-state") : null,
    status_widget: document.querySelector('[data-testid="stStatusWidget"]') !== null,
    stale_elements: document.querySelectorAll('[data-stale="true"]').length,
    skeletons: document.querySelectorAll('[data-testid="stSkeleton"]').length,
    exceptions: document.querySelectorAll('[data-testid="stException"]').length,
    quiet_ms: Math.round(performance.now() - window.__e2eLastMutation),
    runs_finished: window.__e2eRunsFinished,
  };
}"""


# ---------------------------------------------------------------- the server


class StreamlitServer:
    """`streamlit run serve.py` (app.py behind our route for nested paths, as `make app` serves it)
    on a free loopback port, its output in a temporary file."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        # open for the server's whole life, closed and removed in stop()
        self.log_file = tempfile.NamedTemporaryFile(  # noqa: SIM115
            prefix="macscope-e2e-", suffix=".log", delete=False
        )
        command = [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            "serve.py",
            "--server.port",
            str(self.port),
            "--server.address",
            "127.0.0.1",
            "--server.headless",
            "true",
            "--browser.gatherUsageStats",
            "false",
            "--server.fileWatcherType",
            "none",
        ]  # nothing edits the sources during the test
        self.process = subprocess.Popen(
            command,
            cwd=ROOT,
            stdout=self.log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )

    def log(self, since: int = 0) -> str:
        return Path(self.log_file.name).read_bytes()[since:].decode("utf-8", "replace")

    def log_size(self) -> int:
        return Path(self.log_file.name).stat().st_size

    def assert_alive(self) -> None:
        if self.process.poll() is not None:
            pytest.fail(
                f"streamlit exited with status {self.process.returncode}; its output:\n{self.log()}",
                pytrace=False,
            )

    def wait_healthy(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        last_error = "no answer yet"
        while time.monotonic() < deadline:
            self.assert_alive()
            try:
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2) as response:
                    if response.status == 200 and response.read().strip() == b"ok":
                        return
            except (urllib.error.URLError, OSError) as error:
                last_error = str(error)
            time.sleep(0.25)
        pytest.fail(
            f"streamlit did not answer {self.url}/_stcore/health within {seconds} s ({last_error}); "
            f"its output:\n{self.log()}",
            pytrace=False,
        )

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.log_file.close()
        os.unlink(self.log_file.name)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def server():
    streamlit = StreamlitServer()
    try:
        streamlit.wait_healthy(STARTUP_SECONDS)
        yield streamlit
        streamlit.assert_alive()  # a server that died mid-module says so, with its output
    finally:
        streamlit.stop()


# ---------------------------------------------------------------- the browser


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: the end-to-end test needs Debian's chromium. Install it with "
            "`sudo apt-get install chromium` (or run `make browser`).",
            pytrace=False,
        )
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield chromium
        chromium.close()


class Tab:
    """One browser page on the app, with what it needs to tell when the app is done."""

    def __init__(self, page: Page, server: StreamlitServer) -> None:
        self.page = page
        self.server = server
        self.requests_in_flight: set = set()
        self.script_errors: list[str] = []
        # lambdas, not set.add: playwright reads a handler's signature, and a builtin method has none
        page.on("request", lambda request: self.requests_in_flight.add(request))  # noqa: PLW0108
        page.on("requestfinished", lambda request: self.requests_in_flight.discard(request))  # noqa: PLW0108
        page.on("requestfailed", lambda request: self.requests_in_flight.discard(request))  # noqa: PLW0108
        page.on("pageerror", lambda error: self.script_errors.append(str(error)))

    def state(self) -> dict:
        return self.page.evaluate(APP_STATE_JS)

    def open(self, app_page: AppPage) -> None:
        self.page.goto(f"{self.server.url}/{app_page.url_path}")
        self.wait_until_done(heading=app_page.heading)

    def rerun(self, action: Callable[[], object], heading: str) -> None:
        """Do ``action`` (a click, a key press) and wait until the rerun it causes is drawn."""
        runs = self.state()["runs_finished"]
        action()
        self.wait_until_done(heading, runs_finished=runs + 1)

    def wait_until_done(self, heading: str, runs_finished: int = 0) -> None:
        """Wait until the script has finished (``runs_finished`` runs at least) and the
        frontend has drawn everything: no running indicator, no stale element, no
        request in flight, the DOM quiet for QUIET_MS, and ``heading`` shown."""
        deadline = time.monotonic() + READY_SECONDS
        state: dict = {}
        while time.monotonic() < deadline:
            self.server.assert_alive()
            state = self.state()
            if state["exceptions"] and state["script"] == "notRunning":
                break  # a script that raised never draws what we wait for: say so now
            done = (
                state["script"] == "notRunning"
                and state["connection"] == "CONNECTED"
                and not state["status_widget"]
                and not state["stale_elements"]
                and not state["skeletons"]
                and state["runs_finished"] >= runs_finished
                and state["quiet_ms"] >= QUIET_MS
                and not self.requests_in_flight
                and self.heading(heading).is_visible()
            )
            if done:
                return
            self.page.wait_for_timeout(100)
        self.fail_on_exception()
        pending = sorted(request.url for request in self.requests_in_flight)
        pytest.fail(
            f"the app was not done within {READY_SECONDS} s at {self.page.url} (waiting for heading "
            f"{heading!r}): {state}, requests in flight {pending}; server output:\n{self.server.log()}",
            pytrace=False,
        )

    def fail_on_exception(self) -> None:
        exceptions = self.page.get_by_test_id("stException")
        if exceptions.count():
            pytest.fail(
                f"{self.page.url} shows an exception:\n{exceptions.first.inner_text()}", pytrace=False
            )

    def heading(self, text: str) -> Locator:
        return self.page.locator('[data-testid="stMain"] h1').filter(has_text=text)

    def metric_value(self, label: str) -> Locator:
        metric = self.page.get_by_test_id("stMetric").filter(
            has=self.page.get_by_test_id("stMetricLabel").get_by_text(label, exact=True)
        )
        return metric.get_by_test_id("stMetricValue")

    def assert_no_error(self, log_offset: int) -> None:
        self.fail_on_exception()
        text = self.page.locator("body").inner_text()
        assert "Traceback" not in text, f"{self.page.url} shows a traceback:\n{text}"
        assert not self.script_errors, f"{self.page.url} raised in the browser: {self.script_errors}"
        log = self.server.log(since=log_offset)
        assert "Traceback" not in log and "Uncaught app execution" not in log, (
            f"the server logged an error for {self.page.url}:\n{log}"
        )

    def screenshot(self, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        self.page.screenshot(path=str(path))  # the viewport: 1280x720, what a shared screen shows
        return path


@pytest.fixture
def tab(browser: Browser, server: StreamlitServer):
    context = browser.new_context(viewport=VIEWPORT)
    context.add_init_script(OBSERVER_JS)
    try:
        yield Tab(context.new_page(), server)
    finally:
        context.close()


# ---------------------------------------------------------------- the tests

# conv 3 -> 16 (3x3, padding 1) and relu on a 3x32x32 image: 16*3*3*3*32*32 = 442,368 MACs
IMAGE_STACK = {
    "input": [3, 32, 32],
    "batch": 1,
    "dtype": "fp32",
    "layers": [{"type": "conv2d", "out_channels": 16, "kernel_size": 3, "padding": 1}, {"type": "relu"}],
}


def macs_of(stack: dict) -> int:
    return calc.analyze(calc.parse_stack(stack)).macs


def navigation_scripts() -> set[str]:
    """The page sources app.py hands to st.Page, read from its syntax tree."""
    tree = ast.parse((ROOT / "app.py").read_text(encoding="utf-8"))
    return {
        node.args[0].value
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and getattr(node.func, "attr", None) == "Page"
        and node.args
        and isinstance(node.args[0], ast.Constant)
    }


def test_table_lists_every_page():
    in_app, in_table = navigation_scripts(), {app_page.script for app_page in PAGES}
    assert in_app == in_table, (
        f"PAGES in this file must list exactly the pages of app.py's st.navigation: "
        f"add {sorted(in_app - in_table)}, remove {sorted(in_table - in_app)}"
    )


@pytest.mark.parametrize("app_page", PAGES, ids=lambda app_page: app_page.name)
def test_page_opens_without_error(tab: Tab, app_page: AppPage):
    log_offset = tab.server.log_size()
    tab.open(app_page)
    tab.assert_no_error(log_offset)
    screenshot = tab.screenshot(app_page.name)
    assert screenshot.stat().st_size > 0


def test_a_first_visit_draws_its_charts_once_the_numbers_are_shown(tab: Tab):
    # ui.figures holds a session's first charts back for a moment, so that loading plotly does
    # not delay the numbers; the charts must still come without any click.
    separable = next(app_page for app_page in PAGES if app_page.name == "separable")
    log_offset = tab.server.log_size()
    tab.open(separable)
    expect(tab.metric_value("Standard MACs")).to_have_text(si(64 * 32 * 3 * 3 * 224 * 224))
    main = tab.page.get_by_test_id("stMain")
    expect(main.locator(".js-plotly-plot")).to_have_count(1, timeout=30_000)
    expect(main.get_by_text("Drawing the chart…")).to_have_count(0)
    tab.assert_no_error(log_offset)


def test_add_layer_changes_the_macs(tab: Tab):
    # The default stack ends in a 10-way classifier, where "Add layer" offers linear 10 -> 128:
    # +1,280 MACs, below the 4 significant digits of "10.32 M". So load a stack that ends in
    # an image first, through the import box; then the default conv2d visibly changes the MACs.
    builder = next(app_page for app_page in PAGES if app_page.name == "builder")
    log_offset = tab.server.log_size()
    tab.open(builder)
    sidebar = tab.page.get_by_test_id("stSidebar")
    sidebar.get_by_test_id("stExpander").filter(has_text="Import / export JSON").locator("summary").click()
    pasted = sidebar.locator(".st-key-import_json textarea")
    pasted.fill(json.dumps(IMAGE_STACK))
    tab.rerun(lambda: pasted.press("Control+Enter"), builder.heading)  # commits the text area
    tab.rerun(
        sidebar.locator(".st-key-load_json").get_by_role("button", name="Load JSON").click, builder.heading
    )
    macs = tab.metric_value("MACs")
    expect(macs).to_have_text(si(macs_of(IMAGE_STACK)))
    before = macs.inner_text()

    tab.rerun(sidebar.get_by_role("button", name="Add layer", exact=True).click, builder.heading)

    tab.assert_no_error(log_offset)
    tab.screenshot(f"{builder.name}-after-add-layer")
    after = macs.inner_text()
    assert after != before, f"MACs still shows {before!r} after clicking 'Add layer'"
    grown = dict(IMAGE_STACK, layers=[*IMAGE_STACK["layers"], new_layer(layer_kind("conv2d"), None)])
    assert after == si(macs_of(grown)), "the MACs shown are not calc's MACs of the stack with a conv2d added"


def test_latency_theory_then_a_measurement_here(tab: Tab):
    from calc import roofline, zoo
    from calc.hardware import hardware
    from calc.units import duration

    latency = next(app_page for app_page in PAGES if app_page.name == "latency")
    log_offset = tab.server.log_size()
    tab.open(latency)
    on_3090 = roofline.estimate(zoo.count("resnet50"), hardware("NVIDIA RTX 3090").roofs("fp32"))
    expect(tab.metric_value("(a) FLOPs / peak")).to_have_text(duration(on_3090.peak_seconds))
    assert duration(on_3090.peak_seconds) == "0.2297 ms"

    model = tab.page.get_by_test_id("stSidebar").locator(".st-key-latency_model")
    model.click()
    # Typed once the list is open (on a busy machine keys typed sooner went nowhere), then the
    # option clicked: Enter on a list still being filtered picked nothing and no rerun came.
    tab.page.get_by_role("listbox").wait_for()
    tab.page.keyboard.type("Small CNN")
    option = tab.page.get_by_role("option", name="stack: Small CNN (CIFAR-10)", exact=True)
    tab.rerun(option.click, latency.heading)
    small = zoo.count("stack: Small CNN (CIFAR-10)")
    expect(tab.metric_value("(b) Roofline")).to_have_text(
        duration(roofline.estimate(small, hardware("NVIDIA RTX 3090").roofs("fp32")).roofline_seconds)
    )

    tab.page.get_by_role("button", name="Measure on this machine").click()
    measured = tab.metric_value("Measured here")
    expect(measured).not_to_have_text("not yet", timeout=MEASURE_SECONDS * 1000)
    tab.wait_until_done(latency.heading)
    tab.assert_no_error(log_offset)
    assert measured.inner_text().endswith(("s", "ms", "µs")), measured.inner_text()
    # The session's first chart is drawn a moment after the numbers (ui.figures): plotly loads then
    expect(tab.page.get_by_text("Latency of one forward pass: theory against measurement")).to_be_visible(
        timeout=30_000
    )
    expect(tab.metric_value("Roofline efficiency")).to_contain_text("%")
    tab.screenshot("latency-measured")


def test_a_shared_link_opens_the_same_view_in_a_fresh_browser(browser: Browser, tab: Tab):
    builder = next(app_page for app_page in PAGES if app_page.name == "builder")
    log_offset = tab.server.log_size()
    tab.open(builder)
    sidebar = tab.page.get_by_test_id("stSidebar")
    tab.rerun(sidebar.get_by_role("button", name="Add layer", exact=True).click, builder.heading)
    shown = {
        label: tab.metric_value(label).inner_text() for label in ("MACs", "Parameters", "Memory traffic")
    }
    share = sidebar.get_by_test_id("stExpander").filter(has_text="Share this view")
    share.locator("summary").click()
    link = share.get_by_test_id("stCode").inner_text().strip()
    assert link.startswith(f"{tab.server.url}/builder?stack="), link

    context = browser.new_context(viewport=VIEWPORT)  # another person: no cookies, no session
    context.add_init_script(OBSERVER_JS)
    try:
        other = Tab(context.new_page(), tab.server)
        other.page.goto(link)
        other.wait_until_done(builder.heading)
        other.assert_no_error(log_offset)
        assert {label: other.metric_value(label).inner_text() for label in shown} == shown
        other.screenshot("builder-from-a-shared-link")
    finally:
        context.close()


def test_a_link_to_a_page_works_as_a_fresh_servers_first_visit(browser: Browser):
    # Streamlit picks its legacy pages/ directory mode when a fresh server's first visit is
    # not the home page; ui.shell.require_navigation leaves it. Without that, /builder runs
    # alone: a sidebar listing "app", "builder", "home" and no app.py page config.
    builder = next(app_page for app_page in PAGES if app_page.name == "builder")
    fresh = StreamlitServer()
    context = browser.new_context(viewport=VIEWPORT)
    context.add_init_script(OBSERVER_JS)
    try:
        fresh.wait_healthy(STARTUP_SECONDS)
        tab = Tab(context.new_page(), fresh)
        tab.open(builder)
        tab.assert_no_error(0)
        navigation = tab.page.get_by_test_id("stSidebarNav")
        expect(navigation).to_contain_text("Layer Builder")
        links = [text.strip() for text in navigation.get_by_role("link").all_inner_texts()]
        assert not {"app", "builder", "home"} & set(links), f"legacy page list in the sidebar: {links}"
    finally:
        context.close()
        fresh.stop()
