"""A calc.graph.Graph coloured by cost, as DOT for st.graphviz_chart: by share of MACs, or by what
bounds each node on a device's roofline (calc.roofline). No streamlit here."""

from __future__ import annotations

from calc.graph import INPUT_TYPE, Graph, Node, heaviest_path
from calc.graph_dot import Style, to_dot
from calc.roofline import Roofs
from calc.units import flops_from_macs

# White to dark red by a node's MACs against the heaviest node's (ColorBrewer YlOrRd); the last two
# are dark enough for white text.
MACS_SCALE = ("#ffffff", "#ffffcc", "#fed976", "#fd8d3c", "#e31a1c", "#800026")
# Light to dark by a node's roofline time against the slowest node's, one hue per bound.
MEMORY_SCALE = ("#ffffff", "#deebf7", "#9ecae1", "#4292c6", "#08519c")  # blues
COMPUTE_SCALE = ("#ffffff", "#fee6ce", "#fdae6b", "#f16913", "#a63603")  # oranges
DARK = 2  # the last DARK colours of each scale take white text

# Nodes past this many are drawn without edge labels: a long chain's shapes repeat, and each label
# costs the browser's layout time.
MAX_EDGE_LABELS = 300

COLOUR_BY = ("share of MACs", "roofline bound")  # memory- or compute-bound on a device


def _step(fraction: float, scale: tuple[str, ...]) -> Style:
    """The colour of ``fraction`` (0 to 1) on ``scale``: the first colour for exactly nothing."""
    if fraction <= 0:
        return Style(scale[0])
    index = min(len(scale) - 1, 1 + int(fraction * (len(scale) - 1)))
    return Style(scale[index], "#ffffff" if index >= len(scale) - DARK else "#000000")


def macs_styles(graph: Graph) -> dict[str, Style]:
    """Each node by its MACs against the heaviest node's (a folded node's, all its instances')."""
    heaviest = max((node.macs for node in graph.nodes), default=0)
    return {node.id: _step(node.macs / heaviest if heaviest else 0.0, MACS_SCALE) for node in graph.nodes}


def roofline_times(node: Node, roofs: Roofs, bytes_per_element: int) -> tuple[float, float]:
    """(compute seconds, memory seconds) of ``node``: FLOPs / P and bytes / B, calc.roofline's terms."""
    compute = flops_from_macs(node.macs) / roofs.peak_flops_per_s
    memory = node.memory_bytes(bytes_per_element) / roofs.bandwidth_bytes_per_s
    return compute, memory


def is_memory_bound(node: Node, roofs: Roofs, bytes_per_element: int) -> bool:
    compute, memory = roofline_times(node, roofs, bytes_per_element)
    return memory > compute


def roofline_styles(graph: Graph, roofs: Roofs) -> dict[str, Style]:
    """Blue for a memory-bound node, orange for a compute-bound one, darker the longer it takes."""
    times = {node.id: roofline_times(node, roofs, graph.bytes_per_element) for node in graph.nodes}
    slowest = max((max(pair) for pair in times.values()), default=0.0)
    styles = {}
    for node in graph.nodes:
        if node.type == INPUT_TYPE:
            styles[node.id] = Style()
            continue
        compute, memory = times[node.id]
        scale = MEMORY_SCALE if memory > compute else COMPUTE_SCALE
        styles[node.id] = _step(max(compute, memory) / slowest if slowest else 0.0, scale)
    return styles


FONT_POINTS, PRESENTATION_FONT_POINTS = 11, 14


def graph_dot(graph: Graph, roofs: Roofs | None = None, title: str = "", presentation: bool = False) -> str:
    """DOT of ``graph``, coloured by share of MACs (or by roofline bound on ``roofs``), its heaviest
    path drawn thick; larger text for presentation mode."""
    styles = macs_styles(graph) if roofs is None else roofline_styles(graph, roofs)
    labels = len(graph.nodes) <= MAX_EDGE_LABELS
    font = PRESENTATION_FONT_POINTS if presentation else FONT_POINTS
    return to_dot(graph, styles, heaviest_path(graph), edge_labels=labels, title=title, font_size=font)


__all__ = [
    "COLOUR_BY",
    "MACS_SCALE",
    "MAX_EDGE_LABELS",
    "graph_dot",
    "is_memory_bound",
    "macs_styles",
    "roofline_styles",
    "roofline_times",
]
