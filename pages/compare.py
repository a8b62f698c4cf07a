"""Compare: zoo models and stack presets side by side, cost against accuracy."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from calc import zoo
from calc.errors import SpecError
from charts import compare as compare_charts
from ui import figures, links, shell, tables

shell.require_navigation()

RESOLUTIONS = (128, 160, 192, 224, 256, 320, 384)


@st.cache_data(show_spinner=False, max_entries=512)
def count(name: str, resolution: int | None = None):
    report = zoo.count(name, resolution)
    return report.macs, report.params


@st.cache_data(show_spinner=False)
def zoo_names() -> tuple[str, ...]:
    return zoo.list_models()


TABS = ["Accuracy vs cost", "MACs and params", "MACs vs resolution"]
LINK = [links.choices("models", "compare_models", zoo_names), links.choice("baseline", "compare_baseline", zoo_names),
        links.choice("tab", "compare_tab", lambda: TABS)]
links.restore("compare", LINK)
st.session_state.setdefault("compare_models", ["mobilenet_v2", "squeezenet1_0", "resnet50", "resnet152", "vgg16"])
if st.session_state.get("compare_baseline") not in st.session_state["compare_models"]:
    st.session_state.pop("compare_baseline", None)  # a baseline must be one of the models
with st.sidebar:
    st.subheader("Models")
    chosen = st.multiselect("Models and stacks", zoo_names(), key="compare_models",
                            help="Type to search; the stack presets are at the end")
    baseline = st.selectbox("Baseline (1×)", chosen, key="compare_baseline") if chosen else None
    links.share_box(links.publish(LINK))
    if not chosen:
        st.info("Pick at least one model.")
        st.stop()

st.title("Compare models")
links.report_problems("compare")
records = []
for name in chosen:
    info = zoo.model_info(name)
    macs, params = count(name)
    records.append({"model": name, "input": "×".join(map(str, info.input_shape)), "GMACs": macs / 1e9,
                    "GFLOPs": 2 * macs / 1e9, "params (M)": params / 1e6, "acc@1 (%)": info.acc1, "MACs": macs})
table = pd.DataFrame.from_records(records)
base_macs = table.loc[table["model"] == baseline, "MACs"].iloc[0]
table["relative cost"] = table["MACs"] / base_macs if base_macs else float("nan")
st.caption("GMACs: multiply-accumulates at each model's native input (torchvision's “GFLOPS” are these). "
           "GFLOPs = 2 × GMACs. Relative cost: MACs over the baseline's.")

tables.show(table.drop(columns=["MACs"]), hide_index=True, width="stretch", column_config={
    "GMACs": st.column_config.NumberColumn(format="%.3f"), "GFLOPs": st.column_config.NumberColumn(format="%.3f"),
    "params (M)": st.column_config.NumberColumn(format="%.2f"),
    "acc@1 (%)": st.column_config.NumberColumn(format="%.2f", help="ImageNet-1K top-1 of torchvision's weights"),
    "relative cost": st.column_config.NumberColumn(format="%.2f×", help=f"MACs / MACs of {baseline}")})
st.download_button("Download comparison (CSV)", table.to_csv(index=False), file_name="macscope-compare.csv",
                   mime="text/csv", key="compare_csv")

scatter_tab, bars_tab, resolution_tab = st.tabs(TABS, key="compare_tab", on_change="rerun")
with scatter_tab:
    if table["acc@1 (%)"].notna().any():
        figures.show(compare_charts.accuracy_against_cost(table), key="compare_scatter")
    else:
        st.info("None of the chosen models has an ImageNet accuracy (stack presets have none).")
with bars_tab:
    left, right = st.columns(2)
    figures.show(compare_charts.cost_bars(table, "GMACs", "MACs", "GMACs"), key="compare_macs", where=left)
    figures.show(compare_charts.cost_bars(table, "params (M)", "Parameters", "params (M)"), key="compare_params",
                 where=right)
with resolution_tab:
    images = [name for name in chosen if zoo.model_info(name).source == "torchvision"]
    points, refused = [], set()
    progress = st.progress(0.0, text="Counting each model at each resolution…")
    for step, (name, resolution) in enumerate([(n, r) for n in images for r in RESOLUTIONS]):
        try:
            points.append({"model": name, "resolution": resolution, "GMACs": count(name, resolution)[0] / 1e9})
        except SpecError:
            refused.add(name)
        progress.progress((step + 1) / max(len(images) * len(RESOLUTIONS), 1))
    progress.empty()
    if points:
        figures.show(compare_charts.macs_against_resolution(pd.DataFrame.from_records(points)),
                     key="compare_resolution")
    if refused:
        st.caption("Fixed input size, not swept: " + ", ".join(sorted(refused)))
