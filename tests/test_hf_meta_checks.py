"""transformers' checks of input values answered on meta (calc.torch_hf_checks): the model types
that look for padding, packed sequences or an all-ones mask count on meta exactly as on CPU; the
ones whose own code reads values are refused on meta with a message that sends them to the CPU;
the answers hold only inside the context and never for real tensors."""

from __future__ import annotations

import sys

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from calc import torch_hf
from calc.errors import SpecError
from calc.torch_hf import count_hf
from calc.torch_hf_checks import VALUE_CHECKS, answered_on_meta

SEQ = 16
TINY = {
    "hidden_size": 32,
    "intermediate_size": 64,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "vocab_size": 64,
}
# Each failed on meta before ("Tensor.item() cannot be called on meta tensors"), by the check named
READ_VALUES_ON_META = [
    pytest.param({**TINY, "model_type": "deberta"}, id="deberta-padding-warning"),
    pytest.param(
        {**TINY, "model_type": "big_bird", "attention_type": "original_full"}, id="big_bird-padding-warning"
    ),
    pytest.param({**TINY, "model_type": "convbert"}, id="convbert-padding-warning"),
    pytest.param({**TINY, "model_type": "bert-generation"}, id="bert-generation-bidirectional-mask"),
    pytest.param(
        {
            "model_type": "mamba2",
            "hidden_size": 32,
            "num_hidden_layers": 2,
            "vocab_size": 64,
            "num_heads": 4,
            "head_dim": 16,
            "state_size": 8,
            "n_groups": 1,
            "expand": 2,
        },
        id="mamba2-recurrent-mask",
    ),
    pytest.param(
        {
            **TINY,
            "model_type": "bamba",
            "num_key_value_heads": 2,
            "mamba_n_heads": 4,
            "mamba_d_head": 16,
            "mamba_d_state": 8,
            "mamba_n_groups": 1,
            "attn_layer_indices": [1],
        },
        id="bamba-recurrent-mask",
    ),
    pytest.param(
        {
            **TINY,
            "model_type": "lfm2",
            "num_key_value_heads": 2,
            "layer_types": ["conv", "full_attention"],
            "block_ff_dim": 64,
        },
        id="lfm2-recurrent-mask",
    ),
    pytest.param(
        {
            **TINY,
            "model_type": "qwen3_next",
            "num_key_value_heads": 2,
            "head_dim": 8,
            "layer_types": ["linear_attention", "full_attention"],
            "linear_num_value_heads": 4,
            "linear_num_key_heads": 2,
            "linear_key_head_dim": 8,
            "linear_value_head_dim": 8,
            "num_experts": 2,
            "num_experts_per_tok": 1,
            "moe_intermediate_size": 16,
            "shared_expert_intermediate_size": 16,
        },
        id="qwen3_next-recurrent-mask-moe",
    ),
]


@pytest.mark.parametrize("config", READ_VALUES_ON_META)
def test_a_model_that_checks_its_input_values_counts_on_meta_as_on_cpu(config):
    on_meta, on_cpu = count_hf(config, SEQ), count_hf(config, SEQ, device="cpu")
    assert on_meta.macs == on_cpu.macs > 0
    assert on_meta.other_ops_by_label() == on_cpu.other_ops_by_label()
    assert (on_meta.params, on_meta.active_params) == (on_cpu.params, on_cpu.active_params)


def test_a_decoder_without_a_mask_is_answered_no_packed_sequences():
    # with no attention mask, transformers looks for positions that restart (packed sequences)
    tiny_llama = {**TINY, "model_type": "llama", "num_key_value_heads": 2}
    config = torch_hf.config_for(tiny_llama)
    model = torch_hf.build(config)
    ids = torch.empty((1, SEQ), dtype=torch.int64, device="meta")
    with pytest.raises(RuntimeError, match="meta tensors"), torch.no_grad():
        model(input_ids=ids, use_cache=False)
    with FlopCounterMode(display=False) as counter, torch.no_grad(), answered_on_meta():
        model(input_ids=ids, use_cache=False)
    assert counter.get_total_flops() // 2 == count_hf(tiny_llama, SEQ).macs


# Their own forward reads values (a sequence length's max, a global-attention flag): refused on meta
STILL_READ_VALUES = [
    pytest.param("hf:xlm", id="xlm-lengths"),
    pytest.param("hf:flaubert", id="flaubert-lengths"),
    pytest.param("hf:reformer", id="reformer-positions"),
    pytest.param("hf:longformer", id="longformer-global-attention"),
]


@pytest.mark.parametrize("source", STILL_READ_VALUES)
def test_a_model_whose_own_code_reads_values_is_sent_to_the_cpu(source):
    with pytest.raises(SpecError, match=r"reads its input's values as it runs.*count it on cpu"):
        count_hf(source, SEQ)


def _current(check):
    owner = sys.modules[check.module]
    for part in check.name.split("."):
        owner = getattr(owner, part)
    return owner


def test_the_answers_hold_inside_the_context_only_and_never_for_real_tensors():
    from transformers import masking_utils

    originals = [_current(check) for check in VALUE_CHECKS]
    positions = torch.tensor([[0, 1, 2, 0, 1]])  # two packed sequences, on the CPU
    with answered_on_meta(), answered_on_meta():  # nested: patched once
        patched = zip(VALUE_CHECKS, originals, strict=True)
        assert all(_current(check) is not original for check, original in patched)
        assert masking_utils.find_packed_sequence_indices(torch.empty((1, 5), device="meta")) is None
        assert masking_utils.find_packed_sequence_indices(positions).tolist() == [[0, 0, 0, 1, 1]]
    assert [_current(check) for check in VALUE_CHECKS] == originals
