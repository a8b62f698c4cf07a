"""calc.held_out: the list the page and the benchmark share, and the three predictions as arithmetic."""

from __future__ import annotations

import pytest

import calc
from calc import calibration as model
from calc import held_out, zoo


def test_the_list_is_at_least_twenty_torchvision_models_of_the_zoo():
    assert len(held_out.HELD_OUT) >= 20 and len(set(held_out.HELD_OUT)) == len(held_out.HELD_OUT)
    for name in held_out.HELD_OUT:
        assert zoo.model_info(name).source == "torchvision", name


def test_the_benchmark_measures_the_same_list():
    from benchmarks import bench_prediction

    assert bench_prediction.HELD_OUT is held_out.HELD_OUT


def flat(value: float) -> model.EfficiencyTable:
    return model.EfficiencyTable((6.0,), (value,))


@pytest.mark.parametrize(
    "compute, memory", [pytest.param(0.5, 0.5, id="half"), pytest.param(1.0, 2.0, id="cache")]
)
def test_the_three_predictions_are_their_formulas(compute, memory):
    calibration = model.Calibration(
        model.Fingerprint("cpu", "Test CPU", 2, "2.14.1", "fp32"),
        peak_flops_per_s=100e9,
        bandwidth_bytes_per_s=10e9,
        op_overhead_s=5e-6,
        call_overhead_s=2e-6,
        fits=tuple(
            model.KindFit(kind, flat(compute) if kind in model.MAC_KINDS else None, flat(memory), 3)
            for kind in model.CALIBRATED_KINDS
        ),
    )
    # linear 512 -> 1000 without bias, on [512], fp32: one GEMV, far below the ridge of 10 FLOPs a byte
    report = calc.analyze(
        calc.parse_stack(
            {"input": [512], "layers": [{"type": "linear", "out_features": 1000, "bias": False}]}
        )
    )
    flops, memory_bytes = 2 * 512 * 1000, 4 * (512 * 1000 + 512 + 1000)
    peak_s, roofline_s, calibrated_s = held_out.predictions(report, calibration)
    assert peak_s == pytest.approx(flops / 100e9)
    assert roofline_s == pytest.approx(max(flops / 100e9, memory_bytes / 10e9))
    assert calibrated_s == pytest.approx(
        max(flops / (compute * 100e9), memory_bytes / (memory * 10e9)) + 5e-6 + 2e-6
    )


@pytest.mark.parametrize(
    "passes, measured_s, at_calibration_speed_s, disturbed",
    [
        pytest.param([held_out.Pass(10e-3, 1.2)], 10e-3, 10e-3 / 1.2, False, id="one pass"),
        # a spell slows the second pass 40 % and the reference around it not at all: out-voted
        pytest.param(
            [held_out.Pass(10e-3), held_out.Pass(14e-3), held_out.Pass(10.4e-3, 1.04)],
            10.4e-3,
            10e-3,
            False,
            id="a slow spell out-voted",
        ),
        # the machine 20 % and 10 % slower in two passes, the reference with it: each pass 10 ms at speed 1
        pytest.param(
            [held_out.Pass(12e-3, 1.2), held_out.Pass(10e-3), held_out.Pass(11e-3, 1.1)],
            11e-3,
            10e-3,
            False,
            id="speeds scaled per pass",
        ),
        pytest.param(
            [held_out.Pass(10e-3), held_out.Pass(11e-3, 1.0, disturbed=True)],
            (10e-3 + 11e-3) / 2,
            (10e-3 + 11e-3) / 2,
            True,
            id="a disturbed pass",
        ),
    ],
)
def test_a_row_of_passes_is_their_median_at_the_calibrations_speed(
    passes, measured_s, at_calibration_speed_s, disturbed
):
    row = held_out.Row.of_passes("m", (5e-3, 8e-3, 10e-3), passes)
    assert row.measured_s == pytest.approx(measured_s)
    assert row.speed == pytest.approx(measured_s / at_calibration_speed_s)
    assert row.disturbed is disturbed
    assert row.passes == (tuple(one.measured_s for one in passes) if len(passes) > 1 else ())
    # the error is the prediction's against the time at the calibration's speed
    assert row.errors == pytest.approx(
        tuple(predicted / at_calibration_speed_s - 1 for predicted in (5e-3, 8e-3, 10e-3))
    )


def test_a_row_needs_a_pass():
    with pytest.raises(ValueError, match="at least one measured pass"):
        held_out.Row.of_passes("m", (1.0, 1.0, 1.0), [])
