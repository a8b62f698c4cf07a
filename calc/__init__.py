"""MACscope's computation: what a network computes and what it costs.

Imports neither streamlit nor plotly; torch only inside the ``torch_*`` modules,
imported lazily by whoever needs them.
"""

from calc import formulas  # noqa: F401  (registers the layer kinds first)
from calc.analyze import Report, Row, analyze, analyze_json_until_error, analyze_until_error
from calc.cost import Cost, Term
from calc.errors import SpecError
from calc.registry import Field, LayerKind, layer_kind, layer_kinds
from calc.spec import Layer, Stack, dump_stack, load_stack, parse_stack, stack_to_json
from calc.units import flops_from_macs

__all__ = [
    "Cost",
    "Field",
    "Layer",
    "LayerKind",
    "Report",
    "Row",
    "SpecError",
    "Stack",
    "Term",
    "analyze",
    "analyze_json_until_error",
    "analyze_until_error",
    "dump_stack",
    "flops_from_macs",
    "layer_kind",
    "layer_kinds",
    "load_stack",
    "parse_stack",
    "stack_to_json",
]
