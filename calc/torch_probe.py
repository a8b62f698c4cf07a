"""This machine: what it is (CPU, threads, CUDA devices) and what it achieves.

The probe measures the two roofs of the roofline here: the best FLOP/s of a sweep of
square matmuls per dtype, and the bandwidth of large copies (bytes read + written).
Both are timed with torch.utils.benchmark (warm-up, CUDA synchronization, all of
torch's threads), each dtype within a time budget.
"""

from __future__ import annotations

import math
import os
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch.utils import benchmark

from calc.hardware import Hardware, peaks_of, preset_for_device
from calc.time_bound import TimeBound
from calc.torch_precision import TORCH_DTYPE, check_device, compute_precision, supported_dtypes

Progress = Callable[[float, str], None]

CPU_SIZES = (256, 512, 1024, 2048)
CUDA_SIZES = (1024, 2048, 4096, 8192)
CPU_COPY_BYTES = 256 * 2**20  # beyond the last-level caches of desktop and server CPUs
CUDA_COPY_BYTES = 1024 * 2**20


@dataclass(frozen=True)
class CudaDevice:
    index: int
    name: str
    capability: tuple[int, int]
    memory_bytes: int
    multiprocessors: int


@dataclass(frozen=True)
class MachineInfo:
    cpu_model: str
    physical_cores: int
    logical_cores: int
    torch_threads: int
    cpu_capability: str  # the widest SIMD torch's CPU kernels use here (AVX2, AVX512, ...)
    cpu_mhz: float | None  # the clock the kernel reports (often the base clock in a VM)
    cpu_flags: frozenset[str]
    torch_version: str
    cuda: tuple[CudaDevice, ...]

    def nominal_cpu_fp32_flops_per_s(self) -> tuple[float, str] | None:
        """A spec-sheet-style fp32 peak, derived: cores x clock x SIMD lanes x 2 FMA pipes x 2."""
        if not self.cpu_mhz:
            return None
        lanes = 16 if "avx512f" in self.cpu_flags else 8 if {"avx2", "fma"} <= self.cpu_flags else 4
        peak = self.physical_cores * self.cpu_mhz * 1e6 * lanes * 2 * 2
        how = (
            f"derived: {self.physical_cores} cores × {self.cpu_mhz / 1000:.2f} GHz × {lanes} fp32 lanes × "
            "2 FMA pipes (assumed) × 2 FLOPs"
        )
        return peak, how

    def spec_peak(self, device: str, dtype: str) -> tuple[float, str] | None:
        """The spec-sheet peak of ``device`` for ``dtype`` and where it comes from: the
        matching GPU preset, or the CPU's derived fp32 peak; None when there is none."""
        if device.startswith("cuda"):
            preset = self.nominal_cuda_hardware(torch.device(device).index or 0)
            if preset is None or dtype not in preset.peak_flops_per_s:
                return None
            return preset.peak(dtype), f"{preset.name} spec sheet"
        return self.nominal_cpu_fp32_flops_per_s() if dtype == "fp32" else None

    def nominal_cuda_hardware(self, index: int = 0) -> Hardware | None:
        """The preset that lists this CUDA device's exact name (calc.hardware.preset_for_device);
        None for a device no preset lists, or no such device."""
        if index >= len(self.cuda):
            return None
        return preset_for_device(self.cuda[index].name)


def _cpuinfo() -> list[dict[str, str]]:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            blocks = handle.read().strip().split("\n\n")
    except OSError:
        return []
    return [
        dict((part.strip() for part in line.split(":", 1)) for line in block.splitlines() if ":" in line)
        for block in blocks
    ]


def detect() -> MachineInfo:
    processors = _cpuinfo()
    first = processors[0] if processors else {}
    cores = {(p.get("physical id"), p.get("core id")) for p in processors if "core id" in p}
    logical = os.cpu_count() or 1
    try:
        mhz = float(first["cpu MHz"])
    except (KeyError, ValueError):
        mhz = None
    cuda = ()
    if torch.cuda.is_available():
        cuda = tuple(
            CudaDevice(
                i, props.name, (props.major, props.minor), props.total_memory, props.multi_processor_count
            )
            for i, props in (
                (i, torch.cuda.get_device_properties(i)) for i in range(torch.cuda.device_count())
            )
        )
    return MachineInfo(
        first.get("model name") or platform.processor() or platform.machine(),
        len(cores) or logical,
        logical,
        torch.get_num_threads(),
        torch.backends.cpu.get_cpu_capability(),
        mhz,
        frozenset(first.get("flags", "").split()),
        torch.__version__,
        cuda,
    )


@dataclass(frozen=True)
class Probe:
    device: str  # "cpu" or "cuda:0"
    label: str  # the CPU model or GPU name
    threads: int
    peaks: tuple[tuple[str, float], ...]  # best achieved FLOP/s per dtype
    gemm: tuple[tuple[str, int, float], ...]  # (dtype, n, FLOP/s) for every n x n matmul timed
    bandwidth_bytes_per_s: float
    copy_bytes: int  # size of the copied buffer
    seconds: float  # wall time of the probe

    @property
    def peak_flops_per_s(self) -> dict[str, float]:
        return dict(self.peaks)

    def as_hardware(self) -> Hardware:
        sizes = sorted({n for _, n, _ in self.gemm})
        return Hardware(
            f"This machine: {self.label}",
            "GPU" if self.device.startswith("cuda") else "CPU",
            self.peaks,
            self.bandwidth_bytes_per_s,
            f"measured here ({self.device}, {self.threads} threads): best of n×n matmuls, "
            f"n in {', '.join(map(str, sizes))}; bandwidth of a {self.copy_bytes // 2**20} MiB copy "
            "(read + write)",
        )


def _timer(stmt: str, env: dict, device: str) -> benchmark.Timer:
    return benchmark.Timer(
        stmt=stmt, globals=env, num_threads=torch.get_num_threads(), label=device, description=stmt
    )


def _gemm_sweep(
    dtype: str, device: str, sizes: tuple[int, ...], budget_seconds: float, bound: TimeBound
) -> list[tuple[int, float]]:
    points = []
    started = time.perf_counter()
    with compute_precision(dtype):
        for n in sizes:
            # timing a size takes about 3 matmuls and at least 0.2 s; beyond the first two sizes, skip
            # one predicted (from the last size's rate, pessimistic: small matmuls run slower) to take
            # over twice the budget alone (fp16 matmuls crawl on CPUs without fp16 units: a 1024 one
            # took 7 s here); never start one that would end past the bound
            if points:
                predicted = 0.3 + 3 * 2 * n**3 / points[-1][1]
                if (len(points) >= 2 and predicted > 2 * budget_seconds) or not bound.fits(predicted):
                    break
            a = torch.randn(n, n, device=device).to(TORCH_DTYPE[dtype])
            b = torch.randn(n, n, device=device).to(TORCH_DTYPE[dtype])
            measurement = _timer(
                "torch.mm(a, b)", {"torch": torch, "a": a, "b": b}, device
            ).blocked_autorange(min_run_time=0.2)
            points.append((n, 2 * n**3 / min(measurement.times)))
            del a, b
            if len(points) >= 2 and time.perf_counter() - started > budget_seconds:
                break
    return points


def _copy_bandwidth(device: str, n_bytes: int) -> float:
    source = torch.empty(n_bytes, dtype=torch.uint8, device=device).fill_(1)
    target = torch.empty_like(source)
    measurement = _timer(
        "target.copy_(source)", {"source": source, "target": target}, device
    ).blocked_autorange(min_run_time=0.3)
    return 2 * n_bytes / min(measurement.times)


def probe(
    device: str = "cpu",
    dtypes: tuple[str, ...] | None = None,
    budget_seconds_per_dtype: float = 2.0,
    progress: Progress | None = None,
    bound: TimeBound | None = None,
) -> Probe:
    """Measure this machine's roofs on ``device``: GEMM FLOP/s per dtype, copy bandwidth;
    ``bound`` is checked between matmul sizes (a stop request ends the probe)."""
    started = time.perf_counter()
    bound = bound or TimeBound.starting_now(math.inf)
    check_device(device, dtypes or ())
    if device.startswith("cuda"):
        device = device if ":" in device else "cuda:0"
        label, sizes, copy_bytes = torch.cuda.get_device_name(device), CUDA_SIZES, CUDA_COPY_BYTES
    else:
        label, sizes, copy_bytes = detect().cpu_model, CPU_SIZES, CPU_COPY_BYTES
    dtypes = dtypes or supported_dtypes(device)
    steps = len(dtypes) + 1
    peaks, gemm = [], []
    for step, dtype in enumerate(dtypes):
        if progress:
            progress(step / steps, f"{dtype} matmuls on {device}…")
        bound.check()
        points = _gemm_sweep(dtype, device, sizes, budget_seconds_per_dtype, bound)
        gemm += [(dtype, n, flops) for n, flops in points]
        peaks.append((dtype, max(flops for _, flops in points)))
    if progress:
        progress((steps - 1) / steps, f"memory bandwidth on {device}…")
    bound.check()
    bandwidth = _copy_bandwidth(device, copy_bytes)
    if progress:
        progress(1.0, "done")
    return Probe(
        device,
        label,
        torch.get_num_threads(),
        peaks_of(**dict(peaks)),
        tuple(gemm),
        bandwidth,
        copy_bytes,
        time.perf_counter() - started,
    )


def merged(known: Probe, fresh: Probe) -> Probe:
    """``known`` with the dtypes of ``fresh`` probed again or added, and ``fresh``'s bandwidth."""
    dtypes = {dtype for dtype, _ in fresh.peaks}
    peaks = peaks_of(**{**dict(known.peaks), **dict(fresh.peaks)})
    gemm = tuple(point for point in known.gemm if point[0] not in dtypes) + fresh.gemm
    return Probe(
        fresh.device,
        fresh.label,
        fresh.threads,
        peaks,
        gemm,
        fresh.bandwidth_bytes_per_s,
        fresh.copy_bytes,
        known.seconds + fresh.seconds,
    )
