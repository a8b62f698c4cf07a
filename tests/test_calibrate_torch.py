"""Calibrating on a device: every micro-benchmark is priced as the kind it calibrates, a stored
calibration is reused and a corrupt one rebuilt, ``calc calibrate --quick`` feeds ``latency
--calibration`` and ``latency --device``, and the CUDA path runs where there is CUDA."""

from __future__ import annotations

import json
import statistics
from types import SimpleNamespace

import pytest
import torch
from test_calibration import calibration_with

from calc import calibration as model
from calc import calibration_file, disk_cache, torch_calibrate, zoo
from calc.__main__ import main
from calc.conv_path import ConvRules
from calc.time_bound import TimeBound
from calc.torch_rounds import RoundsTiming
from calc.work import Work

SMALL_CNN = "stack: Small CNN (CIFAR-10)"
# refined by their module whatever the machine; refined by the machine's kernel
OP_REFINED = {model.RefinedKind.TRANSCENDENTAL_ACTIVATION, model.RefinedKind.FEATURE_NORMALIZATION}
CONV_REFINED = set(model.RefinedKind) - OP_REFINED
ONE_THREAD_REFINED = CONV_REFINED - {model.RefinedKind.POINTWISE_PADDED}


@pytest.fixture
def cache_folder(tmp_path, monkeypatch):
    monkeypatch.setenv(disk_cache.CACHE_DIR_ENV, str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.mark.parametrize(
    "bench", [pytest.param(bench, id=bench.name) for bench in torch_calibrate.benchmarks()]
)
def test_each_benchmark_is_priced_as_the_kind_it_calibrates(bench: torch_calibrate.Bench):
    kind, flops, memory_bytes = torch_calibrate.count_benchmark(bench, bench.build().eval(), "fp32")
    assert model.base_kind(kind) == bench.kind
    assert kind == bench.kind or kind in OP_REFINED  # no machine's rules: no convolution refined
    assert (flops > 0) == (bench.kind in model.MAC_KINDS)
    assert memory_bytes >= 4 * (torch.Size(bench.input_shape).numel())  # its input, read once at least


@pytest.mark.parametrize(
    "rules, refined",
    [
        pytest.param(ConvRules(2, 16), CONV_REFINED, id="2-threads-avx512"),
        pytest.param(ConvRules(1, 16), ONE_THREAD_REFINED, id="1-thread-avx512"),  # 1×1 convs native
        pytest.param(ConvRules(2, 0), set(), id="gpu"),
    ],
)
def test_the_grid_times_each_refined_kind_a_machine_runs(rules, refined):
    kinds = [
        torch_calibrate.count_benchmark(bench, bench.build().eval(), "fp32", rules)[0]
        for bench in torch_calibrate.benchmarks()
    ]
    assert {kind for kind in kinds if isinstance(kind, model.RefinedKind)} == refined | OP_REFINED
    for kind in refined | OP_REFINED:
        assert kinds.count(kind) >= 3, kind  # a table of a few sizes
    plain = (Work.POINTWISE_CONV, Work.DEPTHWISE_CONV, Work.STANDARD_CONV, *map(model.base_kind, OP_REFINED))
    for kind in plain:  # and what they refine keeps a table of its own
        assert kinds.count(kind) >= 3, kind


def test_the_quick_grid_has_every_kind_and_the_full_grid_more():
    quick, full = torch_calibrate.benchmarks(quick=True), torch_calibrate.benchmarks()
    assert {bench.kind for bench in quick} == set(model.CALIBRATED_KINDS)
    assert len(quick) == torch_calibrate.QUICK_PER_KIND * len(model.CALIBRATED_KINDS) < len(full)


class _PassedGrid:
    """calibrate()'s timing replaced by known figures per pass: each op's time is its own base times
    the pass's factor (None: the pass ran out of time), the overheads and the speed reference given
    per pass. A pass starts with the timing of the overheads."""

    def __init__(self, factors, calls_s, ops_s, references_s):
        self.factors, self.calls_s, self.ops_s, self.references_s = factors, calls_s, ops_s, references_s
        self.number, self.bases = -1, {}

    def timed(self, module, input_shape, device, dtype, bound, quick):
        if isinstance(module, torch.nn.Identity):
            self.number += 1
            return SimpleNamespace(min_s=self.calls_s[self.number])
        return SimpleNamespace(
            min_s=self.calls_s[self.number] + torch_calibrate.OVERHEAD_CHAIN * self.ops_s[self.number]
        )

    def rounds(self, modules, input_shapes, device, dtype, bound, max_rounds, first_round_bound=None):
        factor = self.factors[self.number]
        seconds = []
        for module in modules:
            base = self.bases.setdefault(id(module), 1e-4 * (len(self.bases) + 1))
            seconds.append(None if factor is None else base * factor)
        return RoundsTiming(tuple(seconds), 1, False, (False,) * len(modules), tuple(seconds))

    def install(self, monkeypatch):
        monkeypatch.setattr(torch_calibrate, "_timed", self.timed)
        monkeypatch.setattr(torch_calibrate, "time_in_rounds", self.rounds)
        monkeypatch.setattr(
            torch_calibrate, "reference_seconds", lambda *args: self.references_s[max(self.number, 0)]
        )
        monkeypatch.setattr(
            torch_calibrate,
            "probe",
            lambda *args, **kwargs: SimpleNamespace(
                peak_flops_per_s={"fp32": 200e9}, bandwidth_bytes_per_s=30e9
            ),
        )


MS, US = 1e-3, 1e-6


@pytest.mark.parametrize(
    "quick, factors, references_s, kept",
    [
        pytest.param(False, (1.0, 1.5, 1.1), (4 * MS, 4 * MS, 4 * MS), 1.1, id="a-slow-spell-out-voted"),
        pytest.param(
            False, (1.0, 4.0, 2.0), (2 * MS, 8 * MS, 4 * MS), 2.0, id="each-pass-at-the-calibrations-speed"
        ),
        pytest.param(
            False, (1.0, 1.5, None), (4 * MS, 4 * MS, 4 * MS), (1.0 + 1.5) / 2, id="the-last-pass-out-of-time"
        ),
        pytest.param(True, (1.5,), (2 * MS,), 1.5, id="quick-one-pass"),
    ],
)
def test_the_grid_is_timed_in_passes_and_each_op_keeps_their_median(
    monkeypatch, quick, factors, references_s, kept
):
    """Each op's time is the median of its passes, each scaled to the calibration's speed reference
    (the geometric mean of the reference timed before each group: in the table, 4 ms where there are
    three passes); the overheads are each pass's median too."""
    passes = len(factors)
    assert passes == (torch_calibrate.QUICK_PASSES if quick else torch_calibrate.PASSES)
    calls_s, ops_s = (3 * US, 5 * US, 3.1 * US), (2 * US, 4 * US, 2.2 * US)
    grid = _PassedGrid(factors, calls_s, ops_s, references_s)
    grid.install(monkeypatch)
    messages = []
    run = torch_calibrate.calibrate(
        "cpu", "fp32", quick, lambda share, text: messages.append(text), TimeBound.starting_now(600)
    )
    assert grid.number == passes - 1
    assert run.calibration.reference_s == pytest.approx(4 * MS if passes == 3 else 2 * MS)
    assert sorted(sample.seconds for sample in run.samples) == pytest.approx(
        sorted(base * kept for base in grid.bases.values())
    )
    assert len(run.samples) == len(torch_calibrate.benchmarks(quick)) and not run.skipped
    assert run.calibration.call_overhead_s == pytest.approx(statistics.median(calls_s[:passes]))
    assert run.calibration.op_overhead_s == pytest.approx(statistics.median(ops_s[:passes]))
    groups = -(-len(run.samples) // torch_calibrate.NEIGHBOURS)
    timing = [message for message in messages if message.startswith("pass ")]
    assert len(timing) == passes * groups and timing[0].startswith(
        f"pass 1 of {passes}, group 1 of {groups}: "
    )


def _counting_calibrate(monkeypatch) -> list:
    calls = []

    def calibrate(device, dtype, quick):
        calls.append((device, dtype, quick))
        made = calibration_with(fingerprint=torch_calibrate.fingerprint(device, dtype), quick=quick)
        return torch_calibrate.CalibrationRun(made, (), (), 0)

    monkeypatch.setattr(torch_calibrate, "calibrate", calibrate)
    return calls


def test_a_stored_calibration_is_reused_and_a_corrupt_one_rebuilt(cache_folder, monkeypatch):
    calls = _counting_calibrate(monkeypatch)
    first = torch_calibrate.calibration_here("cpu", "fp32")
    assert calls == [("cpu", "fp32", False)]
    assert torch_calibrate.calibration_here("cpu", "fp32") == first and len(calls) == 1  # reused
    path = disk_cache.path_of(calibration_file.CACHE_KIND, calibration_file.cache_key(first.fingerprint))
    path.write_text('{"format": 3, "kind": "calibration", "key": "broken', encoding="utf-8")
    assert torch_calibrate.calibration_here("cpu", "fp32") == first and len(calls) == 2  # rebuilt
    assert calibration_file.stored(first.fingerprint) == first  # and stored again, whole


def test_calibrate_quick_feeds_latency_calibration_file(cache_folder, tmp_path, capsys):
    assert main(["calibrate", "--quick", "--json"]) == 0
    text = capsys.readouterr().out
    calibration = calibration_file.calibration_from_json(text)
    assert calibration.quick and calibration.fingerprint == torch_calibrate.fingerprint("cpu", "fp32")
    assert calibration.seconds <= torch_calibrate.QUICK_SECONDS + 2.0  # the bound, and the fit after it
    assert calibration_file.stored(calibration.fingerprint, quick=True) == calibration
    path = tmp_path / "box.json"
    path.write_text(text, encoding="utf-8")
    assert main(["latency", "resnet18", "--calibration", str(path), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    expected = model.predict(zoo.count("resnet18"), calibration)
    assert out["predicted_s"] == pytest.approx(expected.seconds)
    assert out["hardware"] == f"Calibrated: {calibration.fingerprint.label}"
    assert [layer["predicted_s"] for layer in out["layers"]] == pytest.approx(
        [layer.seconds for layer in expected.layers]
    )
    assert "prediction_error" not in out  # nothing was measured
    assert main(["latency", "resnet18", "--calibration", str(path)]) == 0
    assert f"calibrated on {calibration.fingerprint.label} (quick)" in capsys.readouterr().out


def test_a_measured_latency_reports_its_prediction_error(cache_folder, capsys):
    calibration = calibration_with(fingerprint=torch_calibrate.fingerprint("cpu", "fp32"))
    calibration_file.store(calibration)
    assert main(["latency", SMALL_CNN, "--device", "cpu", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["prediction_error"] == pytest.approx(out["predicted_s"] / out["measured_median_s"] - 1)
    assert out["predicted_s"] == pytest.approx(
        sum(layer["predicted_s"] for layer in out["layers"]) + calibration.call_overhead_s
    )


def test_a_measured_latency_without_a_calibration_says_so(cache_folder, capsys):
    assert main(["latency", SMALL_CNN, "--device", "cpu"]) == 0
    assert "no calibration stored for this machine" in capsys.readouterr().out


def test_a_calibration_file_that_is_not_one_is_refused(tmp_path, capsys):
    path = tmp_path / "box.json"
    path.write_text(json.dumps({"format": 1}), encoding="utf-8")
    assert main(["latency", "resnet18", "--calibration", str(path)]) == 2
    error = capsys.readouterr().err
    assert "--calibration" in error and "not a MACscope calibration" in error


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_a_quick_calibration_on_cuda(cache_folder):
    run = torch_calibrate.calibrate("cuda", "fp16", quick=True)
    calibration = run.calibration
    assert calibration.fingerprint.device == "cuda"
    assert calibration.fingerprint.label == torch.cuda.get_device_name(0)
    assert {fit.kind for fit in calibration.fits} == set(model.CALIBRATED_KINDS)
    report = zoo.count("resnet18", dtype="fp16")
    assert model.predict(report, calibration).seconds > 0
    assert (
        calibration_file.calibration_from_json(calibration_file.calibration_to_json(calibration))
        == calibration
    )


def test_the_benchmark_summary_is_hit_rates_and_median_errors():
    from calc.held_out import Row, summarize

    rows = [
        Row("a", 1.0, (0.5, 0.8, 1.1)),  # errors -50 %, -20 %, +10 %
        Row("b", 2.0, (1.0, 1.2, 2.6)),  # -50 %, -40 %, +30 %
        Row("c", 4.0, (2.0, 3.6, 4.4)),  # -50 %, -10 %, +10 %
    ]
    summaries = summarize(rows)
    assert [s.hit_rate for s in summaries] == pytest.approx([0 / 3, 2 / 3, 2 / 3])
    assert [s.median_abs_error for s in summaries] == pytest.approx([0.5, 0.2, 0.1])


def test_the_benchmark_scales_each_prediction_by_the_speed_during_its_measurement():
    from calc.held_out import Row, summarize

    rows = [
        Row("a", 1.0, (0.5, 0.8, 0.8), speed=1.25),  # scaled 0.625, 1.0, 1.0: errors -37.5 %, 0, 0
        Row("b", 2.0, (1.0, 1.2, 2.6), speed=0.8),  # scaled 0.8, 0.96, 2.08: -60 %, -52 %, +4 %
    ]
    assert rows[0].errors == pytest.approx((0.5 * 1.25 - 1, 0.8 * 1.25 - 1, 0.8 * 1.25 - 1))
    assert rows[0].unscaled_errors == pytest.approx((0.5 - 1, 0.8 - 1, 0.8 - 1))
    assert [s.hit_rate for s in summarize(rows)] == pytest.approx([0 / 2, 1 / 2, 2 / 2])
    assert [s.hit_rate for s in summarize(rows, scaled=False)] == pytest.approx([0 / 2, 1 / 2, 1 / 2])


def test_the_speed_reference_is_timed_in_the_calibration_and_around_a_measurement(cache_folder):
    calibration = torch_calibrate.calibrate("cpu", "fp32", quick=True).calibration
    assert calibration.reference_s > 0
    result, speed = torch_calibrate.speed_around(calibration, "cpu", lambda: "measured")
    assert result == "measured"
    assert 0.3 < speed < 3.0  # the same machine a moment later; its speed moves, not tenfold
    assert torch_calibrate.reference_seconds("cpu", "fp32") > 0


def test_a_measured_latency_scales_its_prediction_by_the_speed_factor(cache_folder, capsys):
    calibration = calibration_with(fingerprint=torch_calibrate.fingerprint("cpu", "fp32"), reference_s=1e-3)
    calibration_file.store(calibration)
    assert main(["latency", SMALL_CNN, "--device", "cpu", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["prediction_error"] == pytest.approx(
        out["predicted_s"] * out["speed_factor"] / out["measured_median_s"] - 1
    )
    if out["disturbed"]:  # other programs ran: their load is no speed of this machine's
        assert out["speed_factor"] == 1 and out["speed_note"] is None
    else:  # the reference takes milliseconds here, not the 1 ms stored
        assert out["speed_factor"] > 1 and "as long as during the calibration" in out["speed_note"]


def test_latency_warns_of_a_calibration_made_on_a_busy_machine(tmp_path, capsys):
    busy = model.Disturbance(other_cores=1.2, benchmarks=91, disturbed=40, noisy=5)
    path = tmp_path / "busy.json"
    path.write_text(
        calibration_file.calibration_to_json(calibration_with(disturbance=busy)), encoding="utf-8"
    )
    assert main(["latency", SMALL_CNN, "--calibration", str(path), "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)["calibration"]
    assert printed["busy_machine"] is True and printed["warning"] == busy.warning()
    assert main(["latency", SMALL_CNN, "--calibration", str(path)]) == 0
    assert "recalibrate on a quiet machine" in capsys.readouterr().out
