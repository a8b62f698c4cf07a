"""transformers' checks of its input's values, answered on the meta device for MACscope's inputs.

Some models look at their input's values before they compute: is there padding (a mask all
ones, a pad token at either end)? are several sequences packed into one row? Each check only
picks a shortcut or a warning; the work done afterwards depends on the answer, not on the
values themselves. A meta tensor has no values (``Tensor.item()`` fails), but MACscope's inputs
are fixed: no padding (an attention mask of ones, or none) and consecutive positions (none
given, so the model counts them from 0). So while inside ``answered_on_meta()``, each check
below that reads a meta tensor returns what it returns for those inputs on a real device,
and reads real tensors as before: the count on meta equals the count on CPU.

The checks are one table: where transformers defines each one (a module's function, or a
method of PreTrainedModel) and its answer. A model's module that imported a function by name
holds its own reference; every loaded transformers module holding the original is patched.

Imports torch; transformers is imported by calc.torch_hf before these are patched.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch


def _is_meta(value: Any) -> bool:
    return isinstance(value, torch.Tensor) and value.is_meta


@dataclass(frozen=True)
class ValueCheck:
    module: str  # where transformers defines it
    name: str  # a function, or "Class.method"
    answer: Callable[[Callable, tuple, dict], Any]  # (original, args, kwargs) -> what it returns
    why: str


def _no_packed_sequences(original, args, kwargs):
    # find_packed_sequence_indices(position_ids): None when every row is one sequence, as consecutive
    # positions are
    position_ids = args[0] if args else kwargs["position_ids"]
    return None if _is_meta(position_ids) else original(*args, **kwargs)


def _no_padding_mask(original, args, kwargs):
    # _ignore_bidirectional_mask_sdpa(padding_mask, kv_length, local_attention_size): a mask of ones
    # is answered as no mask at all
    padding_mask, *rest = args
    return original(None if _is_meta(padding_mask) else padding_mask, *rest, **kwargs)


def _no_recurrent_mask(original, args, kwargs):
    # create_recurrent_attention_mask(config, inputs_embeds, attention_mask, ...): None for a mask of
    # ones (the multiply by it would change nothing)
    attention_mask = args[2] if len(args) > 2 else kwargs.get("attention_mask")
    return None if _is_meta(attention_mask) else original(*args, **kwargs)


def _no_padding_warning(original, args, kwargs):
    # PreTrainedModel.warn_if_padding_and_no_attention_mask(self, input_ids, attention_mask): a warning
    # only, shown when a pad token is at either end
    input_ids = args[1] if len(args) > 1 else kwargs.get("input_ids")
    return None if _is_meta(input_ids) else original(*args, **kwargs)


VALUE_CHECKS = (
    ValueCheck(
        "transformers.masking_utils",
        "find_packed_sequence_indices",
        _no_packed_sequences,
        "positions that restart mark packed sequences",
    ),
    ValueCheck(
        "transformers.masking_utils",
        "_ignore_bidirectional_mask_sdpa",
        _no_padding_mask,
        "an encoder's mask of ones is dropped",
    ),
    ValueCheck(
        "transformers.masking_utils",
        "create_recurrent_attention_mask",
        _no_recurrent_mask,
        "a state-space or linear-attention layer skips a mask of ones",
    ),
    ValueCheck(
        "transformers.modeling_utils",
        "PreTrainedModel.warn_if_padding_and_no_attention_mask",
        _no_padding_warning,
        "a warning when input_ids start or end with the pad token",
    ),
)


def _answering(check: ValueCheck, original: Callable) -> Callable:
    def answered(*args, **kwargs):
        return check.answer(original, args, kwargs)

    answered.macscope_answers = original
    return answered


def _holders(check: ValueCheck, original: Callable) -> list[tuple[Any, str]]:
    """(object, attribute) of every loaded transformers module, or class, holding ``original``."""
    if "." in check.name:
        owner_name, attribute = check.name.split(".")
        return [(getattr(sys.modules[check.module], owner_name), attribute)]
    return [
        (module, check.name)
        for name, module in list(sys.modules.items())
        if name.startswith("transformers") and getattr(module, check.name, None) is original
    ]


def _original(check: ValueCheck) -> Callable | None:
    owner = sys.modules.get(check.module)
    for part in check.name.split("."):
        owner = getattr(owner, part, None)
    return owner


@contextmanager
def answered_on_meta() -> Iterator[None]:
    """Inside: each check of VALUE_CHECKS that reads a meta tensor answers as for an input
    without padding and with consecutive positions. Nested entries patch once."""
    patched: list[tuple[Any, str, Callable]] = []
    for check in VALUE_CHECKS:
        original = _original(check)
        if original is None or hasattr(original, "macscope_answers"):  # not in this version, or inside
            continue
        replacement = _answering(check, original)
        for holder, attribute in _holders(check, original):
            setattr(holder, attribute, replacement)
            patched.append((holder, attribute, original))
    try:
        yield
    finally:
        for holder, attribute, original in reversed(patched):
            setattr(holder, attribute, original)


__all__ = ["VALUE_CHECKS", "ValueCheck", "answered_on_meta"]
