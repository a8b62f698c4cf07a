"""A causal LM counted per phase on meta: prefill forwards and decode steps with a real KV cache.

The model is built as calc.torch_hf builds it (config only, offline, eager attention, no weights)
and run four times under calc.torch_count's counter (calc.llm.PREFILL_FIT, DECODE_FIT): two
prefills, as transformers' generate() runs them (logits for the last position only), and two
decode steps of one new token against a DynamicCache that the second prefill filled, as
generate() continues. A mixture of experts is counted by the routing-independent rule of
calc.torch_hf. The cache's geometry is read off the cache itself: each layer's K and V (or MLA
latent) elements per token, and its sliding window. What is counted is a reduced copy with the
first layer and one layer of each kind after it, each of the model's layers then given its kind's
rows (calc.torch_llm_layers: the same counts; Llama-3.1-70B's 80 layers cost 2 a forward).
"""

from __future__ import annotations

import contextlib
import inspect
from collections import Counter
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from calc.analyze import Report
from calc.errors import SpecError
from calc.kv_cache import CacheGeometry, CacheLayer
from calc.llm import DECODE_FIT, PREFILL_FIT, LlmCounts, fit
from calc.torch_count import count_with
from calc.torch_llm_layers import (
    LayerCounter,
    cache_layer_kinds,
    layer_plan,
    reduced_config,
    repeat_cache,
    repeat_paths,
    repeat_report,
    same_kinds,
)


def _is_causal_lm(config, model: nn.Module) -> bool:
    from calc.torch_hf import auto_class_for, load_transformers

    causal = auto_class_for(config) is load_transformers().AutoModelForCausalLM
    return causal and "past_key_values" in inspect.signature(model.forward).parameters


def empty_cache(model: nn.Module):
    from transformers import DynamicCache

    return DynamicCache(config=model.config)


def prefill_inputs(
    model: nn.Module, prompt: int, batch: int = 1, use_cache: bool = False, cache=None
) -> dict[str, Any]:
    """A prefill of ``prompt`` token ids per sequence, as generate() runs it: an attention mask of
    ones (no padding) and logits for the last position only; ``cache`` (a DynamicCache) is filled."""
    device = next(model.parameters()).device
    inputs: dict[str, Any] = {
        "input_ids": torch.zeros((batch, prompt), dtype=torch.int64, device=device),
        "attention_mask": torch.ones((batch, prompt), dtype=torch.int64, device=device),
        "use_cache": use_cache or cache is not None,
    }
    if cache is not None:
        inputs["past_key_values"] = cache
    if "logits_to_keep" in inspect.signature(model.forward).parameters:
        inputs["logits_to_keep"] = 1
    return inputs


def decode_inputs(model: nn.Module, cache, batch: int = 1) -> dict[str, Any]:
    """One decode step: a new token per sequence against ``cache`` (which it extends by one)."""
    device = next(model.parameters()).device
    past = cache.get_seq_length()
    inputs: dict[str, Any] = {
        "input_ids": torch.zeros((batch, 1), dtype=torch.int64, device=device),
        "attention_mask": torch.ones((batch, past + 1), dtype=torch.int64, device=device),
        "past_key_values": cache,
        "use_cache": True,
    }
    if "logits_to_keep" in inspect.signature(model.forward).parameters:
        inputs["logits_to_keep"] = 1
    return inputs


def fill_cache(model: nn.Module, tokens: int, batch: int = 1):
    """A DynamicCache after a prefill of ``tokens`` (on the model's device; meta allocates nothing)."""
    with torch.no_grad():
        return model(**prefill_inputs(model, tokens, batch, use_cache=True)).past_key_values


def cache_geometry(cache, batch: int = 1) -> CacheGeometry:
    """Each layer's cached elements per token, and window, read off a filled DynamicCache."""
    layers = []
    for index, layer in enumerate(cache.layers):
        keys, values = getattr(layer, "keys", None), getattr(layer, "values", None)
        if not isinstance(keys, torch.Tensor) or not isinstance(values, torch.Tensor):
            raise SpecError(
                f"its cache layer {index} ({type(layer).__name__}) holds no keys and values; MACscope "
                "models the KV cache of attention layers only",
                field="model_type",
            )
        tokens = keys.shape[-2]
        elements = (keys.numel() + values.numel()) // (batch * tokens)
        window = int(layer.sliding_window) if getattr(layer, "is_sliding", False) else None
        layers.append(CacheLayer(elements, window))
    # MLA keeps one latent "head" whose depth is not a key's: DeepSeek's kv_lora_rank + rope dims
    latent = bool(layers) and all(
        layer.keys.shape[-3] == 1 and layer.keys.shape[-1] != layer.values.shape[-1] for layer in cache.layers
    )
    return CacheGeometry(tuple(layers), latent)


def _quantizable(model: nn.Module) -> dict[str, int]:
    """Block-matrix params per module path: 2-D and larger params of modules other than the token
    embedding and the LM head (what weight-only quantization stores as int8 or int4)."""
    kept = {id(model.get_input_embeddings()), id(model.get_output_embeddings())}
    counts = {}
    for name, module in model.named_modules():
        if id(module) in kept or isinstance(module, nn.Embedding):
            continue
        own = sum(parameter.numel() for parameter in module.parameters(recurse=False) if parameter.dim() >= 2)
        if own:
            counts[name] = own
    return counts


def count_llm(source: str | dict, name: str | None = None) -> LlmCounts:
    """Closed forms of a causal LM (a model type, a curated checkpoint, a config.json's contents)
    from four counts on meta; SpecError for a model that is not a decoder-only LM with a KV cache."""
    from calc.torch_hf import config_for

    return count_config(config_for(source), name or (source if isinstance(source, str) else None))


@dataclass
class _Passes:
    """The four counts of one model (calc.llm's PREFILL_FIT and DECODE_FIT) and what they found."""

    prefill: tuple[Report, Report]
    decode: tuple[Report, Report]
    unsupported: tuple[Counter[tuple[str, str]], ...]  # per count: (module path, op) -> runs
    cache: CacheGeometry
    top_k: dict[str, int]  # experts module path -> experts each token runs through


def _count(model: nn.Module, tokens: int, inputs: dict[str, Any]) -> tuple[Report, Counter[tuple[str, str]]]:
    """A Report of one forward of ``tokens`` new tokens, and its unsupported ops by module."""
    report, counter = count_with(LayerCounter, model, (tokens,), example_inputs=inputs)
    return report, counter.unsupported.by_module


def _count_passes(model: nn.Module) -> _Passes:
    from calc.torch_hf import experts_by_rule

    with experts_by_rule(model) as experts:
        # the second prefill fills the cache the decode steps extend (one forward fewer)
        cache = empty_cache(model)
        prefill = [
            _count(model, prompt, prefill_inputs(model, prompt, cache=kept))
            for prompt, kept in zip(PREFILL_FIT, (None, cache), strict=True)
        ]
        geometry = cache_geometry(cache)
        # each step extends the cache by one: DECODE_FIT's steps in turn
        decode = [_count(model, 1, decode_inputs(model, cache)) for _ in DECODE_FIT]
        top_k = {id(module): module._macscope_top_k for module in experts}
    counted = (*prefill, *decode)
    return _Passes(
        (prefill[0][0], prefill[1][0]),
        (decode[0][0], decode[1][0]),
        tuple(unsupported for _, unsupported in counted),
        geometry,
        {path: top_k[id(module)] for path, module in model.named_modules() if id(module) in top_k},
    )


def count_by_layer_kinds(config, model: nn.Module) -> _Passes | None:
    """The passes of ``model`` from a reduced copy with one layer of each kind (calc.torch_llm_layers),
    its layers' rows repeated; None where the plan does not hold."""
    from calc.torch_hf import build, experts_by_rule

    plan = layer_plan(config, model)
    if plan is None:
        return None
    reduced, checked = (reduced_config(config, layers) for layers in (plan.kept, plan.kept + 1))
    reduced_model, checked_model = build(reduced, "meta"), build(checked, "meta")
    full_cache = cache_layer_kinds(empty_cache(model))
    reduced_cache = cache_layer_kinds(empty_cache(reduced_model))
    if (
        not same_kinds(plan, reduced, reduced_model)
        or not same_kinds(plan, checked, checked_model)
        or full_cache != tuple(reduced_cache[kept] for kept in plan.representative)
    ):
        return None
    passes = _count_passes(reduced_model)
    # one layer more counts as the reduced count repeated: nothing outside the layers grows with them
    with experts_by_rule(checked_model):
        expected = repeat_report(passes.prefill[0], passes.unsupported[0], plan, plan.kept + 1)
        inputs = prefill_inputs(checked_model, PREFILL_FIT[0])
        if expected is None or _count(checked_model, PREFILL_FIT[0], inputs)[0] != expected:
            return None
    layers = len(plan.representative)
    reports = [
        repeat_report(report, unsupported, plan, layers)
        for report, unsupported in zip((*passes.prefill, *passes.decode), passes.unsupported, strict=True)
    ]
    if None in reports:
        return None
    return _Passes(
        (reports[0], reports[1]),
        (reports[2], reports[3]),
        (),
        repeat_cache(passes.cache, plan),
        repeat_paths(passes.top_k, plan),
    )


def count_config(config, name: str | None = None, by_layer_kinds: bool = True) -> LlmCounts:
    """count_llm of a transformers config (a reduced copy's, for a measurement); every layer
    counted, not each kind once and repeated, without ``by_layer_kinds`` (the same counts, slower)."""
    from calc.torch_hf import active_params, build, max_positions, refused_by_transformers

    with refused_by_transformers(f"transformers cannot build or run this {config.model_type} config"):
        model = build(config, "meta")
        if not _is_causal_lm(config, model) or getattr(config, "is_encoder_decoder", False):
            raise SpecError(
                f"{config.model_type} is not a decoder-only language model with a KV cache",
                field="model_type",
            )
        passes = None
        # a reduced copy transformers refuses: the whole model then says why, or counts
        with contextlib.suppress(Exception):
            passes = count_by_layer_kinds(config, model) if by_layer_kinds else None
        passes = passes or _count_passes(model)
    geometry = passes.cache
    small = [layer.window for layer in geometry.layers if layer.window and layer.window < DECODE_FIT[1] + 2]
    if small:
        raise SpecError(
            f"a sliding window of {min(small)} tokens is too small to model", field="sliding_window"
        )
    modules = dict(model.named_modules())
    experts = [modules[path] for path in passes.top_k]
    for path, module in zip(passes.top_k, experts, strict=True):
        module._macscope_top_k = passes.top_k[path]
    expert_modules = {
        path: (next(modules[path].parameters(recurse=False)).shape[0], top_k)
        for path, top_k in passes.top_k.items()
    }
    rows = fit(passes.prefill, passes.decode, geometry, _quantizable(model), expert_modules)
    unsupported = dict(passes.prefill[0].unsupported)
    for report in (passes.prefill[1], *passes.decode):
        for op, runs in report.unsupported:
            unsupported[op] = max(unsupported.get(op, 0), runs)
    return LlmCounts(
        name or config.model_type,
        config.model_type,
        sum(parameter.numel() for parameter in model.parameters()),
        active_params(model, experts) if experts else None,
        max_positions(config),
        geometry,
        rows,
        tuple(sorted(unsupported.items())),
    )


__all__ = [
    "cache_geometry",
    "count_by_layer_kinds",
    "count_config",
    "count_llm",
    "decode_inputs",
    "fill_cache",
    "prefill_inputs",
]
