"""benchmarks/bench_analyze.py and bench_latency.py keep working: each figure once, with tiny
repetition counts.

No timing is asserted here; the script itself compares the figures with their targets.
"""

from __future__ import annotations

import math

import pytest

import calc
from benchmarks import bench_analyze as bench


def verdicts(printed: str) -> list[str]:
    """The PASS/FAIL column of the tables a benchmark printed, in order."""
    return [word for line in printed.splitlines() for word in line.split() if word in ("PASS", "FAIL")]


@pytest.mark.parametrize("n_layers", [6, 100, 1000])
def test_benchmark_stack_is_valid_and_mixed(n_layers):
    stack_json = bench.cnn_stack(n_layers)
    report = calc.analyze(calc.parse_stack(stack_json))
    assert len(report.rows) == n_layers
    assert {"conv2d", "batchnorm2d", "relu", "linear"} <= {row.kind for row in report.rows}
    assert report.output_shape == (10,)


def test_analyze_figure():
    figure = bench.bench_analyze(100, repetitions=2, target_ms=5.0)
    assert figure.repetitions == 2
    assert 0 < figure.min_ms <= figure.median_ms
    assert figure.target_ms == 5.0


def test_builder_rerun_figure():
    figure = bench.bench_builder_rerun(n_layers=8, reruns=1)
    assert figure.repetitions == 1 and figure.median_ms > 0


def test_table_and_main(capsys, monkeypatch):
    figures = [bench.Figure("fast", 1.0, 0.5, 3, 2.0), bench.Figure("slow", 4.0, 3.0, 3, 2.0)]
    lines = bench.format_table(figures).splitlines()
    assert lines[2].split()[-1] == "PASS" and lines[3].split()[-1] == "FAIL"
    # targets no run can miss and one no run can meet: the verdicts and the exit status are known
    monkeypatch.setattr(bench, "ANALYZE_TARGET_MS", math.inf)
    monkeypatch.setattr(bench, "ANALYZE_SMALL_TARGET_MS", math.inf)
    monkeypatch.setattr(bench, "RERUN_TARGET_MS", 0.0)
    assert bench.main(["--repetitions", "1", "--reruns", "1"]) == 1  # one figure failed
    printed = capsys.readouterr().out
    assert verdicts(printed) == ["PASS", "PASS", "FAIL"]
    for name in ("1,000 layers", "100 layers", "Builder rerun"):
        assert name in printed


def test_latency_benchmark_quick(capsys, monkeypatch):
    from benchmarks import bench_latency  # imports torch: only this test needs it

    threads = bench_latency.torch.get_num_threads()
    timed = bench_latency.bench_estimate  # its target made one that any run meets: the verdict is known
    monkeypatch.setattr(
        bench_latency,
        "bench_estimate",
        lambda n_layers, roofs, repetitions: timed(n_layers, roofs, repetitions, math.inf),
    )
    assert bench_latency.main(["--quick", "--threads", "1"]) == 0
    assert bench_latency.torch.get_num_threads() == threads  # --threads is undone
    printed = capsys.readouterr().out
    assert verdicts(printed) == ["PASS"]
    for needle in (
        "probe:",
        "fp32  peak",
        "bandwidth",
        "1 threads",
        "stack: Small CNN (CIFAR-10)",
        "(b)/meas",
        "sum of rows ms",
        "roofline estimate, 1,000 layers",
    ):
        assert needle in printed, needle


def test_latency_benchmark_figures_are_consistent():
    from benchmarks import bench_latency
    from calc.roofline import Roofs

    roofs = Roofs(100e9, 10e9)
    figure, report, model = bench_latency.bench_model("stack: Worked example: matrix-vector", roofs, 0.02)
    assert figure.input_shape == (512,) and figure.blocks >= 1 and figure.median_s > 0
    assert figure.peak_s == 2 * 1000 * 512 / 100e9 <= figure.roofline_s
    assert figure.roofline_efficiency == figure.roofline_s / figure.median_s
    profile = bench_latency.bench_profile(figure.name, report, model, figure.median_s, forwards=1)
    assert profile.rows == 1 and profile.ratio == profile.total_s / figure.median_s
    estimate = bench_latency.bench_estimate(20, roofs, repetitions=1, target_ms=5.0)
    assert estimate.repetitions == 1 and estimate.median_ms > 0 and "20 layers" in estimate.name


def test_browser_benchmark_table():
    from benchmarks import bench_browser as bench

    fast, slow = bench.Timing(0.5, 0.7), bench.Timing(4.0, 5.0)
    figures = [
        bench.PageFigures("home", "click", slow, fast, fast, fast),
        bench.PageFigures("model", "click", fast, slow, fast, fast),
        bench.PageFigures("compare", "click", fast, fast, fast, None, problem="interaction: TimeoutError"),
    ]
    assert [figure.passed for figure in figures] == [True, False, False]
    lines = bench.format_table(figures).splitlines()
    assert "PASS" in lines[2] and "FAIL" in lines[3] and "failed" in lines[4] and "TimeoutError" in lines[5]


@pytest.mark.e2e
def test_browser_benchmark_quick(capsys):
    from benchmarks import bench_browser  # drives chromium against `streamlit run`: only this test needs it

    status = bench_browser.main(["--quick"])
    printed = capsys.readouterr().out
    # the timings depend on the machine; the exit status must agree with the verdicts printed
    assert len(verdicts(printed)) == len(bench_browser.QUICK)
    assert status == (1 if "FAIL" in verdicts(printed) else 0)
    for needle in (
        "2 pages",
        "home ",
        "builder ",
        "empty cache",
        "cold",
        "reload",
        "interaction",
        "add a layer",
    ):
        assert needle in printed, needle
    assert "failed" not in printed, printed


def test_source_switch_benchmark_table():
    from benchmarks import bench_source_switch as bench

    first, new, before, back = bench.STEPS
    results = [(first, 9.0, ""), (new, 1.5, ""), (before, 1.5, ""), (back, None, "TimeoutError: x")]
    assert not bench.passed(results)
    assert bench.passed([(first, 9.0, ""), (new, 2.0, ""), (before, 0.5, ""), (back, 1.0, "")])
    lines = bench.format_table(results).splitlines()
    assert (
        "(reported)" in lines[2] and "PASS" in lines[3] and "FAIL" in lines[4] and "TimeoutError" in lines[5]
    )


def test_onnx_upload_benchmark_counts_its_chain(capsys):
    from benchmarks import bench_onnx_upload as bench

    bench.main(["--megabytes", "2", "--layers", "4"])  # the stall's verdict depends on the machine
    printed = capsys.readouterr().out
    width = 353  # the square weights' side: √(2 MB / 4 bytes / 4 layers) = √125,000, rounded down
    assert f"MACs {4 * width * width:,}" in printed, printed  # batch 1: x[1, width] · w[width, width]
    assert "check on upload" in printed and "other sessions wait at most" in printed


def test_prediction_benchmark_measures_each_model_in_passes(capsys):
    from benchmarks import bench_prediction
    from calc import torch_calibrate

    calibration = torch_calibrate.calibrate("cpu", "fp32", quick=True).calibration
    (row,) = bench_prediction.measure_models(["squeezenet1_1"], calibration, passes=2, min_run_time=0.05)
    assert row.model == "squeezenet1_1" and len(row.passes) == 2 and row.measured_s > 0 and row.speed > 0
    assert capsys.readouterr().err.count("squeezenet1_1") == 2  # a line per pass
    table = bench_prediction.format_rows([row])
    assert "passes ms" in table and "/".join(f"{s * 1e3:.1f}" for s in row.passes) in table
