"""An ONNX file -> its graph as plain data, every shape fixed: what calc.onnx_count counts.

An uploaded file is hostile until proven otherwise, so reading it is a series of refusals
before anything is inferred: beyond the size limit or protobuf's 2 GB; not a protobuf
ModelProto (truncated, malformed); a node of a domain no runtime here knows; external weight
data whose ``location`` could leave the model's own folder (absolute, ``..``, a link
outside); a declared dimension beyond any tensor's possible size; a node reading a tensor
no node makes; a cycle. Nothing in the file is executed, and external weight data is never
opened: counting needs the graph only.

Shapes come from ONNX shape inference with data propagation (Reshape targets computed from
Shape ops, say), after the graph inputs' symbolic dimensions are fixed: the first axis by the
batch, a token input's second axis by the sequence length, an image's last two by the
resolution. A symbolic dimension left over is refused, named with the option that sets it.

onnx is imported inside functions only (tests/test_boundary.py): ``import calc`` stays light.
"""

from __future__ import annotations

import heapq
import math
import os
from dataclasses import dataclass, field
from typing import Any

from calc.errors import SpecError, cut
from calc.registry import MAX_ELEMENTS

PROTOBUF_LIMIT_BYTES = 2**31 - 1  # protobuf parses no message past 2 GB: big models keep weights outside
MAX_ONNX_BYTES = 1024**3  # a graph read whole into memory (weights inline); external data is never read
MAX_NODES = 200_000  # past any exported network (a 70B-parameter LLM exports about 10,000 nodes)
# Domains whose ops ONNX Runtime implements; a node of any other domain needs a custom library
# (code from somewhere): refused. Model-local functions are inlined first.
KNOWN_DOMAINS = frozenset({"", "ai.onnx", "ai.onnx.ml", "com.microsoft", "ai.onnx.preview.training"})
FLOAT_TYPES = {1: "fp32", 10: "fp16", 16: "bf16", 11: "fp64"}  # TensorProto elem types
# Initializers of these element types are shapes, axes and indices, not learned parameters
INDEX_TYPES = frozenset({6, 7, 9, 12, 13})  # int32, int64, bool, uint32, uint64
INTEGER_INPUT_TYPES = frozenset({2, 3, 4, 5, 6, 7, 12, 13})  # token ids and the like

Shape = tuple[int, ...]


@dataclass(frozen=True)
class Node:
    index: int  # position in the topological order
    name: str  # the node's own name, else "OpType_index"
    op_type: str  # "Conv"; "com.microsoft.Attention" outside the default domain
    scope: str  # the module path it came from ("layer1.0.conv1"), "" when the file does not say
    inputs: tuple[str, ...]  # "" for an absent optional input
    outputs: tuple[str, ...]
    attributes: dict[str, Any]  # ints, floats, strings, lists of them; tensors and graphs as None
    has_subgraph: bool = False
    # (module path, its class) of each module the node runs inside, where the exporter recorded them
    module_types: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class GraphInput:
    name: str
    dims: tuple[int | str | None, ...]  # as declared: a size, a symbol, or None (unnamed)
    elem_type: int


@dataclass(frozen=True)
class Graph:
    nodes: tuple[Node, ...]  # in topological order
    shapes: dict[str, Shape | None]  # every tensor's inferred shape, None where it stayed symbolic
    initializers: dict[str, tuple[Shape, int]]  # name -> (shape, element type)
    constants: frozenset[str]  # initializers, Constant outputs, and what only they compute
    inputs: tuple[GraphInput, ...]  # the user's inputs (not initializers), as declared
    dtype: str  # the weights' storage ("fp32", "fp16", ...), fp32 when none says
    opsets: dict[str, int] = field(default_factory=dict)
    producer: str = ""


# ---------------------------------------------------------------------------
# reading and parsing


def read_model_bytes(path: str) -> bytes:
    """The bytes of the .onnx file at ``path``, refused past the limits before it is read."""
    from calc.cli.files import read_limited

    try:
        size = os.stat(path).st_size
    except OSError as error:
        raise SpecError(f"cannot read {path}: {error.strerror}") from None
    if size > PROTOBUF_LIMIT_BYTES:
        raise SpecError(
            f"{path} is {size:,} bytes: protobuf cannot read one message over 2 GB; export the "
            "model with its weights as external data (the graph alone is small)"
        )
    return read_limited(path, MAX_ONNX_BYTES)


def parse_model(data: bytes, name: str):
    """``data`` as an onnx.ModelProto, checked: a clear SpecError on anything that is not one."""
    import onnx
    from google.protobuf.message import DecodeError

    if len(data) > PROTOBUF_LIMIT_BYTES:
        raise SpecError(f"{name} is {len(data):,} bytes: protobuf cannot read one message over 2 GB")
    if len(data) > MAX_ONNX_BYTES:
        raise SpecError(f"{name} is {len(data):,} bytes, beyond the limit of {MAX_ONNX_BYTES:,}")
    model = onnx.ModelProto()
    try:
        model.ParseFromString(data)
    except (DecodeError, ValueError, RuntimeError) as error:
        raise SpecError(
            f"{name} is not an ONNX model (truncated or malformed: {cut(str(error))})", field="file"
        ) from None
    if not model.HasField("graph") or not model.graph.node:
        raise SpecError(f"{name} holds no ONNX graph (not an .onnx file, or truncated)", field="file")
    if len(model.graph.node) > MAX_NODES:
        raise SpecError(f"{name} has {len(model.graph.node):,} nodes, beyond the limit of {MAX_NODES:,}")
    if not model.opset_import:
        raise SpecError(f"{name} declares no opset (not an exported ONNX model)", field="opset_import")
    return model


# ---------------------------------------------------------------------------
# the checks: domains, external data, declared dimensions


def check_domains(model) -> None:
    """Every node's domain is one ONNX Runtime implements, or a function the file defines."""
    local = {(function.domain, function.name) for function in model.functions}
    inside_functions = [node for function in model.functions for node in function.node]
    for node in [*_all_nodes(model.graph), *inside_functions]:
        if node.domain not in KNOWN_DOMAINS and (node.domain, node.op_type) not in local:
            raise SpecError(
                f"node {cut(node.name)!r} is {cut(node.domain)}.{cut(node.op_type)}: an op of an unknown "
                f"domain, which needs a custom library to run (known: ai.onnx, ai.onnx.ml, com.microsoft)",
                field="domain",
            )


def _all_nodes(graph):
    """The nodes of ``graph`` and of its subgraphs (If, Loop, Scan bodies)."""
    import onnx

    pending = [graph]
    while pending:
        current = pending.pop()
        for node in current.node:
            yield node
            for attribute in node.attribute:
                if attribute.type == onnx.AttributeProto.GRAPH:
                    pending.append(attribute.g)
                elif attribute.type == onnx.AttributeProto.GRAPHS:
                    pending.extend(attribute.graphs)


def all_tensors(model):
    """Every TensorProto that may carry data: initializers, sparse ones, Constant attributes."""
    import onnx

    graphs = [model.graph] + [attribute.g for node in _all_nodes(model.graph) for attribute in node.attribute]
    for graph in graphs:
        yield from graph.initializer
        for sparse in graph.sparse_initializer:
            yield sparse.values
            yield sparse.indices
    for node in _all_nodes(model.graph):
        for attribute in node.attribute:
            if attribute.type == onnx.AttributeProto.TENSOR:
                yield attribute.t
            elif attribute.type == onnx.AttributeProto.TENSORS:
                yield from attribute.tensors


def external_locations(model) -> list[tuple[str, str]]:
    """(tensor name, location) of every tensor whose data lies outside the file."""
    import onnx

    found = []
    for tensor in all_tensors(model):
        if tensor.data_location == onnx.TensorProto.EXTERNAL:
            location = next((entry.value for entry in tensor.external_data if entry.key == "location"), "")
            found.append((tensor.name, location))
    return found


def check_external_locations(model, folder: str | None) -> list[tuple[str, str]]:
    """External data must lie inside the model's own folder: a relative path, no ``..``, and (given
    the folder) resolving inside it, links followed. Nothing is opened here."""
    locations = external_locations(model)
    for tensor, location in locations:
        parts = location.replace("\\", "/").split("/")
        if not location or "\x00" in location:
            problem = "names no file"
        elif os.path.isabs(location) or location.startswith(("/", "\\")) or ":" in parts[0]:
            problem = "is an absolute path"
        elif ".." in parts:
            problem = "climbs out with '..'"
        elif folder is not None and not _inside(folder, location):
            problem = "resolves outside the model's folder"
        else:
            continue
        raise SpecError(
            f"the external data of tensor {cut(tensor)!r} at {cut(location)!r} {problem}: refused "
            "(it must be a file beside the model, in its folder)",
            field="external_data",
        )
    return locations


def _inside(folder: str, location: str) -> bool:
    root = os.path.realpath(folder)
    target = os.path.realpath(os.path.join(root, location))
    return os.path.commonpath([root, target]) == root and target != root


def check_declared_dims(model) -> None:
    """No declared dimension (inputs, outputs, value_info, initializers) past any tensor's size."""
    graph = model.graph
    for value in list(graph.input) + list(graph.output) + list(graph.value_info):
        for axis, dim in enumerate(value.type.tensor_type.shape.dim):
            if dim.HasField("dim_value") and not 0 <= dim.dim_value <= MAX_ELEMENTS:
                raise SpecError(
                    f"tensor {cut(value.name)!r} declares dimension {axis} as {dim.dim_value:,}: "
                    f"absurd (a tensor holds at most {MAX_ELEMENTS:,} elements)",
                    field="shape",
                )
    for tensor in graph.initializer:
        if any(size < 0 for size in tensor.dims) or math.prod(tensor.dims) > MAX_ELEMENTS:
            raise SpecError(
                f"initializer {cut(tensor.name)!r} declares dimensions {list(tensor.dims)[:8]}: absurd",
                field="shape",
            )


# ---------------------------------------------------------------------------
# order: every input made before it is read, no cycle


def topological_order(model) -> list[int]:
    """Indices of the graph's nodes, each after the nodes making its inputs; a SpecError names a
    node reading a tensor nothing makes, or one on a cycle."""
    graph = model.graph
    available = {value.name for value in graph.input} | {tensor.name for tensor in graph.initializer}
    available |= {sparse.values.name for sparse in graph.sparse_initializer} | {""}
    producer: dict[str, int] = {}
    for index, node in enumerate(graph.node):
        for output in node.output:
            if output and (output in producer or output in available):
                raise SpecError(
                    f"tensor {cut(output)!r} is made twice (node {cut(node.name)!r})", field="graph"
                )
            if output:
                producer[output] = index
    waiting = [0] * len(graph.node)
    readers: dict[int, list[int]] = {}
    for index, node in enumerate(graph.node):
        for name in set(node.input) | _outer_names(node):
            if name in available:
                continue
            if name not in producer:
                raise SpecError(
                    f"node {cut(node.name or node.op_type)!r} reads {cut(name)!r}, which no node makes and "
                    "no input or initializer holds (a truncated or edited graph)",
                    field="graph",
                )
            waiting[index] += 1
            readers.setdefault(producer[name], []).append(index)
    ready = [index for index, count in enumerate(waiting) if count == 0]
    heapq.heapify(ready)  # the smallest index first: the file's own order wherever it is valid
    order = []
    while ready:
        index = heapq.heappop(ready)
        order.append(index)
        for reader in readers.get(index, ()):
            waiting[reader] -= 1
            if waiting[reader] == 0:
                heapq.heappush(ready, reader)
    if len(order) < len(graph.node):
        stuck = next(graph.node[index] for index, count in enumerate(waiting) if count)
        raise SpecError(
            f"the graph has a cycle through node {cut(stuck.name or stuck.op_type)!r}: an ONNX graph "
            "must be acyclic",
            field="graph",
        )
    return order


def _outer_names(node) -> set[str]:
    """Names a node's subgraphs read from the graph around them (If branches, Loop bodies)."""
    import onnx

    names: set[str] = set()
    for attribute in node.attribute:
        bodies = [attribute.g] if attribute.type == onnx.AttributeProto.GRAPH else list(attribute.graphs)
        for body in bodies:
            made = {value.name for value in body.input} | {tensor.name for tensor in body.initializer}
            for inner in _all_nodes(body):
                made |= set(inner.output)
            for inner in _all_nodes(body):
                names |= {name for name in inner.input if name and name not in made}
    return names


__all__ = [
    "MAX_ONNX_BYTES",
    "PROTOBUF_LIMIT_BYTES",
    "Graph",
    "GraphInput",
    "Node",
    "check_declared_dims",
    "check_domains",
    "check_external_locations",
    "parse_model",
    "read_model_bytes",
    "topological_order",
]
