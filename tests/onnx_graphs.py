"""Small ONNX graphs built in tests with onnx.helper: one node, or a few, with declared inputs."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper

FLOAT = TensorProto.FLOAT
INT64 = TensorProto.INT64


def weight(name: str, shape: tuple[int, ...], elem_type: int = FLOAT) -> onnx.TensorProto:
    dtype = np.float32 if elem_type == FLOAT else np.int64
    return onnx.numpy_helper.from_array(np.zeros(shape, dtype=dtype), name)


def graph_model(
    nodes: list[onnx.NodeProto],
    inputs: dict[str, tuple],
    weights: dict[str, tuple[int, ...]] | None = None,
    output: str = "y",
    opset: int = 23,
    input_type: int = FLOAT,
    extra_opsets: tuple[tuple[str, int], ...] = (),
    initializers: tuple[onnx.TensorProto, ...] = (),
) -> onnx.ModelProto:
    """A model of ``nodes`` reading ``inputs`` (name -> dims, a str a symbol) and zero ``weights``."""
    graph = helper.make_graph(
        nodes,
        "test",
        [helper.make_tensor_value_info(name, input_type, dims) for name, dims in inputs.items()],
        [helper.make_tensor_value_info(output, FLOAT, None)],
        [weight(name, shape) for name, shape in (weights or {}).items()] + list(initializers),
    )
    opsets = [helper.make_opsetid("", opset)] + [helper.make_opsetid(domain, v) for domain, v in extra_opsets]
    return helper.make_model(graph, opset_imports=opsets, ir_version=10)


def one_node(
    op: str,
    inputs: dict[str, tuple],
    weights: dict[str, tuple[int, ...]] | None = None,
    domain: str = "",
    **attributes,
) -> bytes:
    """One ``op`` node reading the inputs then the weights, in that order, writing y."""
    names = list(inputs) + list(weights or {})
    node = helper.make_node(op, names, ["y"], name=f"the_{op.lower()}", domain=domain, **attributes)
    extra = ((domain, 1),) if domain else ()
    return graph_model([node], inputs, weights, extra_opsets=extra).SerializeToString()


def exported_resnet18(pixels: int) -> bytes:
    """torchvision's resnet18 (random weights) exported by torch.onnx's dynamo exporter, which
    records its module scopes, at pixels × pixels: about 45 MB whatever the size."""
    import io
    import warnings

    import torch
    import torchvision

    model = torchvision.models.resnet18().eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        program = torch.onnx.export(model, (torch.zeros(1, 3, pixels, pixels),), dynamo=True, verbose=False)
    buffer = io.BytesIO()
    program.save(buffer)
    return buffer.getvalue()
