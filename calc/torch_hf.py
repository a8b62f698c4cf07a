"""Hugging Face transformers models, built from their config alone and counted.

A source is a model type (``"llama"``, from ``hf:llama``: the config class's defaults,
which document a reference checkpoint), a curated checkpoint's name (calc.hf_models), or a
config.json's contents. transformers builds the model from the config: no weights, no hub,
never remote code (offline mode is forced before transformers is imported; a config with
``auto_map`` never gets here). Decoder-only language models are built as
AutoModelForCausalLM (their LM head included), encoders (BERT, ViT, CLIP, ...) as AutoModel.

Mixture of experts. transformers 5 runs experts through torch._grouped_mm, which fails on
meta in fp32 and which FlopCounterMode miscounts; and which experts run depends on the
router's choice, that is, on values meta tensors do not have. The work does not: every
token goes to exactly top_k experts of one shape. So while counting, each experts module
runs every token's top_k rows through one expert's weights: expert MACs = tokens × top_k ×
one expert's MACs, whatever the router picks, the same on meta, CPU and CUDA.

Checks of input values. Some models look at their input's values first (any padding? packed
sequences? a mask of ones?); meta tensors have none. MACscope's inputs are fixed (no padding,
consecutive positions), so calc.torch_hf_checks answers those checks on meta as a real device
would. The few whose own forward reads values (XLM's sequence lengths, Reformer's positions,
Longformer's global attention) are refused on meta with a message that sends them to the CPU.
Measuring a model (one input, built anew on the device): calc.torch_hf_measure.
"""

from __future__ import annotations

import dataclasses
import difflib
import inspect
import os
import types
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from typing import Any

import torch
from torch import nn

from calc import hf_config, hf_models
from calc.analyze import Report
from calc.errors import SpecError, cut
from calc.torch_hf_checks import answered_on_meta

# Read by huggingface_hub and transformers when they are imported: no request ever leaves.
OFFLINE_ENVIRONMENT = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
DEFAULT_SEQ_LEN = 128
MAX_SEQ_LEN = 1_048_576
MAX_BATCH = 65_536


def load_transformers():
    os.environ.update(OFFLINE_ENVIRONMENT)
    import transformers

    return transformers


@cache
def _auto_mappings() -> tuple[dict[str, str], frozenset[str]]:
    """(model type -> its causal LM class) for decoder-only LMs; the model types built as encoders.
    By transformers' own task mappings: an encoder has a masked-LM or an image-classification head
    (BERT also has a causal one, so encoders are taken first); encoder-decoders (BART, T5) are neither."""
    load_transformers()
    from transformers.models.auto import modeling_auto as auto

    encoder_decoders = set(auto.MODEL_FOR_SEQ_TO_SEQ_CAUSAL_LM_MAPPING_NAMES)
    encoders = (
        set(auto.MODEL_FOR_MASKED_LM_MAPPING_NAMES)
        | set(auto.MODEL_FOR_IMAGE_CLASSIFICATION_MAPPING_NAMES)
        | set(auto.MODEL_FOR_ZERO_SHOT_IMAGE_CLASSIFICATION_MAPPING_NAMES)
    ) & set(auto.MODEL_MAPPING_NAMES) - encoder_decoders
    causal = {
        name: cls
        for name, cls in auto.MODEL_FOR_CAUSAL_LM_MAPPING_NAMES.items()
        if name not in encoders and name not in encoder_decoders
    }
    return causal, frozenset(encoders)


def supported_model_types() -> tuple[str, ...]:
    """The model types ``hf:`` builds, by transformers' task mappings (a few whose config turns out
    to be an encoder-decoder, as MusicGen's, are refused when built; and some default configs are
    incomplete: benchmarks/bench_hf.py --all counts them all)."""
    causal, encoders = _auto_mappings()
    return tuple(sorted(set(causal) | encoders))


def _supported_text() -> str:
    return (
        "decoder-only language models (AutoModelForCausalLM: llama, mistral, gpt2, ...) and encoders "
        "(AutoModel: bert, vit, clip, ...); `python -m calc zoo --source hf` lists them"
    )


def resolve(source: str | dict) -> tuple[str, dict[str, Any]]:
    """(model type, the config values that override its defaults) of a source."""
    if isinstance(source, dict):
        config = hf_config.check_config(source)
        return config["model_type"], {key: value for key, value in config.items() if key != "model_type"}
    if source in hf_models.CHECKPOINTS:
        config = hf_models.CHECKPOINTS[source].config
        return config["model_type"], {key: value for key, value in config.items() if key != "model_type"}
    return source.removeprefix(hf_models.HF_PREFIX), {}


def config_for(source: str | dict):
    """The transformers config of a source; SpecError naming the model type it does not know."""
    model_type, overrides = resolve(source)
    transformers = load_transformers()
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING_NAMES

    if model_type not in CONFIG_MAPPING_NAMES:
        known = (*supported_model_types(), *hf_models.CHECKPOINTS)
        close = difflib.get_close_matches(model_type, known, n=5)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise SpecError(f"transformers has no architecture {model_type!r}{hint}", field="model_type")
    with refused_by_transformers(f"transformers refuses this {model_type} config"):
        return transformers.AutoConfig.for_model(model_type, **overrides)


@contextmanager
def refused_by_transformers(what: str) -> Iterator[None]:
    """Whatever transformers raises on a user's config values (its own validation error types,
    a KeyError for an unknown activation, a shape mismatch in the forward) as a SpecError."""
    try:
        yield
    except (SpecError, MemoryError):
        raise
    except Exception as error:  # the config is the user's: any failure is its refusal
        reason = " ".join(str(error).split()) or type(error).__name__
        reason = f"no {reason} is known" if isinstance(error, KeyError) else reason  # an activation's name
        if "on meta tensors" in reason:  # Tensor.item(): a check of the input's values (any padding?)
            reason = "it reads its input's values as it runs, which the meta device has not; count it on cpu"
        raise SpecError(f"{what}: {cut(reason, 200)}") from None


def auto_class_for(config):
    causal, encoders = _auto_mappings()
    transformers = load_transformers()
    encoder_decoder = getattr(config, "is_encoder_decoder", False)
    if config.model_type in encoders and not encoder_decoder:
        return transformers.AutoModel
    if config.model_type in causal and not encoder_decoder:
        return transformers.AutoModelForCausalLM
    raise SpecError(
        f"{config.model_type} is not counted: MACscope counts {_supported_text()}", field="model_type"
    )


def build(config, device: str | torch.device = "meta") -> nn.Module:
    """The model of ``config`` in eval mode, built directly on ``device``: on meta nothing is
    allocated and transformers skips its initialization (DeepSeek-V3's 671 B params cost
    nothing); on a real device transformers initializes it, constructor-computed buffers
    (RoPE frequencies, position ids) included. Eager attention: explicit matmuls, the same
    ops on every device."""
    auto_class = auto_class_for(config)
    with torch.device(device):
        return auto_class.from_config(config, attn_implementation="eager").eval()


def _is_experts(module: nn.Module) -> bool:
    """An experts module of transformers 5 (decorated by use_experts_implementation)."""
    return hasattr(module, "has_gate") and hasattr(module, "down_proj") and hasattr(module, "_apply_gate")


def _one_expert_linear(rows: torch.Tensor, weights: torch.Tensor, biases, transposed: bool) -> torch.Tensor:
    # [T·k, out] = [T·k, in] · expert 0's [in, out] (stored [out, in] unless transposed)
    weight, bias = weights[0], None if biases is None else biases[0]
    if transposed:
        return rows @ weight if bias is None else torch.addmm(bias, rows, weight)
    return nn.functional.linear(rows, weight, bias)


def _experts_by_rule(self, hidden_states, top_k_index, top_k_weights, *args, **kwargs):
    """What an experts module computes, with every token's top_k rows through one expert."""
    tokens, hidden = hidden_states.shape
    top_k = top_k_index.shape[-1]
    self._macscope_top_k = top_k
    rows = hidden_states[:, None, :].expand(tokens, top_k, hidden).reshape(tokens * top_k, hidden)
    up = self.gate_up_proj if self.has_gate else self.up_proj
    up_bias = (self.gate_up_proj_bias if self.has_gate else self.up_proj_bias) if self.has_bias else None
    projected = _one_expert_linear(rows, up, up_bias, self.is_transposed)
    projected = self._apply_gate(projected) if self.has_gate else self.act_fn(projected)
    down_bias = self.down_proj_bias if self.has_bias else None
    projected = _one_expert_linear(projected, self.down_proj, down_bias, self.is_transposed)
    if self.has_post_expert_norm:
        projected = self.post_expert_norm(projected)
    weighted = projected * top_k_weights.reshape(tokens * top_k, 1).to(projected.dtype)
    return weighted.view(tokens, top_k, hidden).sum(dim=1).to(hidden_states.dtype)


@contextmanager
def experts_by_rule(model: nn.Module) -> Iterator[list[nn.Module]]:
    """Every experts module of ``model`` counted by the routing-independent rule while inside."""
    experts = [module for module in model.modules() if _is_experts(module)]
    for module in experts:
        module.forward = types.MethodType(_experts_by_rule, module)
    try:
        yield experts
    finally:
        for module in experts:
            del module.forward


def active_params(model: nn.Module, experts: list[nn.Module]) -> int:
    """The params one token runs through: all, less each experts module's unchosen experts
    (each of its params holds all experts along its first axis)."""
    total = sum(parameter.numel() for parameter in model.parameters())
    idle = 0
    for module in experts:
        own = list(module.parameters(recurse=False))
        count, top_k = own[0].shape[0], module._macscope_top_k
        idle += sum(parameter.numel() for parameter in own) * (count - top_k) // count
    return total - idle


def text_config(config):
    """A config's text part (a CLIP's text_config); the top level's where there are two (MusicGen's
    encoder and decoder) or none."""
    try:
        return config.get_text_config()
    except ValueError:
        return config


def max_positions(config) -> int | None:
    text = text_config(config)
    for name in ("n_positions", "max_position_embeddings"):
        value = getattr(text, name, None)
        if isinstance(value, int):
            return value
    return None


IMAGE_SIDE, IMAGE_CHANNELS = 224, 3  # a vision config that names neither (ResNet-like ones): ImageNet's


def example_inputs(model: nn.Module, config, seq_len: int, batch: int, device) -> dict[str, torch.Tensor]:
    """The inputs a forward takes: token ids [batch, seq_len] (int64) and, for a decoder, an
    attention mask of ones (no padding); an encoder that sees images (ViT, CLIP) also gets
    pixels [batch, C, H, W] at its config's size."""
    names = inspect.signature(model.forward).parameters
    decoder = auto_class_for(config) is load_transformers().AutoModelForCausalLM
    inputs: dict[str, Any] = {}
    if "input_ids" in names:
        inputs["input_ids"] = torch.zeros((batch, seq_len), dtype=torch.int64, device=device)
        if decoder:
            # an encoder is given none: transformers reads a mask of ones as no mask, and its check of
            # the values (mask.all()) cannot run on meta
            inputs["attention_mask"] = torch.ones((batch, seq_len), dtype=torch.int64, device=device)
            inputs["use_cache"] = False
    if "pixel_values" in names and not decoder:
        inputs["pixel_values"] = torch.zeros((batch, *image_shape(config)), device=device)
    return inputs


def image_shape(config) -> tuple[int, int, int]:
    """One image [C, H, W] at a vision config's size (its vision_config's, in a CLIP)."""
    vision = getattr(config, "vision_config", config)
    side = getattr(vision, "image_size", IMAGE_SIDE)
    height, width = (side, side) if isinstance(side, int) else tuple(side)
    return getattr(vision, "num_channels", IMAGE_CHANNELS), height, width


def image_input(model_type: str) -> tuple[int, int, int] | None:
    """One image at ``model_type``'s config defaults when it is an encoder whose main input is an
    image (its model class's main_input_name is "pixel_values"); None when it takes token ids, or
    transformers does not know it. Imports that encoder's model code."""
    _, encoders = _auto_mappings()
    if model_type not in encoders:
        return None
    transformers = load_transformers()
    from transformers.models.auto.modeling_auto import MODEL_MAPPING

    try:
        config = transformers.AutoConfig.for_model(model_type)
        model_class = MODEL_MAPPING[type(config)]
    except Exception:  # its code does not import here: counting it says why
        return None
    if isinstance(model_class, tuple):  # several classes for one config: the first is the default
        model_class = model_class[0]
    if getattr(model_class, "main_input_name", None) != "pixel_values":
        return None
    return image_shape(config)


def _sample_shape(inputs: dict[str, torch.Tensor]) -> tuple[int, ...]:
    main = inputs.get("input_ids", inputs.get("pixel_values"))
    return tuple(main.shape[1:])


def count_hf(
    source: str | dict, seq_len: int | None = None, batch: int = 1, dtype: str = "fp32", device: str = "meta"
) -> Report:
    """The Report of a Hugging Face model (a model type, a curated checkpoint's name, or a
    config.json's contents) on ``batch`` sequences of ``seq_len`` token ids (default: 128, or
    fewer if the model has fewer positions, as CLIP's 77); a vision model takes images of its
    config's size. MoE models carry ``active_params``."""
    from calc.torch_count import count_module

    config = config_for(source)
    limit = max_positions(config)
    if seq_len is None:
        seq_len = min(DEFAULT_SEQ_LEN, limit or DEFAULT_SEQ_LEN)
    if type(batch) is not int or not 1 <= batch <= MAX_BATCH:
        raise SpecError(f"must be a whole number from 1 to {MAX_BATCH:,}, not {batch!r}", field="batch")
    if type(seq_len) is not int or not 1 <= seq_len <= MAX_SEQ_LEN:
        raise SpecError(f"must be a whole number from 1 to {MAX_SEQ_LEN:,}, not {seq_len!r}", field="seq_len")
    if limit is not None and seq_len > limit:
        raise SpecError(
            f"{seq_len:,} tokens are more than the {limit:,} positions {config.model_type} is configured for",
            field="seq_len",
        )
    if torch.device(device).type != "meta":
        _check_weights_fit(config, device)
    with refused_by_transformers(f"transformers cannot build or run this {config.model_type} config"):
        model = build(config, device)
        inputs = example_inputs(model, config, seq_len, batch, device)
        with experts_by_rule(model) as experts, answered_on_meta():
            report = count_module(
                model, _sample_shape(inputs), batch=batch, dtype=dtype, device=device, example_inputs=inputs
            )
    return dataclasses.replace(report, active_params=active_params(model, experts)) if experts else report


def _check_weights_fit(config, device: str) -> None:
    """Refuse, before building on a real device, weights beyond its measurement budget."""
    from calc.torch_memory import WEIGHT_COPIES, memory_budget_bytes
    from calc.units import si_bytes

    on_meta = build(config, "meta")
    weight_bytes = 4 * sum(tensor.numel() for tensor in (*on_meta.parameters(), *on_meta.buffers()))
    budget = memory_budget_bytes(str(device))
    if WEIGHT_COPIES * weight_bytes > budget:
        raise SpecError(
            f"its fp32 weights need {si_bytes(weight_bytes)}, twice that to run, beyond the "
            f"{si_bytes(budget)} a count on {device} may use; count on --device meta (nothing is allocated)",
            field="device",
        )


__all__ = ["OFFLINE_ENVIRONMENT", "build", "config_for", "count_hf", "supported_model_types"]
