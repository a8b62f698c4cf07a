"""Was this machine busy with other work while we timed? Read from the kernel's CPU
accounting: the CPU time all processes used (/proc/stat) minus this process's own
(os.times), over the wall time between two samples. Work in other processes shows
up whole; other threads of this process (another session counting a model on the
same server) do not, which is why the measurement also repeats itself briefly
(calc.torch_measure) and why measurements on a device wait in line (ui.device_queue).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

from calc.units import duration

BUSY_OTHER_CORES = 0.25  # other programs' average use, in cores, from which a timing counts as disturbed
REPEAT_DRIFT = 0.25  # |quick repeat / median - 1| beyond which the machine changed under the timing


@dataclass(frozen=True)
class CpuSample:
    wall_s: float
    machine_busy_s: float | None  # CPU seconds of all processes since boot; None where unknown
    own_s: float  # CPU seconds of this process


def _machine_busy_seconds() -> float | None:
    try:
        with open("/proc/stat", encoding="ascii") as handle:
            fields = handle.readline().split()
    except OSError:
        return None
    if not fields or fields[0] != "cpu":
        return None
    # user nice system idle iowait irq softirq steal ...: busy is everything but idle and iowait
    ticks = [int(value) for value in fields[1:9]]
    busy = sum(ticks) - ticks[3] - ticks[4]
    return busy / os.sysconf("SC_CLK_TCK")


def sample() -> CpuSample:
    own = os.times()
    return CpuSample(time.perf_counter(), _machine_busy_seconds(), own.user + own.system)


def other_cores(before: CpuSample, after: CpuSample) -> float | None:
    """Cores used on average by other processes between the samples; None where unknown."""
    wall = after.wall_s - before.wall_s
    if before.machine_busy_s is None or after.machine_busy_s is None or wall <= 0:
        return None
    others = (after.machine_busy_s - before.machine_busy_s) - (after.own_s - before.own_s)
    return max(others, 0.0) / wall


def disturbance_text(other_cores: float | None, repeat_median_s: float | None, median_s: float) -> str:
    """Why a measurement is not trusted as this machine's latency alone."""
    reasons = []
    if other_cores is not None and other_cores > BUSY_OTHER_CORES:
        reasons.append(f"other programs used {other_cores:.1f} CPU cores on average while it was timed")
    if repeat_median_s is not None and abs(repeat_median_s / median_s - 1) > REPEAT_DRIFT:
        reasons.append(
            f"a quick repeat took {duration(repeat_median_s)}, {repeat_median_s / median_s - 1:+.0%} "
            "from the median"
        )
    return "; ".join(reasons) + ": the machine was not quiet, measure again when it is"


__all__ = ["BUSY_OTHER_CORES", "REPEAT_DRIFT", "CpuSample", "disturbance_text", "other_cores", "sample"]
