"""What every measurement says about its times, whatever ran them (torch, ONNX Runtime): median,
spread and whether the machine was busy. Torch-free: a measurement's dataclass inherits it and
carries ``times_s`` (seconds per forward, one per block or run) and ``other_cores``."""

from __future__ import annotations

import statistics

from calc import machine_load

NOISY_SPREAD = 0.25  # IQR / median beyond which the times disagree: other work disturbed them


class Timings:
    times_s: tuple[float, ...]
    other_cores: float | None  # other programs' average CPU use while timed, in cores

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
    def spread(self) -> float:
        """IQR / median: how far apart the times are."""
        return self.iqr_s / self.median_s

    @property
    def noisy(self) -> bool:
        """The times disagree by more than NOISY_SPREAD: other work disturbed the timing."""
        return self.spread > NOISY_SPREAD

    @property
    def busy_machine(self) -> bool:
        """Other programs used a noticeable share of the CPU while this was timed."""
        return self.other_cores is not None and self.other_cores > machine_load.BUSY_OTHER_CORES
