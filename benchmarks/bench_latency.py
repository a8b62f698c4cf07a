"""Latency machinery on this CPU: the probe, measured models against their roofline, per-layer profiling.

Run from the repository root: ``python benchmarks/bench_latency.py`` (``--quick`` for a
few-second smoke run). It prints:

- probe: wall time of ``calc.torch_probe.probe("cpu")`` and what it found (best GEMM
  FLOP/s per dtype, copy bandwidth);
- models at batch 1, fp32: ``measure`` median and IQR, the wall time of the measurement,
  (a) peak time and (b) roofline time on the probed fp32 roofs, and each as a share of the
  measured median (efficiency);
- per-layer profile: the sum of ``profile_layers``' per-row times against the measured
  median (their ratio is the hook + profiler overhead) and the profile's wall time;
- roofline estimate of a 1,000-layer stack: ``estimate`` plus the figures a page reads
  (roofline time, memory-bound share), median of the repetitions; target < 50 ms.

Timings on a shared machine move with its load: the load average is printed with them
(``--threads 1`` is steadier there: a descheduled thread stalls every OpenMP barrier).
Exits 1 when the estimate misses its target.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

import calc  # noqa: E402
from benchmarks.bench_analyze import Figure, cnn_stack, figure, format_table, time_ms  # noqa: E402
from calc import zoo  # noqa: E402
from calc.roofline import Roofs, efficiency, estimate  # noqa: E402
from calc.torch_measure import measure, prepare, profile_layers  # noqa: E402
from calc.torch_probe import Probe, probe  # noqa: E402
from calc.units import si, si_bytes  # noqa: E402

MODELS = ("resnet18", "mobilenet_v2", zoo.PRESET_PREFIX + "MobileNetV2 block")
QUICK_MODELS = (zoo.PRESET_PREFIX + "Small CNN (CIFAR-10)",)
ESTIMATE_TARGET_MS = 50.0  # 1,000 layers
ESTIMATE_LAYERS = 1000


@dataclass(frozen=True)
class ModelFigure:
    name: str
    input_shape: tuple[int, ...]
    median_s: float
    iqr_s: float
    blocks: int
    measure_wall_s: float
    peak_s: float  # (a)
    roofline_s: float  # (b)

    @property
    def peak_efficiency(self) -> float:
        return efficiency(self.peak_s, self.median_s)

    @property
    def roofline_efficiency(self) -> float:
        return efficiency(self.roofline_s, self.median_s)


@dataclass(frozen=True)
class ProfileFigure:
    name: str
    rows: int
    total_s: float  # sum of the per-row times, per forward
    median_s: float  # the whole-model measurement it is compared with
    wall_s: float

    @property
    def ratio(self) -> float:
        return self.total_s / self.median_s


def bench_probe(dtypes: tuple[str, ...], budget_seconds_per_dtype: float) -> tuple[Probe, float]:
    started = time.perf_counter()
    result = probe("cpu", dtypes=dtypes, budget_seconds_per_dtype=budget_seconds_per_dtype)
    return result, time.perf_counter() - started


def prepared(name: str):
    """The zoo model's Report at its native input and the module ready to time, on the CPU in fp32."""
    return zoo.count(name), prepare(zoo.module(name), "cpu", "fp32")


def bench_model(name: str, roofs: Roofs, min_run_time: float) -> tuple[ModelFigure, object, object]:
    report, model = prepared(name)
    measurement = measure(model, report.input_shape, 1, "fp32", min_run_time=min_run_time)
    result = estimate(report, roofs)
    return (
        ModelFigure(
            name,
            report.input_shape,
            measurement.median_s,
            measurement.iqr_s,
            len(measurement.times_s),
            measurement.wall_seconds,
            result.peak_seconds,
            result.roofline_seconds,
        ),
        report,
        model,
    )


def bench_profile(name: str, report, model, median_s: float, forwards: int) -> ProfileFigure:
    started = time.perf_counter()
    profile = profile_layers(model, report, report.input_shape, 1, "fp32", forwards=forwards)
    return ProfileFigure(name, len(profile.seconds), profile.total_s, median_s, time.perf_counter() - started)


def bench_estimate(
    n_layers: int, roofs: Roofs, repetitions: int, target_ms: float = ESTIMATE_TARGET_MS
) -> Figure:
    """estimate() of an ``n_layers`` stack, with the figures a page reads from it."""
    report = calc.analyze(calc.parse_stack(cnn_stack(n_layers)))
    assert len(report.rows) == n_layers, "the benchmark stack must analyse every layer"

    def call() -> None:
        result = estimate(report, roofs)
        result.roofline_seconds, result.memory_bound_share, result.peak_seconds  # noqa: B018  (computed on read)

    return figure(f"roofline estimate, {n_layers:,} layers", time_ms(call, repetitions), target_ms)


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:.3f}"


def table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]

    def line(cells: tuple[str, ...]) -> str:
        return "  ".join(
            cell.ljust(width) if i == 0 else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(cells, widths, strict=True))
        )

    return "\n".join([line(header), "  ".join("-" * width for width in widths), *map(line, rows)])


def format_probe(result: Probe, wall_s: float) -> str:
    lines = [f"probe: {result.label}, {result.threads} threads, {wall_s:.2f} s wall"]
    for dtype, peak in result.peaks:
        sizes = ", ".join(f"{n}: {si(flops, 'FLOP/s')}" for d, n, flops in result.gemm if d == dtype)
        lines.append(f"  {dtype:5s} peak {si(peak, 'FLOP/s'):>14s}   (n x n matmuls, n = {sizes})")
    lines.append(
        f"  bandwidth  {si_bytes(result.bandwidth_bytes_per_s)}/s   "
        f"({result.copy_bytes // 2**20} MiB copy, read + write)"
    )
    return "\n".join(lines)


def format_models(figures: list[ModelFigure]) -> str:
    header = (
        "model, batch 1, fp32",
        "input",
        "median ms",
        "IQR ms",
        "blocks",
        "wall s",
        "(a) ms",
        "(b) ms",
        "(a)/meas",
        "(b)/meas",
    )
    rows = [
        (
            f.name,
            "x".join(map(str, f.input_shape)),
            ms(f.median_s),
            ms(f.iqr_s),
            str(f.blocks),
            f"{f.measure_wall_s:.2f}",
            ms(f.peak_s),
            ms(f.roofline_s),
            f"{100 * f.peak_efficiency:.1f} %",
            f"{100 * f.roofline_efficiency:.1f} %",
        )
        for f in figures
    ]
    return table(header, rows)


def format_profiles(figures: list[ProfileFigure]) -> str:
    header = ("per-layer profile", "rows", "sum of rows ms", "median ms", "ratio", "wall s")
    rows = [
        (f.name, str(f.rows), ms(f.total_s), ms(f.median_s), f"{f.ratio:.2f} x", f"{f.wall_s:.2f}")
        for f in figures
    ]
    return table(header, rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a few seconds: fp32 probe only, one small stack, short run times",
    )
    parser.add_argument(
        "--min-run-time",
        type=float,
        default=None,
        help="seconds of timed forwards per model (default 1.0; 0.05 with --quick)",
    )
    parser.add_argument(
        "--repetitions", type=int, default=None, help="timed roofline estimates (default 25; 3 with --quick)"
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch threads for everything (default: torch's, one per core)",
    )
    args = parser.parse_args(argv)
    threads = torch.get_num_threads()
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    try:
        return run(args)
    finally:
        torch.set_num_threads(threads)


def run(args: argparse.Namespace) -> int:
    quick = args.quick
    min_run_time = args.min_run_time if args.min_run_time is not None else 0.05 if quick else 1.0
    repetitions = args.repetitions if args.repetitions is not None else 3 if quick else 25
    dtypes = ("fp32",) if quick else ("fp32", "bf16", "fp16")

    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads; load average "
        f"{'/'.join(f'{load:.2f}' for load in os.getloadavg())} (1/5/15 min)\n"
    )
    probed, probe_wall = bench_probe(dtypes, 0.3 if quick else 2.0)
    print(format_probe(probed, probe_wall) + "\n")
    roofs = probed.as_hardware().roofs("fp32")

    models, profiles = [], []
    for name in QUICK_MODELS if quick else MODELS:
        model_figure, report, model = bench_model(name, roofs, min_run_time)
        models.append(model_figure)
        profiles.append(bench_profile(name, report, model, model_figure.median_s, forwards=2 if quick else 5))
    print(format_models(models))
    print(
        "(a) = FLOPs / P, (b) = sum over layers of max(FLOPs / P, bytes / B), on the probed fp32 roofs "
        f"P = {si(roofs.peak_flops_per_s, 'FLOP/s')}, B = {si_bytes(roofs.bandwidth_bytes_per_s)}/s\n"
    )
    print(format_profiles(profiles))
    print("ratio = sum of per-row times / whole-model median: the cost of the ranges and the profiler\n")

    estimate_figure = bench_estimate(ESTIMATE_LAYERS, roofs, repetitions)
    print(format_table([estimate_figure]))
    print(f"\nload average afterwards {'/'.join(f'{load:.2f}' for load in os.getloadavg())}")
    return 0 if estimate_figure.passed else 1


if __name__ == "__main__":
    sys.exit(main())
