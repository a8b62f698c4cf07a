"""AppTest of the Latency page's calibrated prediction: an imported calibration (made here from
synthetic timings through calc.calibration_fit) predicts with calc's numbers, a bad file is
refused with its reason, this machine's calibration is calibrated once and then found in the
cache folder, the three predictors' errors against a measurement are calc's arithmetic, and
the "Accuracy here" tab measures a small monkeypatched list of held-out models."""

from __future__ import annotations

import dataclasses
import json

import pytest
from streamlit.testing.v1 import AppTest
from test_app import metrics, open_page, read_text

from calc import calibration as model
from calc import calibration_file, disk_cache, held_out, zoo
from calc.calibration_fit import Sample, fit
from calc.errors import SpecError
from calc.units import duration
from charts.prediction import signed_percent

SMALL = "stack: Small CNN (CIFAR-10)"
PEAK, BANDWIDTH, OP_S, CALL_S = 50e9, 10e9, 3e-6, 5e-6
HEADINGS = ("FLOPs / peak", "Roofline", "Calibrated")


def synthetic_calibration(fingerprint: model.Fingerprint) -> model.Calibration:
    """Fitted to timings made up from known efficiencies: each kind at a fifth of the compute roof and
    half the bandwidth, a compute-bound and a memory-bound sample every decade."""
    overheads = OP_S + CALL_S
    samples = []
    for kind in model.CALIBRATED_KINDS:
        macs = kind in model.MAC_KINDS
        for size in (1e5, 1e6, 1e7, 1e8):
            if macs:  # 100 FLOPs a byte: compute-bound
                samples.append(Sample(kind, round(size * 100), size, size * 100 / (0.2 * PEAK) + overheads))
            # half a FLOP a byte (none without MACs): memory-bound
            samples.append(
                Sample(kind, round(size / 2) if macs else 0, size, size / (0.5 * BANDWIDTH) + overheads)
            )
    fits = fit(samples, PEAK, BANDWIDTH, OP_S, CALL_S)
    return model.Calibration(fingerprint, PEAK, BANDWIDTH, OP_S, CALL_S, fits)


ELSEWHERE = model.Fingerprint("cuda", "Test GPU", 8, "2.14.1", "fp32")


@pytest.fixture(autouse=True)
def cache_folder(tmp_path, monkeypatch):
    monkeypatch.setenv(disk_cache.CACHE_DIR_ENV, str(tmp_path))
    return tmp_path


@pytest.fixture
def latency() -> AppTest:
    return open_page("pages/latency.py")


def here_fingerprint() -> model.Fingerprint:
    from calc import torch_calibrate

    return torch_calibrate.fingerprint("cpu", "fp32")


def shown_predictions(app: AppTest) -> dict[str, str]:
    return {label: value for label, value in metrics(app).items() if label in HEADINGS}


def expected_predictions(report, calibration) -> dict[str, str]:
    return dict(zip(HEADINGS, map(duration, held_out.predictions(report, calibration)), strict=True))


def test_an_imported_calibration_predicts_with_calcs_numbers(latency):
    calibration = synthetic_calibration(ELSEWHERE)
    text = calibration_file.calibration_to_json(calibration).encode()
    uploader = latency.file_uploader(key="latency_calibration_upload_0")
    uploader.upload("box.json", text, "application/json").run()
    assert not latency.exception, latency.exception
    loaded = "Loaded box.json: Test GPU (cuda, fp32, 8 threads"
    assert any(loaded in read_text(message.value) for message in latency.success)
    latency.radio(key="latency_calibration_source").set_value("Imported file").run()
    assert not latency.exception, latency.exception
    report = zoo.count("resnet50")
    assert shown_predictions(latency) == expected_predictions(report, calibration)
    assert metrics(latency)["Measured here"] == "not yet"
    table = next(frame.value for frame in latency.dataframe if "predicted time (ms)" in frame.value)
    prediction = model.predict(report, calibration)
    expected = [layer.seconds * 1e3 for layer in prediction.layers]
    assert list(table["predicted time (ms)"]) == pytest.approx(expected)
    assert latency.file_uploader(key="latency_calibration_upload_1").value is None  # the bytes let go


@pytest.mark.parametrize(
    "disturbance, warned",
    [
        pytest.param(model.Disturbance(1.6, 91, 91, 12), True, id="busy"),
        pytest.param(model.Disturbance(0.05, 91, 0, 0), False, id="quiet"),
        pytest.param(model.Disturbance(None, 91, 0, 0), False, id="load-unknown"),
    ],
)
def test_a_calibration_made_on_a_busy_machine_is_flagged(latency, disturbance, warned):
    calibration = dataclasses.replace(synthetic_calibration(ELSEWHERE), disturbance=disturbance)
    text = calibration_file.calibration_to_json(calibration).encode()
    latency.file_uploader(key="latency_calibration_upload_0").upload(
        "box.json", text, "application/json"
    ).run()
    latency.radio(key="latency_calibration_source").set_value("Imported file").run()
    assert not latency.exception, latency.exception
    assert shown_predictions(latency)  # predicted all the same
    warnings = [read_text(warning.value) for warning in latency.warning]
    busy = [text for text in warnings if "recalibrate on a quiet machine" in text]
    assert bool(busy) == warned, warnings
    if warned:
        assert "1.6 CPU cores" in busy[0] and "91 of 91 benchmarks" in busy[0]


@pytest.mark.parametrize(
    "text, reason",
    [
        pytest.param(b"{", "not valid JSON", id="not-json"),
        pytest.param(b'{"seconds": 1}', "missing", id="keys-missing"),
        pytest.param(b'{"format": 2}', "calibrate again", id="an-older-format"),
        pytest.param(b"\xff\xfe", "not UTF-8", id="not-text"),
    ],
)
def test_a_bad_calibration_file_is_refused_with_its_reason(latency, text, reason):
    uploader = latency.file_uploader(key="latency_calibration_upload_0")
    uploader.upload("bad.json", text, "application/json").run()
    assert not latency.exception, latency.exception
    errors = [read_text(error.value) for error in latency.error]
    assert any(reason in error and "bad.json" in error for error in errors), errors
    latency.radio(key="latency_calibration_source").set_value("Imported file").run()
    assert not shown_predictions(latency)
    assert any("No calibration imported" in read_text(info.value) for info in latency.info)


def test_calibrate_stores_this_machines_calibration(latency, monkeypatch, cache_folder):
    from calc import torch_calibrate

    calibration = synthetic_calibration(here_fingerprint())
    calls = []

    def calibrate(device, dtype, quick=False, progress=None, bound=None):
        calls.append((device, dtype))
        progress(0.5, "conv 64→64 3×3/1 g1 @56 (standard conv)…")
        return torch_calibrate.CalibrationRun(calibration, (), (), 0)

    monkeypatch.setattr(torch_calibrate, "calibrate", calibrate)
    assert not shown_predictions(latency)
    latency.button(key="latency_calibrate").click().run()
    assert not latency.exception, latency.exception
    assert calls == [("cpu", "fp32")]
    assert [toast.value for toast in latency.toast] == [
        f"Calibrated cpu (fp32) in {calibration.seconds:.0f} s."
    ]
    assert calibration_file.stored(here_fingerprint()) == calibration
    assert shown_predictions(latency) == expected_predictions(zoo.count("resnet50"), calibration)
    fresh = open_page("pages/latency.py")  # a new session finds it in the cache folder
    assert shown_predictions(fresh) == expected_predictions(zoo.count("resnet50"), calibration)
    assert calls == [("cpu", "fp32")]


def test_a_refused_calibration_says_why_under_the_button_and_in_its_toast(latency, monkeypatch, cache_folder):
    from calc import torch_calibrate

    reason = (
        "no benchmark of depthwise conv ran in time: the machine is too slow or too busy to calibrate now"
    )

    def calibrate(device, dtype, quick=False, progress=None, bound=None):
        raise SpecError(reason)

    monkeypatch.setattr(torch_calibrate, "calibrate", calibrate)
    latency.button(key="latency_calibrate").click().run()
    assert not latency.exception, latency.exception
    assert [toast.value for toast in latency.toast] == [f"Calibrating cpu (fp32) stopped: {reason}."]
    assert [error.value for error in latency.error] == [f"{reason}."]
    assert calibration_file.stored(here_fingerprint()) is None


@pytest.fixture(scope="module")
def cpu_probe():
    from calc import torch_probe

    return torch_probe.probe("cpu", budget_seconds_per_dtype=0.3)


def test_after_a_measurement_each_prediction_shows_its_error(latency, cpu_probe):
    calibration = synthetic_calibration(here_fingerprint())
    calibration_file.store(calibration)
    latency.session_state["latency_probes"] = {"cpu": cpu_probe}
    latency.selectbox(key="latency_model").set_value(SMALL).run()
    latency.button(key="latency_measure").click().run()
    assert not latency.exception, latency.exception
    run = next(iter(latency.session_state["latency_results"].values()))
    report = zoo.count(SMALL)
    assert shown_predictions(latency) == expected_predictions(report, calibration)
    deltas = {metric.label: metric.delta for metric in latency.metric if metric.label in HEADINGS}
    median = run.measurement.median_s
    assert deltas == {
        heading: f"{signed_percent(seconds / median - 1)} vs measured"
        for heading, seconds in zip(HEADINGS, held_out.predictions(report, calibration), strict=True)
    }
    table = next(frame.value for frame in latency.dataframe if "error" in frame.value)
    assert list(table["measured time (ms)"]) == pytest.approx(
        [run.profile.seconds[row.name] * 1e3 for row in report.rows]
    )


TINY_LIST = ("stack: Worked example: GEMM", SMALL)


def test_the_accuracy_tab_measures_the_held_out_list(latency, monkeypatch):
    monkeypatch.setattr(held_out, "HELD_OUT", TINY_LIST)
    calibration = synthetic_calibration(here_fingerprint())
    calibration_file.store(calibration)
    latency = open_page("pages/latency.py")
    latency.session_state["latency_tab"] = "Accuracy here"  # its chart is drawn in the open tab only
    latency.run()
    button = latency.button(key="latency_accuracy_run")
    assert button.label == f"Measure the {len(TINY_LIST)} held-out models"
    button.click().run()
    assert not latency.exception, latency.exception
    rows = next(iter(latency.session_state["latency_accuracy"].values()))
    assert set(rows) == set(TINY_LIST)
    for name, row in rows.items():
        assert row.predicted_s == held_out.predictions(zoo.count(name), calibration)
    chart = json.loads(latency.get("plotly_chart")[-1].proto.spec)
    calibrated = next(trace for trace in chart["data"] if trace.get("name", "").startswith("calibrated"))
    assert calibrated["x"] == pytest.approx([rows[name].measured_s * 1e3 for name in TINY_LIST])
    hits = next(frame.value for frame in latency.dataframe if "predictor" in frame.value)
    summaries = held_out.summarize([rows[name] for name in TINY_LIST])
    assert list(hits["within ±25%"]) == [summary.hit_rate for summary in summaries]


def test_the_accuracy_tab_measures_the_list_again_in_passes(latency, monkeypatch):
    monkeypatch.setattr(held_out, "HELD_OUT", TINY_LIST)
    calibration = synthetic_calibration(here_fingerprint())
    calibration_file.store(calibration)
    latency = open_page("pages/latency.py")
    latency.session_state["latency_tab"] = "Accuracy here"
    latency.run()
    latency.button(key="latency_accuracy_run").click().run()
    first = dict(next(iter(latency.session_state["latency_accuracy"].values())))
    again = latency.button(key="latency_accuracy_run")
    assert not again.disabled and again.label == f"Measure them again: pass 2 ({len(TINY_LIST)} left)"
    again.click().run()
    assert not latency.exception, latency.exception
    passes = next(iter(latency.session_state["latency_accuracy_passes"].values()))
    rows = next(iter(latency.session_state["latency_accuracy"].values()))
    for name in TINY_LIST:
        assert len(passes[name]) == 2 and passes[name][0].measured_s == first[name].measured_s
        assert rows[name] == held_out.Row.of_passes(name, first[name].predicted_s, passes[name])
        assert rows[name].passes == tuple(one.measured_s for one in passes[name])
    table = next(frame.value for frame in latency.dataframe if "passes" in frame.value)
    assert list(table["passes"]) == [2] * len(TINY_LIST)
    assert "2 passes over the list" in " ".join(caption.value for caption in latency.caption)
    assert latency.button(key="latency_accuracy_run").label.startswith("Measure them again: pass 3")


def test_with_every_model_refused_in_a_later_pass_nothing_is_left_to_press(latency, monkeypatch):
    monkeypatch.setattr(held_out, "HELD_OUT", TINY_LIST)
    calibration_file.store(synthetic_calibration(here_fingerprint()))
    latency = open_page("pages/latency.py")
    latency.session_state["latency_tab"] = "Accuracy here"
    latency.run()
    latency.button(key="latency_accuracy_run").click().run()
    next(iter(latency.session_state["latency_accuracy_passes"].values())).clear()  # as refuse() leaves it
    latency.run()
    button = latency.button(key="latency_accuracy_run")
    assert button.disabled
    assert button.label == "Nothing left to measure: the models were refused in a later pass"
    assert len(next(iter(latency.session_state["latency_accuracy"].values()))) == len(TINY_LIST)  # rows kept


def test_the_concepts_reality_gap_points_to_the_accuracy_tab():
    concepts = open_page("pages/concepts.py")
    concepts.session_state["concepts_tab"] = "The reality gap"
    concepts.run()
    links = [link.proto for link in concepts.get("page_link") if "accuracy" in link.proto.label.lower()]
    assert [(link.page, link.query_string) for link in links] == [("latency", "tab=Accuracy+here")]
