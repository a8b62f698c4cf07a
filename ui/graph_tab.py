"""The Graph tab of the Model page and the Builder: the model's data flow, coloured by cost.

A depth control (stages, blocks, layers), a switch folding repeated blocks into one node ×N,
a choice of colour (share of MACs, or memory- against compute-bound on a device preset), the
graph drawn by st.graphviz_chart (Graphviz compiled to WebAssembly, in the browser: no system
Graphviz), and the DOT text to download."""

from __future__ import annotations

import re

import streamlit as st

from calc import hardware as hw
from calc.analyze import Report
from calc.errors import SpecError
from calc.graph import Graph, chain, collapse, heaviest_path, max_depth
from calc.graph_fold import fold_repeats
from calc.source_graph import source_graph
from calc.units import si
from charts.graph import COLOUR_BY, graph_dot
from ui import widget_defaults
from ui.source_text import source_of

# The depth first shown: the deepest whose graph has at most this many nodes (folded), so that a
# first look is readable on a projector; the slider goes deeper.
FIRST_LOOK_NODES = 40
# Past this many nodes the layout takes seconds (1,001 nodes: 3 s; benchmarks/bench_graph.py): said so.
LARGE_GRAPH_NODES = 300
DEFAULT_DEVICE = "NVIDIA RTX 3090"  # the Latency page's default
DTYPE_OF_BYTES = {4: "fp32", 2: "fp16", 1: "int8"}  # the roofs of a graph's storage dtype


@st.cache_data(show_spinner=False, max_entries=32)
def model_graph(
    text: str, payload: str | None, resolution: int | None, seq_len: int | None, batch: int
) -> Graph:
    """The graph of a picked source (ui.source_text: a zoo name, timm:NAME, hf:NAME, an uploaded
    config or the Builder's stack by its JSON), recorded in a counting pass on meta."""
    return source_graph(source_of(text, payload), resolution, seq_len, batch)


def first_depth(graph: Graph) -> int:
    deepest = max_depth(graph)
    fitting = [
        depth for depth in range(1, deepest + 1) if len(collapse(graph, depth).nodes) <= FIRST_LOOK_NODES
    ]
    return max(fitting, default=1)


# The SVG is the one the browser drew (no system Graphviz here): a button whose script serializes the
# page's graphviz chart and downloads it. The file name is ours (letters, digits, "-", "_", ".").
SVG_BUTTON = """
<button id="macscope-graph-svg" type="button" style="font-family: inherit; font-size: 0.875rem;
  padding: 0.25rem 0.75rem; min-height: 2.5rem; border: 1px solid rgba(49, 51, 63, 0.2);
  border-radius: 0.5rem; background: white; cursor: pointer;">
  Download SVG</button>
<script>
document.getElementById("macscope-graph-svg").addEventListener("click", () => {
  const svg = document.querySelector('[data-testid="stGraphVizChart"] svg');
  if (!svg) return;
  const text = '<?xml version="1.0" encoding="UTF-8"?>\\n' + new XMLSerializer().serializeToString(svg);
  const link = document.createElement("a");
  link.href = URL.createObjectURL(new Blob([text], {type: "image/svg+xml"}));
  link.download = "FILE_NAME";
  link.click();
  setTimeout(() => URL.revokeObjectURL(link.href), 1000);
});
</script>
"""


def svg_button(file_name: str) -> str:
    return SVG_BUTTON.replace("FILE_NAME", re.sub(r"[^A-Za-z0-9_.-]", "-", file_name))


def _file_name(title: str) -> str:
    return "macscope-" + (re.sub(r"[^A-Za-z0-9_.-]+", "-", title).strip("-") or "model") + "-graph.dot"


def show(graph: Graph, key: str, title: str) -> None:
    """The tab's controls, chart and download for ``graph``; widget keys start with ``key``."""
    state = st.session_state
    columns = st.columns([3, 2, 3, 3], vertical_alignment="bottom")
    fold = columns[1].toggle(
        "Fold ×N",
        value=widget_defaults.value(f"{key}_graph_fold", True),
        key=f"{key}_graph_fold",
        help="Fold repeats: a run of identical blocks, each feeding the next, drawn once and marked ×N",
    )
    shown = fold_repeats(graph) if fold else graph
    deepest = max_depth(shown)
    depth_key = f"{key}_graph_depth"
    if state.get(f"{key}_graph_of") != title or state.get(depth_key, 1) > deepest:
        state[depth_key] = first_depth(shown)  # a new model: its readable first look
        state[f"{key}_graph_of"] = title
    if deepest > 1:
        depth = columns[0].slider(
            "Depth",
            1,
            deepest,
            value=widget_defaults.value(depth_key, 1),
            key=depth_key,
            help="1: the model's own children (a ResNet's stages); 2: their children (blocks); "
            f"up to {deepest}: every layer",
        )
        shown = collapse(shown, depth)
    else:
        columns[0].caption("Depth: one level, every layer")
    colour = columns[2].selectbox(
        "Colour by",
        COLOUR_BY,
        index=widget_defaults.index(f"{key}_graph_colour", COLOUR_BY),
        key=f"{key}_graph_colour",
        help="Share of MACs, or whether each node is memory- or compute-bound on a device's roofline "
        "(its FLOPs / peak against its bytes / bandwidth, as on the Latency page)",
    )
    roofs = None
    if colour == COLOUR_BY[1]:
        names = [entry.name for entry in hw.PRESETS]
        device = columns[3].selectbox(
            "Device",
            names,
            index=widget_defaults.index(f"{key}_graph_device", names, names.index(DEFAULT_DEVICE)),
            key=f"{key}_graph_device",
        )
        dtype = DTYPE_OF_BYTES.get(shown.bytes_per_element, "fp32")
        try:
            roofs = hw.hardware(device).roofs(dtype)
        except SpecError as error:
            st.warning(f"{error}; coloured by share of MACs instead.", icon=":material/warning:")
    path = heaviest_path(shown)
    path_macs = sum(node.macs for node in shown.nodes if node.id in set(path))
    legend = (
        "white (no MACs) to dark red (the node with the most)"
        if roofs is None
        else f"blue: memory-bound, orange: compute-bound on {roofs.label}; darker takes longer"
    )
    st.caption(
        f"{len(shown.nodes)} nodes, {len(shown.edges)} edges · colour: {legend} · red border: the heaviest "
        f"path, {si(path_macs)}MACs of {si(shown.macs)}MACs · a node ×N stands for N identical blocks "
        "and carries their total"
    )
    if len(shown.nodes) > LARGE_GRAPH_NODES:
        st.info(
            f"{len(shown.nodes)} nodes take the browser a few seconds to lay out: fold repeats or a "
            "smaller depth draws at once.",
            icon=":material/info:",
        )
    dot = graph_dot(shown, roofs, title, presentation=bool(state.get("presentation")))
    st.graphviz_chart(dot, width="content")
    buttons = st.container(horizontal=True, vertical_alignment="center")
    buttons.download_button(
        "Download DOT",
        dot,
        file_name=_file_name(title),
        mime="text/vnd.graphviz",
        key=f"{key}_graph_dot",
        help="Graphviz text: `dot -Tsvg` (or any Graphviz viewer) draws it as SVG or PNG",
    )
    if not state.get("presentation"):  # as the DOT button, hidden on a shared screen
        with buttons:
            st.html(svg_button(_file_name(title).removesuffix(".dot") + ".svg"), unsafe_allow_javascript=True)


def show_model(
    text: str,
    payload: str | None,
    resolution: int | None,
    seq_len: int | None,
    batch: int,
    label: str,
    key: str = "model",
) -> None:
    """The tab for a picked source: its graph recorded once (then cached), then ``show``."""
    try:
        with st.spinner(f"Recording the data flow of {label}…"):
            graph = model_graph(text, payload, resolution, seq_len, batch)
    except SpecError as error:
        st.error(f"No graph: {error}", icon=":material/error:")
        return
    show(graph, key, label)


def show_stack(report: Report) -> None:
    """The Builder's tab: a stack's graph is its chain of layers."""
    show(chain(report), "builder", "Layer Builder stack")


__all__ = ["first_depth", "model_graph", "show", "show_model", "show_stack"]
