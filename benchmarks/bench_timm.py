"""Counting timm's registry: MACscope's counter against bare FlopCounterMode, model by model.

    python benchmarks/bench_timm.py                 # all of timm.list_models() (about 1,371; long)
    python benchmarks/bench_timm.py --limit 40      # the first 40 names
    python benchmarks/bench_timm.py --every 25      # every 25th name: a sample across families
    python benchmarks/bench_timm.py --match 'vit_*_r50_*,vitamin_*' --verbose

Each model is built once the way calc.torch_timm builds it (parameters on meta, the hybrids'
probing forward on meta), then run once on the meta device at its config's input size under
bare FlopCounterMode and once under calc.torch_count.count_module; which of the two runs
first alternates from model to model, so neither always pays the first forward's one-off
costs. Every count is checked: MACs = FlopCounterMode's FLOPs / 2, params = numel. Target
(issue 10): build + count <= 1.2x build + bare FlopCounterMode over the same models. Failures
(a model that does not build or run on meta) and mismatches are listed by name.
"""

from __future__ import annotations

import argparse
import fnmatch
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch
from torch.utils.flop_counter import FlopCounterMode

from calc import timm_models, torch_timm
from calc.torch_count import count_module

TARGET_RATIO = 1.2


@dataclass(frozen=True)
class Timing:
    name: str
    build_s: float
    bare_s: float
    ours_s: float
    macs_match: bool
    params_match: bool

    @property
    def ratio(self) -> float:
        return (self.build_s + self.ours_s) / (self.build_s + self.bare_s)


class TorchFailed(Exception):
    """Bare FlopCounterMode failed where count_module ran: no oracle, not MACscope's failure."""


def bare_flop_counter(model: torch.nn.Module, input_shape: tuple[int, ...]) -> tuple[float, int]:
    try:
        return _bare_flop_counter(model, input_shape, torch.no_grad)
    except AssertionError:  # "Expected gradient function to be set": its module tracker under no_grad
        # on a few models (CaiT's class attention); with grad on, the same forward counts the same
        return _bare_flop_counter(model, input_shape, torch.enable_grad)


def _bare_flop_counter(model: torch.nn.Module, input_shape: tuple[int, ...], grad_mode) -> tuple[float, int]:
    start = time.perf_counter()
    with FlopCounterMode(display=False) as counter, grad_mode():
        model(torch.empty((1, *input_shape), device="meta"))
    return time.perf_counter() - start, counter.get_total_flops()


def time_model(index: int, name: str) -> Timing:
    shape = timm_models.input_shape(name)
    start = time.perf_counter()
    model = torch_timm.build(name)
    build_s = time.perf_counter() - start

    def ours() -> tuple[float, object]:
        begin = time.perf_counter()
        report = count_module(model, shape)
        return time.perf_counter() - begin, report

    try:
        if index % 2:
            (ours_s, report), (bare_s, flops) = ours(), bare_flop_counter(model, shape)
        else:
            (bare_s, flops), (ours_s, report) = bare_flop_counter(model, shape), ours()
    except Exception as error:
        ours()  # MACscope's count failing too is this model's failure, not torch's alone
        raise TorchFailed(error) from error
    params = sum(parameter.numel() for parameter in model.parameters())
    return Timing(name, build_s, bare_s, ours_s, report.macs == flops // 2, report.params == params)


def select(names: tuple[str, ...], match: str | None, every: int, limit: int | None) -> list[str]:
    patterns = match.split(",") if match else ["*"]
    chosen = [name for name in names if any(fnmatch.fnmatch(name, pattern) for pattern in patterns)][::every]
    return chosen[:limit] if limit is not None else chosen


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, help="only the first N selected names")
    parser.add_argument("--every", type=int, default=1, help="every Kth name (a sample across families)")
    parser.add_argument(
        "--match", help="only names matching one of these shell patterns, e.g. 'vit_*_r50_*,vitamin_*'"
    )
    parser.add_argument("--verbose", action="store_true", help="a line per model")
    parser.add_argument(
        "--progress",
        type=int,
        default=0,
        metavar="N",
        help="print the figures so far every N models (a run stopped early still reports)",
    )
    args = parser.parse_args(argv)
    names = select(timm_models.list_names(), args.match, args.every, args.limit)
    timings: list[Timing] = []
    failures: list[tuple[str, str]] = []
    torch_failures: list[tuple[str, str]] = []  # counted by MACscope, not by bare FlopCounterMode
    start = time.perf_counter()
    for index, name in enumerate(names):
        try:
            timing = time_model(index, name)
        except TorchFailed as error:
            reason = traceback.format_exception_only(type(error.__cause__), error.__cause__)[-1].strip()
            torch_failures.append((name, reason[:160]))
            continue
        except Exception as error:  # a benchmark lists every failure and goes on
            last = traceback.format_exception_only(type(error), error)[-1].strip()
            failures.append((name, last[:160]))
            if args.verbose:
                print(f"  {name:48s} FAILED {last[:100]}", flush=True)
            continue
        timings.append(timing)
        if args.progress and (index + 1) % args.progress == 0 and index + 1 < len(names):
            print(f"--- after {index + 1} of {len(names)} models", flush=True)
            report(names, timings, failures, torch_failures, time.perf_counter() - start)
        if args.verbose:
            print(
                f"  {name:48s} build {timing.build_s:6.2f} s  bare {timing.bare_s:6.3f} s  "
                f"ours {timing.ours_s:6.3f} s  ratio {timing.ratio:5.2f}"
                + ("" if timing.macs_match and timing.params_match else "  MISMATCH"),
                flush=True,
            )
    return report(names, timings, failures, torch_failures, time.perf_counter() - start)


def report(
    names: list[str],
    timings: list[Timing],
    failures: list[tuple[str, str]],
    torch_failures: list[tuple[str, str]],
    wall_s: float,
) -> int:
    """Print the figures over the models timed so far; 0 when all is well."""
    build = sum(t.build_s for t in timings)
    bare = sum(t.bare_s for t in timings)
    ours = sum(t.ours_s for t in timings)
    ratio = (build + ours) / (build + bare) if timings else float("nan")
    mismatches = [t.name for t in timings if not (t.macs_match and t.params_match)]
    print(
        f"{len(names)} timm models selected of {len(timm_models.list_names())}, meta device, "
        "each at its config's input size",
        flush=True,
    )
    print(f"  counted                                  {len(timings):7d}")
    print(f"  building (params on meta)                {build:7.2f} s")
    print(f"  bare FlopCounterMode forwards            {bare:7.2f} s")
    print(f"  MACscope count_module                    {ours:7.2f} s")
    print(f"  count_module / bare, forwards only       {ours / bare if bare else float('nan'):7.2f} x")
    verdict = "PASS" if ratio <= TARGET_RATIO else "FAIL"
    print(
        f"  (build + ours) / (build + bare)          {ratio:7.2f} x   target <= {TARGET_RATIO} x  {verdict}"
    )
    print(f"  wall time                                {wall_s:7.2f} s")
    slowest = sorted(timings, key=lambda t: t.ours_s / max(t.bare_s, 1e-9), reverse=True)[:5]
    if slowest:
        print(
            "  highest count_module / bare: "
            + ", ".join(f"{t.name} {t.ours_s / t.bare_s:.2f}x" for t in slowest)
        )
    print(f"  MACs or params unequal to torch's        {len(mismatches):7d}  {' '.join(mismatches)}")
    print(f"  failed to build or run                   {len(failures):7d}")
    for name, reason in failures:
        print(f"    {name}: {reason}")
    print(f"  counted; bare FlopCounterMode failed     {len(torch_failures):7d}  (no oracle, not timed)")
    for name, reason in torch_failures:
        print(f"    {name}: {reason}", flush=True)
    return 0 if not failures and not mismatches and ratio <= TARGET_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())
