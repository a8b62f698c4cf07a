"""The Latency page's ONNX Runtime measurement: an ONNX source timed as it is, or a torchvision or
timm model exported to ONNX first (calc.onnx_export: once per model, resolution and batch, in a
bounded child process) and timed beside torch's measurement of it.

Like ui.latency_runs, the work waits for its turn on the device (ui.device_queue: an export loads
the CPU as much as a measurement does), shows its progress in words, is bounded in time (the export
within calc.onnx_export.EXPORT_SECONDS, the timing within latency_runs.MAX_SECONDS) and keeps its
result in the session, keyed like the torch measurement's, so a rerun never measures again."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import streamlit as st

from calc.analyze import Report
from calc.errors import SpecError
from calc.time_bound import TimeBound
from calc.units import duration
from ui import latency_runs as runs
from ui.device_queue import QUEUE, ordinal

RESULTS = "latency_onnx_results"  # subject key -> RuntimeRun
RUNTIME = "onnxruntime"
DURATION_HELP = (
    "A torchvision or timm model is exported to ONNX first (torch.onnx.export, dynamo): tens of seconds "
    "for a large model, done once per model, resolution and batch. ONNX Runtime then times it on its "
    f"CPU provider (CUDA where onnxruntime-gpu is installed) for at most {runs.MAX_SECONDS:.0f} s."
)


@dataclass(frozen=True)
class RuntimeRun:
    measurement: Any  # calc.onnx_measure.RuntimeMeasurement
    exported_s: float | None  # seconds the export took now; None: an ONNX source, or an earlier export
    waited_seconds: float  # in line behind other sessions' measurements
    wall_seconds: float  # from the start of its turn to the end, export and probe included


def is_onnx(subject: runs.Subject) -> bool:
    return subject.source is not None and subject.source.kind == "onnx"


def exportable(subject: runs.Subject) -> bool:
    """Whether ``subject`` can be exported to ONNX here: a torchvision or timm model (or a zoo stack)."""
    from calc.onnx_export import EXPORTABLE_KINDS
    from ui.source_text import source_of

    if subject.name is None or subject.payload is not None:
        return False
    try:
        return source_of(subject.name).kind in EXPORTABLE_KINDS
    except SpecError:
        return False


def _onnx_source(subject: runs.Subject, batch: int, progress, bound: TimeBound | None):
    """The ONNX Source to time: the subject's own, or its export (made now when not cached)."""
    from calc import onnx_export
    from calc.onnx_source import source_from_path

    if is_onnx(subject):
        return subject.source, None
    cached = onnx_export.cached(subject.name, subject.resolution, batch)
    started = time.perf_counter()
    path = cached or onnx_export.export(subject.name, subject.resolution, batch, progress, bound)
    return source_from_path(str(path)), None if cached else time.perf_counter() - started


def measure(subject: runs.Subject, report: Report, batch: int, dtype: str, device: str) -> RuntimeRun:
    """Probe (once, for the roofs the efficiencies use), export where needed, then time ``subject``
    with ONNX Runtime on ``device``, in this session's turn; SpecError when refused."""
    from calc import onnx_export
    from calc.onnx_measure import check_memory, execution_provider, measure_source, memory_budget_bytes

    execution_provider(device)  # this onnxruntime's providers, said before waiting
    check_memory(report, memory_budget_bytes())  # before an export's tens of seconds, not after
    if dtype != "fp32" and not is_onnx(subject):
        raise SpecError(
            f"the ONNX export is fp32: ONNX Runtime is compared with torch in fp32, not {dtype}",
            field="dtype",
        )
    bar, progress = runs.progress_bar("Measuring with ONNX Runtime…")

    def on_wait(ahead: int) -> None:
        progress(0.0, f"Waiting: {ordinal(ahead + 1)} in line for {device} (another session is measuring)…")

    with QUEUE.turn(device, on_wait) as waited:
        started = time.perf_counter()
        export_bound = TimeBound.starting_now(onnx_export.EXPORT_SECONDS, QUEUE.stop)
        source, exported_s = _onnx_source(subject, batch, progress, export_bound)
        bound = TimeBound.starting_now(runs.MAX_SECONDS, QUEUE.stop)
        runs.probe_in_turn(device, dtype, bound, progress)
        progress(0.5, f"Timing with ONNX Runtime on {device}…")
        measurement = measure_source(
            source,
            report,  # for the memory bound: the export's weights and activations are torch's
            subject.resolution if is_onnx(subject) else None,
            subject.seq_len,
            batch,
            device,
            bound,
            dtype if is_onnx(subject) else None,
        )
        run = RuntimeRun(measurement, exported_s, waited, time.perf_counter() - started)
    bar.empty()
    st.session_state.setdefault(RESULTS, {})[subject.key(batch, dtype, device)] = run
    return run


def result(subject: runs.Subject, batch: int, dtype: str, device: str) -> RuntimeRun | None:
    return st.session_state.get(RESULTS, {}).get(subject.key(batch, dtype, device))


def describe(run: RuntimeRun, exported: bool) -> str:
    """How ONNX Runtime's time was taken, for a caption."""
    m = run.measurement
    said = [
        (
            f"ONNX Runtime on {m.device.removesuffix(' (onnxruntime)')}, {m.threads} threads: median "
            f"{duration(m.median_s)}, IQR {duration(m.iqr_s)} ({m.spread:.0%} of the median), min–max "
            f"{duration(m.min_s)}–{duration(m.max_s)} over {len(m.times_s)} runs after one warm-up run "
            "(all graph optimizations on)"
        )
    ]
    if exported:
        said.append(
            "the model exported by torch.onnx.export (dynamo) with freshly initialized weights, as torch's "
            "measurement builds it"
            + (f"; the export took {run.exported_s:.0f} s" if run.exported_s is not None else "")
        )
    if m.generated_weights:
        said.append(
            "its external weight files are absent: measured with generated weights of the same shapes"
        )
    if run.waited_seconds >= 0.5:
        said.append(f"after {run.waited_seconds:.1f} s in line behind another session's measurement")
    return "; ".join(said) + f". {run.wall_seconds:.1f} s in all."


def measured_bar(run: RuntimeRun) -> tuple[str, float, float]:
    """ONNX Runtime's bar in charts.latency.comparison: (label, median seconds, IQR seconds)."""
    return ("measured here, ONNX Runtime (median)", run.measurement.median_s, run.measurement.iqr_s)


REQUEST = "measure_onnx"


def measure_button(
    place, subject: runs.Subject, report: Report, batch: int, dtype: str, device: str, beside_torch: bool
) -> None:
    """The button that measures ``subject`` with ONNX Runtime, in ``place`` (a column, or st), and the
    measurement it asks for (then a rerun); an error says what was refused, the rest stays as it was."""
    refused = (
        None if is_onnx(subject) or dtype == "fp32" else "The ONNX export is fp32: pick fp32 to compare."
    )
    place.button(
        "Measure again with ONNX Runtime"
        if result(subject, batch, dtype, device)
        else "Also measure with ONNX Runtime"
        if beside_torch
        else "Measure with ONNX Runtime",
        key="latency_measure_onnx",
        type="secondary" if beside_torch else "primary",
        on_click=runs.request,
        args=(REQUEST,),
        disabled=refused is not None,
        help=refused or DURATION_HELP,
    )
    if runs.requested(REQUEST):
        try:
            measure(subject, report, batch, dtype, device)
        except SpecError as error:
            st.error(f"{error}.", icon=":material/error:")
            return
        st.rerun()


def show(run: RuntimeRun, torch_run, probed, exported: bool) -> None:
    """ONNX Runtime's median and spread, its efficiencies on this machine's probed roofs (``probed``:
    calc.roofline.Estimate of the model on them) and, beside torch's run, their ratio."""
    from calc import roofline
    from calc.machine_load import disturbance_text

    m = run.measurement
    cells = st.columns(4)
    cells[0].metric(
        "ONNX Runtime median",
        duration(m.median_s),
        border=True,
        help=f"IQR {duration(m.iqr_s)}, min {duration(m.min_s)}, max {duration(m.max_s)}",
    )
    cells[1].metric(
        "ONNX Runtime spread",
        f"{m.spread:.0%}",
        border=True,
        help=f"IQR / median: {duration(m.iqr_s)} / {duration(m.median_s)}",
    )
    if torch_run is not None:
        torch_s = torch_run.measurement.median_s
        cells[2].metric(
            "ONNX Runtime / torch",
            f"{m.median_s / torch_s:.2f}×",
            border=True,
            help=f"{duration(m.median_s)} / {duration(torch_s)}, the medians: below 1, ONNX Runtime is "
            "faster here",
        )
    else:
        cells[2].metric(
            "Probed-peak efficiency",
            f"{roofline.efficiency(probed.peak_seconds, m.median_s):.1%}",
            border=True,
            help="(a) on the probed matmul peak / ONNX Runtime's median",
        )
    cells[3].metric(
        "ONNX Runtime efficiency" if torch_run is not None else "Roofline efficiency",
        f"{roofline.efficiency(probed.roofline_seconds, m.median_s):.1%}",
        border=True,
        help="(b) on the probed peak and bandwidth / ONNX Runtime's median",
    )
    if m.busy_machine:
        st.warning(
            f"Measured on a busy machine: {disturbance_text(m.other_cores, None, m.median_s)}.",
            icon=":material/warning:",
        )
    elif m.noisy:
        st.warning(
            f"ONNX Runtime's spread is large (IQR {m.spread:.0%} of the median): other work on this machine "
            "disturbs the timing. Close it and measure again.",
            icon=":material/warning:",
        )
    st.caption(describe(run, exported))


__all__ = [
    "DURATION_HELP",
    "RESULTS",
    "RuntimeRun",
    "describe",
    "exportable",
    "is_onnx",
    "measure",
    "measure_button",
    "measured_bar",
    "result",
    "show",
]
