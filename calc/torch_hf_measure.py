"""Hugging Face models made ready to be measured or changed (the separable what-if): one input.

``module(source)`` is the model on the meta device, as calc.torch_measure and calc.torch_memory
take any model: called with its main input alone (token ids [batch, L], or pixels for a vision
encoder), no cache (a forward computes what calc.torch_hf.count_hf counts), a decoder given a
mask of ones as count_hf gives it, transformers' checks of input values answered on meta
(calc.torch_hf_checks). On a real device calc.torch_build.materialize builds it anew through
transformers (BUILDER_ON_DEVICE), which computes every buffer there (RoPE frequencies, position
ids) and initializes the weights, random: nothing a constructor computed is lost. A model that
needs two inputs together (CLIP: text and images) is counted, not measured.
"""

from __future__ import annotations

import functools
from contextlib import ExitStack

import torch
from torch import nn

from calc.errors import SpecError
from calc.torch_build import BUILDER_ON_DEVICE
from calc.torch_hf import (
    build,
    config_for,
    example_inputs,
    experts_by_rule,
    refused_by_transformers,
    text_config,
)
from calc.torch_hf_checks import answered_on_meta


def _without_cache(config):
    """``config`` with its key/value cache off: a forward computes what count_hf counts, no more."""
    for part in {id(config): config, id(text := text_config(config)): text}.values():
        if getattr(part, "use_cache", None):
            part.use_cache = False
    return config


def _mask_of_ones(model: nn.Module, args: tuple, kwargs: dict) -> tuple[tuple, dict]:
    """A decoder's forward given token ids alone also gets an attention mask of ones (no padding),
    as count_hf gives it: without one, transformers looks for packed sequences in the values of
    the position ids, which the meta device has not."""
    if kwargs.get("attention_mask") is None:
        ids = args[0] if args else kwargs["input_ids"]
        kwargs["attention_mask"] = torch.ones_like(ids)
    return args, kwargs


def _measurable(config, device) -> nn.Module:
    """The model of ``config`` on ``device`` whose forward takes its main input alone (token ids,
    or pixels for a vision encoder); on a real device transformers computes its buffers there
    (RoPE frequencies, position ids) and initializes its weights (random: no checkpoint)."""
    with refused_by_transformers(f"transformers cannot build this {config.model_type} config"):
        model = build(config, device)
    inputs = example_inputs(model, config, 1, 1, "meta")
    takes = set(inputs) - {"attention_mask", "use_cache"}
    if takes != {model.main_input_name}:
        raise SpecError(
            f"{config.model_type} takes {' and '.join(sorted(takes))} together: it is counted here, but "
            "measured or changed only with one input (token ids, or an image)",
            field="SOURCE",
        )
    if "attention_mask" in inputs:
        model.register_forward_pre_hook(_mask_of_ones, with_kwargs=True)
    if torch.device(device).type == "meta":  # a real device's forwards, timed, carry no patching
        _counted_ways_on_meta(model)
    return model


def _counted_ways_on_meta(model: nn.Module) -> None:
    """Each forward of ``model`` on meta (it sizes a forward's memory) runs as count_hf runs it:
    transformers' checks of input values answered (calc.torch_hf_checks), and experts by the
    routing-independent rule (torch._grouped_mm has no fp32 meta kernel; every token's top_k rows
    go through one expert's weights, the rows a real forward runs)."""
    entered: list[ExitStack] = []

    def enter(module, args):
        stack = ExitStack()
        stack.enter_context(answered_on_meta())
        stack.enter_context(experts_by_rule(module))  # the module run: forward_memory runs a copy
        entered.append(stack)

    def leave(module, args, output):
        entered.pop().close()

    model.register_forward_pre_hook(enter)
    model.register_forward_hook(leave, always_call=True)


def module(source: str | dict) -> nn.Module:
    """The model of a source on the meta device, for a measurement or a what-if: its forward
    takes its main input alone, with no cache. calc.torch_build.materialize builds it anew on a
    real device (BUILDER_ON_DEVICE), so nothing its constructor computed is lost; the memory it
    needs there is checked on meta first (calc.torch_memory)."""
    config = _without_cache(config_for(source))
    model = _measurable(config, "meta")
    setattr(model, BUILDER_ON_DEVICE, functools.partial(_measurable, config))
    return model


__all__ = ["module"]
