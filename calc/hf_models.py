"""Hugging Face checkpoints as data, and the checks a config.json passes before anything is built.

Torch-free: calc.torch_hf builds and counts; this module only holds public config values
and refuses what must not be built. A checkpoint here is its config.json's architecture
values (the ones that set shapes), copied from the file named in its ``source``; no weights,
nothing fetched. Values a count does not depend on (token ids, dropout, RoPE scaling) are
left out: the config class's defaults stand in for them.

A config.json from a user is checked before any library sees it: JSON read with limits
(calc.jsontext), custom code (``auto_map``) refused, every size field a whole number within
bounds, and the params it describes estimated from those fields and bounded, so that an
absurd file (hidden_size 10¹², -1 layers) is refused in milliseconds, naming the field,
with nothing allocated.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from calc.errors import SpecError, echo
from calc.jsontext import read_json

HF_PREFIX = "hf:"
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


# ---------------------------------------------------------------------------
# curated checkpoints: public config.json values, each with where they come from


@dataclass(frozen=True)
class Checkpoint:
    name: str  # its usual name
    config: dict[str, Any] = field(hash=False)  # config.json's architecture values, model_type included
    source: str  # the config.json the values are copied from
    published_params: str  # as its card or paper states it ("8.03B", "124,439,808"): a test checks ours
    published_active_params: str | None = None  # a mixture of experts: params per token
    published_source: str = ""  # where the published figure is stated, when not next to the config

    @property
    def model_type(self) -> str:
        return self.config["model_type"]


def _config_url(repo: str) -> str:
    return f"https://huggingface.co/{repo}/blob/main/config.json"


def _llama3(hidden: int, inner: int, layers: int, heads: int) -> dict[str, Any]:
    return {
        "model_type": "llama",
        "hidden_size": hidden,
        "intermediate_size": inner,
        "num_hidden_layers": layers,
        "num_attention_heads": heads,
        "num_key_value_heads": 8,
        "vocab_size": 128_256,
        "max_position_embeddings": 131_072,
        "rope_theta": 500_000.0,
        "rms_norm_eps": 1e-5,
        "tie_word_embeddings": False,
    }


CHECKPOINTS = {
    entry.name: entry
    for entry in (
        Checkpoint(
            "Llama-3.1-8B",
            _llama3(hidden=4096, inner=14_336, layers=32, heads=32),
            _config_url("meta-llama/Llama-3.1-8B"),
            "8,030,261,248",
        ),
        Checkpoint(
            "Llama-3.1-70B",
            _llama3(hidden=8192, inner=28_672, layers=80, heads=64),
            _config_url("meta-llama/Llama-3.1-70B"),
            "70.6B",
            published_source="https://huggingface.co/meta-llama/Llama-3.1-70B (model size)",
        ),
        Checkpoint(
            "Qwen2.5-7B",
            {
                "model_type": "qwen2",
                "hidden_size": 3584,
                "intermediate_size": 18_944,
                "num_hidden_layers": 28,
                "num_attention_heads": 28,
                "num_key_value_heads": 4,
                "vocab_size": 152_064,
                "max_position_embeddings": 131_072,
                "rope_theta": 1_000_000.0,
                "rms_norm_eps": 1e-6,
                "tie_word_embeddings": False,
            },
            _config_url("Qwen/Qwen2.5-7B"),
            "7.61B",
            published_source="https://huggingface.co/Qwen/Qwen2.5-7B (model card: Number of Parameters)",
        ),
        Checkpoint(
            "Qwen2.5-0.5B",
            {
                "model_type": "qwen2",
                "hidden_size": 896,
                "intermediate_size": 4864,
                "num_hidden_layers": 24,
                "num_attention_heads": 14,
                "num_key_value_heads": 2,
                "vocab_size": 151_936,
                "max_position_embeddings": 32_768,
                "rope_theta": 1_000_000.0,
                "rms_norm_eps": 1e-6,
                "tie_word_embeddings": True,
            },
            _config_url("Qwen/Qwen2.5-0.5B"),
            "0.49B",
            published_source="https://huggingface.co/Qwen/Qwen2.5-0.5B (model card: Number of Parameters)",
        ),
        Checkpoint(
            "Mistral-7B-v0.3",
            {
                "model_type": "mistral",
                "hidden_size": 4096,
                "intermediate_size": 14_336,
                "num_hidden_layers": 32,
                "num_attention_heads": 32,
                "num_key_value_heads": 8,
                "vocab_size": 32_768,
                "max_position_embeddings": 32_768,
                "rope_theta": 1_000_000.0,
                "sliding_window": None,
                "tie_word_embeddings": False,
            },
            _config_url("mistralai/Mistral-7B-v0.3"),
            "7.25B",
            published_source="https://huggingface.co/mistralai/Mistral-7B-v0.3 (model size)",
        ),
        Checkpoint(
            "Mixtral-8x7B-v0.1",
            {
                "model_type": "mixtral",
                "hidden_size": 4096,
                "intermediate_size": 14_336,
                "num_hidden_layers": 32,
                "num_attention_heads": 32,
                "num_key_value_heads": 8,
                "num_local_experts": 8,
                "num_experts_per_tok": 2,
                "vocab_size": 32_000,
                "max_position_embeddings": 32_768,
                "rope_theta": 1_000_000.0,
                "tie_word_embeddings": False,
            },
            _config_url("mistralai/Mixtral-8x7B-v0.1"),
            "46.7B",
            published_active_params="12.9B",
            published_source="https://mistral.ai/news/mixtral-of-experts (46.7B total, 12.9B per token)",
        ),
        Checkpoint(
            "Gemma-2-9B",
            {
                "model_type": "gemma2",
                "hidden_size": 3584,
                "intermediate_size": 14_336,
                "num_hidden_layers": 42,
                "num_attention_heads": 16,
                "num_key_value_heads": 8,
                "head_dim": 256,
                "vocab_size": 256_000,
                "max_position_embeddings": 8192,
                "query_pre_attn_scalar": 256,
                "sliding_window": 4096,
                "attn_logit_softcapping": 50.0,
                "final_logit_softcapping": 30.0,
                "hidden_activation": "gelu_pytorch_tanh",
            },
            _config_url("google/gemma-2-9b"),
            "9.24B",
            published_source="https://huggingface.co/google/gemma-2-9b (model size)",
        ),
        Checkpoint(
            "Phi-3-mini-4k",
            {
                "model_type": "phi3",
                "hidden_size": 3072,
                "intermediate_size": 8192,
                "num_hidden_layers": 32,
                "num_attention_heads": 32,
                "num_key_value_heads": 32,
                "vocab_size": 32_064,
                "max_position_embeddings": 4096,
                "original_max_position_embeddings": 4096,
                "rope_theta": 10_000.0,
                "sliding_window": 2047,
                "tie_word_embeddings": False,
            },
            _config_url("microsoft/Phi-3-mini-4k-instruct"),
            "3.8B",
            published_source="https://huggingface.co/microsoft/Phi-3-mini-4k-instruct (model card: 3.8B)",
        ),
        Checkpoint(
            "DeepSeek-V3",
            {
                "model_type": "deepseek_v3",
                "hidden_size": 7168,
                "intermediate_size": 18_432,
                "moe_intermediate_size": 2048,
                "num_hidden_layers": 61,
                "num_attention_heads": 128,
                "num_key_value_heads": 128,
                "n_routed_experts": 256,
                "n_shared_experts": 1,
                "num_experts_per_tok": 8,
                "first_k_dense_replace": 3,
                "n_group": 8,
                "topk_group": 4,
                "q_lora_rank": 1536,
                "kv_lora_rank": 512,
                "qk_nope_head_dim": 128,
                "qk_rope_head_dim": 64,
                "v_head_dim": 128,
                "vocab_size": 129_280,
                "max_position_embeddings": 163_840,
                "tie_word_embeddings": False,
            },
            _config_url("deepseek-ai/DeepSeek-V3"),
            # the README's 685B adds the 14B multi-token-prediction module, which transformers does not build
            "671B",
            # its "37B activated" is not given to a precision ours can be checked against: transformers'
            # model runs 37.55 B params per token, the token embedding included
            published_source="https://huggingface.co/deepseek-ai/DeepSeek-V3 (README: 671B total)",
        ),
        Checkpoint(
            "TinyLlama-1.1B",
            {
                "model_type": "llama",
                "hidden_size": 2048,
                "intermediate_size": 5632,
                "num_hidden_layers": 22,
                "num_attention_heads": 32,
                "num_key_value_heads": 4,
                "vocab_size": 32_000,
                "max_position_embeddings": 2048,
                "tie_word_embeddings": False,
            },
            _config_url("TinyLlama/TinyLlama-1.1B-intermediate-step-1431k-3T"),
            "1.1B",
        ),
        Checkpoint(
            "GPT-2",
            {
                "model_type": "gpt2",
                "n_embd": 768,
                "n_layer": 12,
                "n_head": 12,
                "n_positions": 1024,
                "vocab_size": 50_257,
            },
            _config_url("openai-community/gpt2"),
            "124,439,808",
            published_source="https://huggingface.co/openai-community/gpt2 (model size: 124M)",
        ),
        Checkpoint(
            "BERT-base-uncased",
            {
                "model_type": "bert",
                "hidden_size": 768,
                "intermediate_size": 3072,
                "num_hidden_layers": 12,
                "num_attention_heads": 12,
                "vocab_size": 30_522,
                "max_position_embeddings": 512,
                "type_vocab_size": 2,
            },
            _config_url("google-bert/bert-base-uncased"),
            "109,482,240",  # BertModel with its pooler, what AutoModel builds; the paper rounds to 110M
        ),
        Checkpoint(
            "ViT-B/16",
            {
                "model_type": "vit",
                "hidden_size": 768,
                "intermediate_size": 3072,
                "num_hidden_layers": 12,
                "num_attention_heads": 12,
                "image_size": 224,
                "patch_size": 16,
                "num_channels": 3,
            },
            _config_url("google/vit-base-patch16-224"),
            "86M",
            published_source="https://arxiv.org/abs/2010.11929 (Table 1: ViT-Base, 86M)",
        ),
        Checkpoint(
            "CLIP ViT-B/32",
            {
                "model_type": "clip",
                "projection_dim": 512,
                "text_config": {
                    "hidden_size": 512,
                    "intermediate_size": 2048,
                    "num_hidden_layers": 12,
                    "num_attention_heads": 8,
                    "vocab_size": 49_408,
                    "max_position_embeddings": 77,
                },
                "vision_config": {
                    "hidden_size": 768,
                    "intermediate_size": 3072,
                    "num_hidden_layers": 12,
                    "num_attention_heads": 12,
                    "image_size": 224,
                    "patch_size": 32,
                },
            },
            _config_url("openai/clip-vit-base-patch32"),
            "151M",
            published_source="https://huggingface.co/openai/clip-vit-base-patch32 (model size)",
        ),
    )
}


def checkpoint(name: str) -> Checkpoint:
    if name not in CHECKPOINTS:
        raise KeyError(f"no curated checkpoint named {name!r}; known: {', '.join(CHECKPOINTS)}")
    return CHECKPOINTS[name]


_SCALES = {"": 1, "K": 10**3, "M": 10**6, "B": 10**9, "T": 10**12}


def matches_published(count: int, published: str) -> bool:
    """Whether ``count`` is what ``published`` states, to the precision it is stated in:
    "124,439,808" exactly; "7.61B" within one step of its last digit (7.60 to 7.62 billion),
    since cards round (Llama-3.1-70B's 70.55 B is "70.6B") or cut (Qwen2.5-7B's 7.616 B is "7.61B")."""
    match = re.fullmatch(r"([\d,]+)(?:\.(\d+))?([KMBT]?)", published)
    if match is None:
        raise ValueError(f"not a published count: {published!r}")
    whole, decimals, scale = match.groups()
    if not scale:
        return count == int(whole.replace(",", ""))
    step = _SCALES[scale] * 10.0 ** -len(decimals or "")
    stated = float(whole.replace(",", "") + "." + (decimals or "0")) * _SCALES[scale]
    return abs(count - stated) < step


__all__ = ["CHECKPOINTS", "Checkpoint", "check_config", "checkpoint", "is_config", "read_config"]
