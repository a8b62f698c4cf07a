"""Hugging Face models (calc.torch_hf, calc.hf_models, calc.hf_config): every hf: default's params,
MACs equal to torch's FlopCounterMode/2, mixture-of-experts counted by the routing-independent rule
the same on meta and CPU, the curated checkpoints against their published sizes, config.json
refusals, and never a download."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from functools import cache
from pathlib import Path

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from calc import hf_config, hf_models, torch_hf
from calc.analyze import report_from_data, report_to_data, report_to_json
from calc.errors import SpecError
from calc.torch_hf import count_hf

ROOT = Path(__file__).resolve().parents[1]


@cache
def counted(source: str, seq_len: int | None = None):
    return count_hf(source, seq_len)


# transformers 5.23's config defaults, measured as the issue states them; Llama-2-7B's as arithmetic:
# 32 layers of attention (4·D²), a gated MLP (3·D·I) and two RMSNorms, embedding and LM head (V·D each)
LLAMA_2_7B = 32 * (4 * 4096**2 + 3 * 4096 * 11008 + 2 * 4096) + 2 * 32000 * 4096 + 4096
HF_DEFAULTS = [
    pytest.param("llama", LLAMA_2_7B, id="llama"),
    pytest.param("mistral", 7_241_732_096, id="mistral"),
    pytest.param("mixtral", 46_702_792_704, id="mixtral"),
    pytest.param("gpt2", 124_439_808, id="gpt2"),
    pytest.param("gemma2", 2_614_341_888, id="gemma2"),
    pytest.param("phi3", 3_821_079_552, id="phi3"),
    pytest.param("deepseek_v3", 671_026_404_352, id="deepseek_v3"),
]


@pytest.mark.parametrize("model_type, params", HF_DEFAULTS)
def test_every_hf_default_has_its_params(model_type, params):
    report = counted(f"hf:{model_type}")
    assert report.params == params
    assert report.input_shape == (torch_hf.DEFAULT_SEQ_LEN,)
    assert not report.unsupported, report.unsupported


def _flop_counter_macs(model, inputs) -> int:
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(**inputs)
    return counter.get_total_flops() // 2


DENSE = [
    pytest.param("llama", id="llama"),
    pytest.param("gpt2", id="gpt2"),
    pytest.param("gemma2", id="gemma2"),
    pytest.param("bert", id="bert"),
    pytest.param("vit", id="vit"),
]


@pytest.mark.parametrize("model_type", DENSE)
def test_dense_macs_are_flop_counter_over_two(model_type):
    config = torch_hf.config_for(model_type)
    model = torch_hf.build(config)
    inputs = torch_hf.example_inputs(model, config, 128, 1, "meta")
    assert counted(model_type).macs == _flop_counter_macs(model, inputs)


def test_llama_macs_at_seq_128_as_arithmetic():
    # per token: every weight but the embedding's once (6.738 G - 32000·4096), plus attention's
    # Q·Kᵀ and A·V over 128 positions in each of 32 layers (2·128·4096)
    tokens = 128
    weights = LLAMA_2_7B - 32000 * 4096 - (2 * 32 + 1) * 4096  # norms multiply, they do not MAC
    assert counted("llama").macs == tokens * weights + 32 * 2 * tokens * tokens * 4096


# ---------------------------------------------------------------------------
# mixture of experts: tiny configs, counted on meta and on CPU

TINY_MIXTRAL = {
    "model_type": "mixtral",
    "hidden_size": 32,
    "intermediate_size": 48,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "vocab_size": 64,
    "num_local_experts": 4,
    "num_experts_per_tok": 2,
}
TINY_DEEPSEEK_V3 = {  # one dense layer, then one of 8 routed experts (2 per token) and a shared one
    "model_type": "deepseek_v3",
    "hidden_size": 32,
    "intermediate_size": 64,
    "moe_intermediate_size": 16,
    "num_hidden_layers": 2,
    "first_k_dense_replace": 1,
    "n_routed_experts": 8,
    "n_shared_experts": 1,
    "num_experts_per_tok": 2,
    "n_group": 2,
    "topk_group": 1,
    "q_lora_rank": 16,
    "kv_lora_rank": 16,
    "qk_nope_head_dim": 8,
    "qk_rope_head_dim": 8,
    "v_head_dim": 8,
    "num_attention_heads": 4,
    "num_key_value_heads": 4,
    "vocab_size": 64,
}
TINY_QWEN3_MOE = {
    "model_type": "qwen3_moe",
    "hidden_size": 32,
    "intermediate_size": 64,
    "moe_intermediate_size": 16,
    "num_experts": 8,
    "num_experts_per_tok": 2,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "head_dim": 8,
    "vocab_size": 64,
}
TINY_MOE = [
    pytest.param(TINY_MIXTRAL, id="mixtral"),
    pytest.param(TINY_DEEPSEEK_V3, id="deepseek_v3"),
    pytest.param(TINY_QWEN3_MOE, id="qwen3_moe"),
]
SEQ = 16


@pytest.mark.parametrize("config", TINY_MOE)
def test_tiny_moe_counts_the_same_on_meta_and_cpu(config):
    on_meta, on_cpu = count_hf(config, SEQ), count_hf(config, SEQ, device="cpu")
    assert on_meta.macs == on_cpu.macs
    assert on_meta.other_ops_by_label() == on_cpu.other_ops_by_label()
    assert (on_meta.params, on_meta.active_params) == (on_cpu.params, on_cpu.active_params)
    assert not on_meta.unsupported and not on_cpu.unsupported


@pytest.mark.parametrize("config", TINY_MOE)
def test_moe_macs_equal_transformers_own_routing_loop_on_cpu(config):
    """The oracle: on CPU, transformers' eager experts run each chosen expert on its tokens, which
    FlopCounterMode sees as plain matmuls. Whatever the router chose, tokens × top_k rows ran."""
    transformers_config = torch_hf.config_for(config)
    auto_class = torch_hf.auto_class_for(transformers_config)
    with torch.device("cpu"):
        model = auto_class.from_config(
            transformers_config, attn_implementation="eager", experts_implementation="eager"
        ).eval()
    inputs = torch_hf.example_inputs(model, transformers_config, SEQ, 1, "cpu")
    assert count_hf(config, SEQ, device="cpu").macs == _flop_counter_macs(model, inputs)


def test_mixtral_expert_macs_are_tokens_times_top_k_times_one_expert():
    report = count_hf(TINY_MIXTRAL, SEQ, batch=3)
    experts = [row for row in report.rows if row.kind == "MixtralExperts"]
    one_expert = 3 * 32 * 48  # gate and up (D → 2·I), down (I → D)
    assert [row.macs for row in experts] == [3 * SEQ * 2 * one_expert] * 2
    routers = [row for row in report.rows if row.kind == "MixtralTopKRouter"]
    assert [row.macs for row in routers] == [3 * SEQ * 32 * 4] * 2  # D → E scores per token


def test_active_params_leave_out_the_unchosen_experts():
    report = count_hf(TINY_MIXTRAL, SEQ)
    experts_per_layer = 4 * 3 * 32 * 48
    assert report.active_params == report.params - 2 * experts_per_layer * (4 - 2) // 4
    assert counted("mixtral").active_params == 12_879_925_248  # "12.9B" per token, as Mistral states
    assert counted("llama").active_params is None


def test_active_params_survive_the_disk_cache_and_reach_the_json():
    report = count_hf(TINY_MIXTRAL, SEQ)
    assert report_from_data(report_to_data(report)) == report
    assert report_to_json(report)["active_params"] == report.active_params
    assert "active_params" not in report_to_json(counted("gpt2"))


def test_the_counting_forward_is_removed_afterwards():
    config = torch_hf.config_for(TINY_MIXTRAL)
    model = torch_hf.build(config)
    with torch_hf.experts_by_rule(model) as experts:
        assert len(experts) == 2
    assert all("forward" not in vars(module) for module in experts)


# ---------------------------------------------------------------------------
# real devices: what the constructor computes is there


def test_a_model_built_on_cpu_has_its_rope_frequencies_and_runs_finite():
    config = torch_hf.config_for({**TINY_MIXTRAL, "model_type": "llama"})
    model = torch_hf.build(config, "cpu")
    head_dim = 32 // 4
    expected = 1.0 / (10_000.0 ** (torch.arange(0, head_dim, 2, dtype=torch.float) / head_dim))
    torch.testing.assert_close(model.model.rotary_emb.inv_freq, expected)
    inputs = torch_hf.example_inputs(model, config, SEQ, 1, "cpu")
    with torch.no_grad():
        assert torch.isfinite(model(**inputs).logits).all()


TINY_VISION = {
    "hidden_size": 32,
    "intermediate_size": 48,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "image_size": 32,
    "patch_size": 8,
}
TINY_TEXT = {key: TINY_MIXTRAL[key] for key in ("hidden_size", "intermediate_size", "num_hidden_layers")}


@pytest.mark.parametrize(
    "config",
    [
        pytest.param({**TINY_MIXTRAL, "model_type": "llama"}, id="llama"),
        pytest.param({**TINY_MIXTRAL, "model_type": "qwen2"}, id="qwen2"),
        pytest.param({**TINY_MIXTRAL, "model_type": "gemma2", "head_dim": 8}, id="gemma2"),
        pytest.param({**TINY_MIXTRAL, "model_type": "phi3", "pad_token_id": 0}, id="phi3"),
        pytest.param({**TINY_MIXTRAL, "model_type": "bert"}, id="bert"),
        pytest.param(
            {"model_type": "gpt2", "n_embd": 32, "n_layer": 2, "n_head": 4, "vocab_size": 64}, id="gpt2"
        ),
        pytest.param({**TINY_VISION, "model_type": "vit"}, id="vit"),
        pytest.param(
            {
                "model_type": "clip",
                "projection_dim": 16,
                "text_config": {**TINY_TEXT, "num_attention_heads": 4, "vocab_size": 64},
                "vision_config": TINY_VISION,
            },
            id="clip",
        ),
    ],
)
def test_dense_tiny_counts_the_same_on_meta_and_cpu(config):
    on_meta, on_cpu = count_hf(config, SEQ), count_hf(config, SEQ, device="cpu")
    assert (on_meta.macs, on_meta.params, on_meta.other_ops) == (on_cpu.macs, on_cpu.params, on_cpu.other_ops)


def test_a_tied_embedding_counts_once():
    report = count_hf({"model_type": "gpt2", "n_embd": 32, "n_layer": 2, "n_head": 4, "vocab_size": 64}, SEQ)
    model = torch_hf.build(
        torch_hf.config_for({"model_type": "gpt2", "n_embd": 32, "n_layer": 2, "n_head": 4, "vocab_size": 64})
    )
    assert model.lm_head.weight is model.transformer.wte.weight
    assert report.params == sum(parameter.numel() for parameter in model.parameters())


# ---------------------------------------------------------------------------
# curated checkpoints


@pytest.mark.parametrize(
    "entry", [pytest.param(entry, id=name) for name, entry in hf_models.CHECKPOINTS.items()]
)
def test_checkpoint_matches_its_published_size(entry):
    assert hf_config.check_config(entry.config) is entry.config  # within every bound a user's file meets
    report = counted(entry.name)
    assert hf_models.matches_published(report.params, entry.published_params), report.params
    if entry.published_active_params is not None:
        assert hf_models.matches_published(report.active_params, entry.published_active_params)
    assert entry.source.startswith("https://huggingface.co/") and entry.source.endswith("config.json")
    assert not report.unsupported


def test_the_curated_set_names_the_well_known_checkpoints():
    assert len(hf_models.CHECKPOINTS) >= 10
    assert {"Llama-3.1-8B", "Llama-3.1-70B", "Qwen2.5-7B", "Mistral-7B-v0.3", "Mixtral-8x7B-v0.1"} <= set(
        hf_models.CHECKPOINTS
    )
    assert {"Gemma-2-9B", "Phi-3-mini-4k", "DeepSeek-V3", "GPT-2", "BERT-base-uncased"} <= set(
        hf_models.CHECKPOINTS
    )


@pytest.mark.parametrize(
    "count, published, matches",
    [
        pytest.param(124_439_808, "124,439,808", True, id="exact"),
        pytest.param(124_439_809, "124,439,808", False, id="exact-off-by-one"),
        pytest.param(70_553_706_496, "70.6B", True, id="rounded"),
        pytest.param(7_615_616_512, "7.61B", True, id="cut"),
        pytest.param(7_635_616_512, "7.61B", False, id="two-steps-off"),
        pytest.param(87_400_000, "86M", False, id="whole-millions-off"),
    ],
)
def test_published_sizes_are_read_to_their_precision(count, published, matches):
    assert hf_models.matches_published(count, published) is matches


# ---------------------------------------------------------------------------
# bad input: refused fast, naming the field, nothing built


@pytest.mark.parametrize(
    "config, field",
    [
        pytest.param({**TINY_MIXTRAL, "auto_map": {"AutoModel": "x.Y"}}, "auto_map", id="custom-code"),
        pytest.param({**TINY_MIXTRAL, "hidden_size": 10**12}, "hidden_size", id="hidden-size-1e12"),
        pytest.param({**TINY_MIXTRAL, "num_hidden_layers": -1}, "num_hidden_layers", id="negative-layers"),
        pytest.param({**TINY_MIXTRAL, "vocab_size": 64.5}, "vocab_size", id="fractional-vocab"),
        pytest.param(
            {**TINY_MIXTRAL, "num_attention_heads": True}, "num_attention_heads", id="boolean-heads"
        ),
        pytest.param({"hidden_size": 64}, "model_type", id="no-model-type"),
        pytest.param({"model_type": "../../etc"}, "model_type", id="model-type-not-a-name"),
        pytest.param(
            {"model_type": "clip", "vision_config": {"patch_size": 0}},
            "vision_config.patch_size",
            id="nested",
        ),
        pytest.param(
            {**TINY_MIXTRAL, "num_hidden_layers": 1000, "num_local_experts": 1000},
            "num_local_experts",
            id="layers-times-experts",
        ),
    ],
)
def test_absurd_configs_are_refused_naming_the_field(config, field):
    started = time.perf_counter()
    with pytest.raises(SpecError) as error:
        count_hf(config)
    assert error.value.field == field
    assert time.perf_counter() - started < 5  # nothing was built


TINY_LLAMA = {**TINY_MIXTRAL, "model_type": "llama"}


@pytest.mark.parametrize(
    "config, reason",
    [
        pytest.param({**TINY_LLAMA, "num_attention_heads": 5}, "not a multiple", id="heads-do-not-divide"),
        pytest.param({**TINY_LLAMA, "hidden_act": "nope"}, "no 'nope' is known", id="unknown-activation"),
        pytest.param({**TINY_LLAMA, "head_dim": 3}, "broadcast", id="shapes-do-not-fit"),
        pytest.param(
            {**TINY_MIXTRAL, "model_type": "bart"}, "decoder-only language models", id="encoder-decoder"
        ),
    ],
)
def test_what_transformers_refuses_is_a_spec_error(config, reason):
    with pytest.raises(SpecError, match=reason):
        count_hf(config, SEQ)


@pytest.mark.parametrize(
    "seq_len, batch, field",
    [
        pytest.param(0, 1, "seq_len", id="no-tokens"),
        pytest.param(16.0, 1, "seq_len", id="fractional-seq-len"),
        pytest.param(16, 0, "batch", id="empty-batch"),
    ],
)
def test_sequence_and_batch_are_checked(seq_len, batch, field):
    with pytest.raises(SpecError) as error:
        count_hf(TINY_LLAMA, seq_len, batch)
    assert error.value.field == field


def test_a_config_describing_too_many_params_is_refused_before_building():
    config = {
        **TINY_MIXTRAL,
        "hidden_size": 131_072,
        "intermediate_size": 1_048_576,
        "num_hidden_layers": 1024,
    }
    with pytest.raises(SpecError, match="params"):
        hf_config.check_config(config)


@pytest.mark.parametrize(
    "text, reason",
    [
        pytest.param('{"model_type": "llama", "model_type": "bert"}', "twice", id="duplicate-key"),
        pytest.param("[1, 2]", "JSON object", id="not-an-object"),
        pytest.param('{"model_type": "llama",', "not valid JSON", id="truncated"),
        pytest.param(" " * (hf_config.MAX_CONFIG_CHARS + 1), "beyond the limit", id="too-long"),
    ],
)
def test_config_text_is_read_with_limits(text, reason):
    with pytest.raises(SpecError, match=reason):
        hf_config.read_config(text)


@pytest.mark.parametrize(
    "source, message",
    [
        pytest.param("hf:lama", "did you mean llama", id="unknown-type"),
        pytest.param("Llama-3.1-8b", "did you mean Llama-3.1-8B", id="checkpoint-misspelt"),
        pytest.param("hf:t5", "decoder-only language models", id="encoder-decoder"),
    ],
)
def test_unknown_and_unsupported_architectures_say_what_is_supported(source, message):
    with pytest.raises(SpecError, match=message) as error:
        count_hf(source)
    assert error.value.field == "model_type"


def test_a_model_that_reads_its_input_values_is_sent_to_the_cpu():
    with pytest.raises(SpecError, match="count it on cpu"):
        count_hf("hf:xlm")  # it checks its sequence lengths' values: values meta tensors do not have
    tiny = {"model_type": "xlm", "emb_dim": 32, "n_layers": 2, "n_heads": 4, "vocab_size": 64}
    assert count_hf(tiny, SEQ, device="cpu").macs > 0


def test_a_sequence_beyond_the_models_positions_is_refused():
    with pytest.raises(SpecError, match="1,024 positions") as error:
        count_hf("hf:gpt2", seq_len=1025)
    assert error.value.field == "seq_len"
    assert counted("hf:clip").input_shape == (77,)  # the default fits CLIP's 77 positions


def test_a_weight_bound_refuses_a_big_model_on_cpu_before_building():
    with pytest.raises(SpecError, match="device meta") as error:
        count_hf("hf:llama", device="cpu")
    assert error.value.field == "device"


# ---------------------------------------------------------------------------
# never the network


def test_no_download_is_attempted(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a connection was attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    import huggingface_hub

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", refuse)
    monkeypatch.setattr(huggingface_hub, "snapshot_download", refuse)
    assert count_hf("BERT-base-uncased").params == 109_482_240
    assert count_hf(TINY_MIXTRAL, SEQ, device="cpu").macs > 0
    import os

    assert all(os.environ[name] == "1" for name in torch_hf.OFFLINE_ENVIRONMENT)


def test_hf_models_reads_configs_with_torch_and_transformers_absent():
    code = """
import sys
sys.modules["torch"] = None
sys.modules["transformers"] = None
from calc import hf_config, hf_models
config = hf_config.read_config('{"model_type": "llama", "hidden_size": 64}')
assert hf_config.is_config(config) and len(hf_models.CHECKPOINTS) >= 10
"""
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
