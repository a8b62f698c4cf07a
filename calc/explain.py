"""A layer's formula as LaTeX: the symbols, then the same terms with numbers substituted.

Built from the Cost's terms, so the formula shown is the computation that produced
the count (a test holds that the substituted product equals Row.macs).
"""

from __future__ import annotations

from dataclasses import dataclass

from calc.cost import Cost, Term
from calc.units import FLOPS_PER_MAC


def _number(value: int) -> str:
    return f"{value:,}".replace(",", "{,}")


def _symbols(term: Term) -> str:
    return r" \cdot ".join(symbol for symbol, _ in term.factors)


def _values(term: Term) -> str:
    return r" \cdot ".join(_number(value) for _, value in term.factors)


@dataclass(frozen=True)
class FormulaText:
    macs_symbolic: str     # \text{MACs} = N \cdot C_{out} ...
    macs_substituted: str  # = 1 \cdot 64 ... = 86{,}704{,}128
    flops: str             # \text{FLOPs} = 2 \times \text{MACs} = ...
    shape_lines: tuple[str, ...]
    term_lines: tuple[str, ...]  # one line per term when there are several (attention, separable)


def explain(cost: Cost) -> FormulaText:
    terms = cost.terms
    if not terms:
        return FormulaText(r"\text{MACs} = 0", r"\text{no multiply-accumulates: see other ops}",
                           r"\text{FLOPs} = 2 \times \text{MACs} = 0", cost.shape_latex, ())
    symbolic = r"\text{MACs} = " + " + ".join(_symbols(term) for term in terms)
    substituted = "= " + " + ".join(_values(term) for term in terms) + f" = {_number(cost.macs)}"
    term_lines = tuple(rf"\text{{{term.label}}}: \; {_symbols(term)} = {_values(term)} = {_number(term.value)}"
                       for term in terms) if len(terms) > 1 else ()
    flops = rf"\text{{FLOPs}} = {FLOPS_PER_MAC} \times \text{{MACs}} = {_number(FLOPS_PER_MAC * cost.macs)}"
    return FormulaText(symbolic, substituted, flops, cost.shape_latex, term_lines)
