"""ONNX bytes -> calc.onnx_graph.Graph: the checks of calc.onnx_graph, local functions inlined,
the inputs' symbolic dimensions fixed, and ONNX shape inference (with data propagation) run.

The weights' values are not needed for shapes: floating-point initializers become typed graph
inputs of the same shape before inference (small ones stay, as a Resize's scales set its output),
so inference neither copies nor reads them. onnx is imported inside functions only.
"""

from __future__ import annotations

import math
import re

from calc.errors import SpecError, cut
from calc.onnx_graph import (
    FLOAT_TYPES,
    INDEX_TYPES,
    INTEGER_INPUT_TYPES,
    MAX_NODES,
    Graph,
    GraphInput,
    Node,
    check_declared_dims,
    check_domains,
    check_external_locations,
    parse_model,
    topological_order,
)
from calc.registry import MAX_ELEMENTS

SHAPE_PASSES = 4  # inference, then again after each folding of Shape ops into constants
VALUE_ELEMENTS = 64  # initializers this small keep their values for inference (shapes, scales, axes)
_SCOPE = re.compile(r"'([A-Za-z0-9_.]{1,200})'")  # one module path in a name_scopes list
_QUOTED = re.compile(r"'([^'\\]{0,200})'")  # one entry of a metadata list, the root's '' included
_ZERO_COST_CONSTANT_OPS = ("Constant", "ConstantOfShape")


def load_graph(
    data: bytes,
    name: str,
    folder: str | None = None,
    batch: int | None = None,
    seq_len: int | None = None,
    resolution: int | None = None,
) -> Graph:
    """The graph of the ONNX model ``data`` (read from ``name``, in ``folder`` when a file),
    its inputs fixed at ``batch`` (and ``seq_len`` tokens, ``resolution`` pixels where symbolic);
    without ``batch``, a fixed batch is the graph's own and a symbolic one is 1."""
    model = parse_model(data, name)
    check_domains(model)
    check_external_locations(model, folder)
    check_declared_dims(model)
    model = _inlined(model)
    order = topological_order(model)
    initializers = {tensor.name: (tuple(tensor.dims), tensor.data_type) for tensor in model.graph.initializer}
    inputs = tuple(
        GraphInput(value.name, _declared_dims(value), value.type.tensor_type.elem_type)
        for value in model.graph.input
        if value.name not in initializers
    )
    sizes = fix_input_dims(inputs, batch, seq_len, resolution)
    shapes = _inferred_shapes(model, inputs, sizes, initializers)
    nodes = tuple(_node(position, model.graph.node[index]) for position, index in enumerate(order))
    return Graph(
        nodes,
        shapes,
        initializers,
        _constants(nodes, initializers),
        inputs,
        _weights_dtype(initializers),
        {entry.domain or "ai.onnx": entry.version for entry in model.opset_import},
        cut(model.producer_name + " " + model.producer_version, 80).strip(),
    )


def _declared_dims(value) -> tuple[int | str | None, ...]:
    if not value.type.tensor_type.HasField("shape"):
        raise SpecError(f"input {cut(value.name)!r} declares no shape: its rank is unknown", field="input")
    return tuple(
        dim.dim_value if dim.HasField("dim_value") else (dim.dim_param or None)
        for dim in value.type.tensor_type.shape.dim
    )


def fix_input_dims(
    inputs: tuple[GraphInput, ...], batch: int | None, seq_len: int | None, resolution: int | None
) -> dict[str, tuple[int, ...]]:
    """Each input's shape with its symbolic dimensions fixed: axis 0 by ``batch``, a token input's
    axis 1 by ``seq_len``, an image's axes 2 and 3 by ``resolution``; one symbol, one size across
    inputs. A dimension left symbolic, or a fixed batch other than ``batch``, is refused."""
    by_symbol: dict[str, int] = {}
    chosen: dict[tuple[str, int], int] = {}
    for graph_input in inputs:
        tokens = graph_input.elem_type in INTEGER_INPUT_TYPES and len(graph_input.dims) == 2
        image = graph_input.elem_type in FLOAT_TYPES and len(graph_input.dims) == 4
        for axis, dim in enumerate(graph_input.dims):
            size = None
            if axis == 0:
                size = batch or 1
            elif axis == 1 and tokens:
                size = seq_len
            elif axis >= 2 and image:
                size = resolution
            if isinstance(dim, int):
                if axis == 0 and batch is not None and dim != batch:
                    raise SpecError(
                        f"input {cut(graph_input.name)!r} is fixed at batch {dim} in the graph; count it at "
                        f"--batch {dim}, or export it with a dynamic batch axis",
                        field="--batch",
                    )
                if axis == 1 and tokens and seq_len is not None and dim != seq_len:
                    raise SpecError(
                        f"input {cut(graph_input.name)!r} is fixed at {dim} tokens in the graph; "
                        f"it cannot be counted at {seq_len}",
                        field="--seq-len",
                    )
                if axis >= 2 and image and resolution is not None and dim != resolution:
                    raise SpecError(
                        f"input {cut(graph_input.name)!r} is fixed at {dim} pixels in the graph; "
                        f"it cannot be counted at {resolution}",
                        field="--resolution",
                    )
                continue
            if size is not None:
                chosen[graph_input.name, axis] = size
                if dim is not None:
                    by_symbol.setdefault(dim, size)
    sizes: dict[str, tuple[int, ...]] = {}
    unresolved = []
    for graph_input in inputs:
        shape = []
        for axis, dim in enumerate(graph_input.dims):
            size = dim if isinstance(dim, int) else chosen.get((graph_input.name, axis), by_symbol.get(dim))
            if size is None:
                unresolved.append(f"{cut(graph_input.name)!r} axis {axis} ({cut(str(dim or 'unnamed'))!r})")
            shape.append(size or 0)
        sizes[graph_input.name] = tuple(shape)
    if unresolved:
        raise SpecError(
            "symbolic input dimensions that --batch, --seq-len (token inputs) and --resolution "
            f"(image inputs) do not set: {', '.join(unresolved[:6])}; export the model with them fixed",
            field="input",
        )
    for name, shape in sizes.items():
        if math.prod(shape) > MAX_ELEMENTS:
            raise SpecError(f"input {cut(name)!r} of shape {list(shape)} is absurdly large", field="input")
    return sizes


def _inlined(model):
    """``model`` with its local functions inlined; recursive functions, or ones expanding past the
    node limit, are refused first (the inliner would never end, or never fit in memory)."""
    if not model.functions:
        return model
    import onnx.inliner

    functions = {(function.domain, function.name): function for function in model.functions}
    sizes: dict[tuple[str, str], int] = {}

    def expanded(key: tuple[str, str], path: tuple) -> int:
        if key in path:
            raise SpecError(f"function {cut(key[1])!r} calls itself: refused", field="functions")
        if key not in sizes:
            total = 0
            for node in functions[key].node:
                inner = (node.domain, node.op_type)
                total += expanded(inner, (*path, key)) if inner in functions else 1
                if total > MAX_NODES:
                    break
            sizes[key] = total
        return sizes[key]

    try:
        total = sum(
            expanded((node.domain, node.op_type), ()) if (node.domain, node.op_type) in functions else 1
            for node in model.graph.node
        )
    except RecursionError:  # a chain of functions each calling the next, past Python's depth
        raise SpecError("its functions call each other too deeply: refused", field="functions") from None
    if total > MAX_NODES:
        raise SpecError(f"its functions expand to over {MAX_NODES:,} nodes: refused", field="functions")
    try:
        return onnx.inliner.inline_local_functions(model)
    except Exception as error:  # the inliner's C++ errors arrive as several types
        raise SpecError(
            f"its local functions cannot be inlined: {cut(str(error))}", field="functions"
        ) from None


def _inferred_shapes(model, inputs, sizes, initializers) -> dict[str, tuple[int, ...] | None]:
    import onnx

    stripped = onnx.ModelProto()
    stripped.ir_version = max(model.ir_version, 4)  # inputs need not be listed for initializers
    stripped.opset_import.extend(model.opset_import)
    stripped.graph.name = model.graph.name
    stripped.graph.node.extend(model.graph.node)
    stripped.graph.output.extend(model.graph.output)
    for graph_input in inputs:
        stripped.graph.input.append(
            onnx.helper.make_tensor_value_info(
                graph_input.name, graph_input.elem_type, sizes[graph_input.name]
            )
        )
    for tensor in model.graph.initializer:
        if tensor.data_type in INDEX_TYPES or math.prod(tensor.dims) <= VALUE_ELEMENTS:
            stripped.graph.initializer.append(tensor)  # values inference may read
        else:
            stripped.graph.input.append(
                onnx.helper.make_tensor_value_info(tensor.name, tensor.data_type, tuple(tensor.dims))
            )
    shapes: dict[str, tuple[int, ...] | None] = {}
    for _ in range(SHAPE_PASSES):
        shapes = {name: shape for name, (shape, _) in initializers.items()}
        shapes.update(sizes)
        inferred = _infer(stripped)
        for value in list(inferred.graph.value_info) + list(inferred.graph.output):
            if value.name not in shapes:
                shapes[value.name] = _known_shape(value)
        folded = _fold_shape_ops(stripped, shapes)
        shapes.update(folded)
        if not folded:
            break
    for name, shape in shapes.items():
        if shape is not None and math.prod(shape) > MAX_ELEMENTS:
            raise SpecError(
                f"tensor {cut(name)!r} would be of shape {list(shape)[:8]}: absurd", field="shape"
            )
    return shapes


def _infer(model):
    import onnx

    try:
        return onnx.shape_inference.infer_shapes(model, check_type=False, strict_mode=False, data_prop=True)
    except Exception as error:  # onnx raises InferenceError, ValidationError, RuntimeError
        raise SpecError(
            f"ONNX shape inference refused the graph: {cut(str(error), 200)}", field="graph"
        ) from None


def _known_shape(value) -> tuple[int, ...] | None:
    tensor_type = value.type.tensor_type
    dims = tensor_type.shape.dim if tensor_type.HasField("shape") else None
    known = dims is not None and all(dim.HasField("dim_value") for dim in dims)
    return tuple(dim.dim_value for dim in dims) if known else None


def _fold_shape_ops(model, shapes: dict) -> dict[str, tuple[int, ...]]:
    """Shape ops of tensors whose shape is now known become constants in ``model`` (the copy made
    for inference): ONNX's inference reads a Slice's ends, say, only from constants, so a text model's
    positions sliced to the sequence length resolve on the next pass. Returns the new constants' shapes."""
    import numpy as np
    import onnx

    folded: dict[str, tuple[int, ...]] = {}
    kept = []
    for node in model.graph.node:
        shape = (
            shapes.get(node.input[0]) if node.op_type == "Shape" and node.domain in ("", "ai.onnx") else None
        )
        if shape is None:
            kept.append(node)
            continue
        attributes = {attribute.name: attribute.i for attribute in node.attribute}
        value = np.array(
            shape[attributes.get("start", 0) : attributes.get("end", len(shape))], dtype=np.int64
        )
        model.graph.initializer.append(onnx.numpy_helper.from_array(value, node.output[0]))
        folded[node.output[0]] = value.shape
    if folded:
        del model.graph.node[:]
        model.graph.node.extend(kept)
    return folded


def _node(position: int, proto) -> Node:
    import onnx

    attributes = {}
    has_subgraph = False
    for attribute in proto.attribute:
        if attribute.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS):
            has_subgraph = True
            attributes[attribute.name] = None
        elif attribute.type in (onnx.AttributeProto.TENSOR, onnx.AttributeProto.TENSORS):
            attributes[attribute.name] = None  # values are not counted; shapes come from inference
        else:
            value = onnx.helper.get_attribute_value(attribute)
            if isinstance(value, bytes):
                value = value.decode("utf-8", "replace")
            elif isinstance(value, list):
                value = tuple(
                    item.decode("utf-8", "replace") if isinstance(item, bytes) else item for item in value
                )
            attributes[attribute.name] = value
    op_type = proto.op_type if proto.domain in ("", "ai.onnx") else f"{proto.domain}.{proto.op_type}"
    return Node(
        position,
        cut(proto.name, 200) or f"{proto.op_type}_{position}",
        op_type,
        _scope(proto),
        tuple(proto.input),
        tuple(proto.output),
        attributes,
        has_subgraph,
        _module_types(proto),
    )


def _scope(proto) -> str:
    """The module path a node came from, where the exporter recorded it (torch.onnx's dynamo
    exporter: name_scopes, whose last entry is the op's own name); "" otherwise."""
    for entry in proto.metadata_props:
        if entry.key == "pkg.torch.onnx.name_scopes":
            paths = [path for path in _SCOPE.findall(entry.value[:4000]) if path]
            return paths[-2] if len(paths) >= 2 else ""
    return ""


def _module_types(proto) -> tuple[tuple[str, str], ...]:
    """(module path, class name) of the modules a node runs inside, outermost first, where torch.onnx's
    dynamo exporter recorded them (name_scopes beside class_hierarchy, entry for entry); the root and
    the op's own entry are left out."""
    entries = {entry.key: entry.value[:4000] for entry in proto.metadata_props}
    paths = _QUOTED.findall(entries.get("pkg.torch.onnx.name_scopes", ""))
    classes = _QUOTED.findall(entries.get("pkg.torch.onnx.class_hierarchy", ""))
    if len(paths) != len(classes):
        return ()
    return tuple(
        (path, cut(kind.rsplit(".", 1)[-1], 60))
        for path, kind in list(zip(paths, classes, strict=True))[1:-1]
        if _SCOPE.fullmatch(f"'{path}'")
    )


def _constants(nodes: tuple[Node, ...], initializers: dict) -> frozenset[str]:
    """Tensors fixed before any input arrives: initializers, Constant outputs, and what nodes
    compute from them alone (a weight transposed or cast once)."""
    constant = set(initializers)
    for node in nodes:
        inputs = [name for name in node.inputs if name]
        if node.op_type in _ZERO_COST_CONSTANT_OPS or (inputs and all(name in constant for name in inputs)):
            constant.update(name for name in node.outputs if name)
    return frozenset(constant)


def _weights_dtype(initializers: dict) -> str:
    """The storage of most parameters: fp32 unless fp16 or bf16 weights outnumber it."""
    elements: dict[str, int] = {}
    for shape, elem_type in initializers.values():
        if elem_type in FLOAT_TYPES and FLOAT_TYPES[elem_type] != "fp64":
            elements[FLOAT_TYPES[elem_type]] = elements.get(FLOAT_TYPES[elem_type], 0) + math.prod(shape)
    return max(elements, key=elements.get, default="fp32")


__all__ = ["fix_input_dims", "load_graph"]
