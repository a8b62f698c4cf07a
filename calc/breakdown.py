"""Where the MACs go, by kind of work: standard, depthwise and pointwise convolutions,
linear layers (attention's projections included), attention matmuls (Q·Kᵀ and A·V).

Works on stack reports (by layer kind and formula term) and on torch-side reports
(by module category and aten op) alike, so a preset and a real model compare.
"""

from __future__ import annotations

from calc.analyze import Report, Row

ATTENTION_OPS = {"aten.bmm", "aten.baddbmm", "aten._scaled_dot_product_flash_attention_for_cpu",
                 "aten._scaled_dot_product_efficient_attention", "aten._scaled_dot_product_flash_attention",
                 "aten._scaled_dot_product_cudnn_attention", "aten.flex_attention"}
_STACK_TERMS = {  # (kind, term label) -> category; the rest by kind below
    ("attention", "Q, K, V projections"): "linear", ("attention", "output projection"): "linear",
    ("attention", "attention scores"): "attention matmuls", ("attention", "weighted values"): "attention matmuls",
    ("separable_conv2d", "depthwise"): "depthwise conv", ("separable_conv2d", "pointwise"): "pointwise conv",
}
_STACK_KINDS = {"depthwise_conv2d": "depthwise conv", "pointwise_conv2d": "pointwise conv", "linear": "linear"}


def _stack_category(row: Row, term_label: str) -> str:
    if (row.kind, term_label) in _STACK_TERMS:
        return _STACK_TERMS[(row.kind, term_label)]
    if row.kind == "conv2d":
        factors = dict(row.cost.terms[0].factors)
        if term_label == "depthwise conv":
            return "depthwise conv"
        if factors["C_{in}/G"] != row.input_shape[0]:
            return "grouped conv"
        return "pointwise conv" if factors["K_h"] == factors["K_w"] == 1 else "standard conv"
    return _STACK_KINDS.get(row.kind, row.kind)


def _torch_category(row: Row, term_label: str) -> str:
    if row.category.endswith("conv") or row.category == "linear":
        return row.category
    return "attention matmuls" if term_label in ATTENTION_OPS else "linear"


def macs_by_category(report: Report) -> dict[str, int]:
    totals: dict[str, int] = {}
    for row in report.rows:
        for term in row.cost.terms:
            label = _torch_category(row, term.label) if row.category else _stack_category(row, term.label)
            totals[label] = totals.get(label, 0) + term.value
    return totals


def row_category(row: Row) -> str:
    """The kind of work of one row: its module category (torch side), or the category of
    its largest MAC term (stack side); "no MACs" for norms, activations, pooling."""
    if row.category:
        return row.category
    if not row.cost.terms:
        return "no MACs"
    if row.kind == "separable_conv2d":
        return "separable conv"
    largest = max(row.cost.terms, key=lambda term: term.value)
    return _stack_category(row, largest.label)
