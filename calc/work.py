"""Kinds of work: what a MAC term computes, as a value (never recognised by its label).

Every Term carries one; calc.breakdown sums by it; charts colour by it. The value of
each member is its display label, so a table or CSV shows it as it is, but no code
finds a kind of work by a label or a LaTeX symbol. Torch-free, like the rest of calc.
"""

from __future__ import annotations

from enum import StrEnum


class Work(StrEnum):
    # kinds of a MAC term
    STANDARD_CONV = "standard conv"
    GROUPED_CONV = "grouped conv"
    DEPTHWISE_CONV = "depthwise conv"
    POINTWISE_CONV = "pointwise conv"
    OTHER_CONV = "other conv"  # torch side: 1-D, 3-D and transposed convolutions
    LINEAR = "linear"  # attention's Q, K, V and output projections included
    ATTENTION_MATMULS = "attention matmuls"  # Q·Kᵀ and A·V
    OTHER_MATMULS = "other matmuls"  # torch side: a GEMM outside the above
    # kinds of a whole row only, never of a term (calc.breakdown.row_category)
    SEPARABLE_CONV = "separable conv"  # a separable_conv2d layer: its depthwise and pointwise terms
    NO_MACS = "no MACs"  # norms, activations, pooling, reshapes

    @property
    def label(self) -> str:
        return self.value


TERM_WORKS = tuple(work for work in Work if work not in (Work.SEPARABLE_CONV, Work.NO_MACS))


def conv_work(in_channels: int, groups: int, kernel: tuple[int, ...]) -> Work:
    """The kind of a convolution (1-D or 2-D), the same rule for stack layers and torch modules:
    one filter group per input channel is depthwise (whatever the depth multiplier),
    other groupings are grouped, a 1×1 kernel without groups is pointwise."""
    if groups > 1 and groups == in_channels:
        return Work.DEPTHWISE_CONV
    if groups > 1:
        return Work.GROUPED_CONV
    return Work.POINTWISE_CONV if all(size == 1 for size in kernel) else Work.STANDARD_CONV


__all__ = ["TERM_WORKS", "Work", "conv_work"]
