"""A Hugging Face config.json from a user, checked before any library sees it.

Torch-free. JSON read with limits (calc.jsontext); custom code (``auto_map``) refused; every
size field a whole number within bounds; and the params the config describes estimated
from those fields and bounded. So an absurd file (hidden_size 10¹², -1 layers) is refused in
milliseconds, naming the field, with nothing allocated; calc.torch_hf builds the rest.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from calc.errors import SpecError, echo
from calc.jsontext import read_json

MAX_CONFIG_CHARS = 200_000  # real config.json files are a few KB; Qwen2-VL's, among the largest, ~10 KB

# ---------------------------------------------------------------------------
# bounds on the fields that set shapes, by the names transformers' config classes give them

LAYERS = ("num_hidden_layers", "n_layer", "num_layers", "n_layers")
WIDTHS = ("hidden_size", "n_embd", "d_model")
INNER_WIDTHS = ("intermediate_size", "n_inner", "ffn_dim", "d_ff", "moe_intermediate_size")
EXPERT_COUNTS = ("num_local_experts", "n_routed_experts", "num_experts")


@dataclass(frozen=True)
class SizeBound:
    names: tuple[str, ...]
    smallest: int
    largest: int  # well above any published model (Llama-3.1-405B: 126 layers, width 16,384)


SIZE_BOUNDS = (
    SizeBound(LAYERS, 1, 1024),
    SizeBound(WIDTHS, 1, 131_072),
    SizeBound((*INNER_WIDTHS, "shared_expert_intermediate_size"), 1, 1_048_576),
    SizeBound(("num_attention_heads", "num_key_value_heads", "n_head", "num_heads"), 1, 4096),
    SizeBound(
        ("head_dim", "qk_nope_head_dim", "qk_rope_head_dim", "v_head_dim", "kv_lora_rank", "q_lora_rank"),
        1,
        65_536,
    ),
    SizeBound(("vocab_size",), 1, 16_777_216),
    SizeBound(("type_vocab_size",), 0, 1_048_576),
    SizeBound(("max_position_embeddings", "n_positions", "n_ctx"), 1, 16_777_216),
    SizeBound(EXPERT_COUNTS, 1, 1024),
    SizeBound(("num_experts_per_tok", "n_shared_experts", "first_k_dense_replace"), 0, 1024),
    SizeBound(("image_size", "patch_size"), 1, 16_384),
    SizeBound(("num_channels",), 1, 1024),
    SizeBound(("projection_dim",), 1, 131_072),
)
_BOUNDS = {name: bound for bound in SIZE_BOUNDS for name in bound.names}

MAX_ESTIMATED_PARAMS = 10**13  # 10 T: five times the largest published model
MAX_LAYER_EXPERTS = 65_536  # layers x experts: the modules a build makes (DeepSeek-V3: 61 x 256)


def _first(config: dict, names: tuple[str, ...], default: int | None = None) -> int | None:
    return next((config[name] for name in names if isinstance(config.get(name), int)), default)


def estimated_params(config: dict) -> int:
    """A rough count of the params a config describes, from its size fields alone (nested
    text and vision configs added): token embeddings and head, and per layer 4·D² of attention
    and 3·D·I per expert (a gated MLP). Within a small factor of the truth, which is all a
    bound before building needs."""
    width = _first(config, WIDTHS, 0)
    layers = _first(config, LAYERS, 0)
    inner = _first(config, INNER_WIDTHS, 4 * width)
    experts = max(_first(config, EXPERT_COUNTS, 1), 1)
    vocab = config.get("vocab_size") if isinstance(config.get("vocab_size"), int) else 0
    positions = _first(config, ("max_position_embeddings", "n_positions"), 0)
    own = 2 * vocab * width + positions * width + layers * (4 * width * width + 3 * width * inner * experts)
    nested = sum(estimated_params(value) for value in config.values() if isinstance(value, dict))
    return own + nested


def _check_sizes(config: dict, where: str) -> None:
    for name, value in config.items():
        path = where + name
        if isinstance(value, dict):
            _check_sizes(value, path + ".")
            continue
        bound = _BOUNDS.get(name)
        if bound is None or value is None:  # None: the config class's default
            continue
        if type(value) is not int:
            raise SpecError(f"must be a whole number, not {echo(value)}", field=path)
        if not bound.smallest <= value <= bound.largest:
            raise SpecError(
                f"is {value:,}; it must be from {bound.smallest:,} to {bound.largest:,}", field=path
            )
    layers, experts = _first(config, LAYERS, 1), _first(config, EXPERT_COUNTS, 1)
    if layers * experts > MAX_LAYER_EXPERTS:
        raise SpecError(
            f"{layers:,} layers of {experts:,} experts is beyond the limit of {MAX_LAYER_EXPERTS:,} experts",
            field=where + next(name for name in EXPERT_COUNTS if name in config),
        )


def check_config(config: Any) -> dict:
    """A config.json's contents, checked: an object with a model_type, no custom code, every
    size field within bounds, the params it describes bounded. Returns it unchanged."""
    if not isinstance(config, dict):
        raise SpecError("a config.json must be a JSON object")
    model_type = config.get("model_type")
    if not isinstance(model_type, str) or not re.fullmatch(r"[a-z0-9_\-]{1,64}", model_type):
        raise SpecError(
            'must name a transformers architecture ("llama", "bert", ...): a config.json has one',
            field="model_type",
        )
    if "auto_map" in config:
        raise SpecError(
            "names custom code (auto_map), which MACscope never runs (no trust_remote_code); "
            "only architectures that ship with transformers are counted",
            field="auto_map",
        )
    _check_sizes(config, "")
    params = estimated_params(config)
    if params > MAX_ESTIMATED_PARAMS:
        raise SpecError(
            f"describes about {params:.2e} params (its widths x layers x experts), beyond the limit of "
            f"{MAX_ESTIMATED_PARAMS:.0e}"
        )
    return config


def read_config(text: str) -> dict:
    """A config.json's text, read with limits and checked (SpecError naming what is wrong)."""
    return check_config(read_json(text, MAX_CONFIG_CHARS))


def is_config(value: Any) -> bool:
    """Whether parsed JSON is a Hugging Face config (it names a model_type), not a stack."""
    return isinstance(value, dict) and "model_type" in value and "layers" not in value


__all__ = ["check_config", "estimated_params", "is_config", "read_config"]
