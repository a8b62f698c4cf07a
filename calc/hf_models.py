"""Hugging Face checkpoints as data: each one's config.json architecture values and where they
come from, shown by its usual name.

Torch-free: calc.torch_hf builds and counts them. A checkpoint here is the values of its
config.json that set shapes, copied from the file named in its ``source``; no weights,
nothing fetched. Values a count does not depend on (token ids, dropout, RoPE scaling) are
left out: the config class's defaults stand in for them. Each carries its size as its card
or paper publishes it, which a test checks our count against.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

HF_PREFIX = "hf:"  # a source naming a model type: hf:llama


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


__all__ = ["CHECKPOINTS", "HF_PREFIX", "Checkpoint", "checkpoint", "matches_published"]
