"""Fitting a calibration (calc.calibration) to timed micro-benchmarks: pure arithmetic, no torch.

Each sample is one op of one kind of work, with its FLOPs F, bytes B and measured time t.
Less the overheads (o per op, one call per forward), what is left is the op's own time
t' = max(F / (e_c · P), B / (e_b · B_w)). Every sample is first put on the side of the
roofline it is bound by at the probed roofs (memory when B / B_w > F / P); a compute-bound
sample then says e_c = F / (P · t') at its size, a memory-bound one e_b = B / (B_w · t').
Each table holds a value every half decade of size: the geometric mean of the
efficiencies of the samples within half a decade of it, weighted by closeness, so a
value always lies between efficiencies actually attained; a point no sample reaches
takes its nearest neighbour's value. The sides are then decided again with the fitted
tables, and the tables refitted, until no sample changes side. A kind no sample puts on
one side gets that side from its samples' own bounds (F / (P · t') is a lower bound of
e_c whichever side binds): it then predicts their times, never faster.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

from calc.calibration import (
    CALIBRATED_KINDS,
    MAC_KINDS,
    EfficiencyTable,
    Kind,
    KindFit,
    RefinedKind,
    compute_size,
)

STEP = 0.5  # decades between table points
MAX_ROUNDS = 10  # of deciding sides and refitting
LEAST_NET_SHARE = 0.25  # an op's own time is taken as at least this share of its measured time


@dataclass(frozen=True)
class Sample:
    kind: Kind
    flops: int
    memory_bytes: float
    seconds: float  # measured time of one forward of the one-op module
    name: str = ""  # what was timed, for a report


@dataclass(frozen=True)
class PassTime:
    """One op's time in one pass over the calibration grid, with the speed reference timed just before
    its group then."""

    seconds: float
    reference_s: float  # 0: the reference ran out of its bound
    disturbed: bool = False  # other programs used the CPU while its group ran
    noisy: bool = False  # its rounds disagreed


def over_passes(times: list[PassTime], reference_s: float) -> float:
    """An op's time over the calibration's passes, at the speed of the whole calibration: each pass's
    time scaled by the calibration's reference over the reference before it (``reference_s`` over the
    pass's; unscaled where either is 0), then their median. ValueError for no pass."""
    if not times:
        raise ValueError("an op needs at least one timed pass")
    return statistics.median(
        one.seconds * (reference_s / one.reference_s if reference_s > 0 and one.reference_s > 0 else 1.0)
        for one in times
    )


def own_seconds(sample: Sample, op_overhead_s: float, call_overhead_s: float) -> float:
    """The op's own time: measured less the overheads, never below LEAST_NET_SHARE of it (the
    overheads are measured on other calls and can exceed a tiny op's time by noise)."""
    return max(sample.seconds - op_overhead_s - call_overhead_s, LEAST_NET_SHARE * sample.seconds)


def fit_table(points: list[tuple[float, float]]) -> EfficiencyTable:
    """The table fitted to ``points`` of (log10 size, efficiency): at each grid point, the
    geometric mean of the efficiencies within one STEP of it, weighted by closeness (1 at the
    point, 0 a STEP away: the weights of linear interpolation); a point with no sample that
    near takes the value of the nearest point that has one."""
    if not points:
        raise ValueError("a table needs at least one point")
    low = math.floor(min(x for x, _ in points) / STEP) * STEP
    high = math.ceil(max(x for x, _ in points) / STEP) * STEP
    grid = [low + i * STEP for i in range(round((high - low) / STEP) + 1)]
    logs: list[float | None] = []
    for point in grid:
        weighted = [(1 - abs(x - point) / STEP, math.log(e)) for x, e in points if abs(x - point) < STEP]
        total = sum(weight for weight, _ in weighted)
        logs.append(sum(weight * value for weight, value in weighted) / total if total > 0 else None)
    known = [i for i, value in enumerate(logs) if value is not None]
    values = [
        math.exp(logs[i] if logs[i] is not None else logs[min(known, key=lambda k: abs(k - i))])
        for i in range(len(grid))
    ]
    return EfficiencyTable(tuple(grid), tuple(values))


def fit_kind(
    kind: Kind,
    samples: list[Sample],
    peak_flops_per_s: float,
    bandwidth_bytes_per_s: float,
    op_overhead_s: float,
    call_overhead_s: float,
) -> KindFit:
    """The compute and memory tables of one kind from its samples (see the module docstring)."""
    if not samples:
        raise ValueError(f"no sample of {kind.value} to fit")
    has_macs = kind in MAC_KINDS
    own = [own_seconds(sample, op_overhead_s, call_overhead_s) for sample in samples]
    compute_bounds = [
        (math.log10(max(compute_size(kind, s.flops, s.memory_bytes), 1.0)), s.flops / (peak_flops_per_s * t))
        for s, t in zip(samples, own, strict=True)
        if has_macs
    ]
    memory_bounds = [
        (math.log10(s.memory_bytes), s.memory_bytes / (bandwidth_bytes_per_s * t))
        for s, t in zip(samples, own, strict=True)
    ]
    memory_side = [
        not has_macs or s.memory_bytes / bandwidth_bytes_per_s > s.flops / peak_flops_per_s for s in samples
    ]
    compute = memory = None
    for _ in range(MAX_ROUNDS):
        on_compute = [
            bound
            for bound, memory_bound in zip(compute_bounds, memory_side, strict=False)
            if not memory_bound
        ]
        on_memory = [
            bound for bound, memory_bound in zip(memory_bounds, memory_side, strict=True) if memory_bound
        ]
        compute = fit_table(on_compute or compute_bounds) if has_macs else None
        memory = fit_table(on_memory or memory_bounds)
        sides = [
            compute is None
            or s.memory_bytes / (memory.at(s.memory_bytes) * bandwidth_bytes_per_s)
            > s.flops / (compute.at(compute_size(kind, s.flops, s.memory_bytes)) * peak_flops_per_s)
            for s in samples
        ]
        if sides == memory_side:
            break
        memory_side = sides
    return KindFit(kind, compute, memory, len(samples))


def fit(
    samples: list[Sample],
    peak_flops_per_s: float,
    bandwidth_bytes_per_s: float,
    op_overhead_s: float,
    call_overhead_s: float,
) -> tuple[KindFit, ...]:
    """One fit per calibrated kind, and per refined kind (calc.calibration.RefinedKind) that has
    samples; ValueError naming the calibrated kinds without a sample."""
    missing = [kind.value for kind in CALIBRATED_KINDS if not any(s.kind == kind for s in samples)]
    if missing:
        raise ValueError(f"no sample of {', '.join(missing)}: the calibration cannot be fitted")
    refined = [kind for kind in RefinedKind if any(s.kind == kind for s in samples)]
    return tuple(
        fit_kind(
            kind,
            [s for s in samples if s.kind == kind],
            peak_flops_per_s,
            bandwidth_bytes_per_s,
            op_overhead_s,
            call_overhead_s,
        )
        for kind in (*CALIBRATED_KINDS, *refined)
    )


__all__ = ["PassTime", "Sample", "fit", "fit_kind", "fit_table", "over_passes", "own_seconds"]
