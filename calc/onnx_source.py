"""ONNX models as a source: a path ending in .onnx (or ``onnx:PATH``), or uploaded bytes.

``source_from_path`` and ``source_from_bytes`` check the file at once (calc.onnx_graph: size,
protobuf, domains, external data locations, order) so a bad file is refused before a page shows
anything of it; the Source keeps the checked bytes, and ``count`` infers shapes at the batch, sequence
length or resolution asked (calc.onnx_shapes) and counts the graph (calc.onnx_count). Torch-free;
onnx is imported inside functions only.
"""

from __future__ import annotations

import os

from calc.analyze import Report
from calc.errors import SpecError, cut
from calc.onnx_graph import FLOAT_TYPES, INTEGER_INPUT_TYPES, read_model_bytes
from calc.source_kind import DEFAULT_SEQ_LEN, Source, SourceKind, Takes, register

KIND = "onnx"
SUFFIX = ".onnx"


def source_from_bytes(name: str, data: bytes, folder: str | None = None) -> Source:
    """The Source of an ONNX model's bytes, ``name`` shown for it (an upload's file name);
    ``folder`` is where its external data would lie (None for an upload: then its weights are
    absent, which counting never needs)."""
    from calc.onnx_graph import (
        check_declared_dims,
        check_domains,
        check_external_locations,
        parse_model,
        topological_order,
    )

    model = parse_model(data, name)
    check_domains(model)
    external = check_external_locations(model, folder)
    check_declared_dims(model)
    topological_order(model)
    initializers = {tensor.name for tensor in model.graph.initializer}
    inputs = [value for value in model.graph.input if value.name not in initializers]
    if not inputs:
        raise SpecError(f"{cut(name)} has no graph input: nothing to count it on", field="input")
    first = inputs[0].type.tensor_type
    dims = tuple(dim.dim_value if dim.HasField("dim_value") else None for dim in first.shape.dim)
    takes, default_input = _takes(first.elem_type, dims)
    metadata = {
        "family": "onnx",
        "producer": cut(f"{model.producer_name} {model.producer_version}".strip(), 80),
        "opsets": {entry.domain or "ai.onnx": entry.version for entry in model.opset_import},
        "inputs": [value.name for value in inputs],
        "nodes": len(model.graph.node),
        "external_data": bool(external),
        "folder": folder,
        "model_bytes": data,  # the checked file; shapes are inferred when it is counted
    }
    return Source(KIND, name, name, takes, default_input, metadata)


def _takes(elem_type: int, dims: tuple[int | None, ...]) -> tuple[Takes, tuple[int, ...]]:
    """Token ids [N, L], an image [N, C, H, W], or another input, as the first graph input says."""
    if elem_type in INTEGER_INPUT_TYPES and len(dims) == 2:
        return Takes.TOKENS, (dims[1] or DEFAULT_SEQ_LEN,)
    sample = tuple(size or 0 for size in dims[1:])
    if elem_type in FLOAT_TYPES and len(dims) == 4:
        return Takes.IMAGE, sample
    return Takes.STACK, sample


def source_from_path(path: str) -> Source:
    """The Source of the .onnx file at ``path``; its external data must lie in its folder."""
    data = read_model_bytes(path)
    return source_from_bytes(path, data, os.path.dirname(os.path.abspath(path)))


def load(source: Source, resolution: int | None, seq_len: int | None, batch: int | None):
    """The source's calc.onnx_graph.Graph, its inputs fixed at the batch, sequence length (a token
    model's own by default) and resolution asked."""
    from calc.onnx_shapes import load_graph

    fixed_seq_len = seq_len or (source.default_input[0] if source.takes is Takes.TOKENS else None)
    return load_graph(
        source.metadata["model_bytes"],
        source.name,
        source.metadata["folder"],
        batch,
        fixed_seq_len,
        resolution,
    )


def _count(source: Source, resolution, seq_len, batch, dtype, device) -> Report:
    from calc.onnx_count import count_graph

    return count_graph(load(source, resolution, seq_len, batch), dtype)


def _module(source: Source, resolution: int | None):
    raise SpecError(
        f"{cut(source.name)}: an ONNX model is counted from its graph, not built as a torch module "
        "(--device meta counts it; `calc latency FILE.onnx --runtime onnxruntime` measures it)",
        field="SOURCE",
    )


def _resolve(text: str) -> Source | None:
    if not text.endswith(SUFFIX):
        return None
    return source_from_path(text)


register(
    SourceKind(
        KIND,
        "onnx:",
        "calc.onnx_count",
        "ONNX model files (.onnx), counted from their graph; external weight data is never read",
        lambda: (),
        _resolve,
        _count,
        _module,
    )
)


__all__ = ["KIND", "SUFFIX", "load", "source_from_bytes", "source_from_path"]
