"""How long MACscope takes: the analysis core, and a Layer Builder rerun on the server.

Run from the repository root: ``python benchmarks/bench_analyze.py`` (``--help`` for the
repetition counts). It prints one row per figure with its target and PASS or FAIL, and
exits 1 when a figure misses its target.

- parse + analyse: ``calc.analyze(calc.parse_stack(stack_json))`` on a valid stack of
  conv2d/batchnorm2d/relu blocks with a pooling/linear head, median and min of the
  repetitions after one warm-up call.
- Builder rerun: ``pages/builder.py`` run through ``app.py`` by streamlit's AppTest,
  after the stack was loaded through the "Import / export JSON" box; each ``at.run()``
  is one full rerun of the script, widgets, table and figures included (no browser).
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import calc  # noqa: E402  (after the repository root is on sys.path)
from calc.units import si  # noqa: E402

APP = ROOT / "app.py"
BUILDER = "pages/builder.py"

ANALYZE_TARGET_MS = 50.0  # 1,000 layers
ANALYZE_SMALL_TARGET_MS = 5.0  # 100 layers: the 1,000-layer target scaled by layer count
RERUN_TARGET_MS = 300.0  # one Builder rerun with 50 layers


@dataclass(frozen=True)
class Figure:
    name: str
    median_ms: float
    min_ms: float
    repetitions: int
    target_ms: float

    @property
    def passed(self) -> bool:
        return self.median_ms <= self.target_ms


def cnn_stack(n_layers: int, channels: int = 32, size: int = 32) -> dict[str, Any]:
    """Stack JSON of exactly ``n_layers`` layers that all fit: conv2d (3x3, padding 1, no bias),
    batchnorm2d, relu repeated on a channels x size x size image, then global pooling,
    flatten and a 10-way linear classifier."""
    head = [{"type": "adaptive_avgpool2d"}, {"type": "flatten"}, {"type": "linear", "out_features": 10}]
    block = [
        {"type": "conv2d", "out_channels": channels, "kernel_size": 3, "padding": 1, "bias": False},
        {"type": "batchnorm2d"},
        {"type": "relu"},
    ]
    if n_layers < len(head) + 1:
        raise ValueError(f"a benchmark stack needs at least {len(head) + 1} layers, got {n_layers}")
    body = [dict(block[i % len(block)]) for i in range(n_layers - len(head))]
    return {"input": [3, size, size], "batch": 1, "dtype": "fp32", "layers": body + head}


def time_ms(call: Callable[[], object], repetitions: int, warmup: int = 1) -> list[float]:
    for _ in range(warmup):
        call()
    times = []
    for _ in range(repetitions):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1e3)
    return times


def figure(name: str, times_ms: list[float], target_ms: float) -> Figure:
    return Figure(name, statistics.median(times_ms), min(times_ms), len(times_ms), target_ms)


def bench_analyze(n_layers: int, repetitions: int = 25, target_ms: float = ANALYZE_TARGET_MS) -> Figure:
    """parse_stack + analyze of an ``n_layers`` stack."""
    stack_json = cnn_stack(n_layers)
    report = calc.analyze(calc.parse_stack(stack_json))
    assert len(report.rows) == n_layers, "the benchmark stack must analyse every layer"
    times = time_ms(lambda: calc.analyze(calc.parse_stack(stack_json)), repetitions)
    return figure(f"parse + analyse, {n_layers:,} layers", times, target_ms)


def open_builder_with(stack_json: dict[str, Any]):
    """An AppTest on the Builder page with ``stack_json`` loaded through the import box."""
    from streamlit.testing.v1 import AppTest  # only this figure needs streamlit

    # AppTest sets session state outside a script run, which streamlit warns about in bare mode.
    logging.getLogger("streamlit.runtime.scriptrunner_utils.script_run_context").setLevel(logging.ERROR)
    app = AppTest.from_file(str(APP), default_timeout=60).run()
    app.switch_page(BUILDER).run()
    app.text_area(key="import_json").input(json.dumps(stack_json)).run()
    app.button(key="load_json").click().run()
    if app.exception:
        raise RuntimeError(f"the Builder raised: {[e.value for e in app.exception]}")
    if app.error:
        raise RuntimeError(f"the Builder shows an error: {[e.value for e in app.error]}")
    if len(app.session_state["stack"]["layers"]) != len(stack_json["layers"]):
        raise RuntimeError("the Builder did not load the benchmark stack")
    shown = {metric.label: metric.value for metric in app.metric}.get("MACs")
    expected = si(calc.analyze(calc.parse_stack(stack_json)).macs)
    if shown != expected:
        raise RuntimeError(f"the Builder shows {shown!r} MACs, calc says {expected!r}")
    return app


def bench_builder_rerun(n_layers: int = 50, reruns: int = 20, target_ms: float = RERUN_TARGET_MS) -> Figure:
    """One full rerun of the Builder page with an ``n_layers`` stack, server side."""
    app = open_builder_with(cnn_stack(n_layers))
    times = time_ms(app.run, reruns)
    if app.exception:
        raise RuntimeError(f"the Builder raised during the reruns: {[e.value for e in app.exception]}")
    return figure(f"Builder rerun (AppTest), {n_layers} layers", times, target_ms)


def run_all(repetitions: int, reruns: int) -> list[Figure]:
    return [
        bench_analyze(1000, repetitions, ANALYZE_TARGET_MS),
        bench_analyze(100, repetitions, ANALYZE_SMALL_TARGET_MS),
        bench_builder_rerun(50, reruns, RERUN_TARGET_MS),
    ]


def format_table(figures: list[Figure]) -> str:
    header = ("figure", "median ms", "min ms", "runs", "target ms", "result")
    rows = [
        (
            f.name,
            f"{f.median_ms:.2f}",
            f"{f.min_ms:.2f}",
            str(f.repetitions),
            f"{f.target_ms:g}",
            "PASS" if f.passed else "FAIL",
        )
        for f in figures
    ]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]

    def line(cells: tuple[str, ...]) -> str:
        return "  ".join(
            cell.ljust(width) if i == 0 else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(cells, widths, strict=True))
        )

    return "\n".join([line(header), "  ".join("-" * width for width in widths), *map(line, rows)])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--repetitions", type=int, default=25, help="timed parse + analyse calls (default 25)"
    )
    parser.add_argument("--reruns", type=int, default=20, help="timed Builder reruns (default 20)")
    args = parser.parse_args(argv)
    figures = run_all(args.repetitions, args.reruns)
    print(format_table(figures))
    print(
        "PASS/FAIL compares the median with the target; the 100-layer target is the 1,000-layer one "
        "scaled by layer count."
    )
    return 0 if all(f.passed for f in figures) else 1


if __name__ == "__main__":
    sys.exit(main())
