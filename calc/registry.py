"""The registry of layer kinds: one entry per kind, holding its fields and its formula.

A kind is registered once, by decorating its formula (as torch.utils.flop_counter's
``register_flop_formula`` does); a second registration of the same name is refused.
The fields listed here drive validation (calc.spec), the CLI and the Builder's widgets.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

REQUIRED = object()  # sentinel default: the field must be given

MAX_DIM = 2**20          # any size: channels, features, heads, spatial extent, kernel
MAX_BATCH = 2**16
MAX_LAYERS = 1000
MAX_ELEMENTS = 10**15    # one activation tensor, batch included


@dataclass(frozen=True)
class Field:
    """One field of a layer kind.

    type: "int" (an int >= minimum), "pair" (int or [h, w]), "padding" (int, [h, w] or
    "same"), "bool", "probability" (0 <= p < 1).
    """

    name: str
    type: str
    default: Any = REQUIRED
    minimum: int = 1
    help: str = ""

    @property
    def required(self) -> bool:
        return self.default is REQUIRED


@dataclass(frozen=True)
class LayerKind:
    name: str
    group: str          # convolution | linear | attention | normalization | activation | pooling | reshape
    summary: str
    fields: tuple[Field, ...]
    input_rank: int | None  # per-sample rank it needs (3 for [C, H, W]), None: any rank >= min_rank
    formula: Callable


_KINDS: dict[str, LayerKind] = {}


def register(name: str, *, group: str, summary: str, fields: tuple[Field, ...] = (),
             input_rank: int | None = None) -> Callable[[Callable], Callable]:
    """Register ``formula`` for layer kind ``name``; duplicates are refused."""

    def decorate(formula: Callable) -> Callable:
        if name in _KINDS:
            raise ValueError(f"layer kind {name!r} is registered twice")
        _KINDS[name] = LayerKind(name, group, summary, tuple(fields), input_rank, formula)
        return formula

    return decorate


def layer_kinds() -> tuple[LayerKind, ...]:
    """Every registered kind, in registration order."""
    return tuple(_KINDS.values())


def layer_kind(name: str) -> LayerKind | None:
    return _KINDS.get(name)
