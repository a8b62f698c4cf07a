"""How fast a model's graph is recorded, folded and drawn (issue 13: a 1,000-layer stack or a 32-layer
LLM at block depth drawn in <= 2 s in the browser).

    python benchmarks/bench_graph.py                 # Python side, then drawing in headless Chromium
    python benchmarks/bench_graph.py --screenshots   # also the Graph tabs at 1280x720 and 1024x768,
                                                     # normal and presentation mode (artifacts/screenshots/)

Python side: recording the graph (a counting pass on meta with the graph bookkeeping on), folding
and collapsing it, writing its DOT. Browser side: st.graphviz_chart (Graphviz compiled to
WebAssembly, d3-graphviz) on a one-chart page, benchmarks/graph_draw_app.py: from the chart's
element arriving to its SVG holding every node ("draw"), and from the request ("total"). Timings
on a shared machine move with its load: the load average is printed with them. Exits 1 when a
block-depth case misses the target.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from playwright.sync_api import TimeoutError as PlaywrightTimeout  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402

from calc.analyze import analyze  # noqa: E402
from calc.graph import Graph, chain, collapse  # noqa: E402
from calc.graph_fold import fold_repeats  # noqa: E402
from calc.registry import MAX_LAYERS  # noqa: E402
from calc.source_graph import source_graph  # noqa: E402
from calc.sources import resolve  # noqa: E402
from calc.spec import parse_stack  # noqa: E402
from charts.graph import graph_dot  # noqa: E402
from tests.test_e2e_browser import CHROMIUM, StreamlitServer, free_port  # noqa: E402

DRAW_TARGET_S = 2.0
WAIT_S = 60
SCREENSHOTS = ROOT / "artifacts" / "screenshots"

# Polls from the first script on: when the chart's element is on the page, and when its SVG holds
# at least window.__graphNodes nodes (d3-graphviz draws them as <g class="node">).
MARKS_JS = """
window.__marks = {chart: null, svg: null};
setInterval(() => {
  const now = performance.timeOrigin + performance.now();
  const chart = document.querySelector('[data-testid="stGraphVizChart"]');
  if (chart && window.__marks.chart === null) window.__marks.chart = now;
  if (chart && window.__marks.svg === null && window.__graphNodes
      && chart.querySelectorAll("svg g.node").length >= window.__graphNodes) window.__marks.svg = now;
}, 10);
"""


def timed(work):
    start = time.perf_counter()
    result = work()
    return result, time.perf_counter() - start


def stack_of_layers(count: int) -> Graph:
    """A stack of ``count`` linear layers, 512 -> 512 (relu between would be as many again)."""
    raw = {"input": [512], "layers": [{"type": "linear", "out_features": 512}] * count}
    return chain(analyze(parse_stack(raw)))


def python_side() -> dict[str, Graph]:
    """Record, fold and collapse the benchmark's graphs, printing how long each step took."""
    print(f"load average {os.getloadavg()[0]:.1f} (2 cores shared)")
    stack, stack_seconds = timed(lambda: stack_of_layers(MAX_LAYERS))
    llama, llama_seconds = timed(lambda: source_graph(resolve("hf:llama")))
    print(
        f"record: {MAX_LAYERS}-layer stack {stack_seconds:.2f} s; hf:llama (32 layers) {llama_seconds:.2f} s"
    )
    cases = {}
    for name, make in (
        ("stack-1000-layers", lambda: stack),
        ("stack-1000-folded", lambda: fold_repeats(stack)),
        ("llama-blocks", lambda: collapse(llama, 2)),
        ("llama-blocks-folded", lambda: collapse(fold_repeats(llama), 2)),
        ("llama-layers-folded", lambda: fold_repeats(llama)),
        ("llama-layers", lambda: llama),
    ):
        graph, seconds = timed(make)
        dot, dot_seconds = timed(lambda graph=graph: graph_dot(graph))
        cases[name] = graph
        print(
            f"  {name:22} {len(graph.nodes):5} nodes {len(graph.edges):5} edges  "
            f"fold+collapse {seconds:.3f} s  DOT {dot_seconds:.3f} s ({len(dot) / 1000:.0f} kB)"
        )
    return cases


def browser_side(cases: dict[str, Graph]) -> bool:
    """Draw each case's DOT in headless Chromium; True when the block-depth cases meet the target."""
    folder = Path(tempfile.mkdtemp(prefix="macscope-graphs-"))
    for name, graph in cases.items():
        (folder / f"{name}.dot").write_text(graph_dot(graph), encoding="utf-8")
    port = free_port()
    command = [sys.executable, "-m", "streamlit", "run", "benchmarks/graph_draw_app.py"]
    options = {"port": str(port), "address": "127.0.0.1", "headless": "true"}
    command += [part for option, value in options.items() for part in (f"--server.{option}", value)]
    server = subprocess.Popen(
        [*command, "--browser.gatherUsageStats", "false"],
        cwd=ROOT,
        env={**os.environ, "MACSCOPE_GRAPH_CASES": str(folder)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    passed = True
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=str(CHROMIUM),
                args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
            )
            page = browser.new_page(viewport={"width": 1280, "height": 720})
            page.add_init_script(MARKS_JS)
            deadline = time.monotonic() + WAIT_S
            while True:  # the server's first answer
                try:
                    page.goto(f"http://127.0.0.1:{port}/?case=stack-1000-folded", timeout=5000)
                    break
                except Exception:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.5)
            print(f"browser (load average {os.getloadavg()[0]:.1f}):")
            for name, graph in cases.items():
                requested = time.time() * 1000
                page.goto(f"http://127.0.0.1:{port}/?case={name}")
                page.evaluate(f"window.__graphNodes = {len(graph.nodes)}")
                try:
                    page.wait_for_function("window.__marks.svg !== null", timeout=WAIT_S * 1000)
                except PlaywrightTimeout:
                    passed &= "layers" in name and "folded" not in name
                    print(f"  {name:22} {len(graph.nodes):5} nodes  not drawn within {WAIT_S} s")
                    continue
                marks = page.evaluate("window.__marks")
                draw, total = (marks["svg"] - marks["chart"]) / 1000, (marks["svg"] - requested) / 1000
                block_depth = "layers" not in name or "folded" in name
                verdict = ("ok" if draw <= DRAW_TARGET_S else "SLOW") if block_depth else "(no target)"
                passed &= draw <= DRAW_TARGET_S or not block_depth
                print(
                    f"  {name:22} {len(graph.nodes):5} nodes  draw {draw:6.2f} s  "
                    f"total {total:6.2f} s  {verdict}"
                )
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=20)
    return passed


SHOTS = (  # (file name, link)
    ("model-resnet50", "model?model=resnet50&tab=Graph"),
    ("model-vit_b_16", "model?model=vit_b_16&tab=Graph"),
    ("builder", "builder?tab=Graph"),
)
VIEWPORTS = ({"width": 1280, "height": 720}, {"width": 1024, "height": 768})


def screenshots() -> None:
    """The Graph tabs as a teacher shares them, each viewport, normal and presentation mode; prints
    where the drawn graph ends against the window, to see whether it is cut."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    server = StreamlitServer()
    try:
        server.wait_healthy(120)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=str(CHROMIUM),
                args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
            )
            for viewport in VIEWPORTS:
                for present in (False, True):
                    page = browser.new_page(viewport=viewport, accept_downloads=True)
                    for name, link in SHOTS:
                        page.goto(f"{server.url}/{link}" + ("&present=1" if present else ""))
                        page.wait_for_selector(
                            '[data-testid="stGraphVizChart"] svg g.node', timeout=WAIT_S * 1000
                        )
                        page.wait_for_timeout(1500)
                        box = page.locator('[data-testid="stGraphVizChart"] svg').bounding_box()
                        size = f"{viewport['width']}x{viewport['height']}"
                        path = SCREENSHOTS / f"graph-{name}-{size}{'-present' if present else ''}.png"
                        page.screenshot(path=str(path))
                        # the whole chart (the main area scrolls, so a full-page shot would show the top)
                        chart = page.locator('[data-testid="stGraphVizChart"]')
                        chart.screenshot(path=str(path.with_name(path.stem + "-chart.png")))
                        if not present:  # the SVG the browser drew, downloaded by the tab's button
                            with page.expect_download() as download:
                                page.get_by_role("button", name="Download SVG").click()
                            svg = Path(download.value.path()).read_text(encoding="utf-8")
                            print(f"  {download.value.suggested_filename}: {len(svg):,} characters of SVG")
                        print(
                            f"{path.name}: graph x {box['x']:.0f}..{box['x'] + box['width']:.0f} of "
                            f"{viewport['width']}, height {box['height']:.0f}"
                        )
                    page.close()
            browser.close()
    finally:
        server.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--screenshots", action="store_true")
    parser.add_argument("--no-browser", action="store_true", help="the Python side only")
    parser.add_argument("--screenshots-only", action="store_true")
    args = parser.parse_args()
    if args.screenshots_only:
        screenshots()
        return 0
    cases = python_side()
    passed = True if args.no_browser else browser_side(cases)
    if args.screenshots:
        screenshots()
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
