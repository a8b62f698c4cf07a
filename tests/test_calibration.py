"""The calibrated latency model, torch-free: the fit recovers efficiencies known beforehand from
timings made with them, predict() is the arithmetic of its docstring, a calibration survives JSON
and the cache folder, and a corrupt, stale or foreign file is never used."""

from __future__ import annotations

import dataclasses
import json
import math

import pytest

import calc
from calc import calibration as model
from calc import calibration_file, disk_cache
from calc.analyze import Row
from calc.calibration_fit import PassTime, Sample, fit, over_passes
from calc.cost import Cost
from calc.work import Work

PEAK = 100e9  # FLOP/s
BANDWIDTH = 10e9  # bytes/s: the ridge is at 10 FLOPs per byte
OP_S = 5e-6
CALL_S = 2e-6
FINGERPRINT = model.Fingerprint("cpu", "Test CPU", 2, "2.14.1", "fp32")


def flat(value: float) -> model.EfficiencyTable:
    return model.EfficiencyTable((6.0,), (value,))


def calibration_with(
    compute: dict | None = None,
    memory: dict | None = None,
    fingerprint: model.Fingerprint = FINGERPRINT,
    **fields,
) -> model.Calibration:
    """A calibration with the given tables per kind (flat 0.5 of each roof otherwise)."""
    compute, memory = compute or {}, memory or {}
    fits = tuple(
        model.KindFit(
            kind,
            compute.get(kind, flat(0.5)) if kind in model.MAC_KINDS else None,
            memory.get(kind, flat(0.5)),
            3,
        )
        for kind in model.CALIBRATED_KINDS
    )
    values = dict(
        peak_flops_per_s=PEAK, bandwidth_bytes_per_s=BANDWIDTH, op_overhead_s=OP_S, call_overhead_s=CALL_S
    )
    return model.Calibration(fingerprint, fits=fits, **{**values, **fields})


def timed(truth: model.Calibration, kind, flops: int, memory_bytes: float) -> Sample:
    """A micro-benchmark's time as the true model says: its op and one model call."""
    seconds = model.component_time(model.Component(kind, flops, memory_bytes), truth).seconds
    return Sample(kind, flops, memory_bytes, seconds + truth.call_overhead_s)


# ------------------------------------------------------------------ the fit recovers known efficiencies

STANDARD_COMPUTE = model.EfficiencyTable((6.0, 7.0, 8.0, 9.0), (0.1, 0.3, 0.6, 0.7))  # small convs are slow
CACHE_MEMORY = model.EfficiencyTable((5.0, 6.0, 7.0, 8.0), (3.0, 2.0, 1.0, 0.6))  # small data from cache
TRUTH = calibration_with(
    compute={Work.STANDARD_CONV: STANDARD_COMPUTE, Work.DEPTHWISE_CONV: flat(0.05)},
    memory={Work.DEPTHWISE_CONV: flat(0.2), model.OtherWork.ELEMENTWISE: CACHE_MEMORY},
)
HALF_DECADES = [5.0 + 0.5 * i for i in range(9)]  # 1e5 ... 1e9


def samples_by_intensity(truth: model.Calibration, flops: int, intensities) -> list[Sample]:
    """Each kind with MACs at ``flops`` and each intensity (FLOPs a byte), the others at 1 MB, then
    three memory-bound linears (a fit needs both sides of the ridge)."""
    return [
        timed(truth, kind, flops, flops / intensity)
        if kind in model.MAC_KINDS
        else timed(truth, kind, 0, 1e6)
        for kind in model.CALIBRATED_KINDS
        for intensity in intensities
    ] + [timed(truth, Work.LINEAR, round(size / 2), size) for size in (1e6, 1e7, 1e8)]


def synthetic_samples(truth: model.Calibration) -> list[Sample]:
    """Per kind, compute-bound samples (200 FLOPs a byte) and memory-bound ones (0.5 FLOP a byte)
    every half decade; kinds without MACs only the latter."""
    samples = []
    for kind in model.CALIBRATED_KINDS:
        for log_size in HALF_DECADES:
            size = 10**log_size
            if kind in model.MAC_KINDS:
                samples.append(timed(truth, kind, round(size * 10), size * 10 / 200))
                samples.append(timed(truth, kind, round(size / 2), size))
            elif log_size <= 8.0:
                samples.append(timed(truth, kind, 0, size))
    return samples


def fitted(kind, samples: list[Sample]) -> model.KindFit:
    fits = fit(samples, PEAK, BANDWIDTH, OP_S, CALL_S)
    return next(item for item in fits if item.kind == kind)


RECOVERY = [
    pytest.param(Work.STANDARD_CONV, "compute", STANDARD_COMPUTE, id="standard-conv-compute-by-size"),
    pytest.param(Work.DEPTHWISE_CONV, "compute", flat(0.05), id="depthwise-compute"),
    pytest.param(Work.DEPTHWISE_CONV, "memory", flat(0.2), id="depthwise-memory"),
    pytest.param(Work.LINEAR, "memory", flat(0.5), id="linear-memory"),
    pytest.param(model.OtherWork.ELEMENTWISE, "memory", CACHE_MEMORY, id="elementwise-memory-cache"),
    pytest.param(model.OtherWork.POOLING, "memory", flat(0.5), id="pooling-memory"),
]


@pytest.mark.parametrize("kind, side, table", RECOVERY)
def test_the_fit_recovers_known_efficiencies(kind, side, table: model.EfficiencyTable):
    result = getattr(fitted(kind, synthetic_samples(TRUTH)), side)
    for log_size in HALF_DECADES[1:-1]:
        assert result.at(10**log_size) == pytest.approx(table.at(10**log_size), rel=1e-6), log_size


def test_the_fit_finds_which_roof_binds_near_the_ridge():
    # e_c 0.5 and e_b 0.8 move the ridge from 10 to 6.25 FLOPs a byte: samples between the two are
    # memory-bound, though the probed roofs say compute; deciding the sides again with the fit finds it
    truth = calibration_with(compute={Work.LINEAR: flat(0.5)}, memory={Work.LINEAR: flat(0.8)})
    intensities = (1.0, 4.0, 7.0, 8.0, 9.0, 20.0, 100.0)
    samples = samples_by_intensity(truth, round(1e8), intensities)
    result = fitted(Work.LINEAR, samples)
    assert result.compute.at(1e8) == pytest.approx(0.5, rel=1e-6)
    assert result.memory.at(1e8 / 7.0) == pytest.approx(0.8, rel=1e-6)


GEMM_BY_INTENSITY = model.EfficiencyTable((1.0, 1.5, 2.0), (0.2, 0.5, 0.8))  # few tokens: weights reused less


def test_a_linears_compute_efficiency_is_keyed_by_its_intensity():
    """Linear layers of the same FLOPs and different intensity (tokens) attain different fractions
    of the peak: the fit recovers the table by F / B, and predict() prices them apart."""
    truth = calibration_with(compute={Work.LINEAR: GEMM_BY_INTENSITY})
    flops = round(2.3e8)
    intensities = [10.0, 10**1.5, 100.0]  # FLOPs a byte, every half decade: compute-bound
    samples = samples_by_intensity(truth, flops, intensities)
    result = fitted(Work.LINEAR, samples)
    for intensity in intensities:
        assert result.compute.at(intensity) == pytest.approx(GEMM_BY_INTENSITY.at(intensity), rel=1e-6)
    few_tokens, many_tokens = (
        model.component_time(model.Component(Work.LINEAR, flops, flops / intensity), truth).compute_seconds
        for intensity in (10.0, 100.0)
    )
    assert few_tokens / many_tokens == pytest.approx(0.8 / 0.2)


def _pooling(input_elements: int, output_elements: int) -> model.Component:
    cost = Cost(
        (1, output_elements), 0, other_ops=(("pooling", input_elements),), input_elements=input_elements,
        output_elements=output_elements,
    )  # fmt: skip
    (piece,) = model.components(Row(0, "pool", "Pool", (), (), cost, 4))
    return piece


@pytest.mark.parametrize(
    "input_elements, output_elements, kind",
    [
        pytest.param(64 * 112 * 112, 64 * 56 * 56, model.OtherWork.POOLING, id="max-pool-3x3-stride-2"),
        pytest.param(256 * 13 * 13, 256 * 6 * 6, model.OtherWork.POOLING, id="alexnet-adaptive-6x6"),
        pytest.param(96 * 112 * 112, 96, model.OtherWork.REDUCTION, id="global-average-pool"),
        pytest.param(1280 * 7 * 7, 1280, model.OtherWork.REDUCTION, id="global-pool-of-7x7"),
    ],
)
def test_global_pooling_is_priced_as_a_reduction(input_elements, output_elements, kind):
    piece = _pooling(input_elements, output_elements)
    assert piece.kind == kind
    assert piece.memory_bytes == (input_elements + output_elements) * 4


def test_a_kind_without_samples_is_named():
    samples = [s for s in synthetic_samples(TRUTH) if s.kind != model.OtherWork.POOLING]
    with pytest.raises(ValueError, match="no sample of pooling"):
        fit(samples, PEAK, BANDWIDTH, OP_S, CALL_S)


# ------------------------------------------------------------------ predict(), as arithmetic

# conv 3 -> 8 (3x3, padding 1, bias), relu, flatten, linear 8*8*8 -> 10, on [3, 8, 8], fp32
TINY = {
    "input": [3, 8, 8],
    "layers": [
        {"type": "conv2d", "out_channels": 8, "kernel_size": 3, "padding": 1},
        {"type": "relu"},
        {"type": "flatten"},
        {"type": "linear", "out_features": 10},
    ],
}


def test_predict_a_small_stack_is_its_arithmetic():
    calibration = calibration_with(
        compute={Work.STANDARD_CONV: flat(0.25), Work.LINEAR: flat(0.5)},
        memory={Work.LINEAR: flat(0.1), model.OtherWork.ACTIVATION: flat(2.0)},
    )
    prediction = model.predict(calc.analyze(calc.parse_stack(TINY)), calibration)
    conv = max(2 * 8 * 3 * 3 * 3 * 8 * 8 / (0.25 * PEAK), (224 + 192 + 512) * 4 / (0.5 * BANDWIDTH)) + OP_S
    relu = (512 + 512) * 4 / (2.0 * BANDWIDTH) + OP_S  # no MACs: its bytes only
    flatten = 0.0  # a view: nothing to price
    linear = max(2 * 512 * 10 / (0.5 * PEAK), (5130 + 512 + 10) * 4 / (0.1 * BANDWIDTH)) + OP_S
    assert [layer.seconds for layer in prediction.layers] == pytest.approx([conv, relu, flatten, linear])
    assert prediction.seconds == pytest.approx(conv + relu + flatten + linear + CALL_S)
    assert [layer.bound for layer in prediction.layers] == ["compute", "memory", "", "memory"]
    assert [layer.work for layer in prediction.layers] == ["standard conv", "activation", "", "linear"]


def test_predict_refuses_a_report_of_another_dtype():
    report = calc.analyze(calc.parse_stack(dict(TINY, dtype="fp16")))
    with pytest.raises(calc.SpecError, match="calibrate for fp16"):
        model.predict(report, calibration_with())


def test_other_convolutions_and_matmuls_are_priced_as_their_nearest_kind():
    calibration = calibration_with(compute={Work.STANDARD_CONV: flat(0.125), Work.LINEAR: flat(0.25)})
    for kind, efficiency in ((Work.OTHER_CONV, 0.125), (Work.OTHER_MATMULS, 0.25)):
        time = model.component_time(model.Component(kind, 10**9, 1.0), calibration)
        assert time.seconds == pytest.approx(1e9 / (efficiency * PEAK) + OP_S)


# ------------------------------------------------------------------ JSON and the cache folder


def test_a_calibration_round_trips_through_json():
    calibration = dataclasses.replace(TRUTH, quick=True, seconds=12.5, reference_s=3.2e-3)
    assert (
        calibration_file.calibration_from_json(calibration_file.calibration_to_json(calibration))
        == calibration
    )


def _corrupt(edit) -> str:
    data = calibration_file.calibration_to_data(TRUTH)
    edit(data)
    return json.dumps(data)


CORRUPT = [
    pytest.param("{", "not valid JSON", id="not-json"),
    pytest.param('{"format": 1, "format": 1}', "given twice", id="duplicate-key"),
    pytest.param(_corrupt(lambda d: d.update(format=99)), "format 99", id="another-format"),
    pytest.param(_corrupt(lambda d: d.pop("fits")), "missing \\['fits'\\]", id="missing-fits"),
    pytest.param(_corrupt(lambda d: d.update(extra=1)), "unexpected \\['extra'\\]", id="unknown-key"),
    pytest.param(_corrupt(lambda d: d.update(peak_flops_per_s="fast")), "finite number", id="peak-a-string"),
    pytest.param(
        _corrupt(lambda d: d.update(bandwidth_bytes_per_s=-1.0)), "positive", id="negative-bandwidth"
    ),
    pytest.param(
        _corrupt(lambda d: d["fingerprint"].update(threads=2.5)), "integer", id="threads-not-an-int"
    ),
    pytest.param(_corrupt(lambda d: d["fits"].pop()), "one fit for each", id="a-kind-missing"),
    pytest.param(
        _corrupt(lambda d: d["fits"][0].update(kind="warp drive")), "unknown kind", id="unknown-kind"
    ),
    pytest.param(
        _corrupt(lambda d: d["fits"][0]["compute"].update(efficiencies=[0.0, 1.0, 1.0, 1.0])),
        "positive",
        id="zero-efficiency",
    ),
    pytest.param(
        _corrupt(lambda d: d["fits"][0]["compute"].update(log10_sizes=[9.0, 8.0, 7.0, 6.0])),
        "increase",
        id="sizes-not-increasing",
    ),
    pytest.param(
        _corrupt(lambda d: d["fits"][-1].update(compute=d["fits"][0]["compute"])),
        "exactly",
        id="no-mac-with-compute",
    ),
    pytest.param(_corrupt(lambda d: d.update(quick="yes")), "true or false", id="quick-a-string"),
    pytest.param("[" * 40 + "]" * 40, "nested", id="too-deep"),
]


@pytest.mark.parametrize("text, fragment", CORRUPT)
def test_a_corrupt_calibration_is_refused_with_a_reason(text: str, fragment: str):
    with pytest.raises(ValueError, match=fragment):
        calibration_file.calibration_from_json(text)


@pytest.fixture
def cache_folder(tmp_path, monkeypatch):
    monkeypatch.setenv(disk_cache.CACHE_DIR_ENV, str(tmp_path))
    return tmp_path


def test_a_stored_calibration_is_found_by_its_fingerprint(cache_folder):
    calibration_file.store(TRUTH)
    assert calibration_file.stored(FINGERPRINT) == TRUTH
    assert calibration_file.stored(FINGERPRINT, quick=True) is None  # a quick one is kept apart


FOREIGN = [
    pytest.param(dataclasses.replace(FINGERPRINT, threads=1), id="other-threads"),
    pytest.param(dataclasses.replace(FINGERPRINT, torch_version="2.13.0"), id="other-torch"),
    pytest.param(dataclasses.replace(FINGERPRINT, dtype="bf16"), id="other-dtype"),
    pytest.param(dataclasses.replace(FINGERPRINT, label="Other CPU"), id="other-cpu"),
    pytest.param(dataclasses.replace(FINGERPRINT, device="cuda"), id="other-device"),
]


@pytest.mark.parametrize("other", FOREIGN)
def test_another_machines_calibration_is_never_used(cache_folder, other: model.Fingerprint):
    calibration_file.store(TRUTH)
    assert calibration_file.stored(other) is None
    # nor a file found under this machine's key that holds another machine's calibration
    disk_cache.write(
        calibration_file.CACHE_KIND,
        calibration_file.cache_key(other),
        calibration_file.calibration_to_data(TRUTH),
    )
    assert calibration_file.stored(other) is None


BROKEN_FILES = [
    pytest.param(lambda path: path.write_text("{not json", encoding="utf-8"), id="not-json"),
    pytest.param(lambda path: path.write_bytes(b"\xff\xfe"), id="not-utf8"),
    pytest.param(lambda path: path.write_text("", encoding="utf-8"), id="empty"),
    pytest.param(
        lambda path: path.write_text(
            path.read_text(encoding="utf-8").replace(
                f'"format":{calibration_file.FORMAT}', f'"format":{calibration_file.FORMAT - 1}', 1
            ),
            encoding="utf-8",
        ),
        id="stale-format",
    ),
    pytest.param(
        lambda path: path.write_text(
            path.read_text(encoding="utf-8").replace('"peak_flops_per_s":', '"peak_flops_per_s":"x",'),
            encoding="utf-8",
        ),
        id="a-field-corrupted",
    ),
]


@pytest.mark.parametrize("damage", BROKEN_FILES)
def test_a_corrupt_or_stale_stored_file_is_no_calibration(cache_folder, damage):
    calibration_file.store(TRUTH)
    path = disk_cache.path_of(calibration_file.CACHE_KIND, calibration_file.cache_key(FINGERPRINT))
    assert path.exists()
    damage(path)
    assert calibration_file.stored(FINGERPRINT) is None  # ignored, not a crash: the caller calibrates again


def test_prediction_error_is_predicted_over_measured_minus_one():
    assert model.prediction_error(1.25, 1.0) == pytest.approx(0.25)
    assert model.prediction_error(0.8, 1.0) == pytest.approx(-0.2)
    assert math.isnan(model.prediction_error(1.0, 0.0))


# ------------------------------------------------------------------ how disturbed the calibration was

BUSY = model.Disturbance(other_cores=1.6, benchmarks=91, disturbed=91, noisy=12)


@pytest.mark.parametrize(
    "disturbance, busy",
    [
        pytest.param(BUSY, True, id="busy"),
        pytest.param(model.Disturbance(0.05, 91, 0, 3), False, id="quiet"),
        pytest.param(model.Disturbance(0.25, 91, 0, 0), False, id="at-the-threshold"),
        pytest.param(model.Disturbance(None, 91, 0, 0), False, id="load-unknown"),
        pytest.param(model.Disturbance(), False, id="not-recorded"),
    ],
)
def test_the_disturbance_round_trips_through_json_and_says_when_to_recalibrate(disturbance, busy):
    calibration = calibration_with(disturbance=disturbance)
    back = calibration_file.calibration_from_json(calibration_file.calibration_to_json(calibration))
    assert back == calibration and back.disturbance == disturbance
    assert back.disturbance.busy_machine == busy
    assert ("recalibrate on a quiet machine" in back.disturbance.warning()) == busy
    if not busy:
        assert back.disturbance.warning() == ""


def test_a_busy_calibrations_warning_names_the_load():
    assert BUSY.warning().startswith(
        "calibrated while other programs used 1.6 CPU cores on average (91 of 91"
    )


@pytest.mark.parametrize(
    "edit, fragment",
    [
        pytest.param(lambda d: d.pop("disturbance"), "missing \\['disturbance'\\]", id="missing"),
        pytest.param(lambda d: d["disturbance"].update(other_cores=-1.0), "zero or positive", id="negative"),
        pytest.param(lambda d: d["disturbance"].update(disturbed=92), "between", id="more-than-timed"),
        pytest.param(lambda d: d["disturbance"].update(noisy=1.5), "integer", id="noisy-not-an-int"),
    ],
)
def test_a_corrupt_disturbance_is_refused(edit, fragment):
    data = calibration_file.calibration_to_data(calibration_with(disturbance=BUSY))
    edit(data)
    with pytest.raises(ValueError, match=fragment):
        calibration_file.calibration_from_json(json.dumps(data))


def test_a_calibration_of_the_previous_format_is_stale_not_a_crash(cache_folder):
    """Format 4 had no speed reference (its predictions could not be set against a measurement
    made at another speed): imported, it is refused with "calibrate again"; in the cache folder,
    under its old key or this one, it is no calibration."""
    data = calibration_file.calibration_to_data(TRUTH)
    data.pop("reference_s")
    data["format"] = 4
    with pytest.raises(ValueError, match="format 4, not 5: calibrate again"):
        calibration_file.calibration_from_json(json.dumps(data))
    old_key = {**calibration_file.cache_key(FINGERPRINT), "calibration_format": 4}
    disk_cache.write(calibration_file.CACHE_KIND, old_key, data)
    disk_cache.write(calibration_file.CACHE_KIND, calibration_file.cache_key(FINGERPRINT), data)
    assert calibration_file.stored(FINGERPRINT) is None


# ------------------------------------------------------------------ the machine's speed since the calibration


@pytest.mark.parametrize(
    "at_calibration_s, now_s, disturbed, factor, said",
    [
        pytest.param(2.75e-3, 3.45e-3, False, 3.45 / 2.75, "1.25x as long", id="slower-now"),
        pytest.param(3.45e-3, 2.75e-3, False, 2.75 / 3.45, "0.80x as long", id="faster-now"),
        pytest.param(3.0e-3, 3.0e-3 * 1.05, False, 1.05, "", id="within-10-percent-said-nothing"),
        pytest.param(0.0, 3.0e-3, False, 1.0, "", id="a-calibration-without-a-reference"),
        pytest.param(3.0e-3, 0.0, False, 1.0, "", id="not-timed-now"),
        pytest.param(3.0e-3, 27.6e-3, True, 1.0, "", id="other-programs-ran-not-scaled"),
    ],
)
def test_the_speed_factor_is_the_reference_now_over_its_time_at_calibration(
    at_calibration_s, now_s, disturbed, factor, said
):
    calibration = dataclasses.replace(TRUTH, reference_s=at_calibration_s)
    assert model.speed_factor(now_s, calibration, disturbed) == pytest.approx(factor)
    note = model.speed_note(model.speed_factor(now_s, calibration, disturbed))
    assert (said in note) if said else note == ""


def test_a_negative_reference_is_refused():
    with pytest.raises(ValueError, match="reference_s must be zero or positive"):
        dataclasses.replace(TRUTH, reference_s=-1.0)


# ------------------------------------------------------------- an op's time over the calibration's passes

MS = 1e-3


@pytest.mark.parametrize(
    "times, reference_s, expected",
    [
        pytest.param([PassTime(0.2 * MS, 3 * MS)], 3 * MS, 0.2 * MS, id="one-pass-at-the-calibrations-speed"),
        pytest.param(
            [PassTime(0.2 * MS, 3 * MS), PassTime(0.2 * 1.5 * MS, 3 * MS), PassTime(0.22 * MS, 3 * MS)],
            3 * MS,
            0.22 * MS,
            id="a-slow-spell-the-reference-missed-out-voted",
        ),
        pytest.param(
            [
                PassTime(0.2 * 1.25 * MS, 3 * 1.25 * MS),
                PassTime(0.2 * MS, 3 * MS),
                PassTime(0.3 * MS, 3 * MS),
            ],
            3 * MS,
            0.2 * MS,
            id="a-slow-spell-the-reference-saw-scaled",
        ),
        pytest.param(
            [PassTime(0.3 * MS, 4 * MS), PassTime(0.3 * MS, 4 * MS)],
            3 * MS,
            0.3 * MS * 3 / 4,
            id="at-the-speed-of-the-whole-calibration",
        ),
        pytest.param(
            [PassTime(0.2 * MS, 0.0), PassTime(0.24 * MS, 4 * MS)],
            0.0,
            (0.2 + 0.24) / 2 * MS,
            id="a-calibration-without-a-reference-unscaled",
        ),
        pytest.param(
            [PassTime(0.2 * MS, 0.0), PassTime(0.24 * MS, 4 * MS)],
            3 * MS,
            (0.2 + 0.24 * 3 / 4) / 2 * MS,
            id="a-pass-whose-reference-ran-out-unscaled",
        ),
    ],
)
def test_an_ops_time_is_the_median_of_its_passes_at_the_calibrations_speed(times, reference_s, expected):
    assert over_passes(times, reference_s) == pytest.approx(expected)


def test_an_op_without_a_pass_is_refused():
    with pytest.raises(ValueError, match="at least one timed pass"):
        over_passes([], 3 * MS)
