"""The stack format: load, validate and dump a layer stack.

```
{"input": [C, H, W] | [L, D] | [D],   one sample, no batch dimension
 "batch": 1,                            optional
 "dtype": "fp32",                       optional: fp32 | fp16 | bf16 | int8
 "layers": [{"type": KIND, ...fields}, ...]}
```
Field values are checked here, each by its typed field (calc.fields: types and
ranges); whether they fit the incoming shape (groups dividing channels, a kernel
inside the padded input) is checked by the formulas, which see the shapes. Both
raise SpecError naming layer and field.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import calc.formulas  # noqa: F401  (registers the layer kinds)
from calc.errors import SpecError, echo
from calc.fields import check_int, is_int
from calc.jsontext import read_json
from calc.registry import MAX_BATCH, MAX_LAYERS, layer_kind, layer_kinds
from calc.units import DTYPE_BYTES

MAX_JSON_CHARS = 2_000_000
MAX_JSON_BYTES = MAX_JSON_CHARS  # a stack file or upload: every valid stack is ASCII, one byte a character


@dataclass(frozen=True)
class Layer:
    kind: str
    fields: Mapping[str, Any]  # every field of the kind, normalized (pairs as tuples)


@dataclass(frozen=True)
class Stack:
    input_shape: tuple[int, ...]  # one sample, no batch
    layers: tuple[Layer, ...]
    batch: int = 1
    dtype: str = "fp32"


def parse_layer(raw: Any, index: int) -> Layer:
    """Validate one layer's JSON object; SpecError names the index and field."""
    if not isinstance(raw, dict):
        raise SpecError(f'a layer must be an object like {{"type": "relu"}}, got {echo(raw)}', layer=index)
    kind_name = raw.get("type")
    kind = layer_kind(kind_name) if isinstance(kind_name, str) else None
    if kind is None:
        known = ", ".join(k.name for k in layer_kinds())
        raise SpecError(
            f"unknown layer type {echo(kind_name)}; known types: {known}", layer=index, field="type"
        )
    names = {field.name for field in kind.fields}
    extra = sorted(set(raw) - names - {"type"})
    if extra:
        allowed = ", ".join(sorted(names)) or "none"
        raise SpecError(
            f"unknown field for {kind.name} (its fields: {allowed})",
            layer=index,
            field=extra[0],
            kind=kind.name,
        )
    fields = {}
    for field in kind.fields:
        if field.name not in raw:
            if field.required:
                raise SpecError("is required", layer=index, field=field.name, kind=kind.name)
            raw_value = field.default
        else:
            raw_value = raw[field.name]
        fields[field.name] = field.parse(raw_value, index, kind.name)
    return Layer(kind.name, MappingProxyType(fields))


def parse_stack(raw: Any) -> Stack:
    """Validate a stack given as parsed JSON (dicts and lists)."""
    if not isinstance(raw, dict):
        raise SpecError('the stack must be a JSON object with "input" and "layers"')
    unknown = sorted(set(raw) - {"input", "batch", "dtype", "layers"})
    if unknown:
        raise SpecError("unknown top-level key (allowed: input, batch, dtype, layers)", field=unknown[0])
    shape = raw.get("input")
    if not isinstance(shape, list) or not 1 <= len(shape) <= 3:
        raise SpecError(
            f"must be [C, H, W], [L, D] or [D] (one sample, no batch), got {echo(shape)}", field="input"
        )
    input_shape = tuple(check_int(size, 1, "each size", None, "input") for size in shape)
    batch = raw.get("batch", 1)
    if not is_int(batch) or not 1 <= batch <= MAX_BATCH:
        raise SpecError(f"must be a whole number from 1 to {MAX_BATCH:,}, got {echo(batch)}", field="batch")
    dtype = raw.get("dtype", "fp32")
    if not isinstance(dtype, str) or dtype not in DTYPE_BYTES:  # a list or object is unhashable
        raise SpecError(f"must be one of {', '.join(DTYPE_BYTES)}, got {echo(dtype)}", field="dtype")
    layers = raw.get("layers")
    if not isinstance(layers, list):
        raise SpecError(f"must be a list of layers, got {echo(layers)}", field="layers")
    if len(layers) > MAX_LAYERS:
        raise SpecError(f"{len(layers):,} layers is beyond the limit of {MAX_LAYERS:,}", field="layers")
    return Stack(input_shape, tuple(parse_layer(layer, i) for i, layer in enumerate(layers)), batch, dtype)


def load_stack(text: str) -> Stack:
    """Parse and validate stack JSON text. Only JSON is read: nothing is evaluated."""
    raw = read_json(text, MAX_JSON_CHARS)
    return parse_stack(raw)


def layer_to_json(layer: Layer) -> dict[str, Any]:
    """A layer as JSON, fields left at their defaults omitted."""
    kind = layer_kind(layer.kind)
    out: dict[str, Any] = {"type": layer.kind}
    for field in kind.fields:
        value = field.dump(layer.fields[field.name])
        if field.required or value != field.dump(field.default):
            out[field.name] = value
    return out


def stack_to_json(stack: Stack) -> dict[str, Any]:
    return {
        "input": list(stack.input_shape),
        "batch": stack.batch,
        "dtype": stack.dtype,
        "layers": [layer_to_json(layer) for layer in stack.layers],
    }


def dump_stack(stack: Stack) -> str:
    return json.dumps(stack_to_json(stack), indent=2)
