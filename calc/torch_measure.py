"""Measured latency of a model here, whole and per layer.

Whole model: torch.utils.benchmark's blocked_autorange, after a warm-up, with all of
torch's threads, CUDA synchronized by the timer, in eval mode under inference_mode.
Never under a counter and never with per-layer synchronization: the median and IQR
of the blocks are the latency of one forward pass.

Per layer: torch.profiler over a few forwards, each module's forward wrapped in a
``record_function`` range opened and closed by forward hooks. Nothing synchronizes
inside the forward; on the CPU a range's time is the wall time inside it, on CUDA the
time of the kernels launched inside it. A row's time excludes the rows below it (a
ResNet block keeps its residual add, not its convolutions).

Before anything is allocated, the memory a forward needs is estimated and refused
beyond a budget; a forward pass too slow for the time bound is refused after one run.
"""

from __future__ import annotations

import os
import statistics
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Iterator

import torch
from torch import nn
from torch.utils import benchmark

from calc.analyze import Report
from calc.errors import SpecError
from calc.hardware import STORAGE_DTYPE
from calc.torch_precision import TORCH_DTYPE, check_device, compute_precision
from calc.units import DTYPE_BYTES, si_bytes

Progress = Callable[[float, str], None]

MEMORY_BUDGET_BYTES = 4 * 2**30
MIN_BLOCKS = 5
PROGRESS_INTERVAL_SECONDS = 0.5
RANGE_PREFIX = "macscope::"
ROOT_NAME = "(model)"   # count_module's name for the root module's own row


@dataclass(frozen=True)
class Measurement:
    device: str
    dtype: str
    batch: int
    threads: int
    times_s: tuple[float, ...]   # seconds per forward, one per block of ``number_per_run`` forwards
    number_per_run: int
    warmup_runs: int
    wall_seconds: float          # the whole measurement, warm-up included

    @property
    def median_s(self) -> float:
        return statistics.median(self.times_s)

    @property
    def iqr_s(self) -> float:
        if len(self.times_s) < 2:
            return 0.0
        quartiles = statistics.quantiles(self.times_s, n=4, method="inclusive")
        return quartiles[2] - quartiles[0]

    @property
    def min_s(self) -> float:
        return min(self.times_s)

    @property
    def max_s(self) -> float:
        return max(self.times_s)

    @property
    def samples_per_s(self) -> float:
        return self.batch / self.median_s


def estimate_memory_bytes(report: Report, dtype: str) -> int:
    """What one inference forward holds at most, roughly: the weights, and the largest
    layer's inputs and outputs twice over (kernels keep temporaries, the previous
    layer's output may still be alive)."""
    per_element = DTYPE_BYTES[STORAGE_DTYPE[dtype]]
    weights = report.params * per_element
    largest = max((row.cost.input_elements + row.cost.output_elements for row in report.rows), default=0)
    return weights + 2 * largest * per_element


def check_memory(report: Report, dtype: str, budget_bytes: int = MEMORY_BUDGET_BYTES) -> int:
    needed = estimate_memory_bytes(report, dtype)
    if needed > budget_bytes:
        raise SpecError(f"a forward pass needs about {si_bytes(needed)}, beyond the measurement budget of "
                        f"{si_bytes(budget_bytes)}; lower the batch or the resolution", field="batch")
    return needed


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


def measure(model: nn.Module, input_shape: tuple[int, ...], batch: int, dtype: str, device: str = "cpu", *,
            min_run_time: float = 1.0, max_seconds: float = 30.0, progress: Progress | None = None) -> Measurement:
    """Latency of one forward pass of ``model`` (already prepared) on a random input."""
    check_device(device, (dtype,))
    started = time.perf_counter()
    x = torch.randn((batch, *input_shape), device=device).to(TORCH_DTYPE[dtype])

    def forward():
        with torch.inference_mode():
            model(x)

    with compute_precision(dtype):
        if progress:
            progress(0.0, "warming up…")
        first_started = time.perf_counter()
        forward()
        _synchronize(device)
        first = time.perf_counter() - first_started
        if first * 4 > max_seconds:
            raise SpecError(f"one forward pass took {first:.3g} s; timing it within the {max_seconds:g} s bound "
                            "is not possible: lower the batch or the resolution", field="batch")
        warmup_runs = 1
        warm_started = time.perf_counter()
        while warmup_runs < 3 or time.perf_counter() - first_started < min(0.25, max_seconds / 8):
            forward()
            warmup_runs += 1
        _synchronize(device)
        # a warm forward (the first one pays for one-off setup); at least MIN_BLOCKS of them
        # for a median and an IQR, when the time bound allows
        warm = (time.perf_counter() - warm_started) / (warmup_runs - 1)
        left = max_seconds - (time.perf_counter() - started)
        budget = max(min(max(min_run_time, MIN_BLOCKS * warm), left - warm), warm)
        timer = benchmark.Timer(stmt="forward()", globals={"forward": forward}, num_threads=torch.get_num_threads())
        elapsed, last_report = [0.0], [0.0]

        def on_block(number: int, seconds: float) -> None:
            # a few updates a second: each one redraws the page in the browser, which may share this CPU
            elapsed[0] += seconds
            if progress and elapsed[0] - last_report[0] >= PROGRESS_INTERVAL_SECONDS:
                last_report[0] = elapsed[0]
                progress(min(elapsed[0] / budget, 1.0), f"timing: {elapsed[0]:.1f} of {budget:.1f} s")

        result = timer.blocked_autorange(callback=on_block, min_run_time=budget)
        if progress:
            progress(1.0, f"timed {len(result.times)} blocks in {elapsed[0]:.1f} s")
    return Measurement(device, dtype, batch, torch.get_num_threads(), tuple(result.times), result.number_per_run,
                       warmup_runs, time.perf_counter() - started)


@contextmanager
def _module_ranges(model: nn.Module, paths: set[str]) -> Iterator[None]:
    """A record_function range around the forward of each module whose path is in ``paths``."""
    open_ranges: list[torch.autograd.profiler.record_function] = []
    handles = []
    for path, module in model.named_modules():
        if (path or ROOT_NAME) not in paths:
            continue

        def enter(module, inputs, name=RANGE_PREFIX + (path or ROOT_NAME)):
            scope = torch.autograd.profiler.record_function(name)
            scope.__enter__()
            open_ranges.append(scope)

        def leave(module, inputs, output):
            open_ranges.pop().__exit__(None, None, None)

        handles += [module.register_forward_pre_hook(enter), module.register_forward_hook(leave)]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


@dataclass(frozen=True)
class LayerProfile:
    seconds: dict[str, float]    # row name -> seconds per forward, rows below it excluded
    forwards: int
    method: str

    @property
    def total_s(self) -> float:
        return sum(self.seconds.values())


PROFILE_METHOD = ("torch.profiler over {n} forwards after a warm-up; each row's module runs inside a "
                  "record_function range opened and closed by forward hooks (no synchronization inside the "
                  "forward). Time per row: {what}, minus the rows below it, per forward.")


def profile_layers(model: nn.Module, report: Report, input_shape: tuple[int, ...], batch: int, dtype: str,
                   device: str = "cpu", forwards: int = 5) -> LayerProfile:
    """Per-row time of ``model`` (prepared), for the rows of ``report`` (named by module path)."""
    check_device(device, (dtype,))
    names = [row.name for row in report.rows]
    x = torch.randn((batch, *input_shape), device=device).to(TORCH_DTYPE[dtype])
    activities = [torch.profiler.ProfilerActivity.CPU]
    if device.startswith("cuda"):
        activities.append(torch.profiler.ProfilerActivity.CUDA)
    with compute_precision(dtype), torch.inference_mode(), _module_ranges(model, set(names)):
        for _ in range(2):
            model(x)
        _synchronize(device)
        with torch.profiler.profile(activities=activities) as profiler:
            for _ in range(forwards):
                model(x)
            _synchronize(device)
    inclusive_us: dict[str, float] = dict.fromkeys(names, 0.0)
    for event in profiler.events():
        # the CPU-side range only: with CUDA the profiler also lists each range as a GPU user
        # annotation spanning its kernels, which would count them a second time
        if event.name.startswith(RANGE_PREFIX) and event.device_type == torch.autograd.DeviceType.CPU:
            name = event.name[len(RANGE_PREFIX):]
            if name in inclusive_us:
                inclusive_us[name] += event.device_time_total if device.startswith("cuda") else event.cpu_time_total
    seconds = {}
    for name in names:
        below = _outermost_rows_below(name, names)
        seconds[name] = max(inclusive_us[name] - sum(inclusive_us[b] for b in below), 0.0) / 1e6 / forwards
    what = "time of the CUDA kernels launched inside its range" if device.startswith("cuda") else \
        "CPU wall time inside its range"
    return LayerProfile(seconds, forwards, PROFILE_METHOD.format(n=forwards, what=what))


def _outermost_rows_below(name: str, names: list[str]) -> list[str]:
    """The rows inside module ``name`` that are not inside another such row."""
    if name == ROOT_NAME:
        inside = [other for other in names if other != ROOT_NAME]
    else:
        inside = [other for other in names if other.startswith(name + ".")]
    return [other for other in inside
            if not any(other.startswith(parent + ".") for parent in inside if parent != other)]


def memory_budget_bytes(device: str = "cpu") -> int:
    """How much one measurement may allocate: a quarter of this machine's RAM (at most
    4 GiB), or half the CUDA device's free memory."""
    if device.startswith("cuda"):
        free, _ = torch.cuda.mem_get_info(torch.device(device))
        return free // 2
    try:
        physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError):
        physical = 4 * MEMORY_BUDGET_BYTES
    return min(MEMORY_BUDGET_BYTES, physical // 4)
