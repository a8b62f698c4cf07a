"""Model: pick any source (a zoo model, timm, Hugging Face, a config.json, the Builder's stack)
and see where its computation goes, module by module."""

from __future__ import annotations

import re

import streamlit as st

from calc.errors import SpecError
from calc.units import exact, op_counts, si, si_bytes
from charts import model as model_charts
from charts.tables import csv_bytes, module_table, module_totals
from ui import figures, links, shell, tables, widget_defaults
from ui import source_picker as picker
from ui.counts import count_source, read_zoo
from ui.graph_tab import show_model
from ui.text import plain

shell.require_navigation()

read_zoo()
TABS = ["Per-layer table", "Hierarchy", "Heaviest layers", "By kind", "Graph"]
LINK = [
    *picker.link_params("model", "model_name"),
    links.integer("res", "model_resolution", links.RESOLUTION),
    links.integer("batch", "model_batch", links.BATCH),
    links.text("filter", "model_filter", 100),
    links.choice("tab", "model_tab", lambda: TABS),
]
links.restore("model", LINK)
st.session_state.setdefault("model_name", "resnet50")
with st.sidebar:
    st.subheader("Model")
    picked = picker.pick("model", "model_name")
    inputs = picker.input_widgets("model", picked, "model_resolution") if picked else None
    batch = st.number_input(
        "Batch N",
        **links.BATCH.widget("model_batch"),
    )
    links.share_box(links.publish(LINK, picker.link_values(picked, inputs)))

st.title(f"Model: {picker.shown_label(picked)}")
links.report_problems("model")
if picked is None:
    st.info("Pick a model in the sidebar: its source kind, then its name.", icon=":material/info:")
    st.stop()
name = picked.label
try:
    with st.spinner(
        f"Counting {name} at {inputs.describe(picked.source)}, batch {int(batch)}, on the meta device…"
    ):
        report = count_source(picked.text, picked.payload, inputs.resolution, inputs.seq_len, int(batch))
except SpecError as error:
    fix = {
        "seq_len": "Set a shorter sequence length in the sidebar.",
        "resolution": f"Set the resolution back to {picked.source.default_input[-1]} in the sidebar.",
        "--batch": "Set Batch N in the sidebar to the graph's own.",
        "--seq-len": f"Set the sequence length back to {picked.source.default_input[0]} in the sidebar.",
    }.get(error.field, f"{name} cannot be counted; pick another model in the sidebar.")
    message = f"{error}. {fix}"
    st.error(plain(message) if picked.kind in ("config", "onnx") else message, icon=":material/error:")
    st.stop()

info = picked.source.metadata
facts = [
    f"input {'×'.join(map(str, report.input_shape))}" + (" token ids" if inputs.seq_len else ""),
    f"batch {report.batch}",
    f"{len(report.rows)} {'nodes' if picked.kind == 'onnx' else 'modules'} with work",
]
if info.get("acc1") is not None:
    facts += [
        f"ImageNet acc@1 {info['acc1']:.2f} %, acc@5 {info['acc5']:.2f} %",
        f"weights file {info['file_size_mb']:.1f} MB",
        f"torchvision lists {info['gmacs']:.3f} “GFLOPS”, which are GMACs",
    ]
st.caption(" · ".join(facts + picker.input_facts(picked)))

columns = st.columns(5)
columns[0].metric("MACs", si(report.macs), border=True, help=f"{exact(report.macs)} multiply-accumulates")
columns[1].metric("FLOPs", si(report.flops), border=True, help=f"2 × MACs = {exact(report.flops)}")
columns[2].metric("Parameters", si(report.params), border=True, help=f"{exact(report.params)} in all")
columns[3].metric(
    "Memory traffic",
    si_bytes(report.memory_bytes),
    border=True,
    help="weights + every op's inputs and outputs once, fp32",
)
columns[4].metric(
    "Other ops",
    si(report.other_ops),
    border=True,
    help=", ".join(f"{k} {exact(v)}" for k, v in report.other_ops_by_label().items()),
)

if report.active_params is not None:  # a mixture of experts: each token runs through top-k experts only
    st.info(
        f"Mixture of experts: each token runs through {si(report.active_params)} of its {si(report.params)} "
        f"params ({exact(report.active_params)} active of {exact(report.params)} in all: the shared layers "
        "and its top-k experts). The MACs count each token's top-k experts, whichever the router picks.",
        icon=":material/hub:",
    )
if report.unsupported:
    st.warning(
        f"Ops without a formula, not counted: {op_counts(report.unsupported)}", icon=":material/warning:"
    )

table_tab, tree_tab, top_tab, kind_tab, graph_tab = st.tabs(
    TABS, default=widget_defaults.option("model_tab", TABS), key="model_tab", on_change="rerun"
)
with table_tab:
    query = st.text_input(
        "Filter by module path or type",
        value=widget_defaults.value("model_filter", ""),
        key="model_filter",
        placeholder="e.g. layer3 or Conv2d",
    )
    table = module_table(report, query)
    tables.show(
        table,
        hide_index=True,
        width="stretch",
        height=420,
        column_order=[
            "module path",
            "type",
            "output shape",
            "params",
            "MACs",
            "share of MACs",
            "other ops",
            "bytes moved",
        ],
        column_config={
            "params": st.column_config.NumberColumn(format="localized"),
            "MACs": st.column_config.NumberColumn(format="localized"),
            "share of MACs": st.column_config.NumberColumn(format="percent"),
            "other ops": st.column_config.NumberColumn(format="localized"),
            "bytes moved": st.column_config.NumberColumn(format="localized"),
        },
    )
    st.caption(
        f"{len(table)} of {len(report.rows)} rows. Each row is the module's own work; "
        "click a column header to sort."
    )
    about = (
        f"MACscope per-module table · {name} · input {'×'.join(map(str, report.input_shape))} · batch "
        f"{report.batch} · {report.dtype} · MACs exclude bias adds, FLOPs = 2 × MACs"
        + (
            f" · ops without a formula, not counted: {op_counts(report.unsupported)}"
            if report.unsupported
            else ""
        )
        + (
            f" · filtered by {query!r}: {len(table)} of {len(report.rows)} rows, no totals row"
            if query
            else ""
        )
    )
    # The totals row is the model's own (a sum of the rows would count a module's parts twice); a filtered
    # table gets none, since its rows are not the model.
    totals = None if query else module_totals(report)
    st.download_button(
        "Download per-layer CSV",
        csv_bytes(table, about, totals),
        file_name=f"macscope-{re.sub(r'[^A-Za-z0-9._-]+', '_', picked.text)}.csv",
        mime="text/csv",
        key="model_csv",
    )
# The charts are built only in their open tab (the tabs rerun on a change): each costs the browser its
# drawing.
with tree_tab:
    if tree_tab.open:
        figures.show(model_charts.hierarchy_treemap(report, name), key="model_treemap")
with top_tab:
    if top_tab.open:
        figures.show(model_charts.top_layers(report), key="model_top")
with kind_tab:
    if kind_tab.open:
        figures.show(model_charts.macs_by_kind_of_work(report), key="model_kinds")
with graph_tab:
    if graph_tab.open:
        show_model(picked.text, picked.payload, inputs.resolution, inputs.seq_len, int(batch), name)
