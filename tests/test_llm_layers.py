"""Counting an LLM by its distinct decoder layers (calc.torch_llm_layers): a reduced copy with
the first layer and one layer of each kind after it, its rows repeated, counts exactly as the
whole model does, for a uniform stack (llama), alternating sliding and full attention (gemma2),
experts in every layer (mixtral) and dense layers before experts (deepseek_v3); and the whole
model's FLOPs per FlopCounterMode (torch as the oracle)."""

from __future__ import annotations

from collections import Counter
from functools import cache

import pytest
import torch
from test_hf import TINY_DEEPSEEK_V3
from torch.utils.flop_counter import FlopCounterMode

from calc import torch_hf
from calc.analyze import Report, Row
from calc.cost import Cost
from calc.torch_llm import count_by_layer_kinds, count_config, decode_inputs, fill_cache, prefill_inputs
from calc.torch_llm_layers import LayerPlan, layer_plan, repeat_report

LAYERS = 6
SMALL = {  # 4 heads of 16, 2 KV heads (GQA), LAYERS layers
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_hidden_layers": LAYERS,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "vocab_size": 256,
    "max_position_embeddings": 512,
}
DENSE_FIRST = 3  # DeepSeek-V3's first_k_dense_replace: layers 0-2 dense, 3-5 experts
SMALL_DEEPSEEK = {**TINY_DEEPSEEK_V3, "num_hidden_layers": LAYERS, "first_k_dense_replace": DENSE_FIRST}

# (config, each layer's representative: the first layer stands alone, then the first of each kind)
KINDS = [
    pytest.param({**SMALL, "model_type": "llama"}, (0,) + (1,) * (LAYERS - 1), id="llama"),
    pytest.param(  # even layers slide (window 16), odd ones attend to all
        {**SMALL, "model_type": "gemma2", "head_dim": 16, "sliding_window": 16},
        (0, 1, 2, 1, 2, 1),
        id="gemma2-alternating",
    ),
    pytest.param(
        {**SMALL, "model_type": "mixtral", "num_local_experts": 4, "num_experts_per_tok": 2},
        (0,) + (1,) * (LAYERS - 1),
        id="mixtral",
    ),
    pytest.param(
        SMALL_DEEPSEEK, (0, 1, 1) + (DENSE_FIRST,) * (LAYERS - DENSE_FIRST), id="deepseek_v3-dense-first"
    ),
]


@cache
def _config(key: tuple):
    return torch_hf.config_for(dict(key))


def _key(config: dict) -> tuple:
    return tuple(sorted(config.items()))


@cache
def _model(key: tuple):
    return torch_hf.build(_config(key))


@pytest.mark.parametrize("config, representative", KINDS)
def test_each_layer_is_counted_as_the_first_of_its_kind(config, representative):
    plan = layer_plan(_config(_key(config)), _model(_key(config)))
    assert plan.representative == representative
    assert plan.kept == max(representative) + 1 < LAYERS


@pytest.mark.parametrize("config, representative", KINDS)
def test_the_reduced_count_repeated_equals_the_whole_count(config, representative):
    key = _key(config)
    # the plan holds (its checks pass), so the default count is the reduced one
    assert count_by_layer_kinds(_config(key), _model(key)) is not None
    assert count_config(_config(key)) == count_config(_config(key), by_layer_kinds=False)


def _flop_counter_flops(model, inputs) -> int:
    with FlopCounterMode(display=False) as counter, torch.no_grad(), torch_hf.experts_by_rule(model):
        model(**inputs)
    return counter.get_total_flops()


@pytest.mark.parametrize("config, representative", KINDS)
def test_the_reduced_count_gives_the_whole_models_flops(config, representative):
    key = _key(config)
    counts, model = count_config(_config(key)), _model(key)
    assert 2 * counts.prefill_total("macs", 40, 2) == _flop_counter_flops(model, prefill_inputs(model, 40, 2))
    with torch_hf.experts_by_rule(model):
        cache_of_41 = fill_cache(model, 41, 2)
    expected = _flop_counter_flops(model, decode_inputs(model, cache_of_41, 2))
    assert 2 * counts.decode_total("macs", 41, 2) == expected
    assert len(counts.cache.layers) == LAYERS


def test_a_model_of_two_layers_has_nothing_to_reduce():
    config = {**SMALL, "model_type": "llama", "num_hidden_layers": 2}
    assert layer_plan(_config(_key(config)), _model(_key(config))) is None


# ---------------------------------------------------------------------------
# repeat_report on rows as data: the layers' rows repeated in order, unsupported ops per layer


def _row(index: int, name: str, params: int = 1):
    return Row(index, name, "Linear", (7, 8), (7, 8), Cost((1, 7, 8), params, input_elements=56), 4)


def _report(*names: str) -> Report:
    return Report((7,), 1, "fp32", tuple(_row(index, name) for index, name in enumerate(names)))


PLAN = LayerPlan("model.layers", ((), (), (), ()), (0, 1, 1, 1))  # 4 layers counted as 2


def test_each_layer_gets_its_representatives_rows_renamed_and_in_order():
    reduced = _report("(model)", "model.layers.0.q", "model.layers.1.q", "model.layers.1.o", "lm_head")
    repeated = repeat_report(reduced, Counter(), PLAN, 4)
    assert [row.name for row in repeated.rows] == [
        "(model)",
        "model.layers.0.q",
        *(f"model.layers.{layer}.{part}" for layer in (1, 2, 3) for part in ("q", "o")),
        "lm_head",
    ]
    assert [row.index for row in repeated.rows] == list(range(1 + 1 + 3 * 2 + 1))
    assert repeated.params == reduced.params + 2 * 2  # layers 2 and 3: layer 1's two rows again


def test_unsupported_ops_inside_a_layer_repeat_with_it():
    unsupported = Counter(
        {("model.layers.1.mlp", "aten.foo"): 2, ("", "aten.foo"): 1, ("model.layers.0", "aten.bar"): 1}
    )
    repeated = repeat_report(_report("(model)", "model.layers.0.q", "model.layers.1.q"), unsupported, PLAN, 4)
    assert repeated.unsupported == (("aten.bar", 1), ("aten.foo", 2 * 3 + 1))


def test_a_module_outside_the_layers_running_between_them_stops_the_repeat():
    # a module the layers share (it runs inside each) would count once in the copy, per layer in the model
    shared = _report("(model)", "model.layers.0.q", "model.rotary", "model.layers.1.q")
    assert repeat_report(shared, Counter(), PLAN, 4) is None
