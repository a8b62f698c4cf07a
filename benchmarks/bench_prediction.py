"""Held-out accuracy of the three latency predictors on this CPU: FLOPs / peak, roofline, calibrated.

Run from the repository root on a quiet machine: ``python benchmarks/bench_prediction.py``
(``--limit N`` for the first N models only, ``--quick`` for the quick calibration,
``--stored`` to reuse the calibration stored for this machine). It calibrates this
machine (calc.torch_calibrate: micro-benchmarks only, no model of the list), then, for
each torchvision model of calc.held_out.HELD_OUT at batch 1 in fp32, measures the median forward
(calc.torch_measure) and sets the three predictions against it:

- (a) FLOPs / P               P, B: the roofs the calibration probed
- (b) roofline                sum over layers of max(FLOPs / P, bytes / B)
- (c) calibrated              calc.calibration.predict

Printed: each model's measured median, each prediction's error (predicted / measured − 1),
then per predictor the hit rate (within ±25 %) and the median absolute error. The target
of issue 16: the calibrated prediction within ±25 % for at least 90 % of the models.
Exits 1 when it misses it. Timings on a shared machine move with its load: the load
average is printed, and measurements disturbed by other programs are marked with *.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from calc.held_out import (  # noqa: E402
    HELD_OUT,
    PREDICTORS,
    TARGET_HIT_RATE,
    Row,
    Summary,
    predictions,
    summarize,
)


def measure_model(name: str, calibration, min_run_time: float) -> Row:
    from calc import zoo
    from calc.torch_measure import measure, prepare

    report = zoo.count(name)
    model = prepare(zoo.module(name), "cpu", "fp32")
    measured = measure(model, report.input_shape, 1, "fp32", min_run_time=min_run_time, max_seconds=60.0)
    return Row(name, measured.median_s, predictions(report, calibration), measured.disturbed)


def format_rows(rows: list[Row]) -> str:
    header = ("model", "measured ms", *(f"{name} err" for name in PREDICTORS))
    lines = [header] + [
        (
            row.model + (" *" if row.disturbed else ""),
            f"{row.measured_s * 1e3:.2f}",
            *(f"{error:+.0%}" for error in row.errors),
        )
        for row in rows
    ]
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    return "\n".join(
        "  ".join(
            cell.ljust(w) if i == 0 else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(line, widths, strict=True))
        )
        for line in lines
    )


def format_summary(summaries: list[Summary], models: int) -> str:
    lines = [f"{'predictor':<14}  {'within ±25 %':>13}  {'median |error|':>14}"]
    lines += [f"{s.predictor:<14}  {s.hit_rate:>12.0%}   {s.median_abs_error:>13.0%}" for s in summaries]
    lines.append(f"({models} held-out models; error = predicted / measured median − 1)")
    return "\n".join(lines)


def load() -> str:
    return "/".join(f"{value:.2f}" for value in os.getloadavg())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=None, help="only the first N models of the list")
    parser.add_argument("--quick", action="store_true", help="the quick calibration (less accurate)")
    parser.add_argument("--stored", action="store_true", help="reuse the calibration stored for this machine")
    parser.add_argument("--min-run-time", type=float, default=1.0, help="seconds of timed forwards per model")
    args = parser.parse_args(argv)

    import logging

    import torch

    from calc import calibration_file, torch_calibrate

    logging.getLogger("torch.utils.cpp_extension").setLevel(logging.ERROR)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; load average {load()} (1/5/15 min)")
    started = time.perf_counter()
    if args.stored:
        calibration = torch_calibrate.calibration_here("cpu", "fp32", quick=args.quick)
    else:
        calibration = torch_calibrate.calibrate("cpu", "fp32", quick=args.quick).calibration
        calibration_file.store(calibration)
    print(
        f"calibration: {calibration.seconds:.1f} s{' (quick)' if calibration.quick else ''} "
        f"({time.perf_counter() - started:.1f} s wall here), peak {calibration.peak_flops_per_s / 1e9:.1f} "
        f"GFLOP/s, bandwidth {calibration.bandwidth_bytes_per_s / 1e9:.1f} GB/s, "
        f"op overhead {calibration.op_overhead_s * 1e6:.1f} µs\n"
    )
    names = HELD_OUT[: args.limit] if args.limit else HELD_OUT
    rows = []
    for name in names:
        rows.append(measure_model(name, calibration, args.min_run_time))
        print(f"  {name}: measured {rows[-1].measured_s * 1e3:.2f} ms", file=sys.stderr)
    print(format_rows(rows) + "\n")
    summaries = summarize(rows)
    print(format_summary(summaries, len(rows)))
    calibrated = summaries[-1]
    passed = calibrated.hit_rate >= TARGET_HIT_RATE
    print(
        f"\ntarget: calibrated within ±25 % for ≥ {TARGET_HIT_RATE:.0%} of the models: "
        f"{'PASS' if passed else 'FAIL'}; load average afterwards {load()}"
    )
    if any(row.disturbed for row in rows):
        print("* measured while other programs used the CPU: run again on a quiet machine")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
