"""Stopping the server (SIGTERM, as systemd or `docker stop` do) while a measurement runs
ends it cleanly: status 0 and no C++ abort. Before, the script thread (a daemon) was
inside a torch kernel when the interpreter finalized, and the process aborted with
"terminate called without an active exception" (status 134) in 4 of 4 tries.

The measurement is started through the browser, like a user, and the signal sent once
its progress bar says it is timing.
"""

from __future__ import annotations

import signal
import subprocess

import pytest
from playwright.sync_api import expect
from test_e2e_browser import PAGES, STARTUP_SECONDS, StreamlitServer, Tab, browser, tab  # noqa: F401  (fixtures)

pytestmark = pytest.mark.e2e

EXIT_SECONDS = 30  # a measurement stops at its next check between forward passes


@pytest.fixture
def server():
    """A server of its own: this test stops it."""
    streamlit = StreamlitServer()
    try:
        streamlit.wait_healthy(STARTUP_SECONDS)
        yield streamlit
    finally:
        streamlit.stop()


def test_sigterm_during_a_measurement_exits_cleanly(tab: Tab, server: StreamlitServer):
    latency = next(app_page for app_page in PAGES if app_page.name == "latency")
    tab.open(latency)
    tab.page.get_by_role("button", name="Measure on this machine").click()
    running = tab.page.get_by_test_id("stProgress").filter(has_text="timing")
    expect(running.or_(tab.page.get_by_test_id("stProgress").filter(has_text="warming up"))).to_be_visible(
        timeout=60_000
    )
    server.process.send_signal(signal.SIGTERM)
    try:
        status = server.process.wait(timeout=EXIT_SECONDS)
    except subprocess.TimeoutExpired:
        pytest.fail(f"streamlit did not exit within {EXIT_SECONDS} s of SIGTERM; its output:\n{server.log()}")
    log = server.log()
    assert "terminate called" not in log, log
    assert status == 0, f"exit status {status}; output:\n{log}"
