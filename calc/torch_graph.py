"""The data-flow graph of any torch.nn.Module, recorded in the pass that counts it.

calc.torch_count's dispatch mode sees every aten op and the module running it; here it also
notes which node produced each tensor (a weak map from the tensor to its producers) and, when
an op reads a tensor, adds an edge from its producer. Ops that only move data (views, cat,
dropout: calc.torch_count.ZERO_COST) make no node: their output keeps its input's producers,
so a flatten between two layers joins them directly. Nothing is traced or compiled: whatever
runs under the counter has a graph. The bookkeeping only runs when a graph is asked for
(``graph_module``); ``count_module`` stays as fast as it was.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from torch.utils._pytree import tree_flatten
from torch.utils.weak import WeakIdKeyDictionary

from calc.analyze import ROOT_NAME, Report
from calc.errors import SpecError, cut
from calc.graph import INPUT_TYPE, Call, Edge, Graph, Node
from calc.torch_count import ZERO_COST, DispatchCounter, ModuleTally, count_with, first_tensor

# Ops ZERO_COST lists that still make a node: a look-up that reads a weight to produce the activations.
LOOKUPS = frozenset({"embedding"})


@dataclass
class _Frame:
    """One running module call."""

    call_id: str
    tally: ModuleTally
    segments: int = 0  # stretches of its own work so far
    open: _NodeTally | None = None  # the stretch running now, until a child runs


@dataclass
class _NodeTally:
    id: str
    name: str
    type: str
    scope: tuple[str, ...]
    macs: int = 0
    other_ops: int = 0
    params: int = 0
    moved_elements: int = 0
    output_shape: tuple[int, ...] = ()
    ops: dict[str, None] = field(default_factory=dict)


class _GraphCounter(DispatchCounter):
    def __init__(self, tallies: dict[int, ModuleTally], root: nn.Module):
        super().__init__(tallies, root)
        self.frames = [_Frame("", tallies[id(root)])]
        self.calls_of: dict[str, int] = {}  # module path -> calls so far
        self.calls: dict[str, Call] = {}
        self.nodes: list[_NodeTally] = []
        self.edges: dict[tuple[str, str], Edge] = {}
        self.producers: WeakIdKeyDictionary = WeakIdKeyDictionary()
        self.params_read: set[int] = set()
        self.batch = 1

    def note_inputs(self, inputs: dict[str, torch.Tensor], batch: int) -> None:
        self.batch = batch
        for name, tensor in inputs.items():
            if isinstance(tensor, torch.Tensor):
                node = _NodeTally(name, name, INPUT_TYPE, (), output_shape=self.sample(tensor.shape))
                self.nodes.append(node)
                self.producers[tensor] = (name,)

    def sample(self, shape: torch.Size) -> tuple[int, ...]:
        """One sample's shape: without the leading batch dimension."""
        shape = tuple(shape)
        return shape[1:] if shape and shape[0] == self.batch else shape

    def enter(self, tally: ModuleTally, inputs: Any) -> None:
        super().enter(tally, inputs)
        calls = self.calls_of[tally.path] = self.calls_of.get(tally.path, 0) + 1
        call_id = tally.path if calls == 1 else f"{tally.path}@{calls}"
        self.frames[-1].open = None  # the parent's next own op starts a new stretch
        self.frames.append(_Frame(call_id, tally))

    def leave(self, tally: ModuleTally, output: Any) -> None:
        super().leave(tally, output)
        frame = self.frames.pop()
        self.frames[-1].open = None
        first = first_tensor(output)
        shape = self.sample(first.shape) if first is not None else ()
        self.calls[frame.call_id] = Call(frame.call_id, tally.path, type(tally.module).__name__, shape)

    def node_now(self) -> _NodeTally:
        frame = self.frames[-1]
        if frame.open is None:
            frame.segments += 1
            base = frame.call_id or ROOT_NAME
            node_id = base if frame.segments == 1 else f"{base}#{frame.segments}"
            scope = tuple(other.call_id for other in self.frames if other.tally.path)  # the root is no scope
            name = frame.tally.path or ROOT_NAME
            frame.open = _NodeTally(node_id, name, type(frame.tally.module).__name__, scope)
            self.nodes.append(frame.open)
        return frame.open

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        name = func.__name__.split(".")[0]
        tally = self.stack[-1]
        macs, others = sum(tally.macs.values()), sum(tally.other_ops.values())
        moved = tally.input_elements + tally.output_elements
        out = super().__torch_dispatch__(func, types, args, kwargs)
        leaves = [leaf for leaf in tree_flatten((args, kwargs))[0] if isinstance(leaf, torch.Tensor)]
        outputs = [leaf for leaf in tree_flatten(out)[0] if isinstance(leaf, torch.Tensor)]
        reads_weight = name in LOOKUPS and any(id(leaf) in self.parameters for leaf in leaves)
        if name in ZERO_COST and not reads_weight:
            producers = tuple(dict.fromkeys(p for leaf in leaves for p in self.producers.get(leaf, ())))
            if producers:
                for leaf in outputs:
                    self.producers[leaf] = producers
            return out
        node = self.node_now()
        node.macs += sum(tally.macs.values()) - macs
        node.other_ops += sum(tally.other_ops.values()) - others
        node.moved_elements += tally.input_elements + tally.output_elements - moved
        node.ops[name] = None
        for leaf in leaves:
            if id(leaf) in self.parameters:
                if id(leaf) not in self.params_read:
                    self.params_read.add(id(leaf))
                    node.params += leaf.numel()
                continue
            for producer in self.producers.get(leaf, ()):
                if producer != node.id and (producer, node.id) not in self.edges:
                    self.edges[(producer, node.id)] = Edge(producer, node.id, self.sample(leaf.shape))
        for leaf in outputs:
            self.producers[leaf] = (node.id,)
        if outputs:
            node.output_shape = self.sample(outputs[0].shape)
        return out

    def graph(self, bytes_per_element: int) -> Graph:
        used = {edge.source for edge in self.edges.values()}
        nodes = tuple(
            Node(
                tally.id,
                tally.name,
                tally.type,
                tally.macs,
                tally.output_shape,
                tally.other_ops,
                tally.params,
                tally.moved_elements,
                tally.scope,
                ops=tuple(tally.ops),
            )
            for tally in self.nodes
            if tally.type != INPUT_TYPE or tally.id in used  # an input nothing reads is left out
        )
        return Graph(nodes, tuple(self.edges.values()), tuple(self.calls.values()), bytes_per_element)


def graph_module(
    module: nn.Module,
    input_shape: tuple[int, ...],
    batch: int = 1,
    dtype: str = "fp32",
    device: str | torch.device | None = None,
    example_inputs: dict[str, Any] | None = None,
) -> tuple[Report, Graph]:
    """calc.torch_count.count_module's Report, and the graph of the same pass."""
    report, counter = count_with(_GraphCounter, module, input_shape, batch, dtype, device, example_inputs)
    return report, counter.graph(report.rows[0].bytes_per_element if report.rows else 4)


# ---------------------------------------------------------------------------
# the graphs of calc.sources' torch kinds (calc.source_graph picks one by kind)


def _graph_of(model: nn.Module, what: str, *arguments: Any, **keywords: Any) -> Graph:
    try:
        return graph_module(model, *arguments, **keywords)[1]
    except (AssertionError, RuntimeError, ValueError) as error:  # the model's own check of its input
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise SpecError(f"{what} could not run for its graph ({cut(reason, 160)})") from None


def torchvision_graph(name: str, input_shape: tuple[int, ...], batch: int, dtype: str) -> Graph:
    from calc import zoo

    return _graph_of(zoo.build(name), name, input_shape, batch, dtype)


def timm_graph(name: str, input_shape: tuple[int, ...], batch: int, dtype: str) -> Graph:
    from calc.torch_timm import build

    return _graph_of(build(name), "timm:" + name, input_shape, batch, dtype)


def hf_graph(target: str | dict, seq_len: int, batch: int, dtype: str) -> Graph:
    """A Hugging Face model's graph on ``batch`` sequences of ``seq_len`` token ids (its count has
    checked both); mixtures of experts run each token's top-k experts, as when counted."""
    from calc import torch_hf

    config = torch_hf.config_for(target)
    model = torch_hf.build(config, "meta")
    inputs = torch_hf.example_inputs(model, config, seq_len, batch, "meta")
    main = inputs.get("input_ids", inputs.get("pixel_values"))
    with torch_hf.experts_by_rule(model):
        return _graph_of(model, config.model_type, tuple(main.shape[1:]), batch, dtype, example_inputs=inputs)


__all__ = ["LOOKUPS", "graph_module", "hf_graph", "timm_graph", "torchvision_graph"]
