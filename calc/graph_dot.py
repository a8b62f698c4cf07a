"""A calc.graph.Graph as Graphviz DOT text: what the page draws (st.graphviz_chart renders DOT in the
browser) and what ``python -m calc graph --format dot`` prints, for ``dot -Tsvg`` or any viewer.

Each node is a box labelled with its name, its type (×N when it stands for N identical blocks),
its MACs and its output shape; each edge with the tensor's shape. A path given (the heaviest)
is drawn thick. Colours are the caller's (charts.graph colours by cost); none by default.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

from calc.graph import INPUT_TYPE, Graph, Node
from calc.units import si

HIGHLIGHT = "#c0392b"  # the heaviest path's edges and borders
PLAIN_FILL = "#ffffff"


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
    """Name; type (×N); MACs; output shape: one line each."""
    if node.type == INPUT_TYPE:
        return f"{node.name}\n{shape_text(node.output_shape)}"
    kind = f"{node.type} ×{node.repeat}" if node.repeat > 1 else node.type
    macs = f"{si(node.macs)}MACs" if node.macs >= 1000 else f"{node.macs} MACs"
    return f"{node.name}\n{kind}\n{macs}\n→ {shape_text(node.output_shape)}"


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
        "  rankdir=TB; nodesep=0.25; ranksep=0.35;",
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
    for edge in graph.edges:
        attributes = [f"label={quoted(shape_text(edge.shape))}"] if edge_labels else []
        if (edge.source, edge.target) in path_edges:
            attributes.append(f'color="{HIGHLIGHT}", penwidth=2.5')
        suffix = f" [{', '.join(attributes)}]" if attributes else ""
        lines.append(f"  {quoted(edge.source)} -> {quoted(edge.target)}{suffix};")
    lines.append("}")
    return "\n".join(lines) + "\n"


__all__ = ["HIGHLIGHT", "Style", "node_label", "quoted", "shape_text", "to_dot"]
