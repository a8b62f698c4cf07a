"""The Latency page's "Prediction" and "Accuracy here" tabs: the three predictors side by side on
the calibrated machine's roofs (FLOPs / peak, roofline, calibrated), their errors against a
measurement made here, the calibrated time of each layer against the profiler's, and the
held-out models' predicted against measured latency."""

from __future__ import annotations

import streamlit as st

from calc import held_out
from calc.analyze import Report
from calc.calibration import SPEED_CHANGED, Calibration, predict, prediction_error, speed_factor, speed_note
from calc.errors import SpecError
from calc.units import duration
from charts import prediction as charts
from charts.latency import bandwidth_text, rate_text
from ui import figures, prediction, tables, widget_defaults
from ui import latency_runs as runs
from ui.text import plain

SOURCE_KEY = "latency_calibration_source"
THIS_MACHINE, IMPORTED_FILE = "This machine", "Imported file"
ACCURACY_DTYPE = "fp32"  # the held-out check, as benchmarks/bench_prediction.py runs it


def _calibrate_button(device: str, dtype: str, key: str, have: bool) -> None:
    st.button(
        f"{'Re-calibrate' if have else 'Calibrate'} {device} ({dtype})",
        key=key,
        type="secondary" if have else "primary",
        on_click=runs.request,
        args=(key,),
        help=prediction.calibrate_help(),
    )
    if runs.requested(key):
        try:
            prediction.calibrate(device, dtype)
        except SpecError as error:
            st.error(f"{error}.", icon=":material/error:")
            return
        st.rerun()


def _import_box() -> None:
    st.file_uploader(
        "Import a calibration made on another device (the JSON of `calc calibrate --json`)",
        type=["json"],
        key=prediction.upload_key(),
        on_change=prediction.import_uploaded,
        args=(prediction.upload_key(),),
        max_upload_size=prediction.MAX_UPLOAD_MB,
    )
    message = st.session_state.pop(prediction.IMPORT_MESSAGE, None)
    if message:
        (st.success if message[0] == "success" else st.error)(plain(message[1]))


def _busy_warning(calibration: Calibration) -> None:
    """A calibration made while other programs used the CPU says so (calc.calibration.Disturbance)."""
    warning = calibration.disturbance.warning()
    if warning:
        st.warning(plain(warning[0].upper() + warning[1:] + "."), icon=":material/warning:")


def chosen_calibration(device: str, dtype: str) -> tuple[Calibration | None, bool, str]:
    """The calibration the tab predicts with, whether it is this machine's, and why there is none."""
    source = st.radio(
        "Calibration",
        (THIS_MACHINE, IMPORTED_FILE),
        index=widget_defaults.index(SOURCE_KEY, (THIS_MACHINE, IMPORTED_FILE)),
        key=SOURCE_KEY,
        horizontal=True,
        help="This machine's calibration predicts this machine; an imported one predicts the device it "
        "was made on.",
    )
    if source == IMPORTED_FILE:
        calibration = prediction.imported()
        return calibration, False, "" if calibration else "No calibration imported yet: upload one below."
    calibration, why = prediction.stored_here(device, dtype)
    return calibration, True, why


def prediction_panel(report: Report, measured_run, device: str, dtype: str, drawn: bool = True) -> None:
    """``measured_run``: the page's measurement of this model on ``device`` (ui.latency_runs), or None;
    ``drawn``: whether the tab is open (a chart in a closed tab costs the browser for nothing)."""
    calibration, here, why = chosen_calibration(device, dtype)
    left, right = st.columns([1, 2])
    with left:
        _calibrate_button(device, dtype, "latency_calibrate", have=here and calibration is not None)
    with right:
        _import_box()
    if calibration is None:
        st.info(
            f"{why}. **Calibrate** times single ops on this machine once (not this model: any model is "
            "then predicted before it runs), or import another device's calibration.",
            icon=":material/info:",
        )
        return
    _busy_warning(calibration)
    try:
        predicted = predict(report, calibration)
    except SpecError as error:
        st.warning(plain(f"{error}."), icon=":material/warning:")
        return
    compared = measured_run if here else None
    measured_s = compared.measurement.median_s if compared else None
    # the machine's speed during the measurement against its speed while calibrated (1 without one)
    speed = (
        speed_factor(getattr(compared, "reference_s", 0.0), calibration, compared.measurement.disturbed)
        if compared
        else 1.0
    )
    peak_s, roofline_s, calibrated_s = (
        seconds * speed for seconds in held_out.predictions(report, calibration)
    )
    rates = f"{rate_text(calibration.peak_flops_per_s)}, {bandwidth_text(calibration.bandwidth_bytes_per_s)}"
    cells = st.columns(4)
    for cell, label, seconds, how in zip(
        cells,
        ("FLOPs / peak", "Roofline", "Calibrated"),  # calc.held_out.PREDICTORS, as headings
        (peak_s, roofline_s, calibrated_s),
        (
            f"FLOPs / the calibration's probed peak ({rates})",
            "Σ over layers of max(FLOPs / peak, bytes / bandwidth) on the same probed roofs",
            (
                "Σ over layers of max(FLOPs / (e_c · peak), bytes / (e_b · bandwidth)) + per-op overhead, "
                "with e_c and e_b the fitted efficiencies of the layer's kind of work at its size"
            ),
        ),
        strict=False,
    ):
        error = prediction_error(seconds, measured_s) if measured_s else None
        cell.metric(
            label,
            duration(seconds),
            delta=f"{charts.signed_percent(error)} vs measured" if error is not None else None,
            delta_color="off",
            delta_arrow="off",
            border=True,
            height="stretch",  # the four cards one height, with or without an error under the time
            help=how,
        )
    cells[3].metric(
        "Measured here",
        duration(measured_s) if measured_s else "not yet",
        border=True,
        height="stretch",
        help="Median of the Measure tab's timed blocks"
        if measured_s
        else "Measure on the first tab to see each prediction's error"
        if here
        else "The imported calibration predicts another device: a measurement here is no check of it",
    )
    st.caption(
        f"Predicted for {plain(prediction.describe(calibration))}, batch {report.batch}, {dtype}. "
        "Error = predicted / measured − 1: −20% predicts 20% too fast."
        + (
            f" Scaled by the speed factor {speed:.2f}: the calibration's speed reference timed around the "
            "measurement, over its time during the calibration."
            if compared and speed != 1.0
            else ""
        )
    )
    note = speed_note(speed)
    if note:
        st.info(plain(note[0].upper() + note[1:] + "."), icon=":material/speed:")
    table = charts.layer_prediction_table(predicted, compared.profile.seconds if compared else None, speed)
    if drawn:
        figures.show(charts.layer_predictions(table), key="latency_prediction_layers")
    tables.show(
        table,
        hide_index=True,
        width="stretch",
        height=300,
        column_config={
            "predicted time (ms)": st.column_config.NumberColumn(format="%.4f"),
            "measured time (ms)": st.column_config.NumberColumn(format="%.4f"),
            "error": st.column_config.NumberColumn(format="percent", help="predicted / measured − 1"),
        },
    )
    if compared:
        st.caption(f"Measured per layer: {compared.profile.method}")


def accuracy_panel(device: str, drawn: bool = True) -> None:
    names = held_out.HELD_OUT
    calibration, _ = prediction.stored_here(device, ACCURACY_DTYPE)
    st.markdown(
        f"How well each predictor does **on this machine** for {len(names)} zoo models the calibration never "
        f"saw (it times single ops only): batch 1, {ACCURACY_DTYPE}, on {device}. A hit is within "
        f"±{held_out.HIT:.0%} of the measured median."
    )
    if calibration is None:
        _calibrate_button(device, ACCURACY_DTYPE, "latency_accuracy_calibrate", have=False)
        st.info("Calibrate this machine first: the calibrated prediction needs it.", icon=":material/info:")
        return
    _busy_warning(calibration)
    rows = prediction.accuracy_rows(device, calibration, names)
    left = len(prediction.unmeasured(device, calibration, names))
    todo = prediction.to_measure(device, calibration, names)
    passes = prediction.passes_done(device, calibration, names)
    if not rows:
        label = f"Measure the {len(names)} held-out models"
    elif left:
        label = f"Measure the held-out models ({left} left)"
    elif not todo:  # every model measured was refused in a later pass
        label = "Nothing left to measure: the models were refused in a later pass"
    else:
        label = f"Measure them again: pass {passes + 1} ({len(todo)} left)"
    st.button(
        label,
        key="latency_accuracy_run",
        type="primary",
        disabled=not todo,
        on_click=runs.request,
        args=("accuracy",),
        help=f"Times each model in turn, at most {prediction.ACCURACY_SECONDS:.0f} s per press; press "
        "again to go on where it stopped. Once all are measured, a press measures them again: a model's "
        "row is then the median of its passes, each at the machine's speed then, steadier on a machine "
        "whose speed moves for seconds at a time.",
    )
    if runs.requested("accuracy"):
        try:
            run = prediction.measure_accuracy(device, calibration, names)
        except SpecError as error:
            st.error(f"{error}.", icon=":material/error:")
            return
        st.session_state["latency_accuracy_skipped"] = run.skipped
        st.rerun()
    for reason in st.session_state.get("latency_accuracy_skipped", ()):
        st.warning(plain(reason), icon=":material/warning:")
    if not rows:
        st.info("Not measured yet in this session.", icon=":material/info:")
        return
    summaries = held_out.summarize(rows)
    if drawn:
        figures.show(charts.accuracy(rows, summaries), key="latency_accuracy_chart")
    tables.show(
        charts.hit_rates_table(summaries, len(rows)),
        hide_index=True,
        width="stretch",
        column_config={
            f"within ±{held_out.HIT:.0%}": st.column_config.NumberColumn(format="percent"),
            "median |error|": st.column_config.NumberColumn(format="percent"),
        },
    )
    disturbed = sum(row.disturbed for row in rows)
    moved = sum(bool(speed_note(row.speed)) for row in rows)
    st.caption(
        f"{len(rows)} of {len(names)} models measured"
        + (f", {passes} passes over the list" if passes > 1 else "")
        + "; predicted by "
        f"{plain(prediction.describe(calibration))}. Each prediction is scaled by the speed factor timed "
        "around the model's measurement (the calibration's speed reference then, over its time during the "
        "calibration; over passes, the median of each pass at its speed)"
        + (
            f": {moved} measured while the machine ran more than {SPEED_CHANGED:.0%} faster or slower "
            "than when calibrated"
            if moved
            else ""
        )
        + (
            "; not those measured while other programs used the CPU, whose load slows the reference's "
            "short ops far more than a model."
            if any(row.disturbed for row in rows)
            else "."
        )
        + (
            f" {disturbed} measured while other programs used the CPU: their times, and the errors, move "
            "with that load; measure again on a quiet machine."
            if disturbed
            else ""
        )
    )
    error_columns = {
        f"{name} error": st.column_config.NumberColumn(format="percent") for name in held_out.PREDICTORS
    }
    time_columns = {
        f"{name} (ms)": st.column_config.NumberColumn(format="%.3f")
        for name in ("measured", *held_out.PREDICTORS)
    }
    tables.show(
        charts.accuracy_table(rows),
        hide_index=True,
        width="stretch",
        height=300,
        column_config={
            **time_columns,
            **error_columns,
            "speed factor": st.column_config.NumberColumn(
                format="%.2f",
                help="The calibration's speed reference timed around the model's measurement, over its "
                "time during the calibration: above 1, the machine ran slower; the predictions are "
                "scaled by it",
            ),
        },
    )


__all__ = ["accuracy_panel", "prediction_panel"]
