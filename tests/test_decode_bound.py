"""calc.decode_bound: the closed form the Concepts page explains decode with. Its params and KV
bytes per token against the real module counted on meta (torch as the oracle, tiny configs) and
against a published size; its intensity and ridge written as arithmetic."""

from __future__ import annotations

import math

import pytest

from calc import hardware as hw
from calc.decode_bound import decode_bound, llama_cache, llama_params
from calc.errors import SpecError
from calc.hf_models import CHECKPOINTS
from calc.llm_store import counted

A100 = hw.hardware("NVIDIA A100 80GB SXM")
TINY = {
    "model_type": "llama",
    "hidden_size": 64,
    "intermediate_size": 96,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "vocab_size": 256,
    "max_position_embeddings": 512,
}


@pytest.mark.parametrize(
    "config",
    [
        pytest.param(TINY, id="llama-gqa"),
        pytest.param({**TINY, "num_key_value_heads": 4}, id="llama-mha"),
        pytest.param({**TINY, "tie_word_embeddings": True}, id="llama-tied"),
        pytest.param({**TINY, "head_dim": 32}, id="llama-head-dim"),
        pytest.param({**TINY, "model_type": "mistral", "sliding_window": 16}, id="mistral-window"),
    ],
)
def test_the_closed_form_matches_the_module_counted_on_meta(config):
    module = counted(config, "tiny")
    assert llama_params(config) == module.params
    assert llama_cache(config).bytes_per_token("bf16") == module.cache.bytes_per_token("bf16")
    assert llama_cache(config).windows == module.cache.windows


def test_llama_3_1_8b_has_its_published_size():
    config = CHECKPOINTS["Llama-3.1-8B"].config
    published = int(CHECKPOINTS["Llama-3.1-8B"].published_params.replace(",", ""))
    assert llama_params(config) == published
    assert (
        llama_cache(config).bytes_per_token("bf16") == 2 * 32 * 8 * 128 * 2
    )  # K,V × layers × kv heads × d × b


def test_one_decode_step_of_llama_3_1_8b_on_the_a100_is_memory_bound():
    bound = decode_bound("Llama-3.1-8B", A100, 640)
    params, kv = 8_030_261_248, 2 * 32 * 8 * 128 * 2 * 640
    assert bound.intensity == pytest.approx(2 * params / (2 * params + kv))
    assert bound.ridge_flops_per_byte == pytest.approx(312e12 / 2039e9)
    assert bound.memory_seconds == pytest.approx((2 * params + kv) / 2039e9)
    assert bound.compute_seconds == pytest.approx(2 * params / 312e12)
    assert 0.9 < bound.intensity < 1.0 < 100 < bound.ridge_flops_per_byte  # the point of the section


def test_the_batch_at_the_ridge_is_where_the_intensity_crosses_it():
    reach = decode_bound("Llama-3.1-8B", A100, 640).batch_at_ridge
    below = decode_bound("Llama-3.1-8B", A100, 640, batch=math.floor(reach))
    above = decode_bound("Llama-3.1-8B", A100, 640, batch=math.ceil(reach))
    assert below.intensity < below.ridge_flops_per_byte <= above.intensity
    # a context whose KV cache per sequence outweighs its work never gets there: 2N <= R × K
    assert decode_bound("Llama-3.1-8B", A100, 131_072).batch_at_ridge is None


@pytest.mark.parametrize(
    "call, field",
    [
        pytest.param(lambda: decode_bound("GPT-2", A100, 640), "model_type", id="not-llama-style"),
        pytest.param(lambda: decode_bound("Llama-9", A100, 640), "checkpoint", id="unknown"),
        pytest.param(lambda: decode_bound("Llama-3.1-8B", A100, 640, dtype="int3"), "dtype", id="dtype"),
        pytest.param(lambda: llama_params({**TINY, "hidden_size": -8}), "hidden_size", id="negative-width"),
        pytest.param(lambda: llama_params({**TINY, "vocab_size": "many"}), "vocab_size", id="text-vocab"),
    ],
)
def test_what_the_closed_form_cannot_price_is_refused_by_field(call, field):
    with pytest.raises(SpecError) as raised:
        call()
    assert raised.value.field == field
