"""Arguments several commands share: MODEL (a stack JSON file or a zoo name), --batch and --resolution."""

from __future__ import annotations

import os

from calc.cli.files import read_stack
from calc.errors import SpecError
from calc.spec import Stack, parse_stack, stack_to_json


def read_model(model: str, resolution: int | None = None) -> tuple[str, Stack | None]:
    """MODEL on the command line: a stack JSON file (its input at ``resolution`` when it takes
    images) or a zoo name; returns the name and the stack (None for a zoo model)."""
    if os.path.exists(model) or model.endswith(".json"):
        stack = read_stack(model)
        if resolution is not None and len(stack.input_shape) == 3:
            stack = parse_stack(
                dict(stack_to_json(stack), input=[stack.input_shape[0], resolution, resolution])
            )
        return model, stack
    from calc import zoo

    try:
        return zoo.model_info(model).name, None
    except KeyError:
        raise SpecError(
            f"no zoo model or stack JSON file named {model!r}; `python -m calc zoo` lists the zoo",
            field="MODEL",
        ) from None


def check_batch_and_resolution(batch: int | None, resolution: int | None) -> None:
    if resolution is not None and not 16 <= resolution <= 4096:
        raise SpecError(f"must be from 16 to 4096 pixels, got {resolution}", field="--resolution")
    if batch is not None and not 1 <= batch <= 65536:
        raise SpecError(f"must be from 1 to 65,536, got {batch}", field="--batch")
