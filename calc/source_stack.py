"""The stack kind: the Builder's presets (by zoo name, ``stack: NAME``) and stack JSON files,
counted by calc.analyze; ``stack_at`` sets a stack's resolution, batch and dtype."""

from __future__ import annotations

from calc.analyze import Report, analyze
from calc.source_kind import Source, SourceKind, register
from calc.source_torchvision import count_zoo, zoo_module, zoo_source
from calc.spec import Stack, parse_stack, stack_to_json


def _preset_names() -> tuple[str, ...]:
    from calc import zoo

    return zoo.list_models("preset")


def _count_stack(source, resolution, seq_len, batch, dtype, device) -> Report:
    if source.stack is None:  # a preset: the zoo's
        return count_zoo(source, resolution, seq_len, batch, dtype, device)
    return analyze(stack_at(source.stack, resolution, batch, dtype))


def stack_at(stack: Stack, resolution: int | None, batch: int | None, dtype: str | None) -> Stack:
    """``stack`` with its image input at ``resolution``, and ``batch`` and ``dtype`` where given."""
    raw = stack_to_json(stack)
    if resolution is not None and len(stack.input_shape) == 3:
        raw["input"] = [stack.input_shape[0], resolution, resolution]
    return parse_stack(dict(raw, batch=batch or stack.batch, dtype=dtype or stack.dtype))


def _stack_module(source: Source, resolution: int | None):
    if source.stack is None:
        return zoo_module(source, resolution)
    from calc.torch_build import build_stack

    return build_stack(stack_at(source.stack, resolution, None, None))


register(
    SourceKind(
        "stack",
        "stack: ",
        "calc.analyze",
        "the Builder's presets, and stack JSON files",
        _preset_names,
        lambda name: zoo_source("stack: " + name),
        _count_stack,
        _stack_module,
    )
)
