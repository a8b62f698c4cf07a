"""LLM inference (calc.llm, calc.torch_llm, calc.kv_cache): prefill and decode-step FLOPs of the
closed forms equal torch's FlopCounterMode on the real module on meta at prompt lengths and
contexts other than those counted (past sliding windows too); MoE by the routing-independent rule;
KV cache bytes equal the real DynamicCache's tensors (MHA, GQA, sliding window, MLA); and the
issue's worked check on hf:llama and hf:mistral."""

from __future__ import annotations

from functools import cache

import pytest
import torch
from test_hf import TINY_DEEPSEEK_V3
from torch.utils.flop_counter import FlopCounterMode

from calc import torch_hf
from calc.hardware import hardware
from calc.llm import DECODE_FIT, PREFILL_FIT, QUANTITIES
from calc.llm_phases import Forms, Setting, serve
from calc.torch_count import count_module
from calc.torch_llm import count_llm, decode_inputs, fill_cache, prefill_inputs

TINY = {  # 4 heads of 16, 2 KV heads (GQA), 2 layers
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "vocab_size": 256,
    "max_position_embeddings": 512,
}
WINDOW = 16  # below the contexts checked: 30 and 41 tokens
TINY_GPT2 = {
    "model_type": "gpt2",
    "n_embd": 64,
    "n_layer": 2,
    "n_head": 4,
    "vocab_size": 256,
    "n_positions": 512,
}
TINY_MLA = TINY_DEEPSEEK_V3  # DeepSeek-V3's attention and routing: one dense layer, then experts
TINY_MIXTRAL = {**TINY, "model_type": "mixtral", "num_local_experts": 4, "num_experts_per_tok": 2}

DENSE = [
    pytest.param({**TINY, "model_type": "llama"}, id="llama"),
    pytest.param({**TINY, "model_type": "mistral", "sliding_window": WINDOW}, id="mistral-window"),
    pytest.param({**TINY, "model_type": "qwen2"}, id="qwen2"),
    pytest.param({**TINY, "model_type": "gemma2", "head_dim": 16, "sliding_window": WINDOW}, id="gemma2"),
    pytest.param(TINY_GPT2, id="gpt2"),
    pytest.param({**TINY, "model_type": "phi3", "pad_token_id": 0}, id="phi3"),
]
MOE = [pytest.param(TINY_MIXTRAL, id="mixtral"), pytest.param(TINY_MLA, id="deepseek_v3-mla")]
CHECKED_PROMPTS = (3, 40)  # neither is in PREFILL_FIT
CHECKED_PASTS = (30, 41)  # neither is in DECODE_FIT; both beyond WINDOW
BATCH = 2


def _key(config: dict) -> tuple:
    return tuple(sorted(config.items()))


@cache
def _counted(key: tuple):
    return count_llm(dict(key))


@cache
def _model(key: tuple):
    return torch_hf.build(torch_hf.config_for(dict(key)))


def _filled(model, past: int, batch: int):
    """A real DynamicCache after ``past`` tokens (experts by the rule: transformers' own grouped
    matmul does not run on meta in fp32)."""
    with torch_hf.experts_by_rule(model):
        return fill_cache(model, past, batch)


def _flop_counter_flops(model, inputs) -> int:
    with FlopCounterMode(display=False) as counter, torch.no_grad(), torch_hf.experts_by_rule(model):
        model(**inputs)
    return counter.get_total_flops()


def test_the_checked_lengths_are_not_the_counted_ones():
    assert not set(CHECKED_PROMPTS) & set(PREFILL_FIT)
    assert not set(CHECKED_PASTS) & set(DECODE_FIT)
    assert min(CHECKED_PASTS) > WINDOW


@pytest.mark.parametrize("config", DENSE + MOE)
@pytest.mark.parametrize("prompt", CHECKED_PROMPTS)
def test_prefill_flops_equal_flop_counter_on_the_real_module(config, prompt):
    counts, model = _counted(_key(config)), _model(_key(config))
    expected = _flop_counter_flops(model, prefill_inputs(model, prompt, BATCH))
    assert 2 * counts.prefill_total("macs", prompt, BATCH) == expected


@pytest.mark.parametrize("config", DENSE + MOE)
@pytest.mark.parametrize("past", CHECKED_PASTS)
def test_decode_step_flops_equal_flop_counter_with_a_real_cache(config, past):
    counts, model = _counted(_key(config)), _model(_key(config))
    kv = _filled(model, past, BATCH)
    expected = _flop_counter_flops(model, decode_inputs(model, kv, BATCH))
    assert 2 * counts.decode_total("macs", past, BATCH) == expected


def test_decode_attention_grows_by_heads_times_key_and_value_depth_per_token():
    # Q·Kᵀ and A·V: 4 heads × (16 + 16) MACs per key in each of 2 layers, batch 1
    counts = _counted(_key({**TINY, "model_type": "llama"}))
    assert counts.decode_total("macs", 101) - counts.decode_total("macs", 100) == 2 * 4 * (16 + 16)


def test_a_sliding_window_stops_the_decode_growth():
    counts = _counted(_key({**TINY, "model_type": "mistral", "sliding_window": WINDOW}))
    assert counts.decode_total("macs", 100) == counts.decode_total("macs", WINDOW)
    assert counts.decode_total("macs", WINDOW - 2) < counts.decode_total("macs", WINDOW - 1)


WINDOWLESS_OR_UNIFORM = [param for param in DENSE + MOE if param.id != "gemma2"]


@pytest.mark.parametrize("config", WINDOWLESS_OR_UNIFORM)
def test_activations_and_other_ops_of_the_forms_equal_a_count(config):
    # one sequence: the batch shares RoPE tables and masks, so B sequences are at most B × one
    counts, model = _counted(_key(config)), _model(_key(config))
    with torch_hf.experts_by_rule(model):
        prefill = count_module(model, (40,), example_inputs=prefill_inputs(model, 40))
        decode = count_module(model, (1,), example_inputs=decode_inputs(model, fill_cache(model, 41)))
    for quantity, measure in QUANTITIES.items():
        assert counts.prefill_total(quantity, 40) == sum(measure(row) for row in prefill.rows), quantity
        assert counts.decode_total(quantity, 41) == sum(measure(row) for row in decode.rows), quantity


# ---------------------------------------------------------------------------
# the KV cache against the real DynamicCache's tensors

KV_CASES = [
    # (config, per token per layer as arithmetic: K and V of kv_heads × head_dim, or MLA's latent)
    pytest.param(TINY_GPT2, 2 * 4 * 16, None, id="mha"),
    pytest.param({**TINY, "model_type": "llama"}, 2 * 2 * 16, None, id="gqa"),
    pytest.param({**TINY, "model_type": "llama", "num_key_value_heads": 1}, 2 * 1 * 16, None, id="mqa"),
    pytest.param(
        {**TINY, "model_type": "mistral", "sliding_window": WINDOW}, 2 * 2 * 16, WINDOW, id="window"
    ),
    pytest.param(TINY_MLA, 16 + 8, None, id="mla-latent"),  # kv_lora_rank + qk_rope_head_dim
]


@pytest.mark.parametrize("config, per_token, window", KV_CASES)
def test_kv_cache_bytes_equal_the_real_cache_tensors(config, per_token, window):
    counts, model = _counted(_key(config)), _model(_key(config))
    context = 41
    kv = _filled(model, context, BATCH)
    real = sum(t.numel() * t.element_size() for layer in kv.layers for t in (layer.keys, layer.values))
    assert counts.cache.cache_bytes(context, BATCH, "fp32") == real  # meta tensors are fp32
    kept = context if window is None else window - 1  # transformers keeps W − 1 tokens
    assert real == 2 * per_token * kept * BATCH * 4  # 2 layers, fp32
    assert counts.cache.bytes_per_token("bf16") == 2 * per_token * 2
    assert counts.cache.latent == (config is TINY_MLA)


# ---------------------------------------------------------------------------
# the issue's worked check: hf:llama (Llama-2-7B), bf16, P = 512, G = 128, B = 1

LLAMA_2_7B = 32 * (4 * 4096**2 + 3 * 4096 * 11008 + 2 * 4096) + 2 * 32000 * 4096 + 4096


@cache
def _llama():
    return count_llm("hf:llama")


def test_llama_kv_cache_and_weights_as_the_issue_states():
    counts = _llama()
    assert counts.params == LLAMA_2_7B
    assert counts.cache.bytes_per_token("bf16") == 2 * 32 * 32 * 128 * 2 == 524_288
    assert counts.cache.cache_bytes(512 + 128, 1, "bf16") == 524_288 * 640 == 335_544_320
    assert float(Forms(counts).resident_weight_bytes(Setting(512, 128)).sum()) == 2 * LLAMA_2_7B
    assert 2 * LLAMA_2_7B == 13_476_831_232


def test_llama_decode_on_an_a100_is_memory_bound_at_about_6_7_ms():
    a100 = hardware("NVIDIA A100 80GB SXM")
    served = serve(Forms(_llama()), Setting(512, 128, 1, "bf16"), a100.roofs("bf16"))
    # weights over bandwidth, 13.48 GB / 2.039 TB/s = 6.61 ms, plus the KV cache and activations
    assert 2 * LLAMA_2_7B / 2.039e12 < served.time_per_output_token_s < 6.9e-3
    assert served.decode.bytes / a100.bandwidth_bytes_per_s > 100 * served.decode.theoretical_s
    assert served.tokens_per_s == pytest.approx(1 / served.time_per_output_token_s)


def test_llama_prefill_flops_at_512_equal_flop_counter_on_meta():
    model = _model(_key({"model_type": "llama"}))
    expected = _flop_counter_flops(model, prefill_inputs(model, 512))
    assert 2 * _llama().prefill_total("macs", 512) == expected


def test_int4_weights_count_their_group_scales():
    blocks = 32 * (4 * 4096**2 + 3 * 4096 * 11008)  # quantized; embeddings, head and norms stay bf16
    others = LLAMA_2_7B - blocks
    weights = Forms(_llama()).resident_weight_bytes(Setting(512, 128, weights="int4")).sum()
    assert weights == pytest.approx(blocks * 4 / 8 + blocks / 128 * 2 + others * 2)


def test_mistral_keeps_131072_kv_bytes_per_token():
    assert count_llm("hf:mistral").cache.bytes_per_token("bf16") == 2 * 32 * 8 * 128 * 2 == 131_072


def test_layers_kept_fit_the_budget_and_one_more_does_not():
    from calc.llm_phases import memory as held
    from calc.torch_llm_measure import layers_to_keep

    counts = _llama()
    setting = Setting(512, 128, 1, "fp32")
    per_layer = 4 * 4096**2 + 3 * 4096 * 11008 + 2 * 4096
    outside = 2 * 32000 * 4096 + 4096
    activations = held(Forms(counts), setting, None).activation_bytes
    kv_per_layer = 2 * 4096 * 640 * 4
    budget = 2 * (outside + 3 * per_layer) * 4 + 3 * kv_per_layer + activations  # three layers, exactly
    assert layers_to_keep(counts, setting, budget) == 3
    assert layers_to_keep(counts, setting, budget - 1) == 2


def test_counts_survive_the_disk_cache_and_a_second_read_counts_nothing(monkeypatch):
    from calc import llm_store, torch_llm

    config = {**TINY, "model_type": "mistral", "sliding_window": WINDOW}
    first = llm_store.counted(config, "tiny")
    assert llm_store.counts_from_data(llm_store.counts_to_data(first)) == first

    def no_count(*args, **kwargs):
        raise AssertionError("counted again")

    monkeypatch.setattr(torch_llm, "count_llm", no_count)
    assert llm_store.counted(config, "tiny") == first
    with pytest.raises(AssertionError, match="counted again"):
        llm_store.counted({**config, "sliding_window": WINDOW + 1}, "tiny")  # another model: a miss


@pytest.mark.parametrize("device", ["meta", "cpu"])
def test_a_linear_layer_reads_its_weight_once_not_again_as_an_input(device):
    # F.linear runs mm(x, weight.t()): the transposed view is the weight, counted in params only
    layer = torch.nn.Linear(300, 200, bias=False, device=device)
    (row,) = count_module(layer, (300,), batch=4).rows
    assert row.cost.input_elements == 4 * 300 and row.cost.output_elements == 4 * 200
    assert row.memory_bytes == 4 * (300 * 200 + 4 * 300 + 4 * 200)
