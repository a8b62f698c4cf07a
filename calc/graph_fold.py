"""Fold repeated blocks of a calc.graph.Graph into one node marked ×N.

A run of sibling units (calls inside the same call, or nodes directly in it: a stack's layers)
folds when each unit is identical to the next (same types, figures, shapes and inner edges,
node for node) and feeds only the next: ResNet's identical bottlenecks after a stage's first,
a transformer's layers. Units may all read the same outside tensor (a transformer's rotary
embedding, its attention mask); an edge that skips a unit (a U-Net's skip) stops the run.
The first unit stands for the run: its nodes carry the run's totals and ``repeat`` = N, the
edges out of the last unit leave from it.
"""

from __future__ import annotations

from dataclasses import replace

from calc.graph import Edge, Graph, Node


def _unit(node: Node, level: int) -> str:
    """The unit ``node`` belongs to among the children of its call at ``level - 1``."""
    return node.scope[level - 1] if len(node.scope) >= level else node.id


def _relative(node_id: str, unit: str) -> str | None:
    """``node_id`` as seen from inside ``unit`` ("layer1.1.conv1" in "layer1.1": ".conv1"); None if
    it is not named under it (a shared module's call), which keeps such units from folding."""
    if node_id == unit:
        return ""
    return node_id[len(unit) :] if node_id.startswith((unit + ".", unit + "#")) else None


def _figures(node: Node) -> tuple:
    """What two nodes at the same place of two units must share to be the same."""
    return (
        node.type,
        node.output_shape,
        node.folds,
        node.macs,
        node.other_ops,
        node.params,
        node.moved_elements,
    )


class _Folder:
    def __init__(self, graph: Graph):
        self.nodes: dict[str, Node] = {node.id: node for node in graph.nodes}
        self.order = {node.id: index for index, node in enumerate(graph.nodes)}
        self.edges: list[Edge] = list(graph.edges)
        self.index_edges()

    def index_edges(self) -> None:
        self.leaving: dict[str, list[Edge]] = {node_id: [] for node_id in self.nodes}
        self.entering: dict[str, list[Edge]] = {node_id: [] for node_id in self.nodes}
        for edge in self.edges:
            self.leaving[edge.source].append(edge)
            self.entering[edge.target].append(edge)

    def signature(self, unit: str, members: list[str]) -> tuple | None:
        relative = {member: _relative(member, unit) for member in members}
        if None in relative.values():
            return None
        node_part = tuple((relative[member], *_figures(self.nodes[member])) for member in members)
        edge_part = tuple(
            (relative[edge.source], relative.get(edge.target), edge.shape)
            for member in members
            for edge in self.leaving[member]
            if edge.target in relative
        )
        entering = tuple(
            edge.shape for member in members for edge in self.entering[member] if edge.source not in relative
        )
        return node_part, edge_part, entering

    def chained(self, start: str, previous: list[str], current: list[str]) -> bool:
        """``previous`` feeds only ``current``, and ``current`` reads only ``previous``, itself, or
        what ran before the run's first node ``start``."""
        before, here = set(previous), set(current)
        for member in previous:
            if any(edge.target not in before and edge.target not in here for edge in self.leaving[member]):
                return False
        first = self.order[start]
        return all(
            edge.source in here or edge.source in before or self.order[edge.source] < first
            for member in current
            for edge in self.entering[member]
        )

    def fold(self, run: list[tuple[str, list[str]]], level: int) -> None:
        """The run's first unit (of units at ``level``) stands for all of it."""
        first_unit, first = run[0]
        count = len(run)
        for node_id in first:
            node = self.nodes[node_id]
            self.nodes[node_id] = replace(
                node,
                macs=node.macs * count,
                other_ops=node.other_ops * count,
                params=node.params * count,
                moved_elements=node.moved_elements * count,
                folds=(*node.folds, (level, count)),
            )
        first_by_relative = {_relative(node_id, first_unit): node_id for node_id in first}
        standing_for = {  # a folded node -> the first unit's node in its place
            node_id: first_by_relative[_relative(node_id, unit)]
            for unit, members in run[1:]
            for node_id in members
        }
        edges: dict[tuple[str, str], Edge] = {}
        for edge in self.edges:
            if edge.source in standing_for and edge.target in standing_for:
                continue  # inside a folded unit: the first unit shows it
            source = standing_for.get(edge.source, edge.source)
            target = standing_for.get(edge.target, edge.target)
            if edge.target in standing_for and edge.source in first_by_relative.values():
                continue  # one unit feeding the next: what ×N means
            edges.setdefault((source, target), Edge(source, target, edge.shape))
        self.edges = list(edges.values())
        for node_id in standing_for:
            del self.nodes[node_id]
        self.index_edges()

    def fold_inside(self, parent: tuple[str, ...], members: list[str]) -> None:
        """Fold the runs among the units directly inside ``parent`` (a scope prefix), then inside
        each unit that is a call."""
        level = len(parent) + 1
        units: dict[str, list[str]] = {}
        for node_id in members:
            units.setdefault(_unit(self.nodes[node_id], level), []).append(node_id)
        ordered = list(units.items())
        index = 0
        while index < len(ordered):
            unit, unit_members = ordered[index]
            signature = self.signature(unit, unit_members)
            end = index + 1
            while (
                signature is not None
                and end < len(ordered)
                and self.chained(unit_members[0], ordered[end - 1][1], ordered[end][1])
                and self.signature(*ordered[end]) == signature
            ):
                end += 1
            if end - index > 1:
                self.fold(ordered[index:end], level)
            if len(unit_members) > 1:  # a call holding several nodes: fold inside it too
                self.fold_inside((*parent, unit), unit_members)
            index = end


def fold_repeats(graph: Graph) -> Graph:
    """``graph`` with each run of identical chained sibling units folded into its first (×N)."""
    folder = _Folder(graph)
    folder.fold_inside((), [node.id for node in graph.nodes])
    nodes = tuple(node for node in graph.nodes if node.id in folder.nodes)
    return Graph(
        tuple(folder.nodes[node.id] for node in nodes),
        tuple(folder.edges),
        graph.calls,
        graph.bytes_per_element,
    )


__all__ = ["fold_repeats"]
