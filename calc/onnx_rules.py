"""Every ONNX op's rule, one table: the MAC ops of calc.onnx_ops, and the other ops with the labels
and counts calc.torch_count.OTHER_OPS gives the aten op each stands for (calc.formulas states the
convention). ``ZERO_COST`` ops only move, compare or look up data; an op in neither table is
unsupported: listed in the Report, never counted as zero."""

from __future__ import annotations

import math
from collections.abc import Callable

from calc.onnx_ops import (
    NodeCost,
    NodeShapes,
    Rule,
    attention,
    conv,
    conv_transpose,
    einsum,
    fused_attention_with_projections,
    gemm,
    matmul,
    multi_head_attention,
    recurrent,
)


def _elements(shape: tuple[int, ...] | None) -> int:
    return math.prod(shape) if shape is not None else 0


# other ops: calc.torch_count's labels and counts for the aten op each stands for


def per_output_element(label: str, ops: int = 1) -> Rule:
    """``ops`` per element written: activations, elementwise arithmetic, softmax."""
    return lambda node: NodeCost((), ((label, ops * _elements(node.outputs[0])),))


def per_input_element(label: str, ops: int = 1) -> Rule:
    """``ops`` per element of the first input: normalizations, reductions."""
    return lambda node: NodeCost((), ((label, ops * _elements(node.inputs[0])),))


def window_pooling(ops_per_window: Callable[[int], int]) -> Rule:
    def rule(node: NodeShapes) -> NodeCost:
        # [N, C, H', W'] = pool([N, C, H, W]) with a K_h×K_w window
        window = math.prod(node.attributes.get("kernel_shape", (1,)))
        return NodeCost((), (("pooling", ops_per_window(window) * _elements(node.outputs[0])),))

    return rule


def _reduced_axes(node: NodeShapes) -> tuple[int, ...] | None:
    """A Reduce op's axes: an attribute before opset 18, a constant input since (its shape only
    is known here, so a 2-element axes input of a 4-D tensor is taken as its spatial axes only
    when the output keeps N and C)."""
    axes = node.attributes.get("axes")
    if axes is not None:
        return tuple(axis % len(node.inputs[0]) for axis in axes)
    x, out = node.inputs[0], node.outputs[0]
    if (
        len(x) == 4
        and node.given(1)
        and node.inputs[1] == (2,)
        and out[:2] == x[:2]
        and _elements(out) == x[0] * x[1]
    ):
        return (2, 3)
    return None


def mean_pooling_or_reduction(node: NodeShapes) -> NodeCost:
    """A mean over both spatial axes of [N, C, H, W] is global average pooling (torchvision's
    adaptive pooling to 1×1 exports so); any other mean is a reduction: 1 per input element."""
    spatial = len(node.inputs[0]) == 4 and sorted(_reduced_axes(node) or ()) == [2, 3]
    return NodeCost((), (("pooling" if spatial else "reduction", _elements(node.inputs[0])),))


def _by_one_value(node: NodeShapes) -> bool:
    return any(shape is not None and _elements(shape) == 1 for shape in node.inputs[:2])


def scaling_or_elementwise(node: NodeShapes) -> NodeCost:
    """x·c or x/c by one value is scaling (attention's 1/√d); of two tensors, elementwise."""
    return NodeCost((), (("scaling" if _by_one_value(node) else "elementwise", _elements(node.outputs[0])),))


def bias_or_elementwise(node: NodeShapes) -> NodeCost:
    """x + b for a constant vector b is a bias add (a linear layer on 3-D input exports as MatMul
    then Add); any other add is elementwise."""
    bias = any(
        constant and shape is not None and len(shape) == 1
        for shape, constant in zip(node.inputs[:2], node.constant[:2], strict=False)
    )
    return NodeCost((), (("bias add" if bias else "elementwise", _elements(node.outputs[0])),))


def rule_table(*groups: tuple[tuple[str, ...], Rule]) -> dict[str, Rule]:
    """op type -> its rule; an op given two rules, or a rule and ZERO_COST, is refused."""
    table: dict[str, Rule] = {}
    for names, rule in groups:
        for name in names:
            if name in table or name in ZERO_COST:
                raise ValueError(f"ONNX op {name} is given two rules")
            table[name] = rule
    return table


# Ops that only move, view, compare or look up data: known to cost no arithmetic
ZERO_COST = frozenset(
    [
        "Reshape",
        "Transpose",
        "Flatten",
        "Squeeze",
        "Unsqueeze",
        "Concat",
        "Split",
        "Slice",
        "Gather",
        "GatherElements",
        "GatherND",
        "Shape",
        "Size",
        "Constant",
        "ConstantOfShape",
        "Identity",
        "Cast",
        "CastLike",
        "Expand",
        "Tile",
        "Pad",
        "Dropout",
        "Range",
        "Equal",
        "Less",
        "Greater",
        "LessOrEqual",
        "GreaterOrEqual",
        "Not",
        "And",
        "Or",
        "Xor",
        "Where",
        "ArgMax",
        "ArgMin",
        "Trilu",
        "ScatterND",
        "ScatterElements",
        "DepthToSpace",
        "SpaceToDepth",
        "OneHot",
        "EyeLike",
        "SplitToSequence",
        "SequenceAt",
        "SequenceConstruct",
        "ConcatFromSequence",
        "IsNaN",
        "IsInf",
        "BitwiseAnd",
        "BitwiseOr",
        "BitwiseNot",
        "BitwiseXor",
        "Optional",
        "OptionalGetElement",
        "OptionalHasElement",
    ]
)
ACTIVATIONS = (
    "Relu",
    "Gelu",
    "Sigmoid",
    "Tanh",
    "HardSwish",
    "HardSigmoid",
    "LeakyRelu",
    "Elu",
    "Selu",
    "Celu",
    "Clip",
    "Mish",
    "Softplus",
    "Softsign",
    "ThresholdedRelu",
    "PRelu",
    "Swish",
    "com.microsoft.Gelu",
    "com.microsoft.FastGelu",
    "com.microsoft.QuickGelu",
    "com.microsoft.BiasGelu",
)
ELEMENTWISE = (
    "Sub",
    "Sqrt",
    "Pow",
    "Exp",
    "Neg",
    "Abs",
    "Reciprocal",
    "Erf",
    "Sin",
    "Cos",
    "Log",
    "Max",
    "Min",
    "Sum",
    "Mean",
    "Floor",
    "Ceil",
    "Round",
    "Sign",
    "Mod",
)
REDUCTIONS = (
    "ReduceSum",
    "ReduceMax",
    "ReduceMin",
    "ReduceProd",
    "ReduceL1",
    "ReduceL2",
    "ReduceLogSumExp",
    "ReduceSumSquare",
    "CumSum",
    "TopK",
)
LAYER_NORMS = (
    "LayerNormalization",
    "GroupNormalization",
    "InstanceNormalization",
    "com.microsoft.SkipLayerNormalization",
)

# Rules that count from the output's shape (and the inputs' where known: a bias, one scale): an
# input inference left symbolic (a position slice in a text model) does not stop them
OUTPUT_SHAPED = frozenset((*ACTIVATIONS, *ELEMENTWISE, "Add", "Mul", "Div", "Softmax", "LogSoftmax"))

OPS = rule_table(
    (("Conv",), conv),
    (("ConvTranspose",), conv_transpose),
    (("Gemm",), gemm),
    (("MatMul",), matmul),
    (("Einsum",), einsum),
    (("Attention",), attention),
    (("com.microsoft.MultiHeadAttention",), multi_head_attention),
    (("com.microsoft.Attention",), fused_attention_with_projections),
    (("LSTM",), recurrent(4, 5, 4)),  # σ(i, f, o), tanh(g), tanh(c); c = f·c + i·g, h = o·tanh(c)
    (("GRU",), recurrent(3, 3, 4)),  # σ(z, r), tanh(n); r·(…), h = (1 − z)·n + z·h
    (("RNN",), recurrent(1, 1, 0)),  # tanh(W·x + R·h)
    (("BatchNormalization",), per_input_element("normalization", 2)),
    (LAYER_NORMS, per_input_element("normalization", 5)),
    # x², mean, normalize, scale: torch's decomposed RMSNorm, per element
    (
        ("RMSNormalization", "com.microsoft.SimplifiedLayerNormalization"),
        per_input_element("normalization", 4),
    ),
    (ACTIVATIONS, per_output_element("activation")),
    (("Softmax", "LogSoftmax"), per_output_element("softmax", 3)),
    (("MaxPool",), window_pooling(lambda window: window - 1)),  # comparisons
    (("AveragePool",), window_pooling(lambda window: window)),  # adds and the divide
    (("GlobalAveragePool", "GlobalMaxPool"), per_input_element("pooling")),
    (("ReduceMean",), mean_pooling_or_reduction),
    (("Mul", "Div"), scaling_or_elementwise),
    (("Add",), bias_or_elementwise),
    (ELEMENTWISE, per_output_element("elementwise")),
    (REDUCTIONS, per_input_element("reduction")),
)

__all__ = ["OPS", "OUTPUT_SHAPED", "ZERO_COST", "NodeCost", "NodeShapes", "Rule"]
