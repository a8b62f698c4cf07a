"""Depthwise-separable convolution: how much a standard k×k conv would save, and what if
every standard conv of a model were separable.

Everything is counted by the registered formulas of calc.formulas (conv2d, separable_conv2d:
depthwise k×k without bias, then pointwise 1×1, as Keras' SeparableConv2D and MobileNet),
never by a second hand formula, so the numbers here are the numbers everywhere else.

The textbook ratio (Howard et al., MobileNets, 2017, eq. 5):
  separable / standard = (C_in·K²·H'·W' + C_out·C_in·H'·W') / (C_out·C_in·K²·H'·W') = 1/C_out + 1/K²
It is exact for every stride and padding, not only for stride 1 with "same" padding: the
depthwise conv has the standard conv's output extent H'×W', and the pointwise conv runs on it.
Params follow the same ratio when there is no bias (each count is the MACs without H'·W').
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from calc.analyze import Report, Row, analyze
from calc.errors import SpecError
from calc.registry import MAX_DIM
from calc.spec import Stack, parse_stack, stack_to_json

# ---------------------------------------------------------------------------
# one conv, standard against separable


@dataclass(frozen=True)
class Comparison:
    """A standard k×k conv (no bias) against depthwise k×k + pointwise 1×1 (no bias), batch 1."""

    input_shape: tuple[int, int, int]  # [C_in, H, W]
    output_shape: tuple[int, int, int]  # [C_out, H', W'], the same for both
    kernel_size: int
    stride: int
    padding: int
    standard_macs: int
    depthwise_macs: int
    pointwise_macs: int
    separable_macs: int
    standard_params: int
    depthwise_params: int
    pointwise_params: int
    separable_params: int
    savings: float  # 1 - separable_macs / standard_macs
    params_savings: float  # 1 - separable_params / standard_params
    approximate_savings: float  # 1 - (1/C_out + 1/K²), the textbook formula
    standard: Report  # one conv2d row
    separable: Report  # one separable_conv2d row, its parts depthwise and pointwise

    @property
    def in_channels(self) -> int:
        return self.input_shape[0]

    @property
    def out_channels(self) -> int:
        return self.output_shape[0]

    @property
    def flops_share(self) -> float:
        """Separable FLOPs over standard FLOPs, what a measured time share is set against."""
        return self.separable.flops / self.standard.flops


def _whole(value: Any, field: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise SpecError(f"must be a whole number, got {value!r}", field=field)
    if value < minimum:
        raise SpecError(f"must be at least {minimum}, got {value}", field=field)
    if value > MAX_DIM:
        raise SpecError(f"{value:,} is beyond the limit of {MAX_DIM:,}", field=field)
    return value


def _size(size: Any) -> tuple[int, int]:
    if isinstance(size, (list, tuple)):
        if len(size) != 2:
            raise SpecError(f"must be one number or (height, width), got {list(size)}", field="size")
        return (_whole(size[0], "size"), _whole(size[1], "size"))
    side = _whole(size, "size")
    return (side, side)


def _savings(after: int, before: int) -> float:
    """1 - after / before, computed exactly and rounded once."""
    return float(1 - Fraction(after, before))


def _one_layer(
    input_shape: tuple[int, ...], layer: dict[str, Any], batch: int = 1, dtype: str = "fp32"
) -> Report:
    """Analyse a one-layer stack; errors name the field but no layer index (there is one layer)."""
    try:
        return analyze(
            parse_stack({"input": list(input_shape), "batch": batch, "dtype": dtype, "layers": [layer]})
        )
    except SpecError as error:
        raise SpecError(error.reason, field=error.field) from None


def compare(
    in_channels: int,
    out_channels: int,
    kernel_size: int,
    size: int | tuple[int, int],
    stride: int = 1,
    padding: int | None = None,
) -> Comparison:
    """Standard k×k conv against its depthwise-separable twin on one C_in×H×W input.

    ``size`` is H = W, or (H, W); ``padding`` defaults to kernel_size // 2 ("same" for odd
    kernels at stride 1). SpecError names the offending argument.
    """
    in_channels = _whole(in_channels, "in_channels")
    out_channels = _whole(out_channels, "out_channels")
    kernel_size = _whole(kernel_size, "kernel_size")
    height, width = _size(size)
    stride = _whole(stride, "stride")
    padding = kernel_size // 2 if padding is None else _whole(padding, "padding", minimum=0)
    shape = (in_channels, height, width)
    conv = {
        "out_channels": out_channels,
        "kernel_size": kernel_size,
        "stride": stride,
        "padding": padding,
        "bias": False,
    }
    standard = _one_layer(shape, {"type": "conv2d", **conv})
    separable = _one_layer(shape, {"type": "separable_conv2d", **conv})
    (_, depthwise), (_, pointwise) = separable.rows[0].cost.parts
    return Comparison(
        input_shape=shape,
        output_shape=standard.output_shape,
        kernel_size=kernel_size,
        stride=stride,
        padding=padding,
        standard_macs=standard.macs,
        depthwise_macs=depthwise.macs,
        pointwise_macs=pointwise.macs,
        separable_macs=separable.macs,
        standard_params=standard.params,
        depthwise_params=depthwise.params,
        pointwise_params=pointwise.params,
        separable_params=separable.params,
        savings=_savings(separable.macs, standard.macs),
        params_savings=_savings(separable.params, standard.params),
        approximate_savings=float(1 - (Fraction(1, out_channels) + Fraction(1, kernel_size**2))),
        standard=standard,
        separable=separable,
    )


def timed_stacks(
    in_channels: int, out_channels: int, kernel_size: int, size: int, stride: int, padding: int
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The stack JSON of compare()'s two sides, to build and time: one standard conv, and the
    depthwise and pointwise convs as two layers (so that each part gets its own measured share)."""
    shape = [in_channels, size, size]
    standard = {
        "input": shape,
        "layers": [
            {
                "type": "conv2d",
                "out_channels": out_channels,
                "kernel_size": kernel_size,
                "stride": stride,
                "padding": padding,
                "bias": False,
            }
        ],
    }
    separable = {
        "input": list(shape),
        "layers": [
            {
                "type": "depthwise_conv2d",
                "kernel_size": kernel_size,
                "stride": stride,
                "padding": padding,
                "bias": False,
            },
            {"type": "pointwise_conv2d", "out_channels": out_channels, "bias": False},
        ],
    }
    return standard, separable


def savings_grid(
    in_channels: int,
    out_channels_values: Iterable[int],
    kernel_values: Iterable[int],
    size: int | tuple[int, int],
    stride: int = 1,
) -> list[tuple[int, int, float]]:
    """(out_channels, kernel_size, savings) for every pair, out_channels major: a heatmap's cells.

    Each kernel gets padding kernel_size // 2, as in compare().
    """
    return [
        (out_channels, kernel, compare(in_channels, out_channels, kernel, size, stride).savings)
        for out_channels in out_channels_values
        for kernel in kernel_values
    ]


# ---------------------------------------------------------------------------
# what if every standard conv were separable


@dataclass(frozen=True)
class LayerChange:
    """One layer replaced by its separable twin."""

    name: str  # the row name: a stack index ("4") or a module path ("layer1.0.conv1")
    kind_before: str  # "conv2d" (stack) or "Conv2d" (torch module)
    kind_after: str  # "separable_conv2d"
    macs_before: int
    macs_after: int
    params_before: int
    params_after: int

    @property
    def savings(self) -> float:
        return _savings(self.macs_after, self.macs_before) if self.macs_before else 0.0


@dataclass(frozen=True)
class WhatIf:
    """A model before and after replacing each standard k×k conv (groups 1, kernel > 1) by a
    separable one; other layers unchanged. ``changes`` is empty when no conv qualified."""

    before: Report
    after: Report
    changes: tuple[LayerChange, ...]
    skipped: tuple[str, ...] = ()  # qualifying convs left alone, each with the reason

    @property
    def macs_before(self) -> int:
        return self.before.macs

    @property
    def macs_after(self) -> int:
        return self.after.macs

    @property
    def params_before(self) -> int:
        return self.before.params

    @property
    def params_after(self) -> int:
        return self.after.params

    @property
    def savings(self) -> float:
        return _savings(self.macs_after, self.macs_before) if self.macs_before else 0.0

    @property
    def params_savings(self) -> float:
        return _savings(self.params_after, self.params_before) if self.params_before else 0.0


def _pair(value: int | Sequence[int]) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else (value[0], value[1])


def is_replaceable(kernel_size: int | Sequence[int], groups: int) -> bool:
    """A standard conv that a separable one can stand in for: groups 1 and a kernel over 1×1.

    Grouped and depthwise convs are already cheaper; a 1×1 conv would only gain a depthwise 1×1.
    """
    return groups == 1 and max(_pair(kernel_size)) > 1


def _separable_layer(fields: Mapping[str, Any]) -> dict[str, Any]:
    """The separable_conv2d JSON layer with a conv2d's out_channels, kernel, stride, padding,
    dilation and bias."""
    keys = ("out_channels", "kernel_size", "stride", "padding", "dilation", "bias")
    return {"type": "separable_conv2d", **{key: _json_value(fields[key]) for key in keys}}


def _json_value(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def separable_stack(stack: Stack) -> Stack:
    """The stack with every replaceable conv2d made a separable_conv2d; other layers as they are."""
    raw = stack_to_json(stack)
    for index, layer in enumerate(stack.layers):
        if layer.kind == "conv2d" and is_replaceable(layer.fields["kernel_size"], layer.fields["groups"]):
            raw["layers"][index] = _separable_layer(layer.fields)
    return parse_stack(raw)


def _change(before: Row, after: Row) -> LayerChange:
    return LayerChange(
        before.name, before.kind, after.kind, before.macs, after.macs, before.params, after.params
    )


def what_if_stack(stack: Stack) -> WhatIf:
    """Every conv2d with groups 1 and a kernel over 1×1 made separable, keeping out_channels,
    kernel_size, stride, padding, dilation and bias. The output shapes do not change, so the
    layers after it cost what they did."""
    before = analyze(stack)
    after = analyze(separable_stack(stack))
    changes = tuple(
        _change(old, new) for old, new in zip(before.rows, after.rows, strict=True) if old.kind != new.kind
    )
    return WhatIf(before, after, changes)


@dataclass(frozen=True)
class ConvSettings:
    """What a torch.nn.Conv2d was built with; its input shape is its Report row's."""

    in_channels: int
    out_channels: int
    kernel_size: tuple[int, int]
    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int] | str = (0, 0)  # or "same"
    dilation: tuple[int, int] = (1, 1)
    groups: int = 1
    bias: bool = True

    def layer(self, kind: str = "conv2d") -> dict[str, Any]:
        """This conv as a stack JSON layer: "conv2d" as it is, "separable_conv2d" its twin."""
        fields = {
            "out_channels": self.out_channels,
            "kernel_size": self.kernel_size,
            "stride": self.stride,
            "padding": self.padding,
            "dilation": self.dilation,
            "bias": self.bias,
        }
        if kind == "conv2d":
            return {"type": "conv2d", **{k: _json_value(v) for k, v in fields.items()}, "groups": self.groups}
        return _separable_layer(fields)


def what_if_convs(report: Report, convs: Mapping[str, ConvSettings]) -> WhatIf:
    """A counted torch model (Report rows named by module path) with each replaceable conv made separable.

    ``convs`` maps a row name to the settings of the nn.Conv2d at that path. Each replaceable
    conv's row gets the separable_conv2d formula's cost on the row's one-sample input shape (at
    the report's batch and dtype); other rows stay as counted. A conv whose row is not one call
    of that conv on that input (it never ran, or ran more than once) is left alone and listed
    in ``skipped``.
    """
    rows = []
    changes = []
    skipped = []
    for row in report.rows:
        settings = convs.get(row.name)
        if settings is None or not is_replaceable(settings.kernel_size, settings.groups):
            rows.append(row)
            continue
        if len(row.input_shape) != 3 or row.input_shape[0] != settings.in_channels:
            skipped.append(f"{row.name}: no single input of {settings.in_channels} channels was recorded")
            rows.append(row)
            continue
        standard = _one_layer(row.input_shape, settings.layer("conv2d"), report.batch, report.dtype)
        if standard.macs != row.macs or standard.params != row.params:
            skipped.append(
                f"{row.name}: its counted MACs are not one conv on its input (did it run more than once?)"
            )
            rows.append(row)
            continue
        separable = _one_layer(
            row.input_shape, settings.layer("separable_conv2d"), report.batch, report.dtype
        )
        new = separable.rows[0]
        new = Row(
            row.index, row.name, new.kind, new.input_shape, new.output_shape, new.cost, new.bytes_per_element
        )
        rows.append(new)
        changes.append(_change(row, new))
    after = Report(report.input_shape, report.batch, report.dtype, tuple(rows), report.unsupported)
    return WhatIf(report, after, tuple(changes), tuple(skipped))


__all__ = [
    "Comparison",
    "ConvSettings",
    "LayerChange",
    "WhatIf",
    "compare",
    "is_replaceable",
    "savings_grid",
    "separable_stack",
    "what_if_convs",
    "what_if_stack",
]
