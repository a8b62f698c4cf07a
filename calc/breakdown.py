"""Where the MACs go, by kind of work: standard, grouped, depthwise and pointwise convolutions,
linear layers (attention's projections included), attention matmuls (Q·Kᵀ and A·V).

Every term carries its kind of work (calc.work.Work), set where the term is made: by the
formula on the stack side, by calc.torch_count on the torch side. So stack reports and
torch reports are summed the same way, and a preset and a real model compare.
"""

from __future__ import annotations

from calc.analyze import Report, Row
from calc.work import Work


def macs_by_work(report: Report) -> dict[Work, int]:
    """MACs per kind of work, over the report's whole layers (parts are in them already)."""
    totals: dict[Work, int] = {}
    for row in report.rows:
        for term in row.cost.terms:
            totals[term.work] = totals.get(term.work, 0) + term.value
    return totals


def row_category(row: Row) -> Work:
    """The kind of work of one row: that of its largest MAC term; a separable_conv2d layer
    (depthwise and pointwise terms) is a separable conv; norms, activations and pooling
    have no MACs."""
    if not row.cost.terms:
        return Work.NO_MACS
    if row.kind == "separable_conv2d":
        return Work.SEPARABLE_CONV
    return max(row.cost.terms, key=lambda term: term.value).work


__all__ = ["macs_by_work", "row_category"]
