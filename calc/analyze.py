"""Stack -> Report: a row per layer (and per part of a composite layer), and totals."""

from __future__ import annotations

from dataclasses import dataclass

from calc.cost import (
    Cost,
    checked_int,
    checked_str,
    cost_from_data,
    cost_to_data,
    labelled_counts,
    shape_from_data,
)
from calc.errors import SpecError
from calc.registry import MAX_ELEMENTS, layer_kind
from calc.spec import Stack, parse_stack
from calc.units import DTYPE_BYTES, flops_from_macs

ROOT_NAME = "(model)"  # the row of a torch model's root module's own work; other rows are module paths


@dataclass(frozen=True)
class Row:
    index: int  # position in the stack
    name: str  # "3", or "3.depthwise" for a part
    kind: str
    input_shape: tuple[int, ...]  # one sample, no batch
    output_shape: tuple[int, ...]  # one sample, no batch
    cost: Cost  # batch included
    bytes_per_element: int
    is_part: bool = False

    @property
    def params(self) -> int:
        return self.cost.params

    @property
    def macs(self) -> int:
        return self.cost.macs

    @property
    def flops(self) -> int:
        return flops_from_macs(self.cost.macs)

    @property
    def other_ops(self) -> int:
        return self.cost.other_ops_total

    @property
    def weight_bytes(self) -> int:
        return self.cost.params * self.bytes_per_element

    @property
    def input_bytes(self) -> int:
        return self.cost.input_elements * self.bytes_per_element

    @property
    def output_bytes(self) -> int:
        return self.cost.output_elements * self.bytes_per_element

    @property
    def memory_bytes(self) -> int:
        """Bytes moved if the layer reads its weights and input and writes its output once."""
        return self.weight_bytes + self.input_bytes + self.output_bytes

    @property
    def intensity(self) -> float:
        """Arithmetic intensity: FLOPs (2 x MACs) per byte moved."""
        return self.flops / self.memory_bytes if self.memory_bytes else 0.0


@dataclass(frozen=True)
class Report:
    input_shape: tuple[int, ...]
    batch: int
    dtype: str
    rows: tuple[Row, ...]  # whole layers, in order
    # ops with no formula, each with how often it ran (sorted by op): never counted as zero silently
    unsupported: tuple[tuple[str, int], ...] = ()
    # a mixture of experts: the params one token runs through (its top-k experts, not all); None otherwise
    active_params: int | None = None

    @property
    def output_shape(self) -> tuple[int, ...]:
        return self.rows[-1].output_shape if self.rows else self.input_shape

    @property
    def params(self) -> int:
        return sum(row.params for row in self.rows)

    @property
    def macs(self) -> int:
        return sum(row.macs for row in self.rows)

    @property
    def flops(self) -> int:
        return flops_from_macs(self.macs)

    @property
    def other_ops(self) -> int:
        return sum(row.other_ops for row in self.rows)

    @property
    def weight_bytes(self) -> int:
        return sum(row.weight_bytes for row in self.rows)

    @property
    def activation_bytes(self) -> int:
        """Activation traffic: every layer's input read and output written once."""
        return sum(row.input_bytes + row.output_bytes for row in self.rows)

    @property
    def memory_bytes(self) -> int:
        return self.weight_bytes + self.activation_bytes

    @property
    def peak_activation_bytes(self) -> int:
        """The largest input + output held at once by one layer of the sequence."""
        return max((row.input_bytes + row.output_bytes for row in self.rows), default=0)

    @property
    def intensity(self) -> float:
        return self.flops / self.memory_bytes if self.memory_bytes else 0.0

    def other_ops_by_label(self) -> dict[str, int]:
        totals: dict[str, int] = {}
        for row in self.rows:
            for label, count in row.cost.other_ops:
                totals[label] = totals.get(label, 0) + count
        return totals

    def rows_with_parts(self) -> tuple[Row, ...]:
        """Whole layers, each followed by its parts (for tables); parts are not in totals."""
        out = []
        for row in self.rows:
            out.append(row)
            part_input = row.input_shape
            for part_name, part in row.cost.parts:
                out.append(
                    Row(
                        row.index,
                        f"{row.name}.{part_name}",
                        f"{row.kind} ({part_name})",
                        part_input,
                        _sample(part.output_shape),
                        part,
                        row.bytes_per_element,
                        is_part=True,
                    )
                )
                part_input = _sample(part.output_shape)
        return tuple(out)


def report_to_json(report: Report) -> dict:
    """The JSON contract of a Report: what ``python -m calc stack --json`` prints, and ``count --json``
    for each model after its "model" name.

    Counts are whole numbers for the whole batch; bytes at the report's dtype; shapes are one
    sample, without the batch dimension.

    Top level, the totals over whole layers (parts are never added to them):
      input_shape       the model's input, one sample
      batch, dtype      samples per forward; storage dtype ("fp32", "fp16", ...), which sets bytes per element
      macs              multiply-accumulates of conv/linear/matmul/attention, bias adds excluded
      flops             2 x macs (calc.units)
      params            learnable parameters (weights and biases); not multiplied by the batch
      other_ops         operations that are not MACs: bias adds, norms, activations, pooling, softmax, ...
      other_ops_by_label  other_ops split by label ("bias add", "activation", ...), in first-seen order
      weight_bytes      params x bytes per element
      activation_bytes  every whole layer's input read once plus its output written once
      unsupported       ops with no rule, not counted: {"aten.name": times it ran}
                        (torch models; {} for stacks)
      active_params     a mixture of experts only: the params one token runs through (its top-k experts)
      layers            one entry per whole layer, each followed by one entry per part
    Each layer:
      index             position in the stack (a part shares its layer's)
      name              "3" for a stack layer, a module path ("features.0") for a torch model, "3.depthwise"
                        for a part
      type              the layer kind (a torch model: the module's class), "kind (part)" for a part
      part              true for a part: its figures are inside its layer's, not added again
      input_shape, output_shape  one sample
      params, macs, flops, other_ops, other_ops_by_label  as at top level, for this layer or part
      weight_bytes, input_bytes, output_bytes  its weights, its input read once, its output written once
      intensity_flops_per_byte  flops / (weight_bytes + input_bytes + output_bytes); 0.0 when no byte moves
    (report_to_data is the other format: the whole Report for the disk cache, which it reads back.)"""
    return {
        "input_shape": list(report.input_shape),
        "batch": report.batch,
        "dtype": report.dtype,
        "macs": report.macs,
        "flops": report.flops,
        "params": report.params,
        "other_ops": report.other_ops,
        "other_ops_by_label": report.other_ops_by_label(),
        "weight_bytes": report.weight_bytes,
        "activation_bytes": report.activation_bytes,
        "unsupported": dict(report.unsupported),
        **({} if report.active_params is None else {"active_params": report.active_params}),
        "layers": [
            {
                "index": row.index,
                "name": row.name,
                "type": row.kind,
                "part": row.is_part,
                "input_shape": list(row.input_shape),
                "output_shape": list(row.output_shape),
                "params": row.params,
                "macs": row.macs,
                "flops": row.flops,
                "other_ops": row.other_ops,
                "other_ops_by_label": dict(row.cost.other_ops),
                "weight_bytes": row.weight_bytes,
                "input_bytes": row.input_bytes,
                "output_bytes": row.output_bytes,
                "intensity_flops_per_byte": row.intensity,
            }
            for row in report.rows_with_parts()
        ],
    }


def report_to_data(report: Report) -> dict:
    """The whole Report as plain JSON data, for the disk cache; report_from_data inverts it.
    (report_to_json, above, is the display format: derived figures, parts flattened.)"""
    return {
        "input_shape": list(report.input_shape),
        "batch": report.batch,
        "dtype": report.dtype,
        "unsupported": [list(pair) for pair in report.unsupported],
        "active_params": report.active_params,
        "rows": [
            {
                "index": row.index,
                "name": row.name,
                "kind": row.kind,
                "input_shape": list(row.input_shape),
                "output_shape": list(row.output_shape),
                "cost": cost_to_data(row.cost),
                "bytes_per_element": row.bytes_per_element,
                "is_part": row.is_part,
            }
            for row in report.rows
        ],
    }


def report_from_data(data: dict) -> Report:
    """The inverse of report_to_data; ValueError (or KeyError, TypeError) on anything else."""
    if not isinstance(data["rows"], list) or not isinstance(data["unsupported"], list):
        raise ValueError("rows and unsupported must be lists")
    rows = []
    for row in data["rows"]:
        if not isinstance(row["is_part"], bool):
            raise ValueError("is_part must be true or false")
        rows.append(
            Row(
                checked_int(row["index"]),
                checked_str(row["name"]),
                checked_str(row["kind"]),
                shape_from_data(row["input_shape"]),
                shape_from_data(row["output_shape"]),
                cost_from_data(row["cost"]),
                checked_int(row["bytes_per_element"]),
                row["is_part"],
            )
        )
    if checked_str(data["dtype"]) not in DTYPE_BYTES:
        raise ValueError(f"unknown dtype {data['dtype']!r:.40}")
    active_params = data.get("active_params")
    return Report(
        shape_from_data(data["input_shape"]),
        checked_int(data["batch"]),
        data["dtype"],
        tuple(rows),
        labelled_counts(data["unsupported"]),
        None if active_params is None else checked_int(active_params),
    )


def _sample(shape: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(shape[1:])


def _layer_cost(stack: Stack, index: int, shape: tuple[int, ...]) -> Cost:
    layer = stack.layers[index]
    kind = layer_kind(layer.kind)
    sample_rank = len(shape) - 1
    if kind.input_rank is not None and sample_rank != kind.input_rank:
        raise SpecError(
            f"{layer.kind} needs {kind.input_text}, but its input is {list(shape[1:])}",
            layer=index,
            kind=layer.kind,
            field="type",
        )
    try:
        cost = kind.formula(shape, **layer.fields)
    except SpecError as error:
        raise SpecError(error.reason, layer=index, field=error.field, kind=layer.kind) from None
    elements = cost.output_elements
    if elements > MAX_ELEMENTS:
        raise SpecError(
            f"its output {list(cost.output_shape)} has {elements:,} elements, beyond the "
            f"limit of {MAX_ELEMENTS:,}",
            layer=index,
            kind=layer.kind,
        )
    return cost


def analyze_until_error(stack: Stack) -> tuple[Report, SpecError | None]:
    """Analyse layer by layer; stop at the first layer that does not fit its input.

    Returns the report of the layers before it and the error (None when all fit),
    so a page can show every good layer and the message on the bad one.
    """
    bytes_per_element = DTYPE_BYTES[stack.dtype]
    shape = (stack.batch, *stack.input_shape)
    rows = []
    for index, layer in enumerate(stack.layers):
        try:
            cost = _layer_cost(stack, index, shape)
        except SpecError as error:
            return Report(stack.input_shape, stack.batch, stack.dtype, tuple(rows)), error
        rows.append(
            Row(
                index,
                str(index),
                layer.kind,
                _sample(shape),
                _sample(cost.output_shape),
                cost,
                bytes_per_element,
            )
        )
        shape = cost.output_shape
    return Report(stack.input_shape, stack.batch, stack.dtype, tuple(rows)), None


def analyze(stack: Stack) -> Report:
    """The full report; raises SpecError (naming layer and field) if any layer does not fit."""
    report, error = analyze_until_error(stack)
    if error is not None:
        raise error
    return report


def analyze_json_until_error(raw: dict) -> tuple[Report | None, SpecError | None]:
    """Like analyze_until_error, for stack JSON that may not even parse.

    A field error on layer i still yields the report of layers 0..i-1; an error in the
    stack as a whole (input, batch, dtype) yields no report.
    """
    try:
        return analyze_until_error(parse_stack(raw))
    except SpecError as error:
        if error.layer is None:
            return None, error
        prefix = dict(raw, layers=raw["layers"][: error.layer])
        return analyze_until_error(parse_stack(prefix))[0], error
