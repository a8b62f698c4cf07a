"""Fold repeated blocks of a calc.graph.Graph into one node marked ×N.

A run of sibling units (calls inside the same call, or nodes directly in it: a stack's layers),
or of groups of up to MAX_PERIOD consecutive units (a stack's conv, norm, activation, ...), folds
when each is identical to the next (same types, figures, shapes and inner edges,
node for node) and feeds only the next: ResNet's identical bottlenecks after a stage's first,
a transformer's layers. Units may all read the same outside tensor (a transformer's rotary
embedding, its attention mask); an edge that skips a unit (a U-Net's skip) stops the run.
The first unit stands for the run: its nodes carry the run's totals and ``repeat`` = N, the
edges out of the last unit leave from it.
"""

from __future__ import annotations

from dataclasses import replace

from calc.graph import Edge, Graph, Node

MAX_PERIOD = 8  # the longest group of units repeated as one (a stack's conv, norm, activation: 3)


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

    def group_signature(self, group: list[tuple[str, list[str]]], unit_signatures: list) -> tuple | None:
        """Consecutive units as one: each unit's signature, and the edges between them by position."""
        if any(signature is None for signature in unit_signatures):
            return None
        position = {member: index for index, (_, members) in enumerate(group) for member in members}
        between = tuple(
            (position[edge.source], position[edge.target], edge.shape)
            for _, members in group
            for member in members
            for edge in self.leaving[member]
            if edge.target in position and position[edge.target] != position[edge.source]
        )
        return tuple(unit_signatures), between

    def fold(self, run: list[list[str]], level: int) -> None:
        """The run's first group of units (at ``level``) stands for all of it: the run's groups are
        identical, so their nodes match the first's place by place."""
        first, count = run[0], len(run)
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
        standing_for = {  # a folded node -> the first group's node in its place
            node_id: first[place] for members in run[1:] for place, node_id in enumerate(members)
        }
        kept = set(first)
        edges: dict[tuple[str, str], Edge] = {}
        for edge in self.edges:
            if edge.target in standing_for and (edge.source in standing_for or edge.source in kept):
                continue  # inside a folded group, or one group feeding the next: what ×N means
            if edge.source in standing_for and edge.target in kept:
                continue
            source = standing_for.get(edge.source, edge.source)
            target = standing_for.get(edge.target, edge.target)
            edges.setdefault((source, target), Edge(source, target, edge.shape))
        self.edges = list(edges.values())
        for node_id in standing_for:
            del self.nodes[node_id]
        self.index_edges()

    def longest_run(self, ordered: list, signatures: list, index: int) -> tuple[int, int]:
        """(period, count): the run from unit ``index`` of ``count`` identical groups of ``period``
        units covering the most units (count 1 when none repeats)."""
        best = (1, 1)
        for period in range(1, MAX_PERIOD + 1):
            if index + 2 * period > len(ordered):
                break
            first = ordered[index : index + period]
            signature = self.group_signature(first, signatures[index : index + period])
            if signature is None:
                continue
            start = first[0][1][0]
            count = 1
            while index + (count + 1) * period <= len(ordered):
                lo, hi = index + count * period, index + (count + 1) * period
                group = ordered[lo:hi]
                previous = ordered[lo - period : lo]
                if (
                    not self.chained(
                        start, [m for _, ms in previous for m in ms], [m for _, ms in group for m in ms]
                    )
                    or self.group_signature(group, signatures[lo:hi]) != signature
                ):
                    break
                count += 1
            if count > 1 and count * period > best[0] * best[1]:
                best = (period, count)
        return best

    def fold_inside(self, parent: tuple[str, ...], members: list[str]) -> None:
        """Fold the runs among the units directly inside ``parent`` (a scope prefix), then inside
        each unit that is a call."""
        level = len(parent) + 1
        units: dict[str, list[str]] = {}
        for node_id in members:
            units.setdefault(_unit(self.nodes[node_id], level), []).append(node_id)
        ordered = list(units.items())
        signatures = [self.signature(unit, unit_members) for unit, unit_members in ordered]
        index = 0
        while index < len(ordered):
            period, count = self.longest_run(ordered, signatures, index)
            if count > 1:
                groups = [ordered[index + at * period : index + (at + 1) * period] for at in range(count)]
                self.fold([[m for _, ms in group for m in ms] for group in groups], level)
            for unit, unit_members in ordered[index : index + period]:
                if len(unit_members) > 1:  # a call holding several nodes: fold inside it too
                    self.fold_inside((*parent, unit), unit_members)
            index += period * count


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
