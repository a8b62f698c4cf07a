"""Depthwise-separable: a standard k×k conv against depthwise k×k + pointwise 1×1, the
savings over C_out × k, whether the saving shows up in time here, and what-if on a model."""

from __future__ import annotations

import streamlit as st

from calc.errors import SpecError
from calc.machine_load import disturbance_text
from calc.registry import MAX_DIM
from calc.separable import compare, savings_grid, timed_stacks
from calc.units import exact, si
from charts import latency as latency_charts
from charts import separable as charts
from charts.tables import csv_bytes
from ui import figures, links, shell, tables, widget_defaults
from ui import latency_runs as runs
from ui import source_picker as picker
from ui.counts import what_if_source, zoo_names
from ui.text import plain

shell.require_navigation()

HEATMAP_OUT_CHANNELS = (16, 32, 64, 128, 256, 512, 1024)
HEATMAP_KERNELS = (1, 3, 5, 7, 9)
OLD_SOURCES = {"Zoo model": "torchvision", "Builder stack": "builder"}  # source= of links before the picker
TABS = [
    "Parts",
    "Savings heatmap",
    "Measured here",
    "What-if on a model",
]  # no "C_out": a tab label is Markdown
DEFAULTS = {"sep_in": 32, "sep_out": 64, "sep_kernel": 3, "sep_size": 224, "sep_stride": 1, "sep_padding": 1}
CHANNELS, KERNEL, SIZE = links.Whole(1, 4096), links.Whole(1, 15), links.Whole(1, 4096)
STRIDE, PADDING = links.Whole(1, 8), links.Whole(0, 15)


def torchvision_names() -> tuple[str, ...]:
    return zoo_names("torchvision")


def read_old_source(text: str) -> str:
    if text not in OLD_SOURCES:
        raise ValueError("is not one of the choices here")
    return OLD_SOURCES[text]


LINK = [
    links.integer("in", "sep_in", CHANNELS),
    links.integer("out", "sep_out", CHANNELS),
    links.integer("k", "sep_kernel", KERNEL),
    links.integer("size", "sep_size", SIZE),
    links.integer("stride", "sep_stride", STRIDE),
    links.integer("padding", "sep_padding", PADDING),
    links.Param("source", "sep_kind", read_old_source),
    *picker.link_params("sep", "sep_model"),
    links.choice("tab", "sep_tab", lambda: TABS),
]
links.restore("separable", LINK)
for key, value in DEFAULTS.items():
    st.session_state.setdefault(key, value)
st.session_state.setdefault("sep_model", "resnet18")

with st.sidebar:
    st.subheader("The layer")
    left, right = st.columns(2)
    in_channels = left.number_input(
        "C_in",
        **CHANNELS.widget("sep_in"),
        help="input channels",
    )
    out_channels = right.number_input(
        "C_out",
        **CHANNELS.widget("sep_out"),
        help="output channels",
    )
    kernel = left.number_input(
        "k",
        **KERNEL.widget("sep_kernel"),
        help="kernel height = width",
    )
    size = right.number_input(
        "H = W",
        **SIZE.widget("sep_size"),
        help="input height and width",
    )
    stride = left.number_input(
        "stride",
        **STRIDE.widget("sep_stride"),
    )
    padding = right.number_input(
        "padding",
        **PADDING.widget("sep_padding"),
        help="k // 2 keeps H×W",
    )
    links.share_box(
        links.publish(
            LINK, {"source": None, "seq": None, **picker.link_values(picker.chosen_text("sep", "sep_model"))}
        )
    )

st.title("Depthwise-separable convolutions")
links.report_problems("separable")
try:
    comparison = compare(
        int(in_channels), int(out_channels), int(kernel), int(size), int(stride), int(padding)
    )
except SpecError as error:
    st.error(f"{error}. Change it in the sidebar.", icon=":material/error:")
    st.stop()

st.caption(
    f"Input {in_channels}×{size}×{size} → output {'×'.join(map(str, comparison.output_shape))}, "
    f"batch 1, no bias. Depthwise: one k×k filter per input channel; pointwise: a 1×1 conv mixing channels."
)
columns = st.columns(4)
columns[0].metric(
    "Standard MACs", si(comparison.standard_macs), border=True, help=exact(comparison.standard_macs)
)
columns[1].metric(
    "Separable MACs",
    si(comparison.separable_macs),
    border=True,
    help=f"depthwise {exact(comparison.depthwise_macs)} + pointwise {exact(comparison.pointwise_macs)}"
    f" = {exact(comparison.separable_macs)}",
)
columns[2].metric("MACs saved", f"{comparison.savings:.2%}", border=True, help="1 − separable / standard")
columns[3].metric(
    "Params saved",
    f"{comparison.params_savings:.2%}",
    border=True,
    help=f"standard {exact(comparison.standard_params)} → depthwise {exact(comparison.depthwise_params)}"
    f" + pointwise {exact(comparison.pointwise_params)} = {exact(comparison.separable_params)}",
)
for formula in charts.savings_formulas(comparison):
    st.latex(formula)

compare_tab, heatmap_tab, measure_tab, whatif_tab = st.tabs(
    TABS, default=widget_defaults.option("sep_tab", TABS), key="sep_tab", on_change="rerun"
)
with compare_tab:
    if compare_tab.open:
        figures.show(charts.parts(comparison), key="sep_parts")
with heatmap_tab:
    grid = savings_grid(int(in_channels), HEATMAP_OUT_CHANNELS, HEATMAP_KERNELS, int(size), int(stride))
    if heatmap_tab.open:  # a chart in a closed tab costs the browser its drawing for nothing
        figures.show(charts.savings_heatmap(grid, (int(out_channels), int(kernel))), key="sep_heatmap")
    st.caption(
        f"C_in = {in_channels}, {size}×{size} input, stride {stride}, padding k // 2. The savings do not "
        "depend on C_in or H×W: both terms scale with them."
    )

standard_stack, separable_stack = timed_stacks(
    int(in_channels), int(out_channels), int(kernel), int(size), int(stride), int(padding)
)
subjects = {
    "standard": runs.Subject("standard", None, standard_stack, None, tuple(standard_stack["input"])),
    "separable": runs.Subject("separable", None, separable_stack, None, tuple(separable_stack["input"])),
}


@st.fragment
def measure_panel() -> None:
    st.button(
        "Measure both on this machine's CPU",
        key="sep_measure",
        type="primary",
        on_click=runs.request,
        args=("separable",),
        help=runs.DURATION_HELP,
    )
    standard_report = subjects["standard"].report(1, "fp32")
    separable_report = subjects["separable"].report(1, "fp32")
    if runs.requested("separable"):
        try:
            runs.measure_pair(subjects["standard"], subjects["separable"], separable_report, 1, "fp32", "cpu")
        except SpecError as error:
            st.error(f"{error}.", icon=":material/error:")
            return
        st.rerun()
    done = runs.paired(subjects["standard"], subjects["separable"], 1, "fp32", "cpu")
    if done is None:
        st.info(
            "Press the button to time both versions here, interleaved, with the roofline of this machine "
            "beside them."
        )
        return
    pair = done.pair
    roofs = st.session_state[runs.PROBES]["cpu"].as_hardware().roofs("fp32")
    table = charts.measured_table(
        standard_report,
        separable_report,
        pair.first.median_s,
        pair.second.median_s,
        done.profile.seconds,
        roofs,
    )
    low, high = pair.ratio_quartiles
    spread = f"{len(pair.ratios)} interleaved rounds: middle half of the ratios {low:.0%}–{high:.0%}"
    if pair.resolved:
        st.metric(
            "Measured time, separable / standard",
            f"{pair.ratio_median:.0%}",
            border=True,
            help=f"Median of the per-round ratios; {spread}",
        )
        figures.show(
            charts.flops_against_time(charts.time_shares(comparison.flops_share, pair.ratio_median)),
            key="sep_time_chart",
        )
    else:
        st.metric(
            "Measured time, separable / standard",
            "not resolved on this machine",
            border=True,
            help=f"The ratios straddle 100 %: {spread}",
        )
        st.info(
            "Not resolved on this machine: timed interleaved, the separable version was sometimes faster and "
            f"sometimes slower than the standard conv ({spread}). The FLOPs say "
            f"{comparison.flops_share:.0%}; at this size the time does not follow.",
            icon=":material/info:",
        )
    if pair.first.disturbed:
        st.warning(
            f"Measured on a busy machine: {disturbance_text(pair.first.other_cores, None, 1.0)}.",
            icon=":material/warning:",
        )
    tables.show(
        table,
        hide_index=True,
        width="stretch",
        column_config={
            "FLOPs": st.column_config.NumberColumn(format="localized"),
            "bytes moved": st.column_config.NumberColumn(format="localized"),
            "FLOPs per byte": st.column_config.NumberColumn(format="%.2f"),
            "roofline time (ms)": st.column_config.NumberColumn(format="%.4f"),
            "measured (ms)": st.column_config.NumberColumn(format="%.4f"),
            "achieved FLOP/s": st.column_config.NumberColumn(format="%.3e"),
        },
    )
    st.caption(
        f"This machine's roofs: {latency_charts.rate_text(roofs.peak_flops_per_s)}, "
        f"{latency_charts.bandwidth_text(roofs.bandwidth_bytes_per_s)}, ridge "
        f"{roofs.ridge_flops_per_byte:.3g} FLOPs/byte. The depthwise part does few FLOPs per byte it moves: "
        "left of the ridge it is memory-bound, so its time falls far less than its FLOPs. Both layers timed "
        "interleaved, block for block (standard, separable, standard, …), so that a change of this "
        "machine's load hits both; the ratio is the median of the per-round ratios. The parts split the "
        "separable time by torch.profiler's per-layer shares"
        + (
            f"; waited {done.waited_seconds:.1f} s behind another session's measurement"
            if done.waited_seconds >= 0.5
            else ""
        )
        + f"; {done.wall_seconds:.1f} s in all."
    )


with measure_tab:
    measure_panel()

with whatif_tab:
    st.markdown("Replace every standard k×k conv (k > 1, groups 1) of:")
    picked = picker.pick("sep", "sep_model", torchvision_names)
    if picked is None:
        st.stop()
    name = picker.shown_label(picked)
    # The what-if builds the model in torch: only while its tab is open (the tabs rerun on a change).
    if whatif_tab.open:
        try:
            with st.spinner(f"Counting {name} and its separable twin…"):
                what_if = what_if_source(picked.text, picked.payload)
        except SpecError as error:
            fix = "Fix it on the Builder page" if picked.kind == "builder" else "Pick another model"
            st.error(plain(f"{error}. {fix}."), icon=":material/error:")
            st.stop()
        cells = st.columns(3)
        cells[0].metric(
            "MACs",
            f"{si(what_if.macs_before)} → {si(what_if.macs_after)}",
            border=True,
            help=f"{exact(what_if.macs_before)} → {exact(what_if.macs_after)}",
        )
        cells[1].metric("MACs saved", f"{what_if.savings:.1%}", border=True)
        cells[2].metric(
            "Params",
            f"{si(what_if.params_before)} → {si(what_if.params_after)}",
            border=True,
            help=f"{what_if.params_savings:.1%} fewer",
        )
        if not what_if.changes:
            st.info(
                f"{name} has no standard k×k convolution to replace (grouped, depthwise and 1×1 convs stay)."
            )
        else:
            figures.show(charts.what_if_bars(what_if), key="sep_whatif_chart")
            diff = charts.what_if_table(what_if)
            tables.show(
                diff,
                hide_index=True,
                width="stretch",
                height=300,
                column_config={
                    "MACs before": st.column_config.NumberColumn(format="localized"),
                    "MACs after": st.column_config.NumberColumn(format="localized"),
                    "params before": st.column_config.NumberColumn(format="localized"),
                    "params after": st.column_config.NumberColumn(format="localized"),
                    "MACs saved": st.column_config.NumberColumn(format="percent"),
                },
            )
            about = (
                f"MACscope separable what-if · {name} · every standard k×k conv replaced by depthwise k×k + "
                "pointwise 1×1 (no bias) · MACs exclude bias adds"
            )
            st.download_button(
                "Download the per-layer diff (CSV)",
                csv_bytes(diff, about, charts.what_if_totals(what_if)),
                file_name="macscope-separable-what-if.csv",
                mime="text/csv",
                key="sep_whatif_csv",
            )
        if what_if.skipped:
            st.caption("Left alone: " + "; ".join(what_if.skipped))
        st.caption(
            f"{len(what_if.changes)} convolutions replaced; every other layer costs what it did (the output "
            f"shapes are the same). Input limits: sizes up to {MAX_DIM:,}."
        )
