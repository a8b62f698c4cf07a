"""The fields of layer kinds as small typed objects: each parses and checks its own JSON
value, dumps it back, names the widget that edits it, suggests a first value where torch
has no default, and offers a hypothesis strategy of valid values for the fuzzing tests.

A field's value in a parsed Layer is normalized: pairs are tuples, "same" stays a string.
Errors are SpecError naming the layer and the field, with the messages of the stack
format. Hypothesis is imported only when a strategy is asked for: the fuzzing tests
need it, ``import calc`` does not.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from calc.errors import SpecError, cut, echo

REQUIRED = object()  # sentinel default: the field must be given

MAX_DIM = 2**20  # any size: channels, features, heads, spatial extent, kernel

Pair = tuple[int, int]
Padding = tuple[int, int] | Literal["same"]
PaddingOneAxis = int | Literal["same"]

# (sample shape, the kind's fields drawn before this one) -> a hypothesis strategy of JSON values
Fuzz = Callable[[tuple[int, ...], dict[str, Any]], Any]


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_int(value: Any, minimum: int, what: str, layer: int | None, field: str | None) -> int:
    if not is_int(value):
        raise SpecError(f"{what} must be a whole number, got {echo(value)}", layer=layer, field=field)
    if value < minimum:
        raise SpecError(f"{what} must be at least {minimum}, got {echo(value)}", layer=layer, field=field)
    if value > MAX_DIM:
        raise SpecError(
            f"{what} {cut(f'{value:,}')} is beyond the limit of {MAX_DIM:,}", layer=layer, field=field
        )
    return value


def strategies():
    """hypothesis.strategies, imported when a test asks for a strategy."""
    from hypothesis import strategies as st

    return st


@dataclass(frozen=True)
class Field:
    """One field of a layer kind; subclasses say what its values are.

    suggest: the Builder's first value of a required field, or a function of the
    incoming sample shape (None when the layer is added after an error) giving it.
    fuzz: a strategy of valid values given the sample shape and the fields drawn before
    this one, where the type's own range does not fit the kind.
    """

    name: str
    default: Any = REQUIRED
    help: str = ""
    suggest: Any = None
    fuzz: Fuzz | None = None

    # Each subclass also has ``widget``, the kind of widget ui.fields draws for it, and
    # ``value_type``, the parsed value's type as the formula's signature writes it.

    @property
    def required(self) -> bool:
        return self.default is REQUIRED

    def suggested(self, incoming_shape: tuple[int, ...] | None) -> Any:
        """A new layer's JSON value: the suggestion for a required field, else the default."""
        if not self.required:
            return self.default
        return self.suggest(incoming_shape) if callable(self.suggest) else self.suggest

    def parse(self, raw: Any, layer: int, kind: str) -> Any:
        """The normalized value of JSON ``raw``; SpecError when it is not one."""
        raise NotImplementedError

    def dump(self, value: Any) -> Any:
        """A normalized value back as JSON (the shortest form the stack format reads)."""
        return value

    def strategy(self, shape: tuple[int, ...], drawn: dict[str, Any]) -> Any:
        """A hypothesis strategy of JSON values valid for an input sample of ``shape``."""
        return self.fuzz(shape, drawn) if self.fuzz is not None else self._own_strategy(shape, drawn)

    def _own_strategy(self, shape: tuple[int, ...], drawn: dict[str, Any]) -> Any:
        raise NotImplementedError(f"field {self.name} needs a fuzz strategy")


@dataclass(frozen=True)
class IntField(Field):
    """A whole number from ``minimum`` to MAX_DIM."""

    minimum: int = 1
    widget: ClassVar[str] = "whole number"
    value_type: ClassVar[Any] = int

    def parse(self, raw: Any, layer: int, kind: str) -> int:
        return check_int(raw, self.minimum, "the value", layer, self.name)

    def _own_strategy(self, shape, drawn):
        return strategies().integers(self.minimum, max(self.minimum, 32))


@dataclass(frozen=True)
class PairField(Field):
    """One number or [height, width]; with default None, None means "as kernel_size"."""

    minimum: int = 1

    @property
    def widget(self) -> str:
        return "pair or kernel_size" if self.default is None else "pair"

    @property
    def value_type(self) -> Any:
        return Pair | None if self.default is None else Pair

    def parse(self, raw: Any, layer: int, kind: str) -> Pair | None:
        if raw is None and self.default is None:
            return None
        if isinstance(raw, (list, tuple)):
            if len(raw) != 2:
                raise SpecError(
                    f"must be one number or [height, width], got {echo(list(raw))}",
                    layer=layer,
                    field=self.name,
                    kind=kind,
                )
            return tuple(check_int(v, self.minimum, "each value", layer, self.name) for v in raw)
        number = check_int(raw, self.minimum, "the value", layer, self.name)
        return (number, number)

    def dump(self, value: Any) -> Any:
        return _dump_pair(value)


def _dump_pair(value: Any) -> Any:
    if isinstance(value, tuple):
        return value[0] if value[0] == value[1] else list(value)
    return value


@dataclass(frozen=True)
class PaddingField(Field):
    """Zeros on each side: one number, [height, width] (two axes) or "same"."""

    minimum: int = 0
    axes: int = 2  # spatial axes: 2 for [C, H, W] inputs, 1 for [C, L]

    @property
    def widget(self) -> str:
        return "padding" if self.axes == 2 else "padding, one axis"

    @property
    def value_type(self) -> Any:
        return Padding if self.axes == 2 else PaddingOneAxis

    def parse(self, raw: Any, layer: int, kind: str) -> Any:
        if raw == "same":
            return "same"
        if self.axes == 1:
            if isinstance(raw, str):
                raise SpecError(
                    f'must be a number or "same", got {echo(raw)}', layer=layer, field=self.name, kind=kind
                )
            return check_int(raw, self.minimum, "the value", layer, self.name)
        if isinstance(raw, str):
            raise SpecError(
                f'must be a number, [height, width] or "same", got {echo(raw)}',
                layer=layer,
                field=self.name,
                kind=kind,
            )
        return PairField(self.name, minimum=self.minimum).parse(raw, layer, kind)

    def dump(self, value: Any) -> Any:
        return _dump_pair(value)


@dataclass(frozen=True)
class BoolField(Field):
    widget: ClassVar[str] = "checkbox"
    value_type: ClassVar[Any] = bool

    def parse(self, raw: Any, layer: int, kind: str) -> bool:
        if not isinstance(raw, bool):
            raise SpecError(
                f"must be true or false, got {echo(raw)}", layer=layer, field=self.name, kind=kind
            )
        return raw

    def _own_strategy(self, shape, drawn):
        return strategies().booleans()


@dataclass(frozen=True)
class ProbabilityField(Field):
    """A number from 0 up to (not including) 1."""

    widget: ClassVar[str] = "probability"
    value_type: ClassVar[Any] = float

    def parse(self, raw: Any, layer: int, kind: str) -> float:
        if isinstance(raw, bool) or not isinstance(raw, (int, float)) or not 0 <= raw < 1:
            raise SpecError(
                f"must be a number from 0 up to (not including) 1, got {echo(raw)}",
                layer=layer,
                field=self.name,
                kind=kind,
            )
        return float(raw)

    def _own_strategy(self, shape, drawn):
        return strategies().floats(0, 0.9)
