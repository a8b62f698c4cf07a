"""A layer's formula as LaTeX: the symbols, then the same terms with numbers substituted.

Built from the Cost's terms, so the formula shown is the computation that produced
the count (a test holds that the substituted product equals Row.macs).

A formula longer than MAX_LINE_CHARS is broken over lines aligned on its "=" (one term
or one "= result" per line), so that on a projector the result is never cut off.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from calc.cost import Cost, Term
from calc.units import FLOPS_PER_MAC

# About what fits half of a 1024-pixel window at KaTeX's display size (1.21em) in
# presentation mode; tests/test_e2e_layout.py measures the lines on screen.
MAX_LINE_CHARS = 38


def _number(value: int) -> str:
    return f"{value:,}".replace(",", "{,}")


def _symbols(term: Term) -> str:
    return r" \cdot ".join(symbol for symbol, _ in term.factors)


def _values(term: Term) -> str:
    return r" \cdot ".join(_number(value) for _, value in term.factors)


def visible_chars(latex: str) -> int:
    """Roughly how many characters wide ``latex`` renders: text and digits count one,
    commands and braces nothing, each binary operator two (its spacing)."""
    text = re.sub(r"\\text\{([^}]*)\}", r"\1", latex).replace("{,}", ",")
    operators = len(re.findall(r"\\cdot|\\times|[=+−-]", text))
    text = re.sub(r"\\[a-zA-Z]+|\\.|[{}_^&\s]", "", text)
    return len(text) + operators


def chain(lhs: str, steps: list[tuple[str, str]]) -> str:
    """``lhs`` followed by ``steps`` ((operator, expression) pairs: "=" or "+"), on one
    line when it fits in MAX_LINE_CHARS, otherwise one step per line: aligned on the
    first "=" when ``lhs`` and the first step fit on a line ("+" steps indented under
    the first term), else every step indented under ``lhs``."""
    flat = " ".join([lhs] + [f"{operator} {expression}" for operator, expression in steps]).strip()
    if visible_chars(flat) <= MAX_LINE_CHARS:
        return flat
    first = f"{lhs} &{steps[0][0]} {steps[0][1]}".strip()
    if visible_chars(first) <= MAX_LINE_CHARS:
        lines = [first] + [
            (r"&\quad " if operator == "+" else "&") + f"{operator} {expression}"
            for operator, expression in steps[1:]
        ]
    else:
        lines = [f"&{lhs}"] + [rf"&\quad {operator} {expression}" for operator, expression in steps]
    return r"\begin{aligned}" + r" \\ ".join(lines) + r"\end{aligned}"


@dataclass(frozen=True)
class FormulaText:
    macs_symbolic: str  # \text{MACs} = N \cdot C_{out} ...
    macs_substituted: str  # = 1 \cdot 64 ... = 86{,}704{,}128
    flops: str  # \text{FLOPs} = 2 \times \text{MACs} = ...
    shape_lines: tuple[str, ...]
    term_lines: tuple[str, ...]  # one line per term when there are several (attention, separable)


def explain(cost: Cost) -> FormulaText:
    terms = cost.terms
    if not terms:
        return FormulaText(
            r"\text{MACs} = 0",
            r"\text{no multiply-accumulates: see other ops}",
            r"\text{FLOPs} = 2 \times \text{MACs} = 0",
            cost.shape_latex,
            (),
        )
    symbolic = chain(
        r"\text{MACs}", [("=" if i == 0 else "+", _symbols(term)) for i, term in enumerate(terms)]
    )
    substituted = chain(
        "",
        [("=" if i == 0 else "+", _values(term)) for i, term in enumerate(terms)]
        + [("=", _number(cost.macs))],
    )
    term_lines = (
        tuple(
            chain(
                rf"\text{{{term.label}}}: \; {_symbols(term)}",
                [("=", _values(term)), ("=", _number(term.value))],
            )
            for term in terms
        )
        if len(terms) > 1
        else ()
    )
    flops = chain(
        r"\text{FLOPs}",
        [("=", rf"{FLOPS_PER_MAC} \times \text{{MACs}}"), ("=", _number(FLOPS_PER_MAC * cost.macs))],
    )
    return FormulaText(symbolic, substituted, flops, cost.shape_latex, term_lines)
