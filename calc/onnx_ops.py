"""The MAC ops of ONNX: shapes and attributes in, MAC terms (and the op's own other ops) out.

The convention is calc.formulas': MACs of convolutions, GEMMs and attention, bias adds excluded.
calc.onnx_rules holds the table of every op's rule. Rules see shapes and ints, never tensors.

Letters as in calc.formulas: N batch, C_in, C_out channels, G groups, K kernel, M×K·K×N a GEMM,
B batch dimensions of a matmul, L and S query and key lengths, h heads, d head depth, H hidden.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from calc.cost import Term
from calc.errors import SpecError
from calc.work import Work, conv_work

Shape = tuple[int, ...]
OtherOps = tuple[tuple[str, int], ...]


@dataclass(frozen=True)
class NodeShapes:
    """What a rule sees of a node: shapes (None for an absent optional input), attributes, and
    which inputs are constants (weights, or computed from weights alone)."""

    op_type: str
    inputs: tuple[Shape | None, ...]
    outputs: tuple[Shape, ...]
    attributes: dict[str, Any]
    constant: tuple[bool, ...]

    def given(self, position: int) -> bool:
        return len(self.inputs) > position and self.inputs[position] is not None


@dataclass(frozen=True)
class NodeCost:
    terms: tuple[Term, ...] = ()
    other_ops: OtherOps = ()
    output_shape: Shape | None = None  # given by rules of ops ONNX's shape inference does not know


# Ops outside the default domain, which ONNX's shape inference leaves without output shapes: their
# rules read the inputs only and give the output's shape themselves
OWN_OUTPUT_SHAPE = frozenset({"com.microsoft.MultiHeadAttention", "com.microsoft.Attention"})


Rule = Callable[[NodeShapes], NodeCost]


def _elements(shape: Shape | None) -> int:
    return math.prod(shape) if shape is not None else 0


# ---------------------------------------------------------------------------
# MAC ops


def conv(node: NodeShapes) -> NodeCost:
    # [N, C_out, *out] = conv([N, C_in, *in], W[C_out, C_in/G, *K])
    x, weight, out = node.inputs[0], node.inputs[1], node.outputs[0]
    groups = node.attributes.get("group", 1)
    c_out, c_in_per_group, kernel = weight[0], weight[1], weight[2:]
    work = conv_work(x[1], groups, kernel) if len(kernel) == 2 else Work.OTHER_CONV
    term = Term(
        "conv",
        (
            ("N", out[0]),
            ("C_{out}", c_out),
            ("\\text{out}", math.prod(out[2:])),
            ("C_{in}/G", c_in_per_group),
            ("K", math.prod(kernel)),
        ),
        work,
    )
    bias = (("bias add", _elements(out)),) if node.given(2) else ()
    return NodeCost((term,), bias)


def conv_transpose(node: NodeShapes) -> NodeCost:
    # [N, C_out, *out] = conv_transpose([N, C_in, *in], W[C_in, C_out/G, *K]): every input
    # element meets every tap of its group's filters (torch's flop_counter counts so)
    x, weight, out = node.inputs[0], node.inputs[1], node.outputs[0]
    term = Term(
        "conv transpose",
        (
            ("N", x[0]),
            ("C_{in}", x[1]),
            ("\\text{in}", math.prod(x[2:])),
            ("C_{out}/G", weight[1]),
            ("K", math.prod(weight[2:])),
        ),
        Work.OTHER_CONV,
    )
    bias = (("bias add", _elements(out)),) if node.given(2) else ()
    return NodeCost((term,), bias)


def gemm(node: NodeShapes) -> NodeCost:
    # [M, N] = alpha·A[M, K]·B[K, N] + beta·C (A, B transposed by transA, transB)
    a, b, out = node.inputs[0], node.inputs[1], node.outputs[0]
    rows, inner = (a[1], a[0]) if node.attributes.get("transA", 0) else (a[0], a[1])
    columns = b[0] if node.attributes.get("transB", 0) else b[1]
    work = Work.LINEAR if node.constant[1] else Work.OTHER_MATMULS
    term = Term("gemm", (("M", rows), ("K", inner), ("N", columns)), work)
    added = node.given(2) and node.attributes.get("beta", 1.0) != 0
    bias = (("bias add" if node.constant[2] else "elementwise", _elements(out)),) if added else ()
    return NodeCost((term,), bias)


def matmul_work(node: NodeShapes) -> Work:
    """A product with a weight is a linear layer's; of two activations, a plain matmul (the
    counter marks attention's, by the softmax between them: calc.onnx_count)."""
    return Work.LINEAR if any(node.constant[:2]) else Work.OTHER_MATMULS


def matmul(node: NodeShapes) -> NodeCost:
    # [*B, M, N] = A[*B, M, K] · B[*B, K, N], numpy broadcasting; a 1-D side has M or N of 1
    a, b, out = node.inputs[0], node.inputs[1], node.outputs[0]
    inner = a[-1]
    rows = a[-2] if len(a) >= 2 else 1
    columns = b[-1] if len(b) >= 2 else 1
    batch = math.prod(out) // (rows * columns) if rows * columns else 0
    term = Term("matmul", (("B", batch), ("M", rows), ("K", inner), ("N", columns)), matmul_work(node))
    return NodeCost((term,))


def _einsum_letters(equation: str, shapes: tuple[Shape, ...]) -> tuple[list[str], str, dict[str, int]]:
    """Each operand's subscripts (an ellipsis spelled out as its own letters), the output's, and
    each letter's size."""
    equation = equation.replace(" ", "")
    left, _, right = equation.partition("->")
    operands = left.split(",")
    if len(operands) != len(shapes):
        raise SpecError(f"einsum {equation!r} names {len(operands)} operands, given {len(shapes)}")
    broadcast = max(
        (len(shape) - len(term.replace("...", "")) for term, shape in zip(operands, shapes, strict=True)),
        default=0,
    )
    ellipsis = "".join(chr(0x3B1 + i) for i in range(max(broadcast, 0)))  # Greek letters: never in equations
    sizes: dict[str, int] = {}
    spelled = []
    for written, shape in zip(operands, shapes, strict=True):
        own = len(shape) - len(written.replace("...", ""))
        term = written.replace("...", ellipsis[len(ellipsis) - own :] if own else "")
        if len(term) != len(shape):
            raise SpecError(f"einsum {equation!r}: operand {written!r} does not fit shape {list(shape)}")
        for letter, size in zip(term, shape, strict=True):
            sizes[letter] = max(sizes.get(letter, 1), size)  # a broadcast 1 takes the other side's size
        spelled.append(term)
    if "->" in equation:
        output = right.replace("...", ellipsis)
    else:  # implicit mode: letters used once, in order, after the ellipsis
        once = sorted(letter for letter in sizes if sum(term.count(letter) for term in spelled) == 1)
        output = ellipsis + "".join(letter for letter in once if letter not in ellipsis)
    return spelled, output, sizes


def einsum(node: NodeShapes) -> NodeCost:
    # a contraction of two operands: one MAC per point of the space of all its letters
    # ("bhqd,bhkd->bhqk": B·h·L·S·d); more operands contract pairwise, left to right
    shapes = tuple(shape for shape in node.inputs if shape is not None)
    operands, output, sizes = _einsum_letters(node.attributes.get("equation", ""), shapes)
    if len(operands) == 1:  # a transpose, a sum or a trace: reads each element once
        return NodeCost((), (("reduction", _elements(shapes[0])),) if set(operands[0]) - set(output) else ())
    terms = []
    left = operands[0]
    for position, right in enumerate(operands[1:], start=1):
        letters = "".join(dict.fromkeys(left + right))
        later = "".join(operands[position + 1 :]) + output
        kept = "".join(letter for letter in letters if letter in later)
        factors = tuple((letter, sizes[letter]) for letter in letters)
        work = Work.LINEAR if node.constant[position] or node.constant[0] else Work.OTHER_MATMULS
        terms.append(Term(f"einsum {left},{right}->{kept}", factors, work))
        left = kept
    return NodeCost(tuple(terms))


def _attention_cost(
    batch: int, heads: int, length: int, source: int, depth: int, value_depth: int
) -> NodeCost:
    # [B, h, L, d_v] = softmax(Q[B, h, L, d] · Kᵀ[B, h, d, S] · scale) · V[B, h, S, d_v]; the scale
    # and softmax as calc.torch_count counts a fused kernel's: 1 per element of Q, 3 per score
    scores = (("B", batch), ("h", heads), ("L", length), ("S", source))
    return NodeCost(
        (
            Term("Q·Kᵀ", (*scores, ("d", depth)), Work.ATTENTION_MATMULS),
            Term("A·V", (*scores, ("d_v", value_depth)), Work.ATTENTION_MATMULS),
        ),
        (("scaling", batch * heads * length * depth), ("softmax", 3 * batch * heads * length * source)),
    )


def attention(node: NodeShapes) -> NodeCost:
    # ai.onnx Attention (opset 23): Q [B, h, L, d] and K, V [B, h_kv, S, d], or 3-D [B, L, h·d]
    # with q_num_heads and kv_num_heads; grouped-query heads share K and V, not the work
    query, key, value = node.inputs[:3]
    if len(query) == 4:
        batch, heads, length, depth = query
        source, value_depth = key[2], value[3]
    else:
        heads = node.attributes.get("q_num_heads") or 1
        kv_heads = node.attributes.get("kv_num_heads") or heads
        batch, length, depth = query[0], query[1], query[2] // heads
        source, value_depth = key[1], value[2] // kv_heads
    return _attention_cost(batch, heads, length, source, depth, value_depth)


def multi_head_attention(node: NodeShapes) -> NodeCost:
    # com.microsoft.MultiHeadAttention: Q [B, L, h·d], K [B, S, h·d] (or [B, h, S, d], past
    # keys), V likewise [.., h·d_v]
    query, key, value = node.inputs[:3]
    heads = node.attributes.get("num_heads", 1)
    batch, length, hidden = query[0], query[1], query[-1]
    if key is None or len(query) != 3:
        raise SpecError("packed query, key and value are not counted yet", field="inputs")
    source = key[1] if len(key) == 3 else key[2]
    value_hidden = value[-1] * (heads if len(value) == 4 else 1)
    cost = _attention_cost(batch, heads, length, source, hidden // heads, value_hidden // heads)
    return replace(cost, output_shape=(batch, length, value_hidden))


def fused_attention_with_projections(node: NodeShapes) -> NodeCost:
    # com.microsoft.Attention: [B, L, H_v] = attention(X[B, L, D] · W[D, H_q + H_k + H_v] + b)
    x, weight = node.inputs[0], node.inputs[1]
    heads = node.attributes.get("num_heads", 1)
    hidden = node.attributes.get("qkv_hidden_sizes") or (weight[1] // 3,) * 3
    batch, length, features = x
    projections = Term(
        "QKV projections", (("B·L", batch * length), ("D", features), ("3H", weight[1])), Work.LINEAR
    )
    inner = _attention_cost(batch, heads, length, length, hidden[0] // heads, hidden[2] // heads)
    bias = (("bias add", batch * length * weight[1]),) if node.given(2) else ()
    return NodeCost((projections, *inner.terms), bias + inner.other_ops, (batch, length, hidden[2]))


def recurrent(gates: int, activations: int, elementwise: int) -> Rule:
    """RNN, GRU, LSTM: each step multiplies the input and the last hidden state into ``gates``
    gate vectors of H, then ``activations`` and ``elementwise`` ops per hidden unit."""

    def rule(node: NodeShapes) -> NodeCost:
        # [L, dirs, B, H] = rnn(X[L, B, I], W[dirs, gates·H, I], R[dirs, gates·H, H])
        x, weight, recurrence = node.inputs[:3]
        if node.attributes.get("layout", 0):
            x = (x[1], x[0], x[2])
        steps, batch = x[0], x[1]
        directions, hidden = weight[0], recurrence[2]
        factors = (("dirs", directions), ("L", steps), ("B", batch), ("gates·H", gates * hidden))
        term = Term("input and recurrent GEMMs", (*factors, ("I+H", x[2] + hidden)), Work.LINEAR)
        units = directions * steps * batch * hidden
        other = [("activation", activations * units), ("elementwise", elementwise * units)]
        if node.given(3):  # W's and R's biases
            other.insert(0, ("bias add", 2 * gates * units))
        return NodeCost((term,), tuple(other))

    return rule


__all__ = [
    "NodeCost",
    "NodeShapes",
    "Rule",
    "attention",
    "conv",
    "conv_transpose",
    "einsum",
    "gemm",
    "matmul",
]
