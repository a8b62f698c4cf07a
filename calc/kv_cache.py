"""The KV cache of a causal language model: what each layer keeps per token, and its bytes.

Torch-free. A layer caches, for every token it has seen, its keys and values:
2 × kv_heads × head_dim elements (grouped-query attention: kv_heads < heads; multi-query: 1),
or, under DeepSeek's multi-head latent attention (MLA), the compressed latent the keys and values
are expanded from, kv_lora_rank + qk_rope_head_dim elements, shared by all heads. A layer with a
sliding window W (Mistral, Gemma-2's alternate layers) keeps only the last W − 1 tokens, as
transformers' DynamicSlidingWindowLayer does: a step then attends to at most W keys, the new one
included. So, for a context of T tokens and B sequences,

    KV cache bytes = B × Σ_layers per_token_elements × min(T, W − 1) × bytes per element

which for full attention is the familiar 2 × layers × kv_heads × head_dim × T × B × bytes.
calc.torch_llm reads each layer's figures off the real cache of a forward (DynamicCache), so
GQA, MQA, windows and MLA come from the implementation, not from config field names.
"""

from __future__ import annotations

from dataclasses import dataclass

from calc.errors import SpecError

# A quantized cache (int8, fp8) stores one byte per element; its scales are not counted here.
KV_DTYPE_BYTES = {"fp32": 4, "bf16": 2, "fp16": 2, "int8": 1, "fp8": 1}


def kv_dtype_bytes(kv_dtype: str) -> int:
    if kv_dtype not in KV_DTYPE_BYTES:
        raise SpecError(f"must be one of {', '.join(KV_DTYPE_BYTES)}, not {kv_dtype!r}", field="kv_dtype")
    return KV_DTYPE_BYTES[kv_dtype]


@dataclass(frozen=True)
class CacheLayer:
    elements_per_token: int  # keys and values together (or MLA's latent), one sequence
    window: int | None = None  # a sliding window W: at most W − 1 past tokens are kept

    def stored_tokens(self, context: int) -> int:
        """Tokens this layer holds after ``context`` tokens have been seen."""
        return context if self.window is None else min(context, self.window - 1)

    def keys_at_step(self, past: int) -> int:
        """Keys one decode step attends to, with ``past`` tokens seen before it: those kept, and its own."""
        return self.stored_tokens(past) + 1


@dataclass(frozen=True)
class CacheGeometry:
    layers: tuple[CacheLayer, ...]
    latent: bool = False  # MLA: the cache holds the compressed latent, not K and V

    def elements_per_token(self) -> int:
        """Cache elements one token adds across all layers, before any window caps it."""
        return sum(layer.elements_per_token for layer in self.layers)

    def bytes_per_token(self, kv_dtype: str = "bf16") -> int:
        """Bytes one token of one sequence adds to the cache, windows aside."""
        return self.elements_per_token() * kv_dtype_bytes(kv_dtype)

    def elements(self, context: int, batch: int = 1) -> int:
        return batch * sum(layer.elements_per_token * layer.stored_tokens(context) for layer in self.layers)

    def cache_bytes(self, context: int, batch: int = 1, kv_dtype: str = "bf16") -> int:
        """Bytes of the whole cache after ``context`` tokens of ``batch`` sequences."""
        return self.elements(context, batch) * kv_dtype_bytes(kv_dtype)

    @property
    def windows(self) -> tuple[int | None, ...]:
        return tuple(layer.window for layer in self.layers)


__all__ = ["KV_DTYPE_BYTES", "CacheGeometry", "CacheLayer", "kv_dtype_bytes"]
