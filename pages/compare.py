"""Compare: any sources side by side (zoo models, stack presets, timm, Hugging Face, an uploaded
config.json, the Builder's stack), cost against accuracy."""

from __future__ import annotations

import streamlit as st

from calc import analyze_json_until_error
from calc.errors import SpecError
from calc.share import MAX_LINK_CHARS, decode_stack, encode_stack
from calc.sources import DEFAULT_SEQ_LEN
from calc.spec import stack_to_json
from charts import compare as compare_charts
from charts.tables import csv_bytes
from ui import config_upload, figures, links, shell, stack_state, tables, widget_defaults
from ui import source_picker as picker
from ui.counts import count_source, read_zoo, zoo_names
from ui.onnx_upload import NOT_IN_LINK, ONNX_KEY, onnx_payload
from ui.source_text import BUILDER as BUILDER_KIND
from ui.source_text import CONFIG_TEXT, ONNX_TEXT, PICKER_KINDS, resolve_name, source_of
from ui.text import plain

shell.require_navigation()

RESOLUTIONS = (128, 160, 192, 224, 256, 320, 384)
BUILDER = "Builder stack"  # the row of the user's own stack, from the Layer Builder


ADD_KINDS = tuple(kind for kind in PICKER_KINDS if kind != BUILDER_KIND)  # the Builder has its toggle


def baseline_names() -> tuple[str, ...]:
    return (*zoo_names(), *st.session_state.get("compare_models", ()), BUILDER)


def read_models(text: str) -> list[str]:
    """A link's models: any source's names, comma separated; a name no kind knows is refused with
    the closest names (an uploaded config.json travels in config=, read before)."""
    names = list(dict.fromkeys(part for part in text.split(",") if part))
    for name in names:
        if name == CONFIG_TEXT:
            if config_upload.CONFIG_KEY not in st.session_state:
                raise ValueError(
                    "names config.json, whose contents (config=) this link lacks or could not give"
                )
        elif name == ONNX_TEXT:
            if ONNX_KEY not in st.session_state:
                raise ValueError(NOT_IN_LINK)
        else:
            resolve_name(name, "models")
    return names


def add_source(text: str) -> None:
    """The add button's callback: the picked source joins the comparison."""
    chosen = st.session_state.setdefault("compare_models", [])
    if text not in chosen:
        st.session_state["compare_models"] = [*chosen, text]


TABS = ["Accuracy vs cost", "MACs and params", "MACs vs resolution"]
read_zoo()
LINK = [
    config_upload.config_param(),
    links.Param("models", "compare_models", read_models, ",".join),
    links.choice("baseline", "compare_baseline", baseline_names),
    links.flag("builder", "compare_builder"),
    links.Param(
        "stack",
        stack_state.STACK,
        decode_stack,
        encode_stack,
        apply=lambda stack: stack_state.replace_stack(stack_to_json(stack)),
        max_chars=MAX_LINK_CHARS,
    ),
    links.choice("tab", "compare_tab", lambda: TABS),
]
links.restore("compare", LINK)
st.session_state.setdefault(
    "compare_models", ["mobilenet_v2", "squeezenet1_0", "resnet50", "resnet152", "vgg16"]
)
# The baseline must be one of the models. It is set on every run, not only when it changes: a
# selectbox shows the label it was last sent, so after its model is removed the browser would
# still show it while the table's 1.00× row and the link use another.
models = [
    *st.session_state["compare_models"],
    *([BUILDER] if st.session_state.get("compare_builder") else []),
]
if models:
    baseline = st.session_state.get("compare_baseline")
    st.session_state["compare_baseline"] = baseline if baseline in models else models[0]
with st.sidebar:
    st.subheader("Models")
    options = list(dict.fromkeys([*zoo_names(), *st.session_state["compare_models"]]))
    chosen = st.multiselect(
        "Models and stacks",
        options,
        default=widget_defaults.chosen("compare_models", options),
        key="compare_models",
        help="Type to search; the stack presets are at the end. Add timm and Hugging Face models below",
    )
    with st.expander("Add any model (timm, Hugging Face, config.json, ONNX)", icon=":material/add:"):
        added = picker.pick("compare_add", "compare_add_zoo", kinds=ADD_KINDS)
        st.button(
            "Add to the comparison",
            key="compare_add",
            disabled=added is None or added.text in chosen,
            on_click=add_source,
            args=(added.text if added else "",),
            width="stretch",
        )
    if st.toggle(
        "Add my Builder stack",
        value=widget_defaults.value("compare_builder", False),
        key="compare_builder",
        help="The stack as it is now on the Layer Builder page (its input, batch 1)",
    ):
        stack_state.ensure_stack()
        chosen = [*chosen, BUILDER]
    baseline = (
        st.selectbox(
            "Baseline (1×)",
            chosen,
            index=widget_defaults.index("compare_baseline", chosen),
            key="compare_baseline",
        )
        if chosen
        else None
    )
    builder_stack = st.session_state.get(stack_state.STACK) if BUILDER in chosen else None
    config = st.session_state.get(config_upload.CONFIG_KEY) if CONFIG_TEXT in chosen else None
    links.share_box(links.publish(LINK, {"stack": builder_stack, "config": config}))

st.title("Compare models")
links.report_problems("compare")
if not chosen:  # said under the title, not beside a blank page
    st.info("Pick at least one model in the sidebar.")
    st.stop()
entries = []
for name in chosen:
    if name == BUILDER:
        # At batch 1, as every zoo model here is counted; the Builder's batch stays on its page.
        own, error = analyze_json_until_error(dict(builder_stack, batch=1))
        if error is not None:
            st.warning(
                plain(f"Your Builder stack is not compared: {error}. Fix it on the Layer Builder page."),
                icon=":material/warning:",
            )
            continue
        entries.append((name, own, None))
    else:
        payload = {CONFIG_TEXT: config_upload.config_payload, ONNX_TEXT: onnx_payload}.get(
            name, lambda: None
        )()
        try:
            source = source_of(name, payload)
            with st.spinner(f"Counting {name} at its native input on the meta device…"):
                entries.append((name, count_source(name, payload), source.metadata.get("acc1")))
        except SpecError as error:
            st.warning(plain(f"{name} is not compared: {error}."), icon=":material/warning:")
if not entries:
    st.info("Pick at least one model.")
    st.stop()
table, baseline = compare_charts.comparison_table(entries, baseline)
st.caption(
    "GMACs: multiply-accumulates at each model's native input, a text model's on "
    f"{DEFAULT_SEQ_LEN} tokens (torchvision's “GFLOPS” are these). "
    "GFLOPs = 2 × GMACs. Relative cost: MACs over the baseline's."
)

tables.show(
    table.drop(columns=["MACs"]),
    hide_index=True,
    width="stretch",
    column_config={
        "GMACs": st.column_config.NumberColumn(format="%.3f"),
        "GFLOPs": st.column_config.NumberColumn(format="%.3f"),
        "params (M)": st.column_config.NumberColumn(format="%.2f"),
        "acc@1 (%)": st.column_config.NumberColumn(
            format="%.2f",
            help="ImageNet-1K top-1 of torchvision's weights; empty for a stack (it has no trained weights)",
        ),
        "relative cost": st.column_config.NumberColumn(format="%.2f×", help=f"MACs / MACs of {baseline}"),
    },
)
st.download_button(
    "Download comparison (CSV)",
    csv_bytes(
        table,
        "MACscope comparison: MACs at each model's "
        "native input, batch 1; GFLOPs = 2 × GMACs; relative cost = MACs / MACs of " + str(baseline),
    ),
    file_name="macscope-compare.csv",
    mime="text/csv",
    key="compare_csv",
)

scatter_tab, bars_tab, resolution_tab = st.tabs(
    TABS, default=widget_defaults.option("compare_tab", TABS), key="compare_tab", on_change="rerun"
)
# Only the open tab is built (the tabs rerun on a change): the resolution sweep counts every
# model at seven sizes, and each chart costs the browser its drawing.
with scatter_tab:
    if scatter_tab.open:
        unrated = table.loc[table["acc@1 (%)"].isna(), "model"].tolist()
        if len(unrated) < len(table):
            figures.show(compare_charts.accuracy_against_cost(table), key="compare_scatter")
            if unrated:
                st.caption(
                    "Not on this chart, having no ImageNet accuracy: "
                    + ", ".join(unrated)
                    + " (see them under MACs and params)."
                )
        else:
            st.info(
                "None of the chosen models has an ImageNet accuracy (stacks have none): see MACs and params."
            )
with bars_tab:
    if bars_tab.open:
        left, right = st.columns(2)
        figures.show(
            compare_charts.cost_bars(table, "GMACs", "MACs", "GMACs"), key="compare_macs", where=left
        )
        figures.show(
            compare_charts.cost_bars(table, "params (M)", "Parameters", "params (M)"),
            key="compare_params",
            where=right,
        )
with resolution_tab:
    if resolution_tab.open:
        images = [name for name in table["model"] if picker.resized(name)]
        stacks = [name for name in table["model"] if name not in images]
        if stacks:
            st.caption(
                "Not swept: "
                + ", ".join(stacks)
                + " (a stack has the input it was written for, a text model its tokens; change a stack on "
                "the Layer Builder page)."
            )
        points, refused = [], set()
        progress = st.progress(0.0, text="Counting each model at each resolution…")
        for step, (name, resolution) in enumerate([(n, r) for n in images for r in RESOLUTIONS]):
            try:
                points.append((name, resolution, count_source(name, None, resolution)))
            except SpecError:
                refused.add(name)
            progress.progress((step + 1) / max(len(images) * len(RESOLUTIONS), 1))
        progress.empty()
        if points:
            figures.show(
                compare_charts.macs_against_resolution(compare_charts.resolution_table(points)),
                key="compare_resolution",
            )
        if refused:
            st.caption("Fixed input size, not swept: " + ", ".join(sorted(refused)))
