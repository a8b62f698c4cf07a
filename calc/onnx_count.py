"""An ONNX graph (calc.onnx_graph.Graph) -> a Report: one row per node that computes or holds
weights, named by its module path and node name, so the rows nest into a tree as a torch model's do.

A node's MACs and other ops come from its rule in calc.onnx_rules.OPS; ops in ZERO_COST move data
only; any other op, a node whose shapes inference left symbolic, and control flow (If, Loop, Scan:
their bodies run a data-dependent number of times) are listed as unsupported, never counted as zero.
Params are the initializers, each counted once, at the node reading it first; not shapes, axes and
indices, nor a BatchNormalization's running mean and variance (torch's buffers), nor a recurrent
layer's initial state.
Exporters fold a BatchNorm into the convolution before it, so a model's ONNX params can be fewer
than its torch params by that BatchNorm's scale and shift (and more where a folded convolution
gains a bias it had not).
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import replace

from calc.analyze import Report, Row
from calc.cost import Cost
from calc.errors import SpecError
from calc.onnx_graph import INDEX_TYPES, Graph, Node
from calc.onnx_ops import OWN_OUTPUT_SHAPE, NodeShapes
from calc.onnx_rules import OPS, OUTPUT_SHAPED, ZERO_COST
from calc.units import DTYPE_BYTES
from calc.work import Work

# What may sit between attention's matmuls and its softmax: a scale, a mask, a cast
_ATTENTION_PATH = frozenset({"Mul", "Div", "Add", "Sub", "Where", "Cast", "Dropout", "Identity"})
_ATTENTION_HOPS = 3
# Inputs that are not learned parameters: running statistics (torch's buffers), initial states
_NOT_PARAMS = {"BatchNormalization": (3, 4), "LSTM": (5, 6), "GRU": (5,), "RNN": (5,)}


def count_graph(graph: Graph, dtype: str | None = None) -> Report:
    """The Report of ``graph`` (its inputs fixed already: the first one's first axis is the batch),
    bytes at ``dtype`` or the weights' own storage."""
    dtype = dtype or graph.dtype
    bytes_per_element = DTYPE_BYTES[dtype]
    counted, unsupported = node_costs(graph)
    rows = [
        Row(
            index,
            row_name(node),
            node.op_type,
            _sample(_first_shape(graph, node.inputs)),
            _sample(cost.output_shape),
            cost,
            bytes_per_element,
        )
        for index, (node, cost) in enumerate(counted)
    ]
    first = graph.shapes.get(graph.inputs[0].name) if graph.inputs else None
    batch = first[0] if first else 1
    return Report(_input_sample(graph), batch, dtype, tuple(rows), tuple(sorted(unsupported.items())))


def node_costs(graph: Graph) -> tuple[list[tuple[Node, Cost]], Counter[str]]:
    """The nodes that compute or read weights first, each with its Cost (a Report's rows, and
    calc.onnx_dataflow's nodes), and the count of each op left unsupported."""
    owner = _weight_owners(graph)
    attention = _attention_matmuls(graph)
    unsupported: Counter[str] = Counter()
    counted: list[tuple[Node, Cost]] = []
    for node in graph.nodes:
        params = sum(math.prod(graph.initializers[name][0]) for name in owner.get(node.index, ()))
        cost = None
        if node.has_subgraph:
            unsupported[f"{node.op_type} (control flow)"] += 1
        elif node.op_type in OPS:
            cost = _node_cost(graph, node, node.index in attention, unsupported)
        elif node.op_type not in ZERO_COST:
            unsupported[node.op_type] += 1
        if cost is None and not params:
            continue
        counted.append(
            (node, replace(cost, params=params) if cost is not None else _weights_only(graph, node, params))
        )
    return counted, unsupported


def _node_cost(graph: Graph, node: Node, is_attention: bool, unsupported: Counter) -> Cost | None:
    inputs = tuple(graph.shapes.get(name) if name else None for name in node.inputs)
    outputs = tuple(graph.shapes.get(name) for name in node.outputs if name)
    own_output = node.op_type in OWN_OUTPUT_SHAPE
    inputs_known = node.op_type in OUTPUT_SHAPED or not any(
        name and shape is None for name, shape in zip(node.inputs, inputs, strict=True)
    )
    if (any(shape is None for shape in outputs) and not own_output) or not inputs_known:
        unsupported[f"{node.op_type} (shape unresolved)"] += 1
        return None
    view = NodeShapes(
        node.op_type, inputs, outputs, node.attributes, tuple(name in graph.constants for name in node.inputs)
    )
    try:
        counted = OPS[node.op_type](view)
    except (SpecError, IndexError, TypeError, ValueError, ZeroDivisionError):
        unsupported[f"{node.op_type} (shapes not understood)"] += 1  # a malformed node: named, not zero
        return None
    terms = counted.terms
    output_shape = counted.output_shape if own_output and outputs[0] is None else outputs[0]
    if is_attention:
        terms = tuple(replace(term, work=Work.ATTENTION_MATMULS) for term in terms)
    return Cost(
        output_shape=output_shape or (0,),
        params=0,
        terms=terms,
        other_ops=counted.other_ops,
        input_elements=sum(
            math.prod(shape)
            for name, shape in zip(node.inputs, inputs, strict=True)
            if shape is not None and name not in graph.constants
        ),
        output_elements=math.prod(output_shape or (0,)) if own_output else sum(map(math.prod, outputs)),
    )


def _weights_only(graph: Graph, node: Node, params: int) -> Cost:
    """A node that computes nothing counted (a Transpose of a weight) but reads weights first."""
    output = graph.shapes.get(node.outputs[0]) if node.outputs else None
    return Cost(output_shape=output or (0,), params=params)


def _weight_owners(graph: Graph) -> dict[int, list[str]]:
    """node index -> the initializers it is the first to read (learned parameters only)."""
    owners: dict[int, list[str]] = {}
    seen: set[str] = set()
    for node in graph.nodes:
        statistics = _NOT_PARAMS.get(node.op_type, ())
        for position, name in enumerate(node.inputs):
            if name in graph.initializers and name not in seen:
                seen.add(name)
                if graph.initializers[name][1] not in INDEX_TYPES and position not in statistics:
                    owners.setdefault(node.index, []).append(name)
    return owners


def _attention_matmuls(graph: Graph) -> set[int]:
    """MatMuls of two activations with a softmax between them: Q·Kᵀ feeds it (through a scale or
    a mask), A·V reads it. Found in the graph, not guessed from names."""
    producer = {output: node for node in graph.nodes for output in node.outputs if output}
    readers: dict[str, list[Node]] = {}
    for node in graph.nodes:
        for name in node.inputs:
            readers.setdefault(name, []).append(node)

    def feeds_softmax(name: str, hops: int) -> bool:
        for reader in readers.get(name, ()):
            if reader.op_type == "Softmax" or (
                hops and reader.op_type in _ATTENTION_PATH and feeds_softmax(reader.outputs[0], hops - 1)
            ):
                return True
        return False

    def from_softmax(name: str, hops: int) -> bool:
        node = producer.get(name)
        if node is None:
            return False
        return node.op_type == "Softmax" or (
            hops > 0 and node.op_type in _ATTENTION_PATH and from_softmax(node.inputs[0], hops - 1)
        )

    found = set()
    for node in graph.nodes:
        if node.op_type not in ("MatMul", "Einsum") or any(name in graph.constants for name in node.inputs):
            continue
        if feeds_softmax(node.outputs[0], _ATTENTION_HOPS) or any(
            from_softmax(name, _ATTENTION_HOPS) for name in node.inputs
        ):
            found.add(node.index)
    return found


def row_name(node: Node) -> str:
    """The node's place in the model's tree, dot-separated like a torch module path: its recorded
    module scope then its name ("layer1.0.conv1.node_Conv_3"), or a name written as a path
    ("/layer1/layer1.0/conv1/Conv", torch's older exporter; "model/dense/MatMul", tf2onnx's)."""
    if node.scope:
        return f"{node.scope}.{node.name}"
    if "/" not in node.name:
        return node.name
    path = ""
    for segment in filter(None, node.name.split("/")):
        # torch's older exporter repeats the path so far in each segment ("layer1", "layer1.0")
        path = (
            segment if path and segment.startswith(path + ".") else f"{path}.{segment}" if path else segment
        )
    return path


def _first_shape(graph: Graph, names: tuple[str, ...]) -> tuple[int, ...]:
    return next((graph.shapes[name] for name in names if name and graph.shapes.get(name) is not None), ())


def _sample(shape: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(shape[1:])


def _input_sample(graph: Graph) -> tuple[int, ...]:
    if not graph.inputs:
        return ()
    shape = graph.shapes.get(graph.inputs[0].name) or ()
    return _sample(shape)


__all__ = ["count_graph", "node_costs", "row_name"]
