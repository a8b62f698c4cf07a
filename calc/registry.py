"""The registry of layer kinds: one entry per kind, holding everything about it.

A kind is registered once, by decorating its formula (as torch.utils.flop_counter's
``register_flop_formula`` does); a second registration of the same name is refused.
The registration carries the kind's typed fields (calc.fields: they parse and check
the stack JSON, suggest the Builder's first values and offer the fuzzing tests their
strategies), its formula, and the torch module it stands for (built by
calc.torch_build): adding a kind touches no other module.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from calc.fields import MAX_DIM, REQUIRED, Field  # noqa: F401  (MAX_DIM, REQUIRED: re-exported)

MAX_BATCH = 2**16
MAX_LAYERS = 1000
MAX_ELEMENTS = 10**15  # one activation tensor, batch included

# What a kind's input is called in messages, by the rank of one sample.
_INPUT_NAMES = {3: "an image [C, H, W]", 2: "tokens [L, D]", 1: "a vector [D]"}

# (torch.nn with MACscope's own modules, the layer's fields, the incoming sample shape) -> nn.Module
ModuleBuilder = Callable[[Any, Any, tuple[int, ...]], Any]


@dataclass(frozen=True)
class LayerKind:
    name: str
    group: str  # convolution | linear | attention | normalization | activation | pooling | reshape
    summary: str
    fields: tuple[Field, ...]
    input_rank: int | None  # per-sample rank it needs (3 for [C, H, W]), None: any rank >= min_rank
    formula: Callable
    module: ModuleBuilder | None = None  # called by calc.torch_build only: calc itself never imports torch
    input_name: str | None = None  # its input in messages, where the rank's usual name is wrong

    @property
    def input_text(self) -> str:
        return self.input_name or _INPUT_NAMES[self.input_rank]


_KINDS: dict[str, LayerKind] = {}


def register(
    name: str,
    *,
    group: str,
    summary: str,
    fields: tuple[Field, ...] = (),
    input_rank: int | None = None,
    module: ModuleBuilder | None = None,
    input_name: str | None = None,
) -> Callable[[Callable], Callable]:
    """Register ``formula`` for layer kind ``name``; duplicates are refused, and so is a formula
    whose parameters after ``shape`` are not the fields, in order.

    ``module(nn, fields, in_shape)`` builds the torch module the kind stands for, from
    ``nn`` (torch.nn's classes and calc.torch_build's own), the layer's parsed fields and
    the shape of one incoming sample.
    """

    def decorate(formula: Callable) -> Callable:
        if name in _KINDS:
            raise ValueError(f"layer kind {name!r} is registered twice")
        parameters = list(inspect.signature(formula).parameters)[1:]
        if parameters != [field.name for field in fields]:
            raise ValueError(
                f"the formula of {name!r} takes {parameters}, its fields are "
                f"{[field.name for field in fields]}"
            )
        _KINDS[name] = LayerKind(name, group, summary, tuple(fields), input_rank, formula, module, input_name)
        return formula

    return decorate


def layer_kinds() -> tuple[LayerKind, ...]:
    """Every registered kind, in registration order."""
    return tuple(_KINDS.values())


def layer_kind(name: str) -> LayerKind | None:
    return _KINDS.get(name)


def _field_markdown(field: Field) -> str:
    if field.required:
        return f"`{field.name}`"
    # a pair defaulting to None means "as kernel_size" (pooling's stride)
    default = "kernel_size" if field.default is None else json.dumps(field.dump(field.default))
    return f"`{field.name}`={default}"


def kinds_markdown() -> str:
    """The layer kinds as the README lists them: one line each, with fields and defaults."""
    lines = []
    for kind in layer_kinds():
        fields = ", ".join(_field_markdown(field) for field in kind.fields)
        lines.append(
            f"- `{kind.name}` ({kind.group}): {kind.summary}" + (f"; fields: {fields}" if fields else "")
        )
    return "\n".join(lines)
