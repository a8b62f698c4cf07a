"""Timing small ops as a model runs them: in rounds, each op between the others.

An op timed alone, again and again, finds its weights, its input and its kernel's code where
its previous run left them: in the caches. In a model each layer runs once per forward,
after other layers that moved other data and ran other code, and pays for fetching its own.
Measured on this 2-core machine (one thread, CPU time): the calibration grid's 53 ops under
200 µs took 2.9 ms in all when each was timed alone and 7.6 ms when run in turn, and
mobilenet_v3_small's leaves 3.8 ms alone against 7.1 ms in turn, which is its whole forward
(6.9 ms): the gap between a layer alone and in a model is the cache, not the Python of its
containers. So the calibration times its micro-benchmarks in rounds (calc.torch_calibrate
groups them by size, as a network's neighbouring layers are alike): every op of a group
once per round, in a fixed order, each call timed between two synchronizations, its input
written just before (in a model the layer before writes it: it is in cache, the weights
and the code need not be); an op's time is its median round (a round descheduled by another
program is a scheduler slice, not the op; the median is also what a model's forward is
measured by), and its best round is kept too.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from calc import machine_load
from calc.time_bound import TimeBound
from calc.timings import NOISY_SPREAD
from calc.torch_precision import TORCH_DTYPE, compute_precision

WARMUP_ROUNDS = 1  # the first call of an op pays for its setup (oneDNN primitives, allocations)
MAX_ROUNDS = 25
MIN_ROUNDS = 3


@dataclass(frozen=True)
class RoundsTiming:
    best_s: tuple[float | None, ...]  # per op, its best round; None for an op never timed in the bound
    rounds: int  # timed rounds run in full
    disturbed: bool  # other programs used the CPU while it ran
    noisy: tuple[bool, ...] = ()  # per op, its rounds disagreed: IQR / median beyond NOISY_SPREAD
    median_s: tuple[float | None, ...] = ()  # per op, its median round; None for an op never timed


def _noisy(times_s: list[float]) -> bool:
    if len(times_s) < MIN_ROUNDS:
        return False
    quartiles = statistics.quantiles(times_s, n=4, method="inclusive")
    return (quartiles[2] - quartiles[0]) / statistics.median(times_s) > NOISY_SPREAD


def _synchronize(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize(device)


def time_in_rounds(
    modules: list[nn.Module],
    input_shapes: list[tuple[int, ...]],
    device: str,
    dtype: str,
    bound: TimeBound,
    max_rounds: int = MAX_ROUNDS,
    progress: Callable[[float, str], None] | None = None,
    first_round_bound: TimeBound | None = None,
) -> RoundsTiming:
    """Each of ``modules`` (prepared on ``device``), called on a batch-1 input of its shape, timed in
    rounds within ``bound``: at least MIN_ROUNDS when they fit, at most ``max_rounds``. The first
    timed round runs within ``first_round_bound`` (a wider one) when ``bound`` is spent by then."""
    first_round_bound = first_round_bound or bound
    inputs = [torch.randn((1, *shape), device=device).to(TORCH_DTYPE[dtype]) for shape in input_shapes]
    best: list[float | None] = [None] * len(modules)
    times: list[list[float]] = [[] for _ in modules]
    rounds, round_seconds = 0, 0.0
    before = machine_load.sample()
    with compute_precision(dtype), torch.inference_mode():
        for _ in range(WARMUP_ROUNDS):
            for module, x in zip(modules, inputs, strict=True):
                bound.check()
                if bound.left() <= 0:
                    break
                module(x)
        _synchronize(device)
        while rounds < max_rounds and (rounds < MIN_ROUNDS or bound.fits(1.5 * round_seconds)):
            started = time.perf_counter()
            within = first_round_bound if rounds == 0 else bound
            for i, (module, x) in enumerate(zip(modules, inputs, strict=True)):
                within.check()
                if within.left() <= 0:
                    break
                x.mul_(1.0)  # its input just written, as by the layer before it in a model
                _synchronize(device)
                call_started = time.perf_counter()
                module(x)
                _synchronize(device)
                seconds = time.perf_counter() - call_started
                best[i] = seconds if best[i] is None else min(best[i], seconds)
                times[i].append(seconds)
            else:
                rounds += 1
                round_seconds = time.perf_counter() - started
                if progress:
                    progress(
                        rounds / max_rounds,
                        f"round {rounds} of up to {max_rounds}: {len(modules)} ops, each between the others",
                    )
                continue
            break  # the bound ran out inside a round
    others = machine_load.other_cores(before, machine_load.sample())
    return RoundsTiming(
        tuple(best),
        rounds,
        others is not None and others > machine_load.BUSY_OTHER_CORES,
        tuple(_noisy(op_times) for op_times in times),
        tuple(statistics.median(op_times) if op_times else None for op_times in times),
    )


__all__ = ["RoundsTiming", "time_in_rounds"]
