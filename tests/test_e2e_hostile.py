"""End to end, hostile links: what a link carries is shown as text in a real browser.

A listener on a loopback port counts the requests it gets. Links whose values are
Markdown images, HTML images and links pointing at it are opened in headless Chromium:
the page must show the values literally and the browser must never fetch them (today's
fixed behaviour; before, every visitor's browser fetched the image). A path that names
no page says so beside the navigation.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import quote, urlencode

import pytest
from playwright.sync_api import expect
from test_e2e_browser import Tab, browser, free_port, server, tab  # noqa: F401  (fixtures)

from calc.share import encode_stack
from ui.text import ZERO_WIDTH_SPACE

pytestmark = pytest.mark.e2e


class Listener:
    """An HTTP server on 127.0.0.1 that answers 404 and records each path asked for."""

    def __init__(self) -> None:
        self.paths: list[str] = []
        paths = self.paths

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # http.server's name
                paths.append(self.path)
                self.send_error(404)

            def log_message(self, *args) -> None:
                pass

        self.port = free_port()
        self.http = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.http.serve_forever, daemon=True)
        self.thread.start()

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        self.http.shutdown()
        self.http.server_close()


@pytest.fixture
def listener():
    counting = Listener()
    try:
        yield counting
    finally:
        counting.stop()


def hostile_links(listener: Listener) -> list[tuple[str, str, str]]:
    """(url path and query, the page's heading, a value the page must show literally)."""
    image = f"![]({listener.url('markdown.png')})"
    html = f'<img src="{listener.url("html.png")}">'
    device = {"name": f"[GPU]({listener.url('device')})", "peaks": {"fp32": 1e13}, "bandwidth": 1e11}
    stack = {"input": [3, 8, 8], "layers": [{"type": f"![]({listener.url('type.png')})"}]}
    return [
        (f"model?{urlencode({'tab': image, 'filter': html})}", "Model: resnet50", image),
        (f"compare?{urlencode({'models': image, 'baseline': html})}", "Compare models", image),
        (
            f"latency?{urlencode({'device': json.dumps(device), 'hw': image})}",
            "Latency: theory and measurement",
            image,
        ),
        (f"builder?{urlencode({'stack': encode_stack(stack)})}", "Layer Builder", "unknown layer type"),
        (f"?{urlencode({'present': image})}", "MACscope", image),
    ]


def test_links_carrying_images_and_links_fetch_nothing(tab: Tab, listener: Listener):
    log_offset = tab.server.log_size()
    for path, heading, shown in hostile_links(listener):
        tab.page.goto(f"{tab.server.url}/{path}")
        tab.wait_until_done(heading)
        tab.assert_no_error(log_offset)
        warning = tab.page.get_by_test_id("stAlertContentWarning").filter(has_text="could not be read")
        expect(warning).to_be_visible()
        read = warning.inner_text().replace(ZERO_WIDTH_SPACE, "")
        assert shown in read, f"{path}: the value is not shown as text: {read}"
        main = tab.page.get_by_test_id("stMain")
        assert main.locator("img").count() == 0, f"{path}: an image is drawn in the page"
        drawn = tab.page.locator(f'a[href*="127.0.0.1:{listener.port}"]')
        assert drawn.count() == 0, f"{path}: a link to the listener is drawn: " + " | ".join(
            drawn.nth(i).evaluate("a => a.parentElement.outerHTML.slice(0, 600)")
            for i in range(drawn.count())
        )
    assert listener.paths == [], f"the browser fetched {listener.paths}"


def test_a_path_that_names_no_page_says_so_with_the_navigation(tab: Tab):
    log_offset = tab.server.log_size()
    tab.page.goto(f"{tab.server.url}/{quote('no-such-page')}")
    tab.wait_until_done("MACscope")
    tab.assert_no_error(log_offset)
    expect(tab.page.get_by_test_id("stAlertContentWarning")).to_contain_text("No page at /no-such-page")
    expect(tab.page.get_by_test_id("stSidebarNav")).to_contain_text("Layer Builder")


@pytest.mark.parametrize(
    "path, named",
    [
        pytest.param("/a/b", "/a/b", id="two-segments"),
        pytest.param("/builder/extra?present=1", "/builder/extra", id="under-a-real-page"),
        pytest.param("/a/b/c/d", "/a/b/c/d", id="four-segments"),
    ],
)
def test_a_path_of_several_segments_says_so_with_the_navigation(tab: Tab, path: str, named: str):
    # Streamlit answers /a/b with its index page, whose relative scripts would load from
    # /a/static/ and get that page again (a blank page): serve.py sends it to /a%2Fb.
    log_offset = tab.server.log_size()
    tab.page.goto(f"{tab.server.url}{path}")
    tab.wait_until_done("MACscope")
    tab.assert_no_error(log_offset)
    expect(tab.page.get_by_test_id("stAlertContentWarning")).to_contain_text(f"No page at {named}")
    expect(tab.page.get_by_test_id("stSidebarNav")).to_contain_text("Layer Builder")
