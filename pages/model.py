"""Model: pick a zoo model and see where its computation goes, module by module."""

from __future__ import annotations

import streamlit as st

from calc import zoo
from calc.errors import SpecError
from calc.units import exact, op_counts, si, si_bytes
from charts import model as model_charts
from charts.tables import csv_bytes, module_table, module_totals
from ui import figures, links, shell, tables
from ui.counts import count, read_zoo, zoo_names
from ui.graph_tab import show_model

shell.require_navigation()


def label(name: str) -> str:
    info = zoo.model_info(name)
    return f"{info.family} · {name}" if info.source == "torchvision" else name


def reset_resolution() -> None:
    st.session_state["model_resolution"] = zoo.model_info(st.session_state["model_name"]).input_shape[-1]


names = read_zoo()
TABS = ["Per-layer table", "Hierarchy", "Heaviest layers", "By kind", "Graph"]
LINK = [
    links.choice("model", "model_name", zoo_names),
    links.integer("res", "model_resolution", links.RESOLUTION),
    links.integer("batch", "model_batch", links.BATCH),
    links.text("filter", "model_filter", 100),
    links.choice("tab", "model_tab", lambda: TABS),
]
links.restore("model", LINK)
st.session_state.setdefault("model_name", "resnet50")
st.session_state.setdefault(
    "model_resolution", zoo.model_info(st.session_state["model_name"]).input_shape[-1]
)
with st.sidebar:
    st.subheader("Model")
    name = st.selectbox(
        "Model",
        sorted(names, key=label),
        key="model_name",
        format_func=label,
        on_change=reset_resolution,
        help="Type to search; grouped by family",
    )
    info = zoo.model_info(name)
    image = info.takes_images
    fixed = info.fixed_resolution
    if fixed:  # built for one size: the input shows it (a link's other size gives way)
        st.session_state["model_resolution"] = info.input_shape[-1]
    resolution = st.number_input(
        "Resolution (pixels)",
        **links.RESOLUTION.widget(),
        key="model_resolution",
        disabled=not image or fixed,
        help=f"Native: {info.input_shape[-1]} (the default weights' crop size)"
        + (f"; {name} accepts {info.resolutions.describe()}" if info.resolutions else ""),
    )
    batch = st.number_input("Batch N", **links.BATCH.widget(), key="model_batch")
    links.share_box(links.publish(LINK))

st.title(f"Model: {name}")
links.report_problems("model")
try:
    size = f"{int(resolution)}×{int(resolution)}" if image else "×".join(map(str, info.input_shape))
    with st.spinner(f"Counting {name} at {size}, batch {int(batch)}, on the meta device…"):
        report = count(name, int(resolution) if image else None, int(batch))
except SpecError as error:
    st.error(
        f"{error}. Set the resolution back to {info.input_shape[-1]} in the sidebar.", icon=":material/error:"
    )
    st.stop()

facts = [
    f"input {'×'.join(map(str, report.input_shape))}",
    f"batch {report.batch}",
    f"{len(report.rows)} modules with work",
]
if info.acc1 is not None:
    facts += [
        f"ImageNet acc@1 {info.acc1:.2f} %, acc@5 {info.acc5:.2f} %",
        f"weights file {info.file_size_mb:.1f} MB",
        f"torchvision lists {info.gmacs:.3f} “GFLOPS”, which are GMACs",
    ]
st.caption(" · ".join(facts))

columns = st.columns(5)
columns[0].metric("MACs", si(report.macs), border=True, help=f"{exact(report.macs)} multiply-accumulates")
columns[1].metric("FLOPs", si(report.flops), border=True, help=f"2 × MACs = {exact(report.flops)}")
columns[2].metric("Parameters", si(report.params), border=True, help=f"{exact(report.params)}")
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

if report.unsupported:
    st.warning(
        f"Ops without a formula, not counted: {op_counts(report.unsupported)}", icon=":material/warning:"
    )

table_tab, tree_tab, top_tab, kind_tab, graph_tab = st.tabs(TABS, key="model_tab", on_change="rerun")
with table_tab:
    query = st.text_input(
        "Filter by module path or type", key="model_filter", placeholder="e.g. layer3 or Conv2d"
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
        file_name=f"macscope-{name}.csv",
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
        show_model(name, int(resolution) if image else None, int(batch))
