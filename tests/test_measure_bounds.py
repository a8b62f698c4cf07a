"""What a measurement promises besides a median: a wall-clock bound over the whole of it
(warm-up included), a prompt stop on request, a say on whether the machine was quiet, and
two models timed interleaved with their ratio's spread (calc.torch_measure, calc.time_bound,
calc.machine_load).

Forward passes are made slow on purpose with large linear layers; bounds are asserted with
a small slack for the last check's own work, never against a fixed timing.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import pytest
import torch
from torch import nn

from calc import machine_load
from calc.__main__ import main
from calc.errors import SpecError
from calc.machine_load import CpuSample, disturbance_text, other_cores
from calc.time_bound import Stopped, TimeBound
from calc.torch_measure import Measurement, PairedMeasurement, measure, measure_pair, prepare

SLACK_SECONDS = 0.3  # the work between the last check and the return


def slow_linear(width: int = 2048) -> nn.Module:
    return prepare(nn.Sequential(nn.Linear(width, width), nn.Linear(width, width)), "cpu", "fp32")


class Sleepy(nn.Module):
    """A forward that takes SECONDS_PER_SAMPLE per sample, whatever the load of this machine."""

    SECONDS_PER_SAMPLE = 0.002

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        time.sleep(self.SECONDS_PER_SAMPLE * x.shape[0])
        return x


@pytest.mark.parametrize(
    "batch, bound_seconds",
    [
        pytest.param(64, 1.5, id="0.13s-forwards-in-1.5s"),
        pytest.param(512, 3.0, id="1s-forwards-in-3s"),
    ],
)
def test_the_bound_holds_over_calibration_warm_up_and_timing(batch, bound_seconds):
    bound = TimeBound.starting_now(bound_seconds)
    measurement = measure(Sleepy(), (1,), batch, "fp32", min_run_time=30.0, bound=bound)  # asks for far more
    assert bound.left() > -SLACK_SECONDS, f"{-bound.left():.2f} s past the bound"
    assert measurement.wall_seconds <= bound_seconds + SLACK_SECONDS and len(measurement.times_s) >= 1
    assert measurement.median_s == pytest.approx(Sleepy.SECONDS_PER_SAMPLE * batch, rel=0.5)


def test_time_already_spent_counts():
    # a probe that took most of the bound leaves the measurement only the rest: 0.4 s of 1 s,
    # for forwards of 0.25 s and at least one warm-up and one timed block
    bound = TimeBound.starting_now(1.0)
    time.sleep(0.6)
    with pytest.raises(SpecError) as raised:
        measure(Sleepy(), (1,), 128, "fp32", min_run_time=30.0, bound=bound)
    assert "what is left of it is too short" in str(raised.value)
    assert bound.left() > -SLACK_SECONDS


def test_a_batch_too_slow_for_the_bound_is_refused_before_its_first_full_forward():
    # slices of the batch are timed first; a full forward (8 s here) predicted past the bound is never started
    started = time.perf_counter()
    with pytest.raises(SpecError) as raised:
        measure(Sleepy(), (1,), 4096, "fp32", bound=TimeBound.starting_now(2.0))
    assert "one forward pass at batch 4,096 would take about" in str(raised.value)
    assert raised.value.field == "batch" and time.perf_counter() - started < 2.0


def test_a_stop_request_ends_the_measurement_between_forwards():
    bound = TimeBound.starting_now(60.0)
    threading.Timer(0.5, bound.stop.set).start()
    started = time.perf_counter()
    with pytest.raises(Stopped):
        measure(Sleepy(), (1,), 50, "fp32", min_run_time=30.0, bound=bound)  # 0.1 s forwards
    assert time.perf_counter() - started < 0.5 + SLACK_SECONDS


def test_the_latency_command_bounds_probe_and_measurement_together(monkeypatch, capsys):
    # the issue: `latency mobilenet_v3_small --device cpu --batch 1024` took 93 s against a 60 s limit;
    # now one bound, started with the command, is what the probe and the measurement both check
    from calc import torch_measure, torch_probe
    from calc.cli import latency as cli_latency

    seen = {}
    probe, measure_here = torch_probe.probe, torch_measure.measure
    monkeypatch.setattr(
        torch_probe,
        "probe",
        lambda *a, bound, **k: (
            seen.setdefault("probe", bound) and probe(*a, bound=bound, budget_seconds_per_dtype=0.2, **k)
        ),
    )
    monkeypatch.setattr(
        torch_measure,
        "measure",
        lambda *a, bound, **k: seen.setdefault("measure", bound) and measure_here(*a, bound=bound, **k),
    )
    started = time.perf_counter()
    assert main(["latency", "stack: Small CNN (CIFAR-10)", "--device", "cpu", "--json"]) == 0, (
        capsys.readouterr().err
    )
    assert seen["probe"] is seen["measure"]
    assert started <= seen["probe"].end - cli_latency.MEASURE_SECONDS <= seen["probe"].end - 60.0 + 1.0


# --- a disturbed machine ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "before, after, cores",
    [
        pytest.param(CpuSample(0.0, 100.0, 10.0), CpuSample(2.0, 104.0, 14.0), 0.0, id="only-us"),
        pytest.param(
            CpuSample(0.0, 100.0, 10.0), CpuSample(2.0, 107.0, 14.0), (7.0 - 4.0) / 2.0, id="others-1.5-cores"
        ),
        pytest.param(
            CpuSample(0.0, 100.0, 10.0), CpuSample(2.0, 103.9, 14.0), 0.0, id="tick-rounding-not-negative"
        ),
        pytest.param(CpuSample(0.0, None, 10.0), CpuSample(2.0, None, 14.0), None, id="no-proc-stat"),
    ],
)
def test_other_programs_cores(before, after, cores):
    assert other_cores(before, after) == cores


@pytest.mark.parametrize(
    "other, repeat, disturbed",
    [
        pytest.param(None, None, False, id="nothing-known"),
        pytest.param(0.1, 1.0 * 1.1, False, id="quiet"),
        pytest.param(1.5, 1.0, True, id="busy-machine"),
        pytest.param(0.0, 1.0 * 1.5, True, id="repeat-50%-slower"),
        pytest.param(0.0, 1.0 * 0.7, True, id="repeat-30%-faster"),
    ],
)
def test_disturbed(other, repeat, disturbed):
    measurement = Measurement("cpu", "fp32", 1, 2, (1.0, 1.0, 1.0), 1, 3, 3.0, other, repeat)
    assert measurement.disturbed is disturbed
    if disturbed:
        text = disturbance_text(other, repeat, measurement.median_s)
        assert ("other programs used 1.5 CPU cores" in text) is (other == 1.5)
        assert "measure again" in text


def test_busy_processes_are_seen():
    # two spinning processes on this machine while a measurement runs: its CPU accounting sees them
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2)]
    try:
        time.sleep(0.3)
        measurement = measure(slow_linear(512), (512,), 16, "fp32", min_run_time=1.0)
    finally:
        for spinner in spinners:
            spinner.kill()
            spinner.wait()
    assert measurement.other_cores is not None and measurement.other_cores > machine_load.BUSY_OTHER_CORES
    assert measurement.busy_machine and measurement.disturbed
    assert measurement.repeat_median_s is not None


# --- two models interleaved ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "ratios, median, resolved",
    [
        pytest.param((0.4, 0.5, 0.6), 0.5, True, id="clearly-faster"),
        pytest.param((1.3, 1.4, 1.5, 1.6), 1.45, True, id="clearly-slower"),
        pytest.param((0.42, 1.25, 0.37, 0.52, 0.41), 0.42, True, id="outliers-outside-the-iqr"),
        pytest.param((0.8, 0.9, 1.1, 1.2), 1.0, False, id="straddles-1"),
        pytest.param((0.42, 1.25, 1.37, 0.52, 1.41), 1.25, False, id="the-issue-flipping"),
    ],
)
def test_a_ratio_is_resolved_when_its_iqr_excludes_1(ratios, median, resolved):
    one = Measurement("cpu", "fp32", 1, 2, (1.0,), 1, 3, 1.0)
    pair = PairedMeasurement(one, one, ratios)
    assert pair.ratio_median == pytest.approx(median) and pair.resolved is resolved


def test_measure_pair_times_both_in_turn():
    pair = measure_pair(
        slow_linear(1024),
        prepare(nn.Sequential(nn.Linear(1024, 32)), "cpu", "fp32"),
        (1024,),
        32,
        "fp32",
        min_run_time=0.5,
        bound=TimeBound.starting_now(10.0),
    )
    assert len(pair.ratios) == len(pair.first.times_s) == len(pair.second.times_s) >= 1
    assert pair.ratios == tuple(b / a for a, b in zip(pair.first.times_s, pair.second.times_s, strict=True))
    # two 1024×1024 matmuls against one 1024×32: far apart, whatever the load
    assert pair.resolved and pair.ratio_median < 1


def test_measure_pair_of_the_same_model_is_near_1():
    model = slow_linear(256)
    pair = measure_pair(
        model, model, (256,), 16, "fp32", min_run_time=0.5, bound=TimeBound.starting_now(10.0)
    )
    # A model against itself is 1 but for the machine's noise: on a loaded 2-core CI machine one
    # side of a 0.4 ms forward ran 2.3x the other (0.43). What this guards against is a pairing
    # error, which shows as the batch ratio (16x) or worse, so the bound is 4x either way.
    assert 0.25 < pair.ratio_median < 4.0
    assert pair.first.batch == pair.second.batch == 16
    assert pair.first.threads == pair.second.threads == torch.get_num_threads()


def test_a_model_whose_roofline_exceeds_the_bound_never_runs():
    # a forward cannot beat its roofline on this machine's probed roofs: when even that does not fit,
    # nothing runs (a batch of 1 has no slices to predict it from)
    class Never(nn.Module):
        def forward(self, x):
            raise AssertionError("ran")

    with pytest.raises(SpecError) as raised:
        measure(Never(), (1,), 1, "fp32", bound=TimeBound.starting_now(5.0), least_forward_s=4.0)
    assert "takes at least 4 s here" in str(raised.value) and raised.value.field == "batch"
