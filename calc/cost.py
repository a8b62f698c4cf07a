"""What a formula returns: everything about one layer at once, so figures cannot drift."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Term:
    """One product in a layer's MAC count, e.g. the QKV projections of attention.

    ``factors`` pairs a LaTeX symbol with its value; the term is their product.
    """

    label: str
    factors: tuple[tuple[str, int], ...]

    @property
    def value(self) -> int:
        return math.prod(value for _, value in self.factors)


@dataclass(frozen=True)
class Cost:
    """The cost of one layer for one input shape (batch included).

    MACs are never stored: they are the sum of the terms, so the formula shown to a
    user and the number reported are the same computation.
    """

    output_shape: tuple[int, ...]           # batch first
    params: int
    terms: tuple[Term, ...] = ()            # MAC terms; empty for layers without MACs
    other_ops: tuple[tuple[str, int], ...] = ()  # labelled counts, never part of MACs
    input_elements: int = 0
    output_elements: int = 0
    shape_latex: tuple[str, ...] = ()       # how the output shape follows, numbers substituted
    parts: tuple[tuple[str, "Cost"], ...] = ()  # sub-layers (separable: depthwise, pointwise)

    @property
    def macs(self) -> int:
        return sum(term.value for term in self.terms)

    @property
    def other_ops_total(self) -> int:
        return sum(count for _, count in self.other_ops)
