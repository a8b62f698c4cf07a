"""An ONNX graph (calc.onnx_graph.Graph) -> its data-flow graph (calc.graph.Graph), coloured by the
same costs as its count (calc.onnx_count.node_costs): what ``calc graph FILE.onnx`` prints and the
Model page's Graph tab draws for an uploaded file.

Nodes are the ONNX nodes that did work: those with a rule, those reading weights first (an
embedding's Gather), and those without a rule, drawn with no MACs and "(not counted)" in their
type (their work is unknown, never zero). Ops that only move data (calc.onnx_rules.ZERO_COST: a
Reshape, a Flatten) make no node: their outputs keep their inputs' producers, so a flatten between
two layers joins them directly, as calc.torch_graph does. What only weights feed (a weight
transposed once) makes no node either; its params go to the node reading it.

The hierarchy is the node's module path (calc.onnx_count.row_name: the dynamo exporter's
name_scopes, or a name written as a path): each dotted prefix is a call, so the depth setting
collapses nodes into layers, blocks and stages. A module run twice in a row of its parent (a
ResNet block's ReLU) is two calls, ``path`` and ``path@2``, as torch's are, so collapsing makes
no cycle. A node's id is its call's id and its op type ("layer1.1.relu@2.Relu"), free of the
exporter's global numbering, so identical blocks fold into one ×N (calc.graph_fold). An exporter
that fused a BatchNorm into its convolution recorded the fused node under the BatchNorm: the
module named there is the exporter's record.
"""

from __future__ import annotations

from calc.cost import Cost
from calc.graph import INPUT_TYPE, Call, Edge, Graph, Node
from calc.onnx_count import node_costs, row_name
from calc.onnx_graph import Graph as OnnxGraph
from calc.onnx_graph import Node as OnnxNode
from calc.onnx_rules import ZERO_COST
from calc.units import DTYPE_BYTES

NOT_COUNTED = " (not counted)"  # the type suffix of a node whose op has no rule, or shapes unresolved
UNKNOWN_MODULE = "module"  # a call's type where the file names no class


def _prefixes(path: str) -> list[str]:
    """ "layer1.0.conv1.Conv" -> ["layer1", "layer1.0", "layer1.0.conv1"]: the modules around a node."""
    segments = path.split(".")
    return [".".join(segments[: end + 1]) for end in range(len(segments) - 1)]


def _unique(wanted: str, taken: set[str]) -> str:
    """``wanted``, or ``wanted#2``, ``#3``... the first not in ``taken`` (then taken)."""
    candidate, number = wanted, 1
    while candidate in taken:
        number += 1
        candidate = f"{wanted}#{number}"
    taken.add(candidate)
    return candidate


class _Calls:
    """Module calls in node order: a path present in the previous node's modules continues its call;
    one absent from it starts the path's next call (``path@n``)."""

    def __init__(self) -> None:
        self.open: dict[str, str] = {}  # module path -> its running call's id
        self.counts: dict[str, int] = {}
        self.types: dict[str, str] = {}  # call id -> class
        self.paths: dict[str, str] = {}  # call id -> module path
        self.last_member: dict[str, str] = {}  # call id -> its last node's id (for its output shape)

    def enter(self, paths: list[str], classes: dict[str, str]) -> list[str]:
        opened = {}
        for path in paths:
            call = self.open.get(path)
            if call is None:
                self.counts[path] = self.counts.get(path, 0) + 1
                call = path if self.counts[path] == 1 else f"{path}@{self.counts[path]}"
                self.types[call] = classes.get(path, UNKNOWN_MODULE)
                self.paths[call] = path
            opened[path] = call
        self.open = opened
        return list(opened.values())


def _sample(shape: tuple[int, ...] | None, batch: int) -> tuple[int, ...]:
    """One sample's shape: without the leading batch axis (calc.torch_graph's rule)."""
    shape = tuple(shape or ())
    return shape[1:] if shape and shape[0] == batch else shape


def onnx_dataflow(graph: OnnxGraph, dtype: str | None = None) -> Graph:
    """The data-flow graph of ``graph`` (its inputs fixed: calc.onnx_shapes.load_graph), its node
    figures those of calc.onnx_count's rows, bytes at ``dtype`` or the weights' storage."""
    counted = {node.index: cost for node, cost in node_costs(graph)[0]}
    first = graph.shapes.get(graph.inputs[0].name) if graph.inputs else None
    batch = first[0] if first else 1
    taken: set[str] = set()
    producers: dict[str, tuple[str, ...]] = {}  # tensor -> the graph nodes that made it
    pending_params: dict[str, int] = {}  # a constant tensor -> the params of the weights it came from
    nodes: list[Node] = []
    edges: dict[tuple[str, str], Edge] = {}
    read_inputs: set[str] = set()
    input_ids: dict[str, str] = {}
    for graph_input in graph.inputs:
        input_ids[graph_input.name] = _unique(graph_input.name, taken)
        producers[graph_input.name] = (input_ids[graph_input.name],)
    calls = _Calls()
    for onnx_node in graph.nodes:
        cost = counted.get(onnx_node.index)
        reads = [name for name in onnx_node.inputs if name]
        outputs = [name for name in onnx_node.outputs if name]
        constant = bool(reads) and all(name in graph.constants for name in reads)
        passes = onnx_node.op_type in ZERO_COST and not onnx_node.has_subgraph
        weights_only = cost is None or not (cost.macs or cost.other_ops_total)
        if (constant or onnx_node.op_type in ("Constant", "ConstantOfShape")) and weights_only:
            # computed from weights alone, once: its params go on to whoever reads what it made
            held = (cost.params if cost is not None else 0) + sum(pending_params.pop(n, 0) for n in reads)
            if held and outputs:
                pending_params[outputs[0]] = held
            continue
        if passes and (cost is None or not cost.params):
            made = tuple(dict.fromkeys(p for name in reads for p in producers.get(name, ())))
            for name in outputs:
                producers[name] = made
            continue
        node = _node(onnx_node, cost, graph, batch, calls, taken, pending_params)
        nodes.append(node)
        for name in reads:
            for producer in producers.get(name, ()):
                if producer != node.id:
                    edges.setdefault(
                        (producer, node.id), Edge(producer, node.id, _sample(graph.shapes.get(name), batch))
                    )
                    read_inputs.add(producer)
        for name in outputs:
            producers[name] = (node.id,)
    inputs = [
        Node(input_ids[value.name], value.name, INPUT_TYPE, 0, _sample(graph.shapes.get(value.name), batch))
        for value in graph.inputs
        if input_ids[value.name] in read_inputs
    ]
    shapes = {node.id: node.output_shape for node in nodes}
    call_list = tuple(
        Call(call, calls.paths[call], calls.types[call], shapes.get(calls.last_member.get(call, ""), ()))
        for call in calls.paths
    )
    bytes_per_element = DTYPE_BYTES[dtype or graph.dtype]
    return Graph(tuple(inputs + nodes), tuple(edges.values()), call_list, bytes_per_element)


def _node(
    onnx_node: OnnxNode,
    cost: Cost | None,
    graph: OnnxGraph,
    batch: int,
    calls: _Calls,
    taken: set[str],
    pending_params: dict[str, int],
) -> Node:
    name = row_name(onnx_node)
    scope = calls.enter(_prefixes(name), dict(onnx_node.module_types))
    wanted = f"{scope[-1]}.{onnx_node.op_type}" if scope else onnx_node.op_type
    node_id = _unique(wanted, taken | set(calls.paths))
    for call in scope:
        calls.last_member[call] = node_id
    # the params of weights it reads through a node of their own (transposed, cast) are its own
    params = sum(pending_params.pop(input_name, 0) for input_name in onnx_node.inputs if input_name)
    if cost is None:
        output = graph.shapes.get(onnx_node.outputs[0]) if onnx_node.outputs else None
        cost = Cost(output_shape=output or (0,), params=0)
    # no rule, control flow, or shapes unresolved: its work is unknown (the Report lists it), not zero
    unknown = onnx_node.has_subgraph or (
        onnx_node.op_type not in ZERO_COST and not cost.terms and not cost.other_ops
    )
    return Node(
        node_id,
        name,
        onnx_node.op_type + (NOT_COUNTED if unknown else ""),
        cost.macs,
        _sample(cost.output_shape, batch),
        cost.other_ops_total,
        cost.params + params,
        cost.input_elements + cost.output_elements,
        (*scope, node_id),
        ops=(onnx_node.op_type,),
    )


__all__ = ["NOT_COUNTED", "onnx_dataflow"]
