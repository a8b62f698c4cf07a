"""Latency: how fast a model should run on a device (FLOPs / peak, the roofline), and how
fast it does run here, whole and per layer, with the roofline explaining the gap."""

from __future__ import annotations

import contextlib

import streamlit as st

from calc import hardware as hw
from calc import roofline
from calc.errors import SpecError
from calc.machine_load import disturbance_text
from calc.units import duration, exact, si, si_bytes
from charts import latency as charts
from charts.tables import csv_bytes
from ui import figures, links, onnx_runs, shell, stack_state, tables, widget_defaults
from ui import latency_runs as runs
from ui import prediction_panel as prediction_view
from ui import source_picker as picker
from ui.counts import count_onnx, count_source, read_zoo
from ui.devices import CUSTOM, MAX_BANDWIDTH, MAX_PEAK, add_custom_device, devices, read_device, write_device
from ui.text import plain

shell.require_navigation()

OLD_SOURCES = {"Zoo model": "torchvision", "Builder stack": "builder"}  # source= of links before the picker
DEFAULT_HARDWARE = "NVIDIA RTX 3090"
BATCH_CHOICES = (1, 2, 4, 8, 16, 32, 64, 128)
TABS = ["Measure here", "Per layer", "Roofline", "Prediction", "Accuracy here", "Batch sweep", "Hardware"]


@st.cache_resource(show_spinner=False)
def machine():
    from calc import torch_probe

    return torch_probe.detect()


def cuda_devices() -> list[str]:
    return [f"cuda:{device.index}" for device in machine().cuda]


def read_old_source(text: str) -> str:
    if text not in OLD_SOURCES:
        raise ValueError("is not one of the choices here")
    return OLD_SOURCES[text]


read_zoo()
LINK = [
    links.Param("source", "latency_kind", read_old_source),
    *picker.link_params("latency", "latency_model"),
    links.integer("res", "latency_resolution", links.RESOLUTION),
    links.integer("batch", "latency_batch", links.BATCH),
    links.choice("dtype", "latency_dtype", lambda: hw.COMPUTE_DTYPES),
    links.Param(
        "device",
        CUSTOM,
        read_device,
        write_device,
        apply=lambda entry: st.session_state.setdefault(CUSTOM, {}).__setitem__(entry.name, entry),
    ),
    links.choice("hw", "latency_hardware", lambda: list(devices())),
    links.choices("batches", "latency_batches", lambda: BATCH_CHOICES, int),
    links.choice("tab", "latency_tab", lambda: TABS),
]
links.restore("latency", LINK)

# ---------------------------------------------------------------- sidebar
st.session_state.setdefault("latency_model", "resnet50")
st.session_state.setdefault("latency_hardware", DEFAULT_HARDWARE)
st.session_state.setdefault("latency_batches", [1, 2, 4, 8, 16])
with st.sidebar:
    st.subheader("What to time")
    picked = picker.pick("latency", "latency_model")
    if picked is None:  # the picker says why (a config.json not uploaded yet, a broken one)
        st.stop()
    inputs = picker.input_widgets("latency", picked, "latency_resolution")
    if picked.kind == "builder":
        builder_stack = st.session_state[stack_state.STACK]
        subject = runs.Subject("Builder stack", None, builder_stack, None, tuple(builder_stack["input"]))
    elif picked.source.kind == "onnx":  # an uploaded file: the picker hands its Source over, no text names it
        subject = runs.Subject(
            picker.shown_label(picked),
            None,
            None,
            inputs.resolution,
            picked.source.input_shape(inputs.resolution, inputs.seq_len),
            seq_len=inputs.seq_len,
            source=picked.source,
        )
    else:
        subject = runs.Subject(
            picker.shown_label(picked),
            picked.text,
            None,
            inputs.resolution,
            picked.source.input_shape(inputs.resolution, inputs.seq_len),
            picked.payload,
            inputs.seq_len,
        )
    left, right = st.columns(2)
    batch = int(
        left.number_input(
            "Batch N",
            **links.BATCH.widget("latency_batch"),
        )
    )
    dtype = right.selectbox(
        "dtype",
        hw.COMPUTE_DTYPES,
        index=widget_defaults.index("latency_dtype", hw.COMPUTE_DTYPES),
        key="latency_dtype",
        help="Compute dtype; tf32 stores fp32 and multiplies on tensor cores; int8 peaks are OP/s",
    )
    storage = hw.STORAGE_DTYPE[dtype]
    choices = devices()
    if st.session_state["latency_hardware"] not in choices:
        st.session_state["latency_hardware"] = DEFAULT_HARDWARE
    st.subheader("Device for the theory")
    hardware = choices[
        st.selectbox(
            "Device",
            list(choices),
            index=widget_defaults.index("latency_hardware", choices),
            key="latency_hardware",
            label_visibility="collapsed",
            help="A preset, this machine's measured roofs (after a probe), or a custom device",
        )
    ]
    st.caption(f"Source: {hardware.source}" + (" · an estimate" if hardware.estimate else ""))
    with st.expander("Add a custom device"):
        st.text_input(
            "Name",
            value=widget_defaults.value("latency_custom_name", ""),
            key="latency_custom_name",
            max_chars=60,
            placeholder="e.g. My laptop GPU",
        )
        st.selectbox(
            "Kind",
            hw.KINDS,
            index=widget_defaults.index("latency_custom_kind", hw.KINDS),
            key="latency_custom_kind",
        )
        for column, dtype_name in zip(st.columns(3) + st.columns(2), hw.COMPUTE_DTYPES, strict=True):
            column.number_input(
                f"{dtype_name} T{'OP' if dtype_name == 'int8' else 'FLOP'}/s",
                min_value=0.0,
                max_value=MAX_PEAK,
                value=widget_defaults.number(
                    f"latency_custom_{dtype_name}", min_value=0.0, max_value=MAX_PEAK, step=1.0, fallback=0.0
                ),
                step=1.0,
                format="%.3f",
                key=f"latency_custom_{dtype_name}",
                help="dense peak; 0 = none",
            )
        st.number_input(
            "Memory bandwidth (GB/s)",
            min_value=0.0,
            max_value=MAX_BANDWIDTH,
            value=widget_defaults.number(
                "latency_custom_bandwidth", min_value=0.0, max_value=MAX_BANDWIDTH, step=10.0, fallback=100.0
            ),
            step=10.0,
            key="latency_custom_bandwidth",
        )
        st.button("Add device", key="latency_custom_add", on_click=add_custom_device, width="stretch")
        message = st.session_state.pop("latency_custom_message", None)
        if message:
            (st.success if message[0] == "success" else st.error)(plain(message[1]))
    custom = st.session_state.get(CUSTOM, {}).get(hardware.name)
    links.share_box(
        links.publish(
            LINK,
            {"device": custom, "source": None, **picker.link_values(picked, inputs)},
        )
    )

# ---------------------------------------------------------------- theory
st.title("Latency: theory and measurement")
links.report_problems("latency")


def report_at(size: int):
    """The report of what is timed at batch ``size`` (zoo models counted once, then cached)."""
    if subject.source is not None:
        return count_onnx(subject.source, subject.resolution, subject.seq_len, size, storage)
    if subject.name is not None:
        return count_source(subject.name, subject.payload, subject.resolution, subject.seq_len, size, storage)
    return subject.report(size, storage)


try:
    report = report_at(batch)
except SpecError as error:
    where = {
        "resolution": "Set the resolution back to the native one",
        "seq_len": "Set a shorter sequence length",
    }.get(error.field, "Pick another model" if subject.name else "Fix the stack on the Builder page")
    message = f"{error}. {where}."
    st.error(plain(message) if picked.kind == "config" else message, icon=":material/error:")
    st.stop()
st.caption(
    f"{subject.label}: input {'×'.join(map(str, report.input_shape))}, batch {batch}, {dtype}"
    + (f" (stored as {storage})" if storage != dtype else "")
    + f" · {exact(report.macs)} MACs · FLOPs = 2 × MACs = {exact(report.flops)} · bytes per layer: weights "
    "+ input + output, read or written once"
)
try:
    roofs = hardware.roofs(dtype)
except SpecError as error:
    st.warning(plain(f"{error}. Choose another dtype or device in the sidebar."), icon=":material/warning:")
    st.stop()
estimate = roofline.estimate(report, roofs)
here_device = st.session_state.get("latency_device", "cpu")
here = runs.result(subject, batch, dtype, here_device)
here_onnx = onnx_runs.result(subject, batch, dtype, here_device)
if here is not None:  # theory on this machine's measured roofs, beside the measured times
    here_roofs = st.session_state[runs.PROBES][here_device].as_hardware().roofs(dtype)
    here_table = charts.layer_times_table(roofline.estimate(report, here_roofs), here.profile.seconds)

columns = st.columns(4)
columns[0].metric(
    "(a) FLOPs / peak",
    duration(estimate.peak_seconds),
    border=True,
    help=f"{si(report.flops, 'FLOPs')} / {charts.rate_text(roofs.peak_flops_per_s)} on {plain(roofs.label)}",
)
columns[1].metric(
    "(b) Roofline",
    duration(estimate.roofline_seconds),
    border=True,
    help="Σ over layers of max(FLOPs / peak, bytes / bandwidth)",
)
columns[2].metric(
    "Memory-bound layers",
    f"{len(estimate.memory_bound_layers)} of {len(estimate.layers)}",
    border=True,
    help=f"{estimate.memory_bound_share:.0%} of the roofline time is in layers whose bytes "
    f"/ bandwidth exceed their FLOPs / peak (ridge {roofs.ridge_flops_per_byte:.3g} "
    "FLOPs/byte)",
)
measured_here = here or here_onnx  # an ONNX file has no torch model: ONNX Runtime's time
columns[3].metric(
    "Measured here",
    duration(measured_here.measurement.median_s) if measured_here else "not yet",
    border=True,
    help="Median of timed blocks of forwards on this machine"
    + (" with torch" if here else " with ONNX Runtime" if here_onnx else "")
    + "; see the Measure tab",
)

for formula in charts.theory_formulas(estimate):
    st.latex(formula)

measure_tab, layers_tab, roofline_tab, prediction_tab, accuracy_tab, sweep_tab, hardware_tab = st.tabs(
    TABS, default=widget_defaults.option("latency_tab", TABS), key="latency_tab", on_change="rerun"
)


@st.fragment
def measure_panel() -> None:
    options = ["cpu", *cuda_devices()]
    left, right = st.columns([1, 2])
    device = left.selectbox(
        "Measure on",
        options,
        index=widget_defaults.index("latency_device", options),
        key="latency_device",
        help="CUDA devices are listed when torch sees one",
    )
    onnx_only = onnx_runs.is_onnx(subject)  # no torch model: ONNX Runtime measures it
    if onnx_only:
        onnx_runs.measure_button(right, subject, report, batch, dtype, device, beside_torch=False)
    else:
        right.button(
            "Measure on this machine",
            key="latency_measure",
            type="primary",
            on_click=runs.request,
            args=("measure",),
            help=runs.DURATION_HELP,
        )
    if runs.requested("measure"):
        try:
            runs.measure(subject, report, batch, dtype, device)
        except SpecError as error:
            st.error(f"{error}.", icon=":material/error:")
            return
        st.rerun()
    run = runs.result(subject, batch, dtype, device)
    onnx_run = onnx_runs.result(subject, batch, dtype, device)
    exportable = not onnx_only and onnx_runs.exportable(subject)
    if onnx_only:
        st.caption(
            "An ONNX file has no torch model: ONNX Runtime measures it here (its CPU provider; CUDA where "
            "onnxruntime-gpu is installed), and the theory comes from its graph, node by node."
        )
    if run is None and onnx_run is None:
        st.info(
            "Press **Measure with ONNX Runtime** to time one forward pass here and compare it with theory."
            if onnx_only
            else "Press **Measure on this machine** to time one forward pass here and compare it with theory."
        )
        if exportable:
            onnx_runs.measure_button(st, subject, report, batch, dtype, device, beside_torch=True)
        return
    probed = st.session_state[runs.PROBES][device].as_hardware()
    nominal = machine().spec_peak(device, dtype)  # (FLOP/s, where it comes from) or None
    spec_peak, spec_source = nominal or (None, None)
    median_s = (run or onnx_run).measurement.median_s
    gap = roofline.against_measurement(report, probed.roofs(dtype), median_s, spec_peak)
    bars = charts.comparison_bars(estimate, gap, device, spec_source, probed.source)
    torch_bar = (
        ("measured here, torch (median)", run.measurement.median_s, run.measurement.iqr_s) if run else None
    )
    figures.show(
        charts.comparison(bars, torch_bar, onnx_run and onnx_runs.measured_bar(onnx_run)),
        key="latency_comparison",
    )
    if run is None:  # ONNX Runtime's alone (an ONNX file, or torch not measured at these settings)
        onnx_runs.show(onnx_run, None, gap.probed, exported=not onnx_only)
        if exportable:
            onnx_runs.measure_button(st, subject, report, batch, dtype, device, beside_torch=True)
        return
    m = run.measurement
    cells = st.columns(4)
    cells[0].metric(
        "Median",
        duration(m.median_s),
        border=True,
        help=f"IQR {duration(m.iqr_s)}, min {duration(m.min_s)}, max {duration(m.max_s)}",
    )
    if nominal:
        cells[1].metric(
            "Spec-peak efficiency",
            f"{gap.spec_peak_efficiency:.1%}",
            border=True,
            help=f"(a) on {si(nominal[0], 'FLOP/s')} ({nominal[1]}) / measured",
        )
    else:
        cells[1].metric(
            "Spec-peak efficiency",
            "—",
            border=True,
            help="No spec-sheet peak for this device and dtype: CPUs get a derived fp32 peak, "
            "GPUs the peaks of their preset",
        )
    cells[2].metric(
        "Probed-peak efficiency",
        f"{gap.probed_peak_efficiency:.1%}",
        border=True,
        help="(a) on the probed matmul peak / measured",
    )
    cells[3].metric(
        "Roofline efficiency",
        f"{gap.roofline_efficiency:.1%}",
        border=True,
        help="(b) on the probed peak and bandwidth / measured",
    )
    if m.disturbed:
        st.warning(
            f"Measured on a busy machine: {disturbance_text(m.other_cores, m.repeat_median_s, m.median_s)}.",
            icon=":material/warning:",
        )
    elif m.noisy:
        st.warning(
            f"The spread is large (IQR {m.spread:.0%} of the median): other work on this machine "
            "disturbs the timing (another program, or this browser on the same CPU). Close it and measure "
            "again.",
            icon=":material/warning:",
        )
    st.caption(
        f"{m.device}, {dtype}, batch {m.batch}, {m.threads} threads: median {duration(m.median_s)}"
        f", IQR {duration(m.iqr_s)}, min–max {duration(m.min_s)}–"
        f"{duration(m.max_s)} over {len(m.times_s)} blocks of {m.number_per_run} forwards "
        f"(each block timed between two synchronizations, after {m.warmup_runs} warm-up runs, eval mode, "
        f"inference_mode; {run.wall_seconds:.1f} s in all with the probe and the per-layer profile"
        + (
            f", after {run.waited_seconds:.1f} s in line behind another session's measurement"
            if run.waited_seconds >= 0.5
            else ""
        )
        + "). Peak memory bounded before allocating: "
        f"{si_bytes(run.memory_estimate_bytes)}. The gap between (a) and (b) is memory traffic; between (b) "
        "and the measurement: kernel launches and framework overhead, cache effects, tensor shapes that "
        "fit the hardware badly."
    )
    if onnx_run is not None:  # beside torch's, below it
        onnx_runs.show(onnx_run, run, gap.probed, exported=True)
    if exportable:
        onnx_runs.measure_button(st, subject, report, batch, dtype, device, beside_torch=True)


with measure_tab:
    if picked.source.kind == "hf" and measure_tab.open:  # counted so far, not always built to run here
        try:
            subject.module()
        except SpecError as error:
            st.info(plain(f"Theory only for this model: {error}."), icon=":material/info:")
    measure_panel()

with layers_tab:
    if here is not None:
        table = here_table
        st.caption(
            f"Theory on this machine's measured roofs ({charts.rate_text(here_roofs.peak_flops_per_s)}, "
            f"{charts.bandwidth_text(here_roofs.bandwidth_bytes_per_s)}). Measured: {here.profile.method} "
            f"Sum of the layers: {duration(here.profile.total_s)} against the whole-model median "
            f"{duration(here.measurement.median_s)}."
        )
    else:
        table = charts.layer_times_table(estimate)
        st.caption(
            f"Roofline time of each layer on {plain(roofs.label)}. Measure on the first tab to add measured "
            "times per layer."
        )
    if (
        layers_tab.open
    ):  # charts are drawn only in the open tab: in a closed one they cost the browser for nothing
        figures.show(charts.layer_times(table), key="latency_layer_chart")
    tables.show(
        table,
        hide_index=True,
        width="stretch",
        height=360,
        column_config={
            "FLOPs": st.column_config.NumberColumn(format="localized"),
            "bytes moved": st.column_config.NumberColumn(format="localized"),
            "FLOPs per byte": st.column_config.NumberColumn(format="%.2f"),
            "roofline time (ms)": st.column_config.NumberColumn(format="%.4f"),
            "measured time (ms)": st.column_config.NumberColumn(format="%.4f"),
            "achieved FLOP/s": st.column_config.NumberColumn(format="%.3e"),
            "efficiency": st.column_config.NumberColumn(
                format="percent", help="roofline time / measured time"
            ),
        },
    )
    about = (
        f"MACscope per-layer times · {subject.label} · input {'×'.join(map(str, report.input_shape))} · "
        f"batch {batch} · {dtype} · {roofs.label}"
    )
    st.download_button(
        "Download per-layer times (CSV)",
        csv_bytes(table, about),
        file_name="macscope-layer-times.csv",
        mime="text/csv",
        key="latency_layers_csv",
    )

with roofline_tab:
    if here is not None and roofline_tab.open:
        figures.show(charts.roofline(here_roofs, here_table, measured=True), key="latency_roofline_here")
        st.caption(
            "Each point is a layer's FLOPs over its measured time. Points far below the roof lose time to "
            "overhead; depthwise and other low-intensity layers sit left of the ridge, under the bandwidth "
            "slope. Layers without MACs (0 FLOP/s) are not on a log scale; their time is in the "
            "Per layer tab."
        )
    if roofline_tab.open:
        figures.show(
            charts.roofline(roofs, charts.layer_times_table(estimate), measured=False),
            key="latency_roofline_device",
        )
    st.caption(
        f"Where the roofline of {plain(roofs.label)} puts each layer: min(peak, intensity × bandwidth). "
        + ("" if here else "Measure on the first tab to see achieved FLOP/s on this machine.")
    )

with prediction_tab:
    if here_onnx is not None or onnx_runs.is_onnx(subject):
        st.caption(
            "The calibrated prediction is of torch's time on this machine: a calibration fits torch's "
            "kernels, not ONNX Runtime's (whose measurement is on the first tab)."
        )
    prediction_view.prediction_panel(report, here, here_device, dtype, drawn=prediction_tab.open)

with accuracy_tab:
    prediction_view.accuracy_panel(here_device, drawn=accuracy_tab.open)

with sweep_tab:
    # persist_state: a run stopped before the tabs (a refused resolution) would otherwise drop the list,
    # and the browser would show it empty when it is drawn again.
    batches = st.multiselect(
        "Batch sizes",
        BATCH_CHOICES,
        default=widget_defaults.chosen("latency_batches", BATCH_CHOICES),
        key="latency_batches",
        persist_state="session",
    )

    @st.fragment
    def sweep_panel() -> None:
        device = st.session_state.get("latency_device", "cpu")
        if onnx_runs.is_onnx(subject):
            st.caption("The batch sweep measures with torch: an ONNX file gets the theory of each batch.")
            return
        st.button(
            f"Measure these batch sizes on {device}",
            key="latency_sweep",
            disabled=not batches,
            on_click=runs.request,
            args=("sweep",),
        )
        if runs.requested("sweep"):
            try:
                skipped = runs.sweep(subject, sorted(batches), dtype, device)
            except SpecError as error:
                st.error(f"{error}.", icon=":material/error:")
                return
            for reason in skipped:
                st.warning(reason, icon=":material/warning:")
            st.rerun()

    sweep_panel()
    sized = {}
    for size in batches:
        with contextlib.suppress(SpecError):  # a size this model refuses has no point
            sized[size] = report_at(size)
    probes = st.session_state.get(runs.PROBES, {})
    probed = {
        device: probe.as_hardware().roofs(dtype)
        for device, probe in probes.items()
        if dtype in probe.peak_flops_per_s
    }
    device = st.session_state.get("latency_device", "cpu")
    measured = {
        size: measurement.median_s
        for size, measurement in runs.swept(subject, dtype, device).items()
        if size in batches
    }
    sweep_table = charts.batch_sweep_table(sized, roofs, probed, measured, device)
    if not sweep_table.empty:
        if sweep_tab.open:
            figures.show(charts.batch_sweep(sweep_table), key="latency_sweep_chart")
        about = (
            f"MACscope batch sweep · {subject.label} · input {'×'.join(map(str, report.input_shape))} "
            f"per sample · {dtype} · seconds per forward pass"
        )
        st.download_button(
            "Download batch sweep (CSV)",
            csv_bytes(sweep_table, about),
            file_name="macscope-batch-sweep.csv",
            mime="text/csv",
            key="latency_sweep_csv",
        )
    else:
        st.info("Pick at least one batch size.")

with hardware_tab:
    presets_table = charts.devices_table(list(devices().values()))
    tables.show(presets_table, hide_index=True, width="stretch", height=300)
    st.caption(
        "Dense peaks (no structured sparsity). ≈ marks a figure we derived (see its source); int8 is integer "
        "OP/s. Add your own device in the sidebar."
    )
    st.download_button(
        "Download devices (CSV)",
        csv_bytes(presets_table, "MACscope devices · dense peaks, FLOP/s (int8: OP/s) · ≈ derived"),
        file_name="macscope-devices.csv",
        mime="text/csv",
        key="latency_devices_csv",
    )
    st.subheader("This machine")
    facts = machine()
    st.markdown(
        f"**CPU** {facts.cpu_model}: {facts.physical_cores} cores ({facts.logical_cores} logical), torch "
        f"uses {facts.torch_threads} threads, SIMD {facts.cpu_capability}"
        + (f", {facts.cpu_mhz:.0f} MHz" if facts.cpu_mhz else "")
        + f" · torch {facts.torch_version}  \n"
        + (
            "**CUDA** "
            + "; ".join(
                f"{d.name} (compute capability {d.capability[0]}.{d.capability[1]}, "
                f"{si_bytes(d.memory_bytes)}, {d.multiprocessors} SMs)"
                for d in facts.cuda
            )
            if facts.cuda
            else "**CUDA**: none visible to torch"
        )
    )

    @st.fragment
    def probe_panel() -> None:
        probes = st.session_state.get(runs.PROBES, {})
        options = ["cpu", *cuda_devices()]
        device = st.selectbox(
            "Probe",
            options,
            index=widget_defaults.index("latency_probe_device", options),
            key="latency_probe_device",
        )
        label = "Re-run the probe" if device in probes else "Probe this machine"
        st.button(
            label,
            key="latency_probe",
            help="GEMM sweep per dtype and a large copy (about 5–10 s)",
            on_click=runs.request,
            args=("probe",),
        )
        if runs.requested("probe"):
            try:
                runs.probe(device, rerun=True)
            except SpecError as error:
                st.error(f"{error}.", icon=":material/error:")
                return
            st.rerun()
        probe = st.session_state.get(runs.PROBES, {}).get(device)
        if probe is None:
            st.info(
                "Not probed yet in this session. The probe measures the best matmul FLOP/s per dtype and the "
                "copy bandwidth: this machine's roofs."
            )
            return
        cells = st.columns(len(probe.peaks) + 1)
        for cell, (dtype_name, flops) in zip(cells, probe.peaks, strict=False):  # the last cell: bandwidth
            cell.metric(
                f"{dtype_name} matmul peak (FLOP/s)",
                si(flops),
                border=True,
                help=f"{charts.rate_text(flops)}: the best n×n matmul of the sweep below",
            )
        cells[-1].metric(
            "Copy bandwidth (B/s)",
            si(probe.bandwidth_bytes_per_s),
            border=True,
            help=f"{charts.bandwidth_text(probe.bandwidth_bytes_per_s)}: bytes read + written by a "
            f"{probe.copy_bytes // 2**20} MiB copy",
        )
        figures.show(charts.gemm_sweep(list(probe.gemm)), key="latency_gemm")
        st.caption(
            f"{probe.as_hardware().source}; {probe.seconds:.1f} s. Select “{probe.as_hardware().name}” in "
            "the sidebar to use these roofs for the theory."
        )

    probe_panel()
