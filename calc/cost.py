"""What a formula returns: everything about one layer at once, so figures cannot drift."""

from __future__ import annotations

import math
from dataclasses import dataclass

from calc.work import TERM_WORKS, Work


@dataclass(frozen=True)
class Term:
    """One product in a layer's MAC count, e.g. the QKV projections of attention.

    ``factors`` pairs a LaTeX symbol with its value; the term is their product. ``label``
    and the symbols are for display only; ``work`` says what kind of work the term is.
    """

    label: str
    factors: tuple[tuple[str, int], ...]
    work: Work

    def __post_init__(self):
        if not isinstance(self.work, Work) or self.work not in TERM_WORKS:
            raise ValueError(f"a term's work is a kind of term work, got {self.work!r:.40}")

    @property
    def value(self) -> int:
        return math.prod(value for _, value in self.factors)


@dataclass(frozen=True)
class Cost:
    """The cost of one layer for one input shape (batch included).

    MACs are never stored: they are the sum of the terms, so the formula shown to a
    user and the number reported are the same computation.
    """

    output_shape: tuple[int, ...]  # batch first
    params: int
    terms: tuple[Term, ...] = ()  # MAC terms; empty for layers without MACs
    other_ops: tuple[tuple[str, int], ...] = ()  # labelled counts, never part of MACs
    input_elements: int = 0
    output_elements: int = 0
    shape_latex: tuple[str, ...] = ()  # how the output shape follows, numbers substituted
    parts: tuple[tuple[str, Cost], ...] = ()  # sub-layers (separable: depthwise, pointwise)
    # no arithmetic, but time (calc.calibration prices them): dispatched ops that view or move data
    # (reshapes, concatenations, copies), and the elements the copying ones write
    layout_ops: int = 0
    copied_elements: int = 0

    @property
    def macs(self) -> int:
        return sum(term.value for term in self.terms)

    @property
    def other_ops_total(self) -> int:
        return sum(count for _, count in self.other_ops)


# ---------------------------------------------------------------- as plain JSON data
# For the disk cache (calc.disk_cache): never pickle. Reading checks every type, so a
# corrupt file raises ValueError here instead of putting strings where counts belong.


def checked_int(value: object) -> int:
    if type(value) is not int:
        raise ValueError(f"expected an integer, got {value!r:.40}")
    return value


def checked_str(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected a string, got {value!r:.40}")
    return value


def _list(value: object) -> list:
    if not isinstance(value, list):
        raise ValueError(f"expected a list, got {value!r:.40}")
    return value


def shape_from_data(value: object) -> tuple[int, ...]:
    return tuple(checked_int(size) for size in _list(value))


def labelled_counts(value: object) -> tuple[tuple[str, int], ...]:
    """[[label, count], ...] read back as pairs, every type checked."""
    pairs = [_list(pair) for pair in _list(value)]
    if any(len(pair) != 2 for pair in pairs):
        raise ValueError("expected [label, count] pairs")
    return tuple((checked_str(label), checked_int(count)) for label, count in pairs)


def cost_to_data(cost: Cost) -> dict:
    return {
        "output_shape": list(cost.output_shape),
        "params": cost.params,
        "terms": [
            [term.label, [list(factor) for factor in term.factors], term.work.value] for term in cost.terms
        ],
        "other_ops": [list(pair) for pair in cost.other_ops],
        "input_elements": cost.input_elements,
        "output_elements": cost.output_elements,
        "shape_latex": list(cost.shape_latex),
        "parts": [[name, cost_to_data(part)] for name, part in cost.parts],
        "layout_ops": cost.layout_ops,
        "copied_elements": cost.copied_elements,
    }


def cost_from_data(data: dict) -> Cost:
    """The inverse of cost_to_data; ValueError (or KeyError, TypeError) on anything else."""
    terms = []
    for label, factors, work in (_list(term) for term in _list(data["terms"])):
        terms.append(Term(checked_str(label), labelled_counts(factors), Work(checked_str(work))))
    parts = tuple(
        (checked_str(name), cost_from_data(part))
        for name, part in (_list(item) for item in _list(data["parts"]))
    )
    return Cost(
        shape_from_data(data["output_shape"]),
        checked_int(data["params"]),
        tuple(terms),
        labelled_counts(data["other_ops"]),
        checked_int(data["input_elements"]),
        checked_int(data["output_elements"]),
        tuple(checked_str(line) for line in _list(data["shape_latex"])),
        parts,
        checked_int(data["layout_ops"]),  # a cache file without them is older: counted again
        checked_int(data["copied_elements"]),
    )
