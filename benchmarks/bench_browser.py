"""How fast each page opens and answers in a real browser: `streamlit run app.py` driven by
headless Chromium, as tests/test_e2e_browser.py drives it.

    python benchmarks/bench_browser.py            # every page
    python benchmarks/bench_browser.py --quick    # two pages: a smoke run

First every page is opened once on a server whose disk cache (calc.disk_cache) is
empty, and its interaction done: that fills the cache, as a first use of this machine
would (figures printed as "empty cache"). Then, per page, on a freshly started server
whose cache holds those counts:

- cold: the first visit, from the request to the page's numbers on screen (not stale);
- reload: the browser reloads the page (a new session on a warm server);
- interaction: one widget change, from the click to its new numbers drawn.

Each figure is to the numbers; "drawn" is to the last change of the page (script done).
Targets (issue 9): cold <= 3 s, an interaction <= 1 s. Timings on a shared machine move
with its load: the load average is printed with them. Exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from playwright.sync_api import Page, sync_playwright  # noqa: E402

from calc.disk_cache import CACHE_DIR_ENV  # noqa: E402
from tests.test_e2e_browser import (  # noqa: E402
    APP_STATE_JS,
    CHROMIUM,
    OBSERVER_JS,
    STARTUP_SECONDS,
    VIEWPORT,
    StreamlitServer,
)

COLD_TARGET_S = 3.0
INTERACTION_TARGET_S = 1.0
WAIT_S = 90  # the longest any one figure may take before the run gives up
QUIET_MS = 500  # no DOM change for this long: the page is drawn

# Installed before any page script, with OBSERVER_JS. Every 20 ms it checks whether the
# page's numbers are on screen (an element matching the target selector, visible, not
# stale, containing the target text) and stamps the first moment they are (epoch ms).
# While waiting for an interaction's answer (``idle``), that moment also needs the script
# done, and every websocket message (the rerun's deltas) starts the wait again: a quick
# rerun may never show the "running" state, but it always sends messages.
TIMER_JS = """
window.__bench = {target: null, idle: false, messages: 0, numbersAt: null};
const NativeWebSocket = window.WebSocket;
window.WebSocket = class extends NativeWebSocket {
  constructor(...args) {
    super(...args);
    this.addEventListener("message", () => {
      window.__bench.messages += 1;
      if (window.__bench.idle) window.__bench.numbersAt = null;
    });
  }
};
setInterval(() => {
  const bench = window.__bench;
  if (!bench.target || bench.numbersAt !== null) return;
  const app = document.querySelector('[data-testid="stApp"]');
  if (bench.idle && (!app || app.getAttribute("data-test-script-state") === "running"
                     || document.querySelector('[data-stale="true"]'))) return;
  const [selector, text] = bench.target;
  const shown = Array.from(document.querySelectorAll(selector)).some((element) =>
    element.getBoundingClientRect().height > 0 && element.innerText.includes(text)
    && !element.closest('[data-stale="true"]'));
  if (shown) bench.numbersAt = performance.timeOrigin + performance.now();
}, 20);
"""
SETTLED_MS = 300  # an interaction's answer counts once no message has come for this long


@dataclass(frozen=True)
class PageCase:
    name: str
    url_path: str
    numbers: tuple[str, str]  # CSS selector and text of the page's first numbers
    interaction: str  # what the interaction does, in words
    act: Callable[[Page], None]  # does it
    answer: tuple[str, str]  # what shows its result


def type_number(key: str, value: int) -> Callable[[Page], None]:
    """Type into a number input and press Enter (narrow inputs have no +/- buttons)."""

    def act(page: Page) -> None:
        field = page.locator(f".st-key-{key} input")
        field.fill(str(value))
        field.press("Enter")

    return act


def open_tab(label: str) -> Callable[[Page], None]:
    return lambda page: page.get_by_role("tab", name=label).click()


METRIC = ('[data-testid="stMain"] [data-testid="stMetricValue"]', "")
PAGES = (
    PageCase(
        "home",
        "",
        ('[data-testid="stMain"] [data-testid="stCaptionContainer"]', "MACs ≈"),
        "presentation mode on",
        lambda page: page.locator(".st-key-presentation label").click(),
        ('[data-testid="stMain"] [data-testid="stCaptionContainer"]', "MACs ≈"),
    ),
    PageCase(
        "concepts",
        "concepts",
        ('[data-testid="stMain"] [data-testid="stMarkdownContainer"]', "per image"),
        "open the K, M, G, T, P tab",
        open_tab("K, M, G, T, P"),
        ('[data-testid="stMain"] [data-testid="stDataFrame"]', ""),
    ),
    PageCase(
        "builder",
        "builder",
        METRIC,
        "add a layer",
        lambda page: (
            page.get_by_test_id("stSidebar").get_by_role("button", name="Add layer", exact=True).click()
        ),
        METRIC,
    ),
    PageCase("model", "model", METRIC, "batch 1 -> 2", type_number("model_batch", 2), METRIC),
    PageCase(
        "compare",
        "compare",
        ('[data-testid="stMain"] [data-testid="stDataFrame"]', ""),
        "open the MACs vs resolution tab",
        open_tab("MACs vs resolution"),
        ('[data-testid="stMain"] .js-plotly-plot', ""),
    ),
    PageCase("latency", "latency", METRIC, "batch 1 -> 2", type_number("latency_batch", 2), METRIC),
    PageCase("separable", "separable", METRIC, "C_out 64 -> 65", type_number("sep_out", 65), METRIC),
)
QUICK = ("home", "builder")


@dataclass(frozen=True)
class Timing:
    numbers_s: float  # to the numbers on screen
    drawn_s: float  # to the last change of the page, script done


@dataclass(frozen=True)
class PageFigures:
    name: str
    interaction: str
    empty_cache: Timing | None  # None: that step failed, and ``problem`` says how
    cold: Timing | None
    reload: Timing | None
    interacted: Timing | None
    problem: str = ""

    @property
    def passed(self) -> bool:
        return (
            self.cold is not None
            and self.interacted is not None
            and self.cold.numbers_s <= COLD_TARGET_S
            and self.interacted.numbers_s <= INTERACTION_TARGET_S
        )


class Visit:
    """One browser context on a server: opens, reloads and interacts, and times each."""

    def __init__(self, browser, server: StreamlitServer) -> None:
        self.context = browser.new_context(viewport=VIEWPORT)
        self.context.add_init_script(OBSERVER_JS + TIMER_JS)
        self.page = self.context.new_page()
        self.server = server

    def close(self) -> None:
        self.context.close()

    def aim(self, numbers: tuple[str, str], idle: bool) -> None:
        """Start looking for ``numbers`` (set again by the init script on each navigation)."""
        self.page.evaluate(
            "([target, idle]) => { window.__bench.target = target; window.__bench.idle = idle; "
            "window.__bench.numbersAt = null; }",
            [list(numbers), idle],
        )

    def timed(
        self, start_epoch: float, numbers: tuple[str, str], messages_before: int | None = None
    ) -> Timing:
        """Seconds from ``start_epoch`` (time.time()) to the numbers, and to the page drawn."""
        if messages_before is None:  # a navigation: the numbers are new, whatever the script is doing
            self.page.wait_for_function(
                "() => window.__bench !== undefined", polling=20, timeout=WAIT_S * 1000
            )
            self.aim(numbers, idle=False)
        # The moment is taken when the wait ends: a message arriving after it clears numbersAt again.
        numbers_at = self.page.wait_for_function(
            """([before, settled]) => window.__bench.numbersAt !== null
                 && (before === null || window.__bench.messages > before)
                 && (!window.__bench.idle
                     || performance.timeOrigin + performance.now() - window.__bench.numbersAt >= settled)
                 && window.__bench.numbersAt""",
            arg=[messages_before, SETTLED_MS],
            polling=20,
            timeout=WAIT_S * 1000,
        ).json_value()
        numbers_s = numbers_at / 1000 - start_epoch
        deadline = time.monotonic() + WAIT_S
        state: dict = {}
        while time.monotonic() < deadline:
            self.server.assert_alive()
            state = self.page.evaluate(APP_STATE_JS)
            if state["exceptions"]:
                raise RuntimeError(
                    f"{self.page.url} shows an exception: "
                    f"{self.page.get_by_test_id('stException').first.inner_text()}"
                )
            if (
                state["script"] == "notRunning"
                and not state["status_widget"]
                and not state["stale_elements"]
                and not state["skeletons"]
                and state["runs_finished"] > 0
                and state["quiet_ms"] >= QUIET_MS
            ):
                return Timing(numbers_s, time.time() - start_epoch - state["quiet_ms"] / 1000)
            self.page.wait_for_timeout(50)
        raise RuntimeError(f"{self.page.url} was not drawn within {WAIT_S} s: {state}")

    def open(self, case: PageCase) -> Timing:
        start = time.time()
        self.page.goto(f"{self.server.url}/{case.url_path}", wait_until="commit")
        return self.timed(start, case.numbers)

    def reload(self, case: PageCase) -> Timing:
        start = time.time()
        self.page.reload(wait_until="commit")
        return self.timed(start, case.numbers)

    def interact(self, case: PageCase) -> Timing:
        self.aim(case.answer, idle=True)
        self.page.evaluate("() => { window.__bench.numbersAt = null; }")
        messages = self.page.evaluate("window.__bench.messages")
        start = time.time()
        case.act(self.page)
        return self.timed(start, case.answer, messages_before=messages)


@contextmanager
def empty_cache() -> Iterator[str]:
    """A new, empty cache folder for the servers a benchmark starts; the caller's setting is put back."""
    previous = os.environ.get(CACHE_DIR_ENV)
    try:
        with tempfile.TemporaryDirectory(prefix="macscope-bench-cache-") as cache:
            yield cache
    finally:
        if previous is None:
            os.environ.pop(CACHE_DIR_ENV, None)
        else:
            os.environ[CACHE_DIR_ENV] = previous


def started_server(cache: str) -> StreamlitServer:
    os.environ[CACHE_DIR_ENV] = cache  # the server inherits it
    server = StreamlitServer()
    server.wait_healthy(STARTUP_SECONDS)
    return server


def problem(step: str, error: Exception) -> str:
    return (
        f"{step}: {type(error).__name__}: {str(error).strip().splitlines()[0] if str(error).strip() else ''}"
    )


def measure(cases: list[PageCase], cache: str) -> list[PageFigures]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            empty: dict[str, Timing | None] = {}
            problems: dict[str, str] = {}
            server = started_server(cache)
            try:
                for case in cases:
                    visit = Visit(browser, server)
                    try:
                        empty[case.name] = visit.open(case)
                        visit.interact(case)  # its counts go on disk too
                    except Exception as error:  # one page's failure is reported, the rest measured
                        empty.setdefault(case.name, None)
                        problems[case.name] = problem("empty cache", error)
                    finally:
                        visit.close()
            finally:
                server.stop()
            figures = []
            for case in cases:
                timings: list[Timing | None] = [None, None, None]
                server = started_server(cache)
                visit = Visit(browser, server)
                try:
                    for step, (label, run) in enumerate(
                        (("cold", visit.open), ("reload", visit.reload), ("interaction", visit.interact))
                    ):
                        try:
                            timings[step] = run(case)
                        except Exception as error:  # reported with its step; the next page is measured
                            problems[case.name] = problem(label, error)
                            break
                finally:
                    visit.close()
                    server.stop()
                figures.append(
                    PageFigures(
                        case.name,
                        case.interaction,
                        empty[case.name],
                        *timings,
                        problem=problems.get(case.name, ""),
                    )
                )
                print(f"  measured {case.name}", file=sys.stderr, flush=True)
            return figures
        finally:
            browser.close()


def format_table(figures: list[PageFigures]) -> str:
    def cell(timing: Timing | None) -> str:
        return f"{timing.numbers_s:5.2f} ({timing.drawn_s:5.2f})" if timing else f"{'failed':>13s}"

    header = (
        f"{'page':10s}  {'empty cache':>13s}  {'cold':>13s}  {'reload':>13s}  {'interaction':>13s}  "
        f"{'':4s}  interaction"
    )
    lines = [header, "-" * len(header)]
    for figure in figures:
        lines.append(
            f"{figure.name:10s}  {cell(figure.empty_cache)}  {cell(figure.cold)}  {cell(figure.reload)}  "
            f"{cell(figure.interacted)}  {'PASS' if figure.passed else 'FAIL'}  {figure.interaction}"
        )
        if figure.problem:
            lines.append(f"{'':10s}  {figure.problem}")
    lines.append(
        f"seconds to the numbers (to the page drawn); targets: cold <= {COLD_TARGET_S:g} s, "
        f"interaction <= {INTERACTION_TARGET_S:g} s, on a fresh server with the counts on disk"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=f"only {', '.join(QUICK)}: a smoke run")
    parser.add_argument("--pages", nargs="+", choices=[case.name for case in PAGES], help="these pages only")
    args = parser.parse_args(argv)
    chosen = args.pages or (QUICK if args.quick else [case.name for case in PAGES])
    cases = [case for case in PAGES if case.name in chosen]
    with empty_cache() as cache:
        figures = measure(cases, cache)
    print(
        f"{len(cases)} pages, headless Chromium {VIEWPORT['width']}x{VIEWPORT['height']}, "
        f"{os.cpu_count()} CPUs, load average {' '.join(f'{load:.2f}' for load in os.getloadavg())}"
    )
    print(format_table(figures))
    return 0 if all(figure.passed for figure in figures) else 1


if __name__ == "__main__":
    sys.exit(main())
