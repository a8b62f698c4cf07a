"""Why decode is memory-bound, from a checkpoint's config.json values alone: torch-free, so that
the Concepts page can say it without building a model. The LLM page counts the same from the
real module (calc.torch_llm); this is the textbook closed form it refines.

A decode step makes one token per sequence: it multiplies every weight once (a multiply-add,
2 FLOPs per parameter; the attention over the cache adds 4 × layers × heads × head_dim FLOPs per
cached token, small beside it at modest contexts) and reads every weight and the whole KV cache
from memory. For N params stored in b bytes each, a KV cache of K bytes per sequence and B
sequences:

    intensity ≈ 2 N B / (N b + B K)  FLOPs per byte,   ≈ 2 / b = 1 at bf16 and B = 1,

against a GPU's ridge point (peak ÷ bandwidth) in the hundreds. B sequences share the weight
reads, so the intensity reaches the ridge R at B = R N b / (2 N − R K), where 2 N > R K.

Params of a Llama-style decoder (llama, mistral: no biases), with D = hidden_size,
I = intermediate_size, L = layers, H = heads, KV = key-value heads, d = head_dim, V = vocab:

    N = V D (embeddings) + V D (LM head, unless tied) + D (final norm)
        + L × (D H d + 2 D KV d + H d D  (q, k, v, o)  +  3 D I  (gated MLP)  +  2 D  (norms))
"""

from __future__ import annotations

from dataclasses import dataclass

from calc.errors import SpecError
from calc.hardware import Hardware
from calc.hf_models import CHECKPOINTS
from calc.kv_cache import CacheGeometry, CacheLayer
from calc.llm_weights import activation_bytes

LLAMA_STYLE = ("llama", "mistral")  # the same block, no biases; Mistral adds a sliding window
FLOPS_PER_PARAM = 2  # one multiply-add per weight per token


def _size(config: dict, name: str) -> int:
    value = config.get(name)
    if type(value) is not int or value < 1:
        raise SpecError(f"must be a whole number above 0, got {value!r}", field=name)
    return value


def _head_dim(config: dict) -> int:
    if "head_dim" in config:
        return _size(config, "head_dim")
    return _size(config, "hidden_size") // _size(config, "num_attention_heads")


def llama_params(config: dict) -> int:
    """N of a Llama-style decoder's config (the module docstring's formula)."""
    if config.get("model_type") not in LLAMA_STYLE:
        raise SpecError(
            f"the closed form covers {', '.join(LLAMA_STYLE)}, not {config.get('model_type')!r}",
            field="model_type",
        )
    width, inner = _size(config, "hidden_size"), _size(config, "intermediate_size")
    layers, heads = _size(config, "num_hidden_layers"), _size(config, "num_attention_heads")
    kv_heads = _size(config, "num_key_value_heads") if "num_key_value_heads" in config else heads
    vocab, depth = _size(config, "vocab_size"), _head_dim(config)
    attention = width * heads * depth + 2 * width * kv_heads * depth + heads * depth * width
    block = attention + 3 * width * inner + 2 * width
    head = 0 if config.get("tie_word_embeddings", False) else vocab * width
    return vocab * width + head + width + layers * block


def llama_cache(config: dict) -> CacheGeometry:
    """Keys and values, 2 × KV × d per token and layer, capped by the config's sliding window."""
    heads = _size(config, "num_attention_heads")
    kv_heads = _size(config, "num_key_value_heads") if "num_key_value_heads" in config else heads
    window = config.get("sliding_window") if type(config.get("sliding_window")) is int else None
    layer = CacheLayer(2 * kv_heads * _head_dim(config), window)
    return CacheGeometry((layer,) * _size(config, "num_hidden_layers"))


@dataclass(frozen=True)
class DecodeBound:
    model: str
    device: str
    dtype: str  # weights, KV cache and arithmetic alike
    context: int  # tokens in the cache
    batch: int
    params: int
    weight_bytes: int
    kv_cache_bytes: int  # all ``batch`` sequences
    flops: int  # ≈ 2 N B
    peak_flops_per_s: float
    bandwidth_bytes_per_s: float
    kv_bytes_per_sequence: int

    @property
    def bytes_per_weight(self) -> int:
        return self.weight_bytes // self.params

    @property
    def bytes(self) -> int:
        return self.weight_bytes + self.kv_cache_bytes

    @property
    def intensity(self) -> float:
        """FLOPs per byte read, ≈ 2 N B / (N b + B K)."""
        return self.flops / self.bytes

    @property
    def ridge_flops_per_byte(self) -> float:
        return self.peak_flops_per_s / self.bandwidth_bytes_per_s

    @property
    def memory_seconds(self) -> float:
        return self.bytes / self.bandwidth_bytes_per_s

    @property
    def compute_seconds(self) -> float:
        return self.flops / self.peak_flops_per_s

    @property
    def batch_at_ridge(self) -> float | None:
        """B where the intensity reaches the ridge, R N b / (2 N − R K); None if it never does."""
        ridge, weights, kv = self.ridge_flops_per_byte, self.weight_bytes, self.kv_bytes_per_sequence
        flops_per_sequence = FLOPS_PER_PARAM * self.params
        if flops_per_sequence <= ridge * kv:
            return None
        return ridge * weights / (flops_per_sequence - ridge * kv)


def decode_bound(
    checkpoint: str, device: Hardware, context: int, batch: int = 1, dtype: str = "bf16"
) -> DecodeBound:
    """One decode step of a curated Llama-style checkpoint on ``device``, everything in ``dtype``."""
    if checkpoint not in CHECKPOINTS:
        raise SpecError(f"no curated checkpoint named {checkpoint!r}", field="checkpoint")
    config = CHECKPOINTS[checkpoint].config
    params, width = llama_params(config), activation_bytes(dtype)
    cache = llama_cache(config)
    return DecodeBound(
        checkpoint,
        device.name,
        dtype,
        context,
        batch,
        params,
        params * width,
        cache.cache_bytes(context, batch, dtype),
        FLOPS_PER_PARAM * params * batch,
        device.peak(dtype),
        device.bandwidth_bytes_per_s,
        cache.cache_bytes(context, 1, dtype),
    )


__all__ = ["DecodeBound", "decode_bound", "llama_cache", "llama_params"]
