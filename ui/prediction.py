"""The calibrated prediction on the Latency page: which calibration predicts (this machine's, made
once and kept in the user's cache folder, or one imported from another device's
``calc calibrate --json``), calibrating this machine, and measuring the held-out models
(calc.held_out) for the "Accuracy here" tab.

Calibrating and the accuracy run are measurements: each waits for its turn on the device
(ui.device_queue), runs within its own bound, shows a progress bar with words and keeps its
result in the session. The accuracy run measures the models not yet measured, in list
order, until its bound is spent: a second press goes on where the first stopped. Once all are
measured, a press measures them again, another pass over the list: a model's row is then the
median of its passes, each at the machine's speed then (calc.held_out.Row.of_passes), as the
benchmark measures them (this machine slows small-op nets for seconds at a time).
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass

import streamlit as st

from calc import calibration_file, zoo
from calc.calibration import Calibration
from calc.errors import SpecError
from calc.held_out import Pass, Row, predictions
from calc.time_bound import Stopped, TimeBound
from ui import latency_runs as runs
from ui.device_queue import QUEUE, ordinal

CALIBRATIONS = "latency_calibrations"  # (device, dtype) -> this machine's Calibration
IMPORTED = "latency_calibration_imported"  # an imported Calibration (another device's)
IMPORT_MESSAGE = "latency_calibration_message"  # (level, text) after an upload
UPLOADS = "latency_calibration_uploads"  # counts uploads: each gets a fresh uploader
ACCURACY = "latency_accuracy"  # accuracy_key -> {model: calc.held_out.Row, or why it was refused}
ACCURACY_PASSES = "latency_accuracy_passes"  # accuracy_key -> {model: [calc.held_out.Pass, ...]}

CALIBRATE_MARGIN_SECONDS = 15.0  # beyond calc.torch_calibrate's own bound: the roofs' probe, building
ACCURACY_SECONDS = 60.0  # one press of "Measure the held-out models"
ACCURACY_MIN_RUN_SECONDS = 0.3  # timed forwards per model
ACCURACY_LEAST_LEFT_SECONDS = 2.0  # a model is not started with less of the bound left
MAX_UPLOAD_MB = 1  # a calibration is a few kB (calc.calibration_file.MAX_JSON_CHARS)


def calibrate_help() -> str:
    from calc.torch_calibrate import CALIBRATE_SECONDS, PASSES, benchmarks

    return (
        f"Times {len(benchmarks())} single-op micro-benchmarks (convolutions, depthwise, pointwise, "
        f"linear, attention, norms, activations, elementwise, pooling) in {PASSES} passes, keeping each "
        f"one's median, and fits how much of the probed roofs each kind attains: at most "
        f"{CALIBRATE_SECONDS:.0f} s, once per device, dtype, threads and torch version; kept in your "
        "cache folder for next time."
    )


def upload_key() -> str:
    return f"latency_calibration_upload_{st.session_state.get(UPLOADS, 0)}"


def stored_here(device: str, dtype: str) -> tuple[Calibration | None, str]:
    """This machine's calibration for ``device`` and ``dtype``: the session's, else the one in the
    cache folder (None when there is none, stale or corrupt), and why there is none."""
    known = st.session_state.get(CALIBRATIONS, {}).get((device, dtype))
    if known is not None:
        return known, ""
    from calc import torch_calibrate

    try:
        stored = calibration_file.stored(torch_calibrate.fingerprint(device, dtype))
    except SpecError as error:
        return None, f"{error.reason}"
    if stored is not None:
        st.session_state.setdefault(CALIBRATIONS, {})[(device, dtype)] = stored
        return stored, ""
    return None, f"{device} is not calibrated for {dtype} yet"


def calibrate(device: str, dtype: str) -> Calibration:
    """Calibrate ``device`` in ``dtype`` now (in this session's turn, within the calibration's
    bound), store it in the cache folder and the session; SpecError when refused."""
    from calc import torch_calibrate

    # seen wherever the page is scrolled (in presentation mode the progress bar is below the fold), kept
    # up for the whole bound and replaced when the calibration ends
    toast = st.toast(
        f"Calibrating {device} ({dtype}): {torch_calibrate.PASSES} passes over "
        f"{len(torch_calibrate.benchmarks())} micro-benchmarks, at most "
        f"{torch_calibrate.CALIBRATE_SECONDS:.0f} s; the progress is under the button.",
        icon=":material/timer:",
        duration=round(torch_calibrate.CALIBRATE_SECONDS),
    )
    bar, progress = runs.progress_bar(f"Calibrating {device} ({dtype})…")

    def on_wait(ahead: int) -> None:
        progress(0.0, f"Waiting: {ordinal(ahead + 1)} in line for {device} (another session is measuring)…")

    try:
        with QUEUE.turn(device, on_wait):
            bound = TimeBound.starting_now(torch_calibrate.CALIBRATE_SECONDS, QUEUE.stop)
            run = torch_calibrate.calibrate(
                device,
                dtype,
                progress=lambda fraction, text: progress(fraction, f"Calibrating {device}: {text}"),
                bound=bound,
            )
    except SpecError as error:
        toast.toast(f"Calibrating {device} ({dtype}) stopped: {error}.", icon=":material/error:")
        raise
    bar.empty()
    toast.toast(
        f"Calibrated {device} ({dtype}) in {run.calibration.seconds:.0f} s.", icon=":material/check_circle:"
    )
    calibration_file.store(run.calibration)
    st.session_state.setdefault(CALIBRATIONS, {})[(device, dtype)] = run.calibration
    return run.calibration


def import_uploaded(key: str) -> None:
    """Uploader callback: read the file as a calibration (calc.calibration_file's checks) and keep it,
    or say what is wrong; the uploaded bytes are let go either way."""
    upload = st.session_state.get(key)
    if upload is None:
        return
    try:
        if upload.size > calibration_file.MAX_JSON_CHARS:
            st.session_state[IMPORT_MESSAGE] = (
                "error",
                (
                    f"{upload.name} was not loaded: it is {upload.size:,} bytes, beyond the "
                    f"{calibration_file.MAX_JSON_CHARS:,} of a calibration."
                ),
            )
            return
        try:
            calibration = calibration_file.calibration_from_json(upload.getvalue().decode("utf-8"))
        except UnicodeDecodeError:
            st.session_state[IMPORT_MESSAGE] = ("error", f"{upload.name} is not UTF-8 text.")
            return
        except (ValueError, SpecError) as error:
            st.session_state[IMPORT_MESSAGE] = ("error", f"{upload.name} was not loaded: {error}")
            return
        st.session_state[IMPORTED] = calibration
        st.session_state[IMPORT_MESSAGE] = ("success", f"Loaded {upload.name}: {describe(calibration)}.")
    finally:
        _drop_upload(upload)


def _drop_upload(upload) -> None:
    """Free the uploaded bytes now (Streamlit keeps them per session until the browser removes the
    file) and give the next upload a fresh uploader, as ui.stack_state does for stacks."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    context = get_script_run_ctx()
    if context is not None:
        context.uploaded_file_mgr.remove_file(context.session_id, upload.file_id)
    st.session_state[UPLOADS] = st.session_state.get(UPLOADS, 0) + 1


def imported() -> Calibration | None:
    return st.session_state.get(IMPORTED)


def describe(calibration: Calibration) -> str:
    printed = calibration.fingerprint
    return (
        f"{printed.label} ({printed.device}, {printed.dtype}, {printed.threads} threads, torch "
        f"{printed.torch_version}{', quick' if calibration.quick else ''})"
    )


@dataclass(frozen=True)
class AccuracyRun:
    measured: tuple[str, ...]  # models measured by this press
    skipped: tuple[str, ...]  # why a model was not measured (memory, time)
    left: tuple[str, ...]  # models not reached before the bound ran out


def accuracy_key(device: str, calibration: Calibration) -> tuple:
    return device, calibration.fingerprint, calibration.seconds


def accuracy_rows(device: str, calibration: Calibration, names: tuple[str, ...]) -> list[Row]:
    """The held-out models measured so far on ``device``, predicted by ``calibration``, in list order."""
    done = st.session_state.get(ACCURACY, {}).get(accuracy_key(device, calibration), {})
    return [done[name] for name in names if isinstance(done.get(name), Row)]


def unmeasured(device: str, calibration: Calibration, names: tuple[str, ...]) -> list[str]:
    """The models of ``names`` neither measured nor refused yet in this session."""
    done = st.session_state.get(ACCURACY, {}).get(accuracy_key(device, calibration), {})
    return [name for name in names if name not in done]


def passes_done(device: str, calibration: Calibration, names: tuple[str, ...]) -> int:
    """Passes over ``names`` finished in this session: the fewest any measured model has had (0 for
    none measured)."""
    measured = st.session_state.get(ACCURACY_PASSES, {}).get(accuracy_key(device, calibration), {})
    counts = [len(measured[name]) for name in names if name in measured]
    return min(counts) if counts else 0


def to_measure(device: str, calibration: Calibration, names: tuple[str, ...]) -> list[str]:
    """What a press measures, in list order: the models not yet measured, else another pass over
    those measured (the ones with fewest passes first, so a pass cut short goes on where it stopped)."""
    todo = unmeasured(device, calibration, names)
    if todo:
        return todo
    measured = st.session_state.get(ACCURACY_PASSES, {}).get(accuracy_key(device, calibration), {})
    fewest = passes_done(device, calibration, names)
    return [name for name in names if name in measured and len(measured[name]) == fewest]


def measure_accuracy(device: str, calibration: Calibration, names: tuple[str, ...]) -> AccuracyRun:
    """Measure the models of ``names`` not yet measured (or, all measured, another pass over them:
    ``to_measure``), at batch 1 in the calibration's dtype, in this session's turn and within
    ACCURACY_SECONDS; each kept as it is measured."""
    from calc import torch_calibrate, torch_measure

    dtype = calibration.fingerprint.dtype
    done = st.session_state.setdefault(ACCURACY, {}).setdefault(accuracy_key(device, calibration), {})
    measured_passes = st.session_state.setdefault(ACCURACY_PASSES, {}).setdefault(
        accuracy_key(device, calibration), {}
    )
    todo = to_measure(device, calibration, names)
    measured, skipped = [], []
    bar, progress = runs.progress_bar("Measuring the held-out models…")

    def refuse(name: str, reason: str) -> None:
        """Not tried again in this session; a model measured before keeps its row, without more passes."""
        skipped.append(f"{name}: {reason}")
        if measured_passes.pop(name, None) is None:
            done[name] = reason

    def on_wait(ahead: int) -> None:
        progress(0.0, f"Waiting: {ordinal(ahead + 1)} in line for {device} (another session is measuring)…")

    with QUEUE.turn(device, on_wait):
        bound = TimeBound.starting_now(ACCURACY_SECONDS, QUEUE.stop)
        attempted = 0  # models timed (or tried) in this press
        for step, name in enumerate(todo):
            if bound.left() < ACCURACY_LEAST_LEFT_SECONDS:
                break
            progress(step / len(todo), f"{name} ({step + 1} of {len(todo)}): counting and building…")
            report = zoo.count(name, dtype=calibration_storage(calibration))
            subject = runs.Subject(name, name, None, None, zoo.input_shape(name, None))
            try:
                module = subject.module()
                runs.checked_memory(module, subject, 1, dtype, device)
            except SpecError as error:  # beyond the memory budget
                refuse(name, error.reason)
                continue
            try:
                model = torch_measure.prepare(module, device, dtype)
                progress(step / len(todo), f"{name} ({step + 1} of {len(todo)}): timing forwards…")
                timing, speed = torch_calibrate.speed_around(
                    calibration,
                    device,
                    functools.partial(
                        torch_measure.measure,
                        model,
                        subject.input_shape,
                        1,
                        dtype,
                        device,
                        min_run_time=ACCURACY_MIN_RUN_SECONDS,
                        bound=_share(bound, bound.left() - 1.0),  # the speed reference after it
                    ),
                )
            except Stopped:
                raise
            except SpecError as error:  # too slow for what is left of the bound
                if attempted:  # the next press, with a whole bound, tries it first
                    break
                refuse(name, error.reason)  # too slow even for a whole bound
                continue
            finally:
                attempted += 1
            passes = measured_passes.setdefault(name, [])
            passes.append(Pass(timing.median_s, speed, timing.disturbed))
            done[name] = Row.of_passes(name, predictions(report, calibration), passes)
            measured.append(name)
    bar.empty()
    return AccuracyRun(tuple(measured), tuple(skipped), tuple(name for name in names if name not in done))


def calibration_storage(calibration: Calibration) -> str:
    from calc.hardware import STORAGE_DTYPE

    return STORAGE_DTYPE[calibration.fingerprint.dtype]


def _share(bound: TimeBound, seconds: float) -> TimeBound:
    return TimeBound(seconds, min(time.perf_counter() + seconds, bound.end), bound.stop)


__all__ = [
    "AccuracyRun",
    "accuracy_rows",
    "calibrate",
    "describe",
    "import_uploaded",
    "imported",
    "measure_accuracy",
    "passes_done",
    "stored_here",
    "to_measure",
]
