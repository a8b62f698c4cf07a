"""Layer Builder: build a stack in the sidebar, see what each layer computes and costs."""

from __future__ import annotations

import json

import streamlit as st

from calc import analyze_json_until_error, dump_stack, layer_kind, layer_kinds, parse_stack
from calc.errors import SpecError
from calc.explain import explain
from calc.registry import MAX_BATCH, MAX_DIM, MAX_LAYERS
from calc.share import MAX_LINK_CHARS, decode_stack, encode_stack
from calc.spec import stack_to_json
from calc.units import DTYPE_BYTES, exact, si, si_bytes
from charts import layers as layer_charts
from charts.tables import SCREEN_COLUMNS, csv_bytes, layer_table, layer_totals, text_columns
from ui import figures, links, shell, tables, widget_defaults
from ui import stack_state as state
from ui.fields import edit_layer, new_layer, show_refused
from ui.graph_tab import show_stack
from ui.text import plain

shell.require_navigation()


def shape_text(shape) -> str:
    return "×".join(map(str, shape))


def layer_caption(index: int, layer: dict, bad: bool) -> str:
    details = ", ".join(f"{name} {json.dumps(value)}" for name, value in layer.items() if name != "type")
    text = f"{index} · {layer['type']}" + (f" ({details})" if details else "")
    return ("⚠ " if bad else "") + (text if len(text) <= 60 else text[:57] + "…")


def count_text(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


def analysed_text(first_bad: int) -> str:
    """What the totals cover when layer ``first_bad`` has an error."""
    return {0: "no layer", 1: "layer 0"}.get(first_bad, f"layers 0–{first_bad - 1}")


TABS = ["Per-layer table", "Charts", "Formula", "Graph"]
LAYER_INDEX = links.Whole(0, MAX_LAYERS - 1)  # the selectboxes list the stack's layers
LINK = [
    links.Param(
        "stack",
        state.STACK,
        decode_stack,
        encode_stack,
        apply=lambda stack: state.replace_stack(stack_to_json(stack)),
        max_chars=MAX_LINK_CHARS,
    ),
    links.integer("layer", "edit_index", LAYER_INDEX),
    links.choice("tab", "builder_tab", lambda: TABS),
    links.integer("explain", "explain_layer", LAYER_INDEX),
]
links.restore("builder", LINK)
state.ensure_stack()
state.sync_input_from_widgets()
state.record_edit()
stack_json = st.session_state[state.STACK]
report, error = analyze_json_until_error(stack_json)
layers, uids = state.layers(), state.uids()
bad_layer = error.layer if error is not None else None
incoming = report.output_shape if report is not None and error is None else None
rows = report.rows if report is not None else []
heaviest = max(range(len(rows)), key=lambda i: rows[i].macs) if rows else 0
state.keep_index("edit_index", len(layers), 0)  # before the link is written from them
state.keep_index("explain_layer", len(rows), heaviest)

# ---------------------------------------------------------------- sidebar
with st.sidebar:
    st.subheader("Preset")
    st.selectbox(
        "Preset",
        state.PRESET_NAMES,
        index=widget_defaults.index("preset", state.PRESET_NAMES),
        key="preset",
        label_visibility="collapsed",
    )
    st.button(
        "Load preset",
        key="load_preset",
        on_click=state.load_preset,
        width="stretch",
        help="Replaces the current stack",
    )

    st.subheader("Input (one sample)")
    input_kinds = tuple(state.INPUT_KINDS.values())
    kind_label = st.radio(
        "Input kind",
        input_kinds,
        index=widget_defaults.index("input_kind", input_kinds),
        key="input_kind",
        horizontal=True,
        label_visibility="collapsed",
    )
    rank = next(r for r, label in state.INPUT_KINDS.items() if label == kind_label)
    keys = state.input_keys(rank)
    # No min/max on these: Streamlit would refuse an entry out of range without a word;
    # state.check_input refuses it and says why under the row.
    for column, key in zip(st.columns(len(keys)), keys, strict=True):
        symbol, name = state.INPUT_FIELDS[key]
        column.number_input(
            symbol,
            step=1,
            value=widget_defaults.number(key),
            key=key,
            help=f"{name}; a whole number from 1 to {MAX_DIM:,}",
            on_change=state.check_input,
            args=(key,),
        )
    for key in keys:
        show_refused(key)
    left, right = st.columns(2)
    left.number_input(
        "Batch N",
        step=1,
        value=widget_defaults.number("batch"),
        key="batch",
        on_change=state.check_input,
        args=("batch",),
        help=f"Scales MACs, FLOPs, other ops and activations; not params. 1 to {MAX_BATCH:,}",
    )
    right.selectbox(
        "dtype",
        tuple(DTYPE_BYTES),
        index=widget_defaults.index("dtype", DTYPE_BYTES),
        key="dtype",
        help="Bytes per value: " + ", ".join(f"{d} {b}" for d, b in DTYPE_BYTES.items()),
    )
    show_refused("batch")

    st.subheader("Add a layer")
    # Offer only the kinds that fit where the stack ends (all of them while it has an error).
    kind_names = [
        kind.name for kind in layer_kinds() if incoming is None or kind.input_rank in (None, len(incoming))
    ]
    st.selectbox(
        "Layer type",
        kind_names,
        index=widget_defaults.index("add_kind", kind_names),
        key="add_kind",
        format_func=lambda name: (
            name if layer_kind(name).group == name else f"{name} · {layer_kind(name).group}"
        ),
        help="Only the kinds that accept the stack's current output shape are listed",
    )
    st.button(
        "Add layer",
        key="add_layer",
        type="primary",
        width="stretch",
        disabled=len(layers) >= MAX_LAYERS,
        on_click=lambda: state.add_layer(new_layer(layer_kind(st.session_state["add_kind"]), incoming)),
    )

    st.subheader("Edit a layer")
    undo_button, clear_button = st.columns(2)
    undo_button.button(
        "Undo",
        icon=":material/undo:",
        key="undo",
        on_click=state.undo,
        width="stretch",
        disabled=not state.can_undo(),
        help="Back to the stack before your last change",
    )
    clear_button.button(
        "Clear",
        icon=":material/delete_sweep:",
        key="clear_stack",
        width="stretch",
        on_click=state.clear_stack,
        disabled=not layers,
        help="Clear the stack: removes every layer; Undo brings them back",
    )
    if not layers:
        st.info("The stack is empty: add a layer above.")
    else:
        st.selectbox(
            "Layer to edit",
            range(len(layers)),
            index=widget_defaults.index("edit_index", range(len(layers))),
            key="edit_index",
            format_func=lambda i: layer_caption(i, layers[i], i == bad_layer),
        )
        index = st.session_state["edit_index"]
        layer = layers[index]
        kind = layer_kind(layer["type"])
        st.caption(kind.summary)
        up, down, copy_button, delete = st.columns(4)
        up.button(
            "",
            icon=":material/arrow_upward:",
            key="move_up",
            help="Move up",
            on_click=state.move_layer,
            args=(index, -1),
            disabled=index == 0,
            width="stretch",
        )
        down.button(
            "",
            icon=":material/arrow_downward:",
            key="move_down",
            help="Move down",
            on_click=state.move_layer,
            args=(index, 1),
            disabled=index == len(layers) - 1,
            width="stretch",
        )
        copy_button.button(
            "",
            icon=":material/content_copy:",
            key="duplicate",
            help="Duplicate",
            on_click=state.duplicate_layer,
            args=(index,),
            disabled=len(layers) >= MAX_LAYERS,
            width="stretch",
        )
        delete.button(
            "",
            icon=":material/delete:",
            key="delete",
            help="Delete",
            on_click=state.delete_layer,
            args=(index,),
            width="stretch",
        )
        on_this = error is not None and error.layer == index
        edit_layer(
            kind, layer, uids[index], error.field if on_this else None, str(error) if on_this else None
        )

    with st.expander("Import / export JSON"):
        try:
            exported = dump_stack(parse_stack(stack_json))
        except SpecError:
            exported = json.dumps(stack_json, indent=2)
        st.download_button(
            "Download stack JSON",
            exported,
            file_name="macscope-stack.json",
            mime="application/json",
            key="download_json",
            width="stretch",
        )
        st.file_uploader(
            "Upload stack JSON",
            type=["json"],
            key=state.upload_key(),
            on_change=state.import_uploaded,
            args=(state.upload_key(),),
            max_upload_size=state.MAX_UPLOAD_MB,
        )
        st.text_area(
            "…or paste stack JSON",
            value=widget_defaults.value("import_json", ""),
            key="import_json",
            height=150,
            placeholder='{"input": [3, 224, 224], "layers": [{"type": "conv2d", "out_channels": 64, '
            '"kernel_size": 3}]}',
        )
        st.button("Load JSON", key="load_json", on_click=state.import_pasted, width="stretch")
    links.share_box(links.publish(LINK))
    message = st.session_state.pop(state.IMPORT_MESSAGE, None)
    if message:
        (st.success if message[0] == "success" else st.error)(plain(message[1]))

# ---------------------------------------------------------------- main area
st.title("Layer Builder")
links.report_problems("builder")
if report is None:
    st.error(plain(error), icon=":material/error:")
    st.stop()

dtype_bytes = DTYPE_BYTES[report.dtype]
ends = (
    f"output {shape_text(report.output_shape)}"
    if error is None
    else f"stops at layer {error.layer} (error below)"
)
st.caption(
    f"Input {shape_text(report.input_shape)} → {ends} · batch {report.batch} · {report.dtype} "
    f"({dtype_bytes} bytes per value) · {count_text(len(layers), 'layer')} · MACs exclude bias adds, "
    "FLOPs = 2 × MACs, K/M/G = 10³/10⁶/10⁹"
)

# Each metric shows how much the last change to the stack moved it (red: costs more). While the
# stack has an error the totals cover only the layers before it: a change against them would read
# as a saving, so the metrics say what they cover instead, and the history waits for a whole stack.
totals = {
    "MACs": report.macs,
    "FLOPs": report.flops,
    "Parameters": report.params,
    "Memory traffic": report.memory_bytes,
    "Other ops": report.other_ops,
}
history = st.session_state.get("totals_history", {"before": None, "now": None})
if error is not None:  # the next whole stack is compared with the last whole one
    history = {"before": history["now"], "now": history["now"]}
elif history["now"] != totals:
    history = {"before": history["now"], "now": totals}
st.session_state["totals_history"] = history
before = history["before"] if error is None else None
analysed = analysed_text(error.layer) if error is not None else None


def change(label: str, unit=si) -> str | None:
    if error is not None:
        return "no layer analysed" if error.layer == 0 else f"{analysed} only"
    if before is None or before[label] == totals[label]:
        return None
    difference = totals[label] - before[label]
    return ("+" if difference > 0 else "-") + unit(abs(difference))


other = report.other_ops_by_label()
helps = {
    "MACs": f"{exact(report.macs)} multiply-accumulates (conv, linear, attention; bias adds excluded)",
    "FLOPs": f"FLOPs = 2 × MACs = {exact(report.flops)} (a count, not a rate)",
    "Parameters": f"{exact(report.params)} learned values",
    "Memory traffic": f"weights {si_bytes(report.weight_bytes)} + activations read and written "
    f"{si_bytes(report.activation_bytes)} at {dtype_bytes} bytes per value; largest layer "
    f"input+output {si_bytes(report.peak_activation_bytes)}",
    "Other ops": "Not part of MACs: "
    + (", ".join(f"{label} {exact(n)}" for label, n in other.items()) or "none"),
}
for column, label in zip(st.columns(len(totals)), totals, strict=True):
    unit = si_bytes if label == "Memory traffic" else si
    column.metric(
        label,
        unit(totals[label]),
        change(label, unit),
        delta_color="off" if error else "inverse",
        delta_arrow="off" if error else "auto",
        border=True,
        help=helps[label] + (" · the small figure is the change made by your last edit" if before else ""),
    )

if error is not None:
    covered = "No layer is analysed" if error.layer == 0 else f"The totals cover {analysed} only"
    st.error(
        plain(
            f"{str(error)[0].upper()}{str(error)[1:]}. {covered}; edit layer {error.layer} in the sidebar "
            "to fix it."
        ),
        icon=":material/error:",
    )

table_tab, charts_tab, formula_tab, graph_tab = st.tabs(
    TABS, default=widget_defaults.option("builder_tab", TABS), key="builder_tab", on_change="rerun"
)

with table_tab:
    table = layer_table(report)
    number_columns = {
        "params": st.column_config.NumberColumn(format="localized"),
        "MACs": st.column_config.NumberColumn(format="localized", help="multiply-accumulates, bias excluded"),
        "FLOPs": st.column_config.NumberColumn(format="localized", help="2 × MACs"),
        "other ops": st.column_config.NumberColumn(
            format="localized", help="bias, norm, activation, pooling, softmax: not in MACs"
        ),
        "share of MACs": st.column_config.NumberColumn(format="percent"),
        "bytes moved": st.column_config.NumberColumn(
            format="localized", help=f"weights + input + output at {dtype_bytes} bytes per value"
        ),
        "FLOPs per byte": st.column_config.NumberColumn(help="arithmetic intensity: FLOPs per byte moved"),
    }
    tables.show(
        table,
        hide_index=True,
        width="stretch",
        column_order=SCREEN_COLUMNS,
        column_config={
            name: config for name, config in number_columns.items() if name not in text_columns(table)
        },
    )  # a count beyond int64 is exact text, shown as it is
    if error is not None:
        left_out = (
            f"Layer {error.layer} is"
            if error.layer == len(layers) - 1
            else f"Layers {error.layer}–{len(layers) - 1} are"
        )
        st.caption(
            f"{left_out} not in the table: layer {error.layer} has an error, so its output shape "
            "and those after it are unknown."
        )
    about = (
        f"MACscope layer table · input {shape_text(report.input_shape)} · batch {report.batch} · "
        f"{report.dtype} ({dtype_bytes} bytes per value) · MACs exclude bias adds, FLOPs = 2 × MACs"
        + (f" · stops at layer {error.layer}: {error}" if error is not None else "")
    )
    st.download_button(
        "Download table (CSV)",
        csv_bytes(table, about, layer_totals(report)),
        file_name="macscope-layers.csv",
        mime="text/csv",
        key="download_csv",
    )

with charts_tab:
    if not charts_tab.open:
        pass  # three plotly charts redrawn on every edit cost the browser a second: built only when open
    elif report.rows:
        figures.show(layer_charts.macs_per_layer(report), key="chart_macs_per_layer")
        left, right = st.columns(2)
        figures.show(layer_charts.macs_by_kind(report), key="chart_macs_by_kind", where=left)
        figures.show(layer_charts.other_ops_by_label(report), key="chart_other_ops", where=right)
    else:
        st.info("No layer to chart yet.")

with formula_tab:
    if not report.rows:
        st.info("No analysed layer to explain yet.")
    else:
        chosen = st.selectbox(
            "Explain layer",
            range(len(report.rows)),
            index=widget_defaults.index("explain_layer", range(len(report.rows))),
            key="explain_layer",
            format_func=lambda i: f"{i} · {report.rows[i].kind}",
        )
        row = report.rows[chosen]
        text = explain(row.cost)
        st.markdown(
            f"**Layer {row.name} · {row.kind}**: {layer_kind(row.kind).summary}. "
            f"Input {shape_text(row.input_shape)} → output {shape_text(row.output_shape)}, "
            f"batch N = {report.batch}."
        )
        st.latex(text.macs_symbolic)
        st.latex(text.macs_substituted)
        for line in text.term_lines:
            st.latex(line)
        st.latex(text.flops)
        if text.shape_lines:
            st.markdown("**Output size**")
            for line in text.shape_lines:
                st.latex(line)
        st.markdown(
            f"**Parameters**: {exact(row.params)} · **Other ops** (not in MACs): "
            + (", ".join(f"{label} {exact(count)}" for label, count in row.cost.other_ops) or "none")
            + f" · **Arithmetic intensity**: {row.intensity:.2f} FLOPs per byte"
        )
with graph_tab:
    if graph_tab.open:
        show_stack(report)
