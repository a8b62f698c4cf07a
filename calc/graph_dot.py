"""A calc.graph.Graph as Graphviz DOT text: what the page draws (st.graphviz_chart renders DOT in the
browser) and what ``python -m calc graph --format dot`` prints, for ``dot -Tsvg`` or any viewer.

Each node is a box labelled with its name, its type (×N when it stands for N identical blocks),
its MACs and its output shape; an edge with the tensor's shape where it is not its producer's
output shape. A path given (the heaviest)
is drawn thick. A long edge from a node that feeds many is drawn as a stub (STUB_SPAN). Colours
are the caller's (charts.graph colours by cost); none by default.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

from calc.graph import INPUT_TYPE, Graph, Node
from calc.units import si

HIGHLIGHT = "#c0392b"  # the heaviest path's edges and borders
PLAIN_FILL = "#ffffff"
# An edge from a node that feeds many others (a transformer's rotary embedding or attention mask, read
# by every layer) that spans more ranks than this is drawn as a short stub, "from NAME", beside its
# target: a long edge costs Graphviz a virtual node per rank crossed, and thirty-two of them made a
# 32-layer LLM's graph take minutes to lay out in the browser (benchmarks/bench_graph.py).
STUB_SPAN = 3
STUB_FANOUT = 3


@dataclass(frozen=True)
class Style:
    """A node's colours: its fill and its text (dark text on light fills, white on dark)."""

    fill: str = PLAIN_FILL
    font: str = "#000000"


def quoted(text: str) -> str:
    """``text`` as a DOT string: quotes and backslashes escaped, newlines as DOT's centred breaks."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + escaped.replace("\r", "").replace("\n", "\\n") + '"'


def shape_text(shape: tuple[int, ...]) -> str:
    return "×".join(map(str, shape)) if shape else "scalar"


def node_label(node: Node) -> str:
    """Two lines: name · type (×N); MACs → output shape. Short, so that a deep model's chain stays
    on few screens."""
    if node.type == INPUT_TYPE:
        return f"{node.name}\n{shape_text(node.output_shape)}"
    kind = f"{node.type} ×{node.repeat}" if node.repeat > 1 else node.type
    macs = f"{si(node.macs)}MACs" if node.macs >= 1000 else f"{node.macs} MACs"
    return f"{node.name} · {kind}\n{macs} → {shape_text(node.output_shape)}"


def ranks(graph: Graph) -> dict[str, int]:
    """Each node's rank as dot lays it out: the longest path to it from a node nothing feeds
    (nodes come in a topological order)."""
    rank: dict[str, int] = {}
    for node in graph.nodes:
        rank.setdefault(node.id, 0)
    for edge in graph.edges:  # edges in producer order; a second pass settles any out of order
        rank[edge.target] = max(rank[edge.target], rank[edge.source] + 1)
    for edge in graph.edges:
        rank[edge.target] = max(rank[edge.target], rank[edge.source] + 1)
    return rank


def stubbed_edges(graph: Graph, path: Collection[str] = ()) -> set[tuple[str, str]]:
    """The edges drawn as stubs: from a node feeding STUB_FANOUT others or more, across more than
    STUB_SPAN ranks, not on ``path``."""
    fanout: dict[str, int] = {}
    for edge in graph.edges:
        fanout[edge.source] = fanout.get(edge.source, 0) + 1
    rank = ranks(graph)
    on_path = set(zip(tuple(path), tuple(path)[1:], strict=False))
    return {
        (edge.source, edge.target)
        for edge in graph.edges
        if fanout[edge.source] >= STUB_FANOUT
        and rank[edge.target] - rank[edge.source] > STUB_SPAN
        and (edge.source, edge.target) not in on_path
    }


def to_dot(
    graph: Graph,
    styles: Mapping[str, Style] | None = None,
    path: Collection[str] = (),
    edge_labels: bool = True,
    title: str = "",
    font_size: int = 11,
) -> str:
    """DOT text of ``graph``: top to bottom, ``styles`` by node id, ``path`` (node ids) thick;
    ``font_size`` in points for node labels (edge labels and the title in proportion)."""
    styles = styles or {}
    on_path = set(path)
    path_edges = set(zip(tuple(path), tuple(path)[1:], strict=False))
    lines = [
        "digraph model {",
        "  rankdir=TB; nodesep=0.25; ranksep=0.25;",
        f'  node [shape=box, style="rounded,filled", fontname=Helvetica, fontsize={font_size}, margin=0.1];',
        f'  edge [fontname="Helvetica", fontsize={font_size - 2}, color="#555555", arrowsize=0.6];',
    ]
    if title:
        lines.append(f'  labelloc=t; fontname="Helvetica"; fontsize={font_size + 2}; label={quoted(title)};')
    for node in graph.nodes:
        style = styles.get(node.id, Style())
        attributes = [
            f"label={quoted(node_label(node))}",
            f'fillcolor="{style.fill}"',
            f'fontcolor="{style.font}"',
        ]
        if node.type == INPUT_TYPE:
            attributes.append('shape=ellipse, style="filled"')
        if node.id in on_path:
            attributes.append(f'color="{HIGHLIGHT}", penwidth=3')
        lines.append(f"  {quoted(node.id)} [{', '.join(attributes)}];")
    stubs = stubbed_edges(graph, path)
    names = {node.id: node.name for node in graph.nodes}
    shapes = {node.id: node.output_shape for node in graph.nodes}
    for edge in graph.edges:
        # the shape of a tensor its producer wrote is on the producer's box: an edge is labelled
        # only where the consumer reads another shape (after a flatten, say)
        labelled = edge_labels and edge.shape != shapes.get(edge.source)
        attributes = [f"label={quoted(shape_text(edge.shape))}"] if labelled else []
        if (edge.source, edge.target) in path_edges:
            attributes.append(f'color="{HIGHLIGHT}", penwidth=2.5')
        source = quoted(edge.source)
        if (edge.source, edge.target) in stubs:
            source = quoted(f"from {edge.source} to {edge.target}")
            stub_label = quoted(f"from {names[edge.source]}")
            lines.append(f'  {source} [shape=plaintext, label={stub_label}, fontcolor="#555555"];')
            attributes.append("style=dashed")
        suffix = f" [{', '.join(attributes)}]" if attributes else ""
        lines.append(f"  {source} -> {quoted(edge.target)}{suffix};")
    lines.append("}")
    return "\n".join(lines) + "\n"


__all__ = [
    "HIGHLIGHT",
    "STUB_FANOUT",
    "STUB_SPAN",
    "Style",
    "node_label",
    "quoted",
    "ranks",
    "shape_text",
    "stubbed_edges",
    "to_dot",
]
