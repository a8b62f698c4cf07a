"""Theoretical time of a Report on a device: pure arithmetic, no torch.

Two answers, from the simplest to the roofline (Williams, Waterman and Patterson,
"Roofline", CACM 2009):

  (a) peak time      t = FLOPs / P                     FLOPs = 2 x MACs
  (b) roofline time  t = sum over layers of max(FLOPs_i / P, bytes_i / B)

with P the peak arithmetic rate (FLOP/s) and B the memory bandwidth (bytes/s). A layer
whose bytes / B exceeds its FLOPs / P is memory-bound: its arithmetic intensity
I = FLOPs / bytes lies left of the ridge point P / B. A layer's bytes are its weights
and input read and its output written once (Row.memory_bytes), so (b) assumes no
cache reuse between layers and no fusion; kernel launches and framework overhead
are in neither: they are what a measurement adds.
"""

from __future__ import annotations

from dataclasses import dataclass

from calc.analyze import Report, Row


@dataclass(frozen=True)
class Roofs:
    peak_flops_per_s: float
    bandwidth_bytes_per_s: float
    label: str = ""

    @property
    def ridge_flops_per_byte(self) -> float:
        """The intensity where the bandwidth slope meets the compute ceiling: P / B."""
        return self.peak_flops_per_s / self.bandwidth_bytes_per_s

    def attainable_flops_per_s(self, intensity: float) -> float:
        """The roof at ``intensity`` FLOPs/byte: min(P, I x B)."""
        return min(self.peak_flops_per_s, intensity * self.bandwidth_bytes_per_s)


def peak_seconds(flops: int, roofs: Roofs) -> float:
    """(a): FLOPs / P."""
    return flops / roofs.peak_flops_per_s


def roofline_seconds(flops: int, memory_bytes: int, roofs: Roofs) -> float:
    """(b) for one layer: max(FLOPs / P, bytes / B)."""
    return max(flops / roofs.peak_flops_per_s, memory_bytes / roofs.bandwidth_bytes_per_s)


@dataclass(frozen=True)
class LayerTime:
    row: Row
    compute_seconds: float  # FLOPs / P
    memory_seconds: float  # bytes / B

    @property
    def seconds(self) -> float:
        return max(self.compute_seconds, self.memory_seconds)

    @property
    def memory_bound(self) -> bool:
        return self.memory_seconds > self.compute_seconds

    @property
    def bound(self) -> str:
        return "memory" if self.memory_bound else "compute"


@dataclass(frozen=True)
class Estimate:
    roofs: Roofs
    flops: int
    memory_bytes: int
    layers: tuple[LayerTime, ...]

    @property
    def peak_seconds(self) -> float:
        """(a): the whole model's FLOPs at peak rate."""
        return peak_seconds(self.flops, self.roofs)

    @property
    def roofline_seconds(self) -> float:
        """(b): each layer at its roof, summed."""
        return sum(layer.seconds for layer in self.layers)

    @property
    def memory_bound_layers(self) -> tuple[LayerTime, ...]:
        return tuple(layer for layer in self.layers if layer.memory_bound)

    @property
    def memory_bound_share(self) -> float:
        """Share of the roofline time spent in memory-bound layers."""
        total = self.roofline_seconds
        return sum(layer.seconds for layer in self.memory_bound_layers) / total if total else 0.0


def estimate(report: Report, roofs: Roofs) -> Estimate:
    """(a) and (b) for ``report`` (its batch and dtype) on ``roofs``."""
    layers = tuple(
        LayerTime(row, row.flops / roofs.peak_flops_per_s, row.memory_bytes / roofs.bandwidth_bytes_per_s)
        for row in report.rows
    )
    return Estimate(roofs, report.flops, report.memory_bytes, layers)


def efficiency(theoretical_seconds: float, measured_seconds: float) -> float:
    """Theoretical / measured: 1.0 means the device ran at its roof."""
    return theoretical_seconds / measured_seconds if measured_seconds > 0 else float("nan")


@dataclass(frozen=True)
class AgainstMeasurement:
    """A forward timed here, set against theory: (a) and (b) on this machine's probed roofs, and
    (a) on the device's spec-sheet peak when it has one. Efficiency is theory / measured."""

    measured_seconds: float
    probed: Estimate
    spec_peak_seconds: float | None = None  # FLOPs / the spec-sheet peak

    @property
    def spec_peak_efficiency(self) -> float | None:
        if self.spec_peak_seconds is None:
            return None
        return efficiency(self.spec_peak_seconds, self.measured_seconds)

    @property
    def probed_peak_efficiency(self) -> float:
        return efficiency(self.probed.peak_seconds, self.measured_seconds)

    @property
    def roofline_efficiency(self) -> float:
        return efficiency(self.probed.roofline_seconds, self.measured_seconds)


def against_measurement(
    report: Report, probed_roofs: Roofs, measured_seconds: float, spec_peak_flops_per_s: float | None = None
) -> AgainstMeasurement:
    """``report`` timed at ``measured_seconds`` here, against the probed roofs and a spec-sheet peak."""
    spec_seconds = None if spec_peak_flops_per_s is None else report.flops / spec_peak_flops_per_s
    return AgainstMeasurement(measured_seconds, estimate(report, probed_roofs), spec_seconds)
