"""Hugging Face sources measured and changed like the others: built on meta for the memory bound,
built anew on the device with the buffers their constructors compute, timed on int64 token ids;
a model whose weights are past the budget refused naming their size; the separable what-if on an
image encoder's patch embedding, and said not to apply to a text model."""

from __future__ import annotations

import json

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from calc import sources, torch_hf, torch_hf_measure
from calc.cli import main
from calc.errors import SpecError
from calc.torch_inputs import example_input
from calc.torch_measure import prepare
from calc.torch_memory import check_forward_memory, memory_budget_bytes
from calc.units import si_bytes

SEQ = 16
TINY_GPT2 = {"model_type": "gpt2", "n_layer": 2, "n_embd": 32, "n_head": 4, "vocab_size": 64}
TINY_LLAMA = {
    "model_type": "llama",
    "hidden_size": 32,
    "intermediate_size": 48,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "vocab_size": 64,
    "rope_theta": 10_000.0,
}
TINY_BERT = {
    "model_type": "bert",
    "hidden_size": 32,
    "intermediate_size": 48,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "vocab_size": 64,
    "max_position_embeddings": 40,
}
TINY_VIT = {
    "model_type": "vit",
    "hidden_size": 32,
    "intermediate_size": 48,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "image_size": 64,
    "patch_size": 8,
}
# Llama-2-7B, hf:llama's defaults: 32 layers of attention (4·D²), a gated MLP (3·D·I), two RMSNorms;
# embedding and LM head (V·D each); the final norm
LLAMA_2_7B = 32 * (4 * 4096**2 + 3 * 4096 * 11008 + 2 * 4096) + 2 * 32000 * 4096 + 4096


def _config_file(tmp_path, config: dict) -> str:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config), encoding="utf-8")
    return str(path)


def _flop_counter_macs(config: dict) -> int:
    transformers_config = torch_hf.config_for(config)
    model = torch_hf.build(transformers_config)
    inputs = torch_hf.example_inputs(model, transformers_config, SEQ, 1, "meta")
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(**inputs)
    return counter.get_total_flops() // 2


def test_latency_measures_a_config_json_on_the_cpu(tmp_path, capsys):
    path = _config_file(tmp_path, TINY_GPT2)
    assert main(["latency", path, "--device", "cpu", "--seq-len", str(SEQ), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["source"], out["input_shape"], out["batch"]) == ("hf", [SEQ], 1)
    assert out["macs"] == _flop_counter_macs(TINY_GPT2)
    assert out["measured_median_s"] > 0 and out["device"] == "cpu"


BUFFERS = [
    # RoPE's inverse frequencies, 1 / θ^(2i/d) for head dim d = 32 / 4
    pytest.param(
        TINY_LLAMA,
        "model.rotary_emb.inv_freq",
        1.0 / (10_000.0 ** (torch.arange(0, 8, 2, dtype=torch.float) / 8)),
        id="llama-inv_freq",
    ),
    pytest.param(
        TINY_BERT, "embeddings.position_ids", torch.arange(40).expand(1, -1), id="bert-position_ids"
    ),
]


@pytest.mark.parametrize("config, name, expected", BUFFERS)
def test_a_measured_model_keeps_the_buffers_its_constructor_computes(config, name, expected):
    module = sources.source_from_json("config.json", json.dumps(config)).module()
    assert all(tensor.is_meta for tensor in module.buffers())
    model = prepare(module, "cpu", "fp32")
    torch.testing.assert_close(model.get_buffer(name), expected.to(model.get_buffer(name).dtype))
    assert not any(tensor.is_meta for tensor in (*model.parameters(), *model.buffers()))
    assert not model._forward_hooks  # a timed forward patches nothing (on meta the checks are answered)
    ids = example_input(model, (SEQ,), 2, "bf16", "cpu")
    assert ids.dtype == torch.int64 and ids.shape == (2, SEQ)
    assert int(ids.min()) >= 0 and int(ids.max()) < config["vocab_size"]
    with torch.inference_mode():
        output = model(ids)
    hidden = output.logits if hasattr(output, "logits") else output.last_hidden_state
    assert torch.isfinite(hidden).all()


def test_a_model_past_the_memory_budget_is_refused_naming_its_weights(capsys):
    assert main(["latency", "hf:llama", "--device", "cpu"]) == 2
    error = capsys.readouterr().err
    assert si_bytes(4 * LLAMA_2_7B) in error and si_bytes(2 * 4 * LLAMA_2_7B) in error  # 26.95 GB, held twice
    assert si_bytes(memory_budget_bytes("cpu")) in error and "Traceback" not in error


def test_the_memory_of_a_token_forward_is_bounded_on_meta():
    module = torch_hf_measure.module(TINY_GPT2)
    memory = check_forward_memory(module, (SEQ,), 2, "fp32", memory_budget_bytes("cpu"))
    assert memory.input_bytes == 8 * 2 * SEQ  # int64 ids
    with pytest.raises(SpecError, match=f"batch 2 of {SEQ} tokens") as refused:
        check_forward_memory(module, (SEQ,), 2, "fp32", memory.peak_bytes - 1)
    assert "lower the sequence length or the batch" in str(refused.value)


TINY_CLIP = {
    "model_type": "clip",
    "projection_dim": 16,
    "text_config": {**TINY_BERT, "model_type": "clip_text_model"},
    "vision_config": {**TINY_VIT, "model_type": "clip_vision_model"},
}


def test_a_mixture_of_experts_is_sized_on_meta_and_runs_on_the_cpu():
    # torch._grouped_mm has no fp32 meta kernel: the meta forward runs the experts by the counting rule
    mixtral = {**TINY_LLAMA, "model_type": "mixtral", "num_local_experts": 4, "num_experts_per_tok": 2}
    module = torch_hf_measure.module(mixtral)
    memory = check_forward_memory(module, (SEQ,), 1, "fp32", memory_budget_bytes("cpu"))
    assert memory.peak_activation_bytes > 0
    model = prepare(module, "cpu", "fp32")
    with torch.inference_mode():
        assert torch.isfinite(model(example_input(model, (SEQ,), 1, "fp32", "cpu")).logits).all()


def test_a_model_of_two_inputs_is_counted_but_not_measured(tmp_path, capsys):
    with pytest.raises(SpecError, match="input_ids and pixel_values together"):
        torch_hf_measure.module(TINY_CLIP)
    assert main(["count", _config_file(tmp_path, TINY_CLIP), "--device", "cpu", "--seq-len", str(SEQ)]) == 0


def test_a_count_on_the_cpu_bounds_a_text_models_forward(tmp_path, capsys):
    path = _config_file(tmp_path, {**TINY_GPT2, "n_positions": 256})
    assert main(["count", path, "--device", "cpu", "--seq-len", "256", "--batch", "4096"]) == 2
    error = capsys.readouterr().err
    # one layer's attention scores: batch × heads × L × L fp32
    assert "batch 4,096 of 256 tokens" in error and si_bytes(4 * 4096 * 4 * 256 * 256) in error
    assert "--device meta" in error


def test_whatif_makes_an_image_encoders_patch_embedding_separable(tmp_path, capsys):
    assert main(["whatif", _config_file(tmp_path, TINY_VIT), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    (change,) = out["changes"]
    patches = (64 // 8) ** 2  # one output position per 8×8 patch
    assert change["name"] == "embeddings.patch_embeddings.projection"
    assert change["macs_before"] == patches * 32 * 3 * 8 * 8  # C_out · C_in · K² per position
    assert change["macs_after"] == patches * 3 * 8 * 8 + patches * 3 * 32  # depthwise + pointwise
    assert out["macs_before"] - out["macs_after"] == change["macs_before"] - change["macs_after"]


def test_whatif_says_it_does_not_apply_to_a_text_model(tmp_path, capsys):
    assert main(["whatif", _config_file(tmp_path, TINY_GPT2), "--seq-len", str(SEQ)]) == 0
    out = capsys.readouterr().out
    assert f"input {SEQ}," in out and "text model" in out and "does not apply" in out
