"""Sweeps of an LLM's serving over batch (1 … 256) or context (128 … 128 k tokens): time per
output token, throughput, time to first token and memory at each point, and where it stops fitting.

Torch-free: every point is calc.llm_phases' closed forms, no count (a 50-point sweep takes well
under a second). A context sweep varies the prompt, the generated tokens held; its contexts stop
at the model's configured positions.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from calc.errors import SpecError
from calc.llm_phases import Forms, Setting, memory, serve
from calc.roofline import Roofs

BATCH_RANGE = (1, 256)
CONTEXT_RANGE = (128, 131_072)
SWEEP_POINTS = 50
SWEEP_STEPS = 16  # decode steps evaluated per point, evenly over the G: close to the mean of all G
AXES = ("batch", "context")


@dataclass(frozen=True)
class SweepPoint:
    value: int  # the batch, or the context P + G
    time_per_output_token_s: float
    tokens_per_s: float
    time_to_first_token_s: float
    memory_bytes: float
    fits: bool | None  # None: the device's memory is not known


def geometric_points(low: int, high: int, count: int = SWEEP_POINTS) -> tuple[int, ...]:
    """About ``count`` whole numbers from ``low`` to ``high``, evenly spaced on a log scale."""
    if not 1 <= low <= high:
        raise SpecError(f"a sweep runs from 1 up, not {low:,} to {high:,}", field="sweep")
    return tuple(sorted({int(v) for v in np.rint(np.geomspace(low, high, count))}))


def _at(setting: Setting, axis: str, value: int) -> Setting:
    if axis == "batch":
        return replace(setting, batch=value)
    return replace(setting, prompt=value - setting.generate)


def sweep(
    forms: Forms,
    setting: Setting,
    roofs: Roofs,
    capacity_bytes: float | None,
    axis: str,
    values: tuple[int, ...] | None = None,
) -> tuple[SweepPoint, ...]:
    """``setting`` with its batch, or its context (the prompt), at each of ``values`` (default:
    BATCH_RANGE or CONTEXT_RANGE); contexts beyond the model's positions, or not above G, are left out."""
    if axis not in AXES:
        raise SpecError(f"must be one of {', '.join(AXES)}, not {axis!r}", field="axis")
    if values is None:
        values = geometric_points(*(BATCH_RANGE if axis == "batch" else CONTEXT_RANGE))
    limit = forms.counts.max_positions
    if axis == "context":
        values = tuple(v for v in values if v > setting.generate and (limit is None or v <= limit))
    points = []
    for value in values:
        at = _at(setting, axis, value)
        served = serve(forms, at, roofs, steps=SWEEP_STEPS)
        held = memory(forms, at, capacity_bytes)
        points.append(
            SweepPoint(
                value,
                served.time_per_output_token_s,
                served.tokens_per_s,
                served.time_to_first_token_s,
                held.total_bytes,
                held.fits,
            )
        )
    return tuple(points)


def first_unfit(points: tuple[SweepPoint, ...]) -> int | None:
    """The first value of a sweep that does not fit in the device's memory; None if all do (or unknown)."""
    return next((point.value for point in points if point.fits is False), None)


__all__ = ["SweepPoint", "first_unfit", "geometric_points", "sweep"]
