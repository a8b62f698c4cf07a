"""Layer Builder: build a stack in the sidebar, see what each layer computes and costs."""

from __future__ import annotations

import json

import streamlit as st

from calc import analyze_json_until_error, dump_stack, layer_kind, layer_kinds, parse_stack
from calc.errors import SpecError
from calc.explain import explain
from calc.registry import MAX_BATCH, MAX_DIM, MAX_LAYERS
from calc.units import DTYPE_BYTES, exact, si, si_bytes
from charts import layers as layer_charts
from charts.tables import SCREEN_COLUMNS, layer_table
from calc.share import decode_stack, encode_stack
from calc.spec import stack_to_json
from ui import figures, links, shell, tables
from ui import stack_state as state
from ui.fields import edit_layer, new_layer

shell.require_navigation()

INPUT_FIELDS = {"in_c": ("C", "channels"), "in_h": ("H", "height in pixels"), "in_w": ("W", "width in pixels"),
                "in_l": ("L", "tokens (sequence length)"), "in_d": ("D", "features per token")}


def shape_text(shape) -> str:
    return "×".join(map(str, shape))


def layer_caption(index: int, layer: dict, bad: bool) -> str:
    details = ", ".join(f"{name} {json.dumps(value)}" for name, value in layer.items() if name != "type")
    text = f"{index} · {layer['type']}" + (f" ({details})" if details else "")
    return ("⚠ " if bad else "") + (text if len(text) <= 60 else text[:57] + "…")


TABS = ["Per-layer table", "Charts", "Formula"]
LINK = [links.Param("stack", state.STACK, decode_stack, encode_stack,
                    apply=lambda stack: state.replace_stack(stack_to_json(stack))),
        links.integer("layer", "edit_index", 0, MAX_LAYERS - 1), links.choice("tab", "builder_tab", lambda: TABS),
        links.integer("explain", "explain_layer", 0, MAX_LAYERS - 1)]
links.restore("builder", LINK)
state.ensure_stack()
state.sync_input_from_widgets()
stack_json = st.session_state[state.STACK]
report, error = analyze_json_until_error(stack_json)
layers, uids = state.layers(), state.uids()
bad_layer = error.layer if error is not None else None
incoming = report.output_shape if report is not None and error is None else None

# ---------------------------------------------------------------- sidebar
with st.sidebar:
    st.subheader("Preset")
    st.selectbox("Preset", state.PRESET_NAMES, key="preset", label_visibility="collapsed")
    st.button("Load preset", key="load_preset", on_click=state.load_preset, width="stretch",
              help="Replaces the current stack")

    st.subheader("Input (one sample)")
    kind_label = st.radio("Input kind", tuple(state.INPUT_KINDS.values()), key="input_kind", horizontal=True,
                          label_visibility="collapsed")
    rank = next(r for r, label in state.INPUT_KINDS.items() if label == kind_label)
    keys = state.input_keys(rank)
    for column, key in zip(st.columns(len(keys)), keys):
        symbol, name = INPUT_FIELDS[key]
        column.number_input(symbol, min_value=1, max_value=MAX_DIM, step=1, key=key, help=name)
    left, right = st.columns(2)
    left.number_input("Batch N", min_value=1, max_value=MAX_BATCH, step=1, key="batch",
                      help="Scales MACs, FLOPs, other ops and activations; not params")
    right.selectbox("dtype", tuple(DTYPE_BYTES), key="dtype",
                    help="Bytes per value: " + ", ".join(f"{d} {b}" for d, b in DTYPE_BYTES.items()))

    st.subheader("Add a layer")
    # Offer only the kinds that fit where the stack ends (all of them while it has an error).
    kind_names = [kind.name for kind in layer_kinds()
                  if incoming is None or kind.input_rank in (None, len(incoming))]
    st.selectbox("Layer type", kind_names, key="add_kind",
                 format_func=lambda name: name if layer_kind(name).group == name else
                 f"{name} · {layer_kind(name).group}",
                 help="Only the kinds that accept the stack's current output shape are listed")
    st.button("Add layer", key="add_layer", type="primary", width="stretch", disabled=len(layers) >= MAX_LAYERS,
              on_click=lambda: state.add_layer(new_layer(layer_kind(st.session_state["add_kind"]), incoming)))

    st.subheader("Edit a layer")
    if not layers:
        st.info("The stack is empty: add a layer above.")
    else:
        st.session_state["edit_index"] = min(st.session_state.get("edit_index", 0), len(layers) - 1)
        st.selectbox("Layer to edit", range(len(layers)), key="edit_index",
                     format_func=lambda i: layer_caption(i, layers[i], i == bad_layer))
        index = st.session_state["edit_index"]
        layer = layers[index]
        kind = layer_kind(layer["type"])
        st.caption(kind.summary)
        up, down, copy_button, delete = st.columns(4)
        up.button("", icon=":material/arrow_upward:", key="move_up", help="Move up", on_click=state.move_layer,
                  args=(index, -1), disabled=index == 0, width="stretch")
        down.button("", icon=":material/arrow_downward:", key="move_down", help="Move down",
                    on_click=state.move_layer, args=(index, 1), disabled=index == len(layers) - 1, width="stretch")
        copy_button.button("", icon=":material/content_copy:", key="duplicate", help="Duplicate",
                           on_click=state.duplicate_layer, args=(index,), disabled=len(layers) >= MAX_LAYERS,
                           width="stretch")
        delete.button("", icon=":material/delete:", key="delete", help="Delete", on_click=state.delete_layer,
                      args=(index,), width="stretch")
        on_this = error is not None and error.layer == index
        edit_layer(kind, layer, uids[index], error.field if on_this else None, str(error) if on_this else None)

    with st.expander("Import / export JSON"):
        try:
            exported = dump_stack(parse_stack(stack_json))
        except SpecError:
            exported = json.dumps(stack_json, indent=2)
        st.download_button("Download stack JSON", exported, file_name="macscope-stack.json",
                           mime="application/json", key="download_json", width="stretch")
        st.file_uploader("Upload stack JSON", type=["json"], key="upload_json", on_change=state.import_uploaded)
        st.text_area("…or paste stack JSON", key="import_json", height=150,
                     placeholder='{"input": [3, 224, 224], "layers": [{"type": "conv2d", "out_channels": 64, '
                                 '"kernel_size": 3}]}')
        st.button("Load JSON", key="load_json", on_click=state.import_pasted, width="stretch")
    links.share_box(links.publish(LINK))
    message = st.session_state.pop(state.IMPORT_MESSAGE, None)
    if message:
        (st.success if message[0] == "success" else st.error)(message[1])

# ---------------------------------------------------------------- main area
st.title("Layer Builder")
links.report_problems("builder")
if report is None:
    st.error(str(error), icon=":material/error:")
    st.stop()

dtype_bytes = DTYPE_BYTES[report.dtype]
ends = (f"output {shape_text(report.output_shape)}" if error is None
        else f"layer {error.layer} does not fit its input {shape_text(report.output_shape)}")
st.caption(f"Input {shape_text(report.input_shape)} → {ends} · batch {report.batch} · {report.dtype} "
           f"({dtype_bytes} bytes per value) · {len(layers)} layers · MACs exclude bias adds, "
           "FLOPs = 2 × MACs, K/M/G = 10³/10⁶/10⁹")

# Each metric shows how much the last change to the stack moved it (red: costs more).
totals = {"MACs": report.macs, "FLOPs": report.flops, "Parameters": report.params,
          "Memory traffic": report.memory_bytes, "Other ops": report.other_ops}
history = st.session_state.get("totals_history", {"before": None, "now": None})
if history["now"] != totals:
    history = {"before": history["now"], "now": totals}
    st.session_state["totals_history"] = history
before = history["before"]


def change(label: str, unit=si) -> str | None:
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
    "Other ops": "Not part of MACs: " + (", ".join(f"{label} {exact(n)}" for label, n in other.items()) or "none"),
}
for column, label in zip(st.columns(len(totals)), totals):
    unit = si_bytes if label == "Memory traffic" else si
    column.metric(label, unit(totals[label]), change(label, unit), delta_color="inverse", border=True,
                  help=helps[label] + (" · the small figure is the change made by your last edit" if before else ""))

if error is not None:
    analysed = f"layers 0–{error.layer - 1}" if error.layer else "no layer"
    st.error(f"{str(error)[0].upper()}{str(error)[1:]}. The totals cover {analysed} only; edit layer "
             f"{error.layer} in the sidebar to fix it.", icon=":material/error:")

table_tab, charts_tab, formula_tab = st.tabs(TABS, key="builder_tab", on_change="rerun")

with table_tab:
    table = layer_table(report)
    tables.show(table, hide_index=True, width="stretch", column_order=SCREEN_COLUMNS, column_config={
        "params": st.column_config.NumberColumn(format="localized"),
        "MACs": st.column_config.NumberColumn(format="localized", help="multiply-accumulates, bias excluded"),
        "FLOPs": st.column_config.NumberColumn(format="localized", help="2 × MACs"),
        "other ops": st.column_config.NumberColumn(format="localized", help="bias, norm, activation, pooling, "
                                                                          "softmax: not in MACs"),
        "share of MACs": st.column_config.NumberColumn(format="percent"),
        "bytes moved": st.column_config.NumberColumn(
            format="localized", help=f"weights + input + output at {dtype_bytes} bytes per value"),
        "FLOPs per byte": st.column_config.NumberColumn(help="arithmetic intensity: FLOPs per byte moved"),
    })
    if error is not None:
        st.caption(f"Layers {error.layer}–{len(layers) - 1} are not in the table: layer {error.layer} does not "
                   "fit its input, so the shapes after it are unknown.")
    st.download_button("Download table (CSV)", table.to_csv(index=False), file_name="macscope-layers.csv",
                       mime="text/csv", key="download_csv")

with charts_tab:
    if report.rows:
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
        heaviest = max(range(len(report.rows)), key=lambda i: report.rows[i].macs)
        explained = st.session_state.get("explain_layer", 0)
        # That layer is gone (or the link named one that never was); after a preset is loaded the
        # browser can send back the old option's label ("0 · linear") instead of an index.
        if not isinstance(explained, int) or explained >= len(report.rows):
            st.session_state.pop("explain_layer")
        st.session_state.setdefault("explain_layer", heaviest)
        chosen = st.selectbox("Explain layer", range(len(report.rows)), key="explain_layer",
                              format_func=lambda i: f"{i} · {report.rows[i].kind}")
        row = report.rows[min(chosen, len(report.rows) - 1)]
        text = explain(row.cost)
        st.markdown(f"**Layer {row.name} · {row.kind}**: {layer_kind(row.kind).summary}. "
                    f"Input {shape_text(row.input_shape)} → output {shape_text(row.output_shape)}, "
                    f"batch N = {report.batch}.")
        st.latex(text.macs_symbolic)
        st.latex(text.macs_substituted)
        for line in text.term_lines:
            st.latex(line)
        st.latex(text.flops)
        if text.shape_lines:
            st.markdown("**Output size**")
            for line in text.shape_lines:
                st.latex(line)
        st.markdown(f"**Parameters**: {exact(row.params)} · **Other ops** (not in MACs): "
                    + (", ".join(f"{label} {exact(count)}" for label, count in row.cost.other_ops) or "none")
                    + f" · **Arithmetic intensity**: {row.intensity:.2f} FLOPs per byte")
