"""Measured latency of a model here, whole and per layer.

Whole model: blocks of forward passes after a warm-up, each block timed by the wall
clock between two device synchronizations, with all of torch's threads, in eval mode
under inference_mode; the median and IQR over the blocks are the latency of one
forward. These are torch.utils.benchmark's blocked_autorange blocks, run by our own
loop for two reasons: the whole measurement has a wall-clock bound (a TimeBound,
checked before every step, with the step's predicted time), and two models can be
timed interleaved (A, B, A, B, ...) so that a change of the machine's load hits both.
Never under a counter and never with per-layer synchronization.

Each measurement also says whether the machine was disturbed while it ran: other
programs' CPU use (calc.machine_load) and a short repeat compared with its median.

Per layer: torch.profiler over a few forwards, each module's forward wrapped in a
``record_function`` range opened and closed by forward hooks. Nothing synchronizes
inside the forward; on the CPU a range's time is the wall time inside it, on CUDA the
time of the kernels launched inside it. A row's time excludes the rows below it (a
ResNet block keeps its residual add, not its convolutions).

The memory a forward needs is bounded before anything is allocated: calc.torch_memory.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from calc import machine_load
from calc.analyze import ROOT_NAME, Report
from calc.errors import SpecError
from calc.time_bound import TimeBound
from calc.timings import NOISY_SPREAD, Timings  # noqa: F401  (NOISY_SPREAD: the pages read it here)
from calc.torch_inputs import example_input
from calc.torch_memory import MEMORY_BUDGET_BYTES, memory_budget_bytes  # noqa: F401  (the budget lives there)
from calc.torch_precision import TORCH_DTYPE, check_device, compute_precision

Progress = Callable[[float, str], None]

MIN_BLOCKS = 5
BLOCK_SECONDS = 0.01  # a block runs at least this long, like blocked_autorange's
CALIBRATION_SHARES = (64, 8)  # a large batch is first tried at 1/64, then 1/8 of its size
REPEAT_BLOCKS = 3  # the quick repeat after the timing
PROGRESS_INTERVAL_SECONDS = 0.5
RANGE_PREFIX = "macscope::"


@dataclass(frozen=True)
class Measurement(Timings):
    device: str
    dtype: str
    batch: int
    threads: int
    times_s: tuple[float, ...]  # seconds per forward, one per block of ``number_per_run`` forwards
    number_per_run: int
    warmup_runs: int
    wall_seconds: float  # the whole measurement, warm-up included
    other_cores: float | None = None  # other programs' average CPU use while timed, in cores
    repeat_median_s: float | None = None  # a short repeat right after the timing

    @property
    def samples_per_s(self) -> float:
        return self.batch / self.median_s

    @property
    def repeat_drift(self) -> float | None:
        """The quick repeat's median over the measurement's, minus 1."""
        return None if self.repeat_median_s is None else self.repeat_median_s / self.median_s - 1

    @property
    def disturbed(self) -> bool:
        return self.busy_machine or (
            self.repeat_drift is not None and abs(self.repeat_drift) > machine_load.REPEAT_DRIFT
        )


@dataclass(frozen=True)
class PairedMeasurement:
    """Two models timed interleaved, block for block: ``ratios`` are second / first per round."""

    first: Measurement
    second: Measurement
    ratios: tuple[float, ...]

    @property
    def ratio_median(self) -> float:
        return statistics.median(self.ratios)

    @property
    def ratio_quartiles(self) -> tuple[float, float]:
        if len(self.ratios) < 2:
            return self.ratios[0], self.ratios[0]
        quartiles = statistics.quantiles(self.ratios, n=4, method="inclusive")
        return quartiles[0], quartiles[2]

    @property
    def resolved(self) -> bool:
        """Whether one is faster here beyond the noise: the ratios' IQR does not straddle 1."""
        low, high = self.ratio_quartiles
        return not low <= 1.0 <= high


def prepare(model: nn.Module, device: str, dtype: str) -> nn.Module:
    """``model`` on ``device`` in the storage dtype of ``dtype``, in eval mode; a model
    built on the meta device gets freshly initialized weights."""
    from calc.torch_build import materialize

    if any(parameter.is_meta for parameter in model.parameters()):
        model = materialize(model, device)
    return model.to(device=device, dtype=TORCH_DTYPE[dtype]).eval()


def _synchronize(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize(device)


def _block_seconds(forward: Callable[[], None], number: int, device: str) -> float:
    """Seconds per forward over ``number`` forwards, between two synchronizations."""
    _synchronize(device)
    started = time.perf_counter()
    for _ in range(number):
        forward()
    _synchronize(device)
    return (time.perf_counter() - started) / number


def _forward_of(model: nn.Module, x: torch.Tensor) -> Callable[[], None]:
    def forward() -> None:
        with torch.inference_mode():
            model(x)

    return forward


def _too_slow(seconds: float, bound: TimeBound, what: str) -> SpecError:
    return SpecError(
        f"{what} took {seconds:.3g} s; timing it within the {bound.seconds:g} s bound is not possible "
        "(what is left of it is too short): lower the batch or the resolution",
        field="batch",
    )


def _warm_up(
    model: nn.Module,
    x: torch.Tensor,
    device: str,
    bound: TimeBound,
    reserve_forwards: int,
    progress: Progress | None,
    least_forward_s: float | None = None,
) -> tuple[float, int]:
    """Warm-up forwards of ``model`` on ``x``, each started only when it fits the bound with
    room for a timed block and ``reserve_forwards`` more; returns (seconds of a warm forward, runs).
    ``least_forward_s``, the roofline time on this machine's probed roofs, refuses a model that
    cannot fit before its first forward runs."""
    batch = x.shape[0]
    if least_forward_s is not None and not bound.fits((2 + reserve_forwards) * least_forward_s):
        raise SpecError(
            f"one forward pass at batch {batch:,} takes at least {least_forward_s:.3g} s here (its "
            f"roofline on this machine's probed roofs); timing it within the {bound.seconds:g} s bound "
            "is not possible: lower the batch or the resolution",
            field="batch",
        )
    if progress:
        progress(0.0, "warming up…")
    # Forwards on slices of the batch predict a full one from above (the cost per sample falls with
    # the batch): first 1/64, then 1/8 unless the first already fits, each run only when its own
    # prediction fits the bound.
    predicted, evidence = None, ""
    for part in sorted({batch // share for share in CALIBRATION_SHARES if batch // share >= 1}):
        if predicted is not None and bound.fits((2 + reserve_forwards) * predicted):
            break
        if predicted is not None and not bound.fits(predicted * part / batch):
            break
        if predicted is None:  # the very first forward pays for one-off setup (oneDNN primitives, lazy init)
            _block_seconds(_forward_of(model, x[:part]), 1, device)
        seconds = _block_seconds(_forward_of(model, x[:part]), 1, device)
        predicted, evidence = seconds * batch / part, f"batch {part:,} took {seconds:.3g} s"
    if predicted is not None and not bound.fits((2 + reserve_forwards) * predicted):
        raise SpecError(
            f"one forward pass at batch {batch:,} would take about {predicted:.3g} s ({evidence}); "
            f"timing it within the {bound.seconds:g} s bound is not possible (what is left of it is "
            "too short): lower the batch or the resolution",
            field="batch",
        )
    forward = _forward_of(model, x)
    first = _block_seconds(forward, 1, device)  # pays for one-off setup
    if not bound.fits((1 + reserve_forwards) * first):
        raise _too_slow(first, bound, "one forward pass")
    runs, warm_started, warm = 1, time.perf_counter(), first
    while runs < 3 or time.perf_counter() - warm_started < min(0.25, bound.seconds / 8):
        if not bound.fits((2 + reserve_forwards) * warm):
            break
        warm = _block_seconds(forward, 1, device)
        runs += 1
    return warm, runs


def _rounds(
    forwards: list[Callable[[], None]],
    numbers: list[int],
    estimates: list[float],
    device: str,
    min_run_time: float,
    bound: TimeBound,
    reserve_seconds: float,
    progress: Progress | None,
) -> list[list[float]]:
    """Rounds of one block of each forward in turn (A, B, A, B, ...) until ``min_run_time`` of
    timing and MIN_BLOCKS rounds, or until the next round would not fit the bound; at least one."""
    times: list[list[float]] = [[] for _ in forwards]
    elapsed = last_report = 0.0
    target = max(min_run_time, MIN_BLOCKS * sum(n * e for n, e in zip(numbers, estimates, strict=True)))
    while True:
        round_seconds = sum(number * estimate for number, estimate in zip(numbers, estimates, strict=True))
        if times[0] and (elapsed >= min_run_time and len(times[0]) >= MIN_BLOCKS):
            break
        if times[0] and not bound.fits(1.2 * round_seconds + reserve_seconds):
            break
        bound.check()
        for i, (forward, number) in enumerate(zip(forwards, numbers, strict=True)):
            seconds = _block_seconds(forward, number, device)
            times[i].append(seconds)
            estimates[i] = seconds
            elapsed += seconds * number
        if progress and elapsed - last_report >= PROGRESS_INTERVAL_SECONDS:
            # a few updates a second: each one redraws the page in the browser, which may share this CPU
            last_report = elapsed
            progress(min(elapsed / target, 1.0), f"timing: {elapsed:.1f} of about {target:.1f} s")
    return times


def _block_size(warm_seconds: float) -> int:
    return max(1, math.ceil(BLOCK_SECONDS / max(warm_seconds, 1e-9)))


def measure(
    model: nn.Module,
    input_shape: tuple[int, ...],
    batch: int,
    dtype: str,
    device: str = "cpu",
    *,
    min_run_time: float = 1.0,
    max_seconds: float = 30.0,
    bound: TimeBound | None = None,
    reserve_forwards: int = 0,
    least_forward_s: float | None = None,
    progress: Progress | None = None,
) -> Measurement:
    """Latency of one forward pass of ``model`` (already prepared) on a random input, within
    ``bound`` (default: ``max_seconds`` from now), leaving time for ``reserve_forwards`` more;
    ``least_forward_s`` (the roofline here) refuses a hopeless model before it runs."""
    check_device(device, (dtype,))
    bound = bound or TimeBound.starting_now(max_seconds)
    started = time.perf_counter()
    x = example_input(model, input_shape, batch, dtype, device)
    forward = _forward_of(model, x)
    with compute_precision(dtype):
        warm, warmup_runs = _warm_up(model, x, device, bound, reserve_forwards, progress, least_forward_s)
        number = _block_size(warm)
        before = machine_load.sample()
        (times,) = _rounds(
            [forward], [number], [warm], device, min_run_time, bound, reserve_forwards * warm, progress
        )
        others = machine_load.other_cores(before, machine_load.sample())
        repeat = None
        block = statistics.median(times) * number
        if bound.fits(REPEAT_BLOCKS * block + reserve_forwards * warm):
            repeat = statistics.median(_block_seconds(forward, number, device) for _ in range(REPEAT_BLOCKS))
        if progress:
            progress(1.0, f"timed {len(times)} blocks")
    return Measurement(
        device,
        dtype,
        batch,
        torch.get_num_threads(),
        tuple(times),
        number,
        warmup_runs,
        time.perf_counter() - started,
        others,
        repeat,
    )


def measure_pair(
    first: nn.Module,
    second: nn.Module,
    input_shape: tuple[int, ...],
    batch: int,
    dtype: str,
    device: str = "cpu",
    *,
    min_run_time: float = 1.0,
    bound: TimeBound | None = None,
    reserve_forwards: int = 0,
    progress: Progress | None = None,
) -> PairedMeasurement:
    """Two models (prepared) on the same random input, timed interleaved, block for block."""
    check_device(device, (dtype,))
    bound = bound or TimeBound.starting_now(30.0)
    started = time.perf_counter()
    x = example_input(first, input_shape, batch, dtype, device)
    forwards = [_forward_of(first, x), _forward_of(second, x)]
    with compute_precision(dtype):
        warm_first, runs_first = _warm_up(first, x, device, bound, reserve_forwards, progress)
        warm_second, runs_second = _warm_up(second, x, device, bound, reserve_forwards, progress)
        warms = [warm_first, warm_second]
        numbers = [_block_size(warm) for warm in warms]
        before = machine_load.sample()
        times = _rounds(
            forwards,
            numbers,
            list(warms),
            device,
            min_run_time,
            bound,
            reserve_forwards * max(warms),
            progress,
        )
        others = machine_load.other_cores(before, machine_load.sample())
        if progress:
            progress(1.0, f"timed {len(times[0])} rounds of both")
    wall = time.perf_counter() - started
    measurements = [
        Measurement(
            device, dtype, batch, torch.get_num_threads(), tuple(block_times), number, runs, wall, others
        )
        for block_times, number, runs in zip(times, numbers, (runs_first, runs_second), strict=True)
    ]
    ratios = tuple(b / a for a, b in zip(*times, strict=True))
    return PairedMeasurement(measurements[0], measurements[1], ratios)


@contextmanager
def _module_ranges(model: nn.Module, paths: set[str]) -> Iterator[None]:
    """A record_function range around the forward of each module whose path is in ``paths``."""
    open_ranges: list[torch.autograd.profiler.record_function] = []
    handles = []
    for path, module in model.named_modules():
        if (path or ROOT_NAME) not in paths:
            continue

        def enter(
            module: nn.Module, inputs: tuple[Any, ...], name: str = RANGE_PREFIX + (path or ROOT_NAME)
        ) -> None:
            scope = torch.autograd.profiler.record_function(name)
            scope.__enter__()
            open_ranges.append(scope)

        def leave(module: nn.Module, inputs: tuple[Any, ...], output: Any) -> None:
            open_ranges.pop().__exit__(None, None, None)

        handles += [module.register_forward_pre_hook(enter), module.register_forward_hook(leave)]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


@dataclass(frozen=True)
class LayerProfile:
    seconds: dict[str, float]  # row name -> seconds per forward, rows below it excluded
    forwards: int
    method: str

    @property
    def total_s(self) -> float:
        return sum(self.seconds.values())


PROFILE_METHOD = (
    "torch.profiler over {n} forwards after a warm-up; each row's module runs inside a "
    "record_function range opened and closed by forward hooks (no synchronization inside the "
    "forward). Time per row: {what}, minus the rows below it, per forward."
)


def profile_layers(
    model: nn.Module,
    report: Report,
    input_shape: tuple[int, ...],
    batch: int,
    dtype: str,
    device: str = "cpu",
    forwards: int = 5,
    warmup: int = 2,
    bound: TimeBound | None = None,
) -> LayerProfile:
    """Per-row time of ``model`` (prepared), for the rows of ``report`` (named by module path);
    ``bound`` is checked for a stop request between forwards."""
    check_device(device, (dtype,))
    bound = bound or TimeBound.starting_now(math.inf)
    names = [row.name for row in report.rows]
    x = example_input(model, input_shape, batch, dtype, device)
    activities = [torch.profiler.ProfilerActivity.CPU]
    if device.startswith("cuda"):
        activities.append(torch.profiler.ProfilerActivity.CUDA)
    with compute_precision(dtype), torch.inference_mode(), _module_ranges(model, set(names)):
        for _ in range(warmup):
            bound.check()
            model(x)
        _synchronize(device)
        with torch.profiler.profile(activities=activities) as profiler:
            for _ in range(forwards):
                bound.check()
                model(x)
            _synchronize(device)
    inclusive_us: dict[str, float] = dict.fromkeys(names, 0.0)
    for event in profiler.events():
        # the CPU-side range only: with CUDA the profiler also lists each range as a GPU user
        # annotation spanning its kernels, which would count them a second time
        if event.name.startswith(RANGE_PREFIX) and event.device_type == torch.autograd.DeviceType.CPU:
            name = event.name[len(RANGE_PREFIX) :]
            if name in inclusive_us:
                inclusive_us[name] += (
                    event.device_time_total if device.startswith("cuda") else event.cpu_time_total
                )
    seconds = {}
    for name in names:
        below = outermost_rows_below(name, names)
        seconds[name] = max(inclusive_us[name] - sum(inclusive_us[b] for b in below), 0.0) / 1e6 / forwards
    what = (
        "time of the CUDA kernels launched inside its range"
        if device.startswith("cuda")
        else "CPU wall time inside its range"
    )
    return LayerProfile(seconds, forwards, PROFILE_METHOD.format(n=forwards, what=what))


def outermost_rows_below(name: str, names: list[str]) -> list[str]:
    """The rows inside module ``name`` that are not inside another such row."""
    if name == ROOT_NAME:
        inside = [other for other in names if other != ROOT_NAME]
    else:
        inside = [other for other in names if other.startswith(name + ".")]
    return [
        other
        for other in inside
        if not any(other.startswith(parent + ".") for parent in inside if parent != other)
    ]
