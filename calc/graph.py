"""A model's data-flow graph: nodes that did work, edges that are the tensors between them.

Torch-free. A torch model's graph is recorded by calc.torch_graph in the pass that counts it;
a Builder stack's is its chain of layers (``chain``). Nodes come in execution order, which is
a topological order: a tensor is produced before it is consumed.

A node is a stretch of one module call's own work: a leaf module's call (a convolution), or
the ops a module runs itself between its children's calls (a ResNet block's residual add; a
ViT encoder block's two residual adds are two nodes, so no cycle passes through the block).
``scope`` lists the module calls a node runs inside, outermost first, its own included; a
call's id is its module path, with ``@n`` for the n-th call of a module run more than once.

``collapse(graph, depth)`` merges every node into its call at ``depth`` (1: the root's
children, say ResNet's stages; 2: blocks; ...). ``fold_repeats`` folds a run of identical
sibling calls (ResNet's identical bottlenecks, a transformer's layers) chained one into the
next into the first of them, marked ×N: its figures are the run's totals.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from calc.analyze import ROOT_NAME, Report

INPUT_TYPE = "input"  # the type of a node standing for a model input (no work, no scope)


@dataclass(frozen=True)
class Node:
    id: str  # unique in its graph
    name: str  # the module path (ROOT_NAME for the root), a stack layer's index, an input's name
    type: str  # the module's class, a stack layer's kind, INPUT_TYPE
    macs: int  # all ``repeat`` instances together
    output_shape: tuple[int, ...]  # one sample
    other_ops: int = 0
    params: int = 0  # learnable parameters it reads, each counted at its first reader
    moved_elements: int = 0  # elements its ops read and write (activations; weights are params)
    scope: tuple[str, ...] = ()  # the ids of the calls it runs inside, outermost first, its own included
    ops: tuple[str, ...] = ()  # what it runs: aten ops, or a stack layer's kind
    # runs folded into it (fold_repeats): (the level of the folded units, how many), outermost first
    folds: tuple[tuple[int, int], ...] = ()

    @property
    def repeat(self) -> int:
        """The identical instances it stands for."""
        return math.prod(count for _, count in self.folds)

    def memory_bytes(self, bytes_per_element: int) -> int:
        """Its weights and activations read and written once (Row.memory_bytes's convention)."""
        return (self.params + self.moved_elements) * bytes_per_element


@dataclass(frozen=True)
class Edge:
    source: str  # a node id
    target: str
    shape: tuple[int, ...]  # the tensor, one sample


@dataclass(frozen=True)
class Call:
    """One run of a module that holds other nodes: what a collapsed node is named after."""

    id: str
    name: str  # module path
    type: str
    output_shape: tuple[int, ...]


@dataclass(frozen=True)
class Graph:
    nodes: tuple[Node, ...]  # in execution order
    edges: tuple[Edge, ...]
    calls: tuple[Call, ...] = ()
    bytes_per_element: int = 4

    @property
    def macs(self) -> int:
        return sum(node.macs for node in self.nodes)

    def node(self, node_id: str) -> Node:
        return next(node for node in self.nodes if node.id == node_id)

    def predecessors(self) -> dict[str, list[str]]:
        """Each node's distinct sources, in edge order."""
        sources: dict[str, list[str]] = {node.id: [] for node in self.nodes}
        for edge in self.edges:
            if edge.source not in sources[edge.target]:
                sources[edge.target].append(edge.source)
        return sources


def max_depth(graph: Graph) -> int:
    """The deepest ``collapse`` depth that changes anything: the longest scope (1 at least)."""
    return max((len(node.scope) for node in graph.nodes), default=1) or 1


def merge_nodes(graph: Graph) -> tuple[Node, ...]:
    """The nodes where two or more paths meet (a residual add): two distinct sources or more."""
    sources = graph.predecessors()
    return tuple(node for node in graph.nodes if len(sources[node.id]) >= 2)


def dangling_edges(graph: Graph) -> tuple[Edge, ...]:
    """Edges naming a node the graph does not have (none, in a well-made graph)."""
    ids = {node.id for node in graph.nodes}
    return tuple(edge for edge in graph.edges if edge.source not in ids or edge.target not in ids)


def _joined_edges(edges: Iterable[Edge]) -> tuple[Edge, ...]:
    """One edge per (source, target), the first's shape; no edge from a node to itself."""
    seen: dict[tuple[str, str], Edge] = {}
    for edge in edges:
        if edge.source != edge.target:
            seen.setdefault((edge.source, edge.target), edge)
    return tuple(seen.values())


def _merged(node_id: str, call: Call, depth: int, members: list[Node]) -> Node:
    """The members of ``call``, the call at ``depth``, as one node. Runs folded at ``depth`` or
    above hold the call (it stands for N); those folded deeper are inside it."""
    return Node(
        node_id,
        call.name,
        call.type,
        sum(member.macs for member in members),
        call.output_shape,
        sum(member.other_ops for member in members),
        sum(member.params for member in members),
        sum(member.moved_elements for member in members),
        members[0].scope[:depth],
        tuple(dict.fromkeys(op for member in members for op in member.ops)),
        tuple((level, count) for level, count in members[0].folds if level <= depth),
    )


def collapse(graph: Graph, depth: int) -> Graph:
    """Every node merged into its call at ``depth`` (nodes no deeper stay as they are): figures
    summed, named and typed after the call, with the call's output shape."""
    if depth < 1:
        raise ValueError(f"depth must be 1 or more, not {depth}")
    calls = {call.id: call for call in graph.calls}
    group_of: dict[str, str] = {}
    members: dict[str, list[Node]] = {}
    for node in graph.nodes:
        group = node.scope[depth - 1] if len(node.scope) >= depth else node.id
        group_of[node.id] = group
        members.setdefault(group, []).append(node)
    nodes = []
    for group, grouped in members.items():
        call = calls.get(group)
        if call is None or (len(grouped) == 1 and grouped[0].id == group):
            nodes.append(grouped[0])
        else:
            nodes.append(_merged(group, call, depth, grouped))
    edges = _joined_edges(
        Edge(group_of[edge.source], group_of[edge.target], edge.shape) for edge in graph.edges
    )
    return Graph(tuple(nodes), edges, graph.calls, graph.bytes_per_element)


def heaviest_path(graph: Graph) -> tuple[str, ...]:
    """The path from an entry to an exit with the most MACs on its nodes: the critical path of
    a machine that runs parallel branches at once (nodes come in a topological order)."""
    sources = graph.predecessors()
    heaviest: dict[str, int] = {}  # node -> the MACs of the heaviest path ending at it
    before: dict[str, str | None] = {}  # node -> its predecessor on that path
    for node in graph.nodes:
        known = [source for source in sources[node.id] if source in heaviest]
        best = max(known, key=lambda source: heaviest[source], default=None)
        heaviest[node.id] = node.macs + (heaviest[best] if best is not None else 0)
        before[node.id] = best
    if not heaviest:
        return ()
    path = [max(heaviest, key=lambda node_id: heaviest[node_id])]
    while before[path[-1]] is not None:
        path.append(before[path[-1]])
    return tuple(reversed(path))


def chain(report: Report, input_name: str = "input") -> Graph:
    """A Builder stack's graph: its input, then each whole layer feeding the next."""
    nodes = [Node(input_name, input_name, INPUT_TYPE, 0, report.input_shape)]
    edges = []
    for row in report.rows:
        node_id = row.name or ROOT_NAME
        edges.append(Edge(nodes[-1].id, node_id, row.input_shape))
        moved = row.cost.input_elements + row.cost.output_elements
        nodes.append(
            Node(
                node_id,
                node_id,
                row.kind,
                row.macs,
                row.output_shape,
                row.other_ops,
                row.params,
                moved,
                (node_id,),
                ops=(row.kind,),
            )
        )
    return Graph(tuple(nodes), tuple(edges), (), report.rows[0].bytes_per_element if report.rows else 4)


def graph_to_json(graph: Graph) -> dict:
    """The JSON contract of ``python -m calc graph``:
    nodes  [{"id", "name", "type", "macs", "output_shape", "repeat", "other_ops", "params"}] in
           execution order; macs, other_ops and params are the totals of ``repeat`` folded instances
    edges  [{"from", "to", "shape"}], node ids and the tensor's shape, one sample"""
    return {
        "nodes": [
            {
                "id": node.id,
                "name": node.name,
                "type": node.type,
                "macs": node.macs,
                "output_shape": list(node.output_shape),
                "repeat": node.repeat,
                "other_ops": node.other_ops,
                "params": node.params,
            }
            for node in graph.nodes
        ],
        "edges": [
            {"from": edge.source, "to": edge.target, "shape": list(edge.shape)} for edge in graph.edges
        ],
    }


__all__ = [
    "Call",
    "Edge",
    "Graph",
    "Node",
    "chain",
    "collapse",
    "dangling_edges",
    "graph_to_json",
    "heaviest_path",
    "max_depth",
    "merge_nodes",
]
