"""A text model exported with a dynamic batch and sequence length counts, from its graph, the MACs
the torch counter finds at any --batch and --seq-len: the symbolic dimensions are fixed by them and
shapes follow by inference with data propagation (positions sliced, masks expanded)."""

from __future__ import annotations

import os
import warnings

import pytest

from calc.sources import resolve

TINY_BERT = {
    "model_type": "bert",
    "hidden_size": 128,
    "num_hidden_layers": 1,
    "num_attention_heads": 4,
    "intermediate_size": 512,
    "vocab_size": 1000,
}


@pytest.fixture(scope="module")
def bert_file(tmp_path_factory):
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import torch

    from calc.torch_hf import build, config_for

    model = build(config_for(TINY_BERT), device="cpu").eval()
    dims = {0: torch.export.Dim("batch", max=64), 1: torch.export.Dim("sequence", max=512)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        program = torch.onnx.export(
            model, (torch.zeros(1, 32, dtype=torch.long),), dynamo=True, verbose=False, dynamic_shapes=(dims,)
        )
    path = tmp_path_factory.mktemp("onnx-text") / "bert.onnx"
    program.save(str(path))
    return path


@pytest.mark.parametrize(
    ("batch", "seq_len"), [pytest.param(1, 16, id="1x16"), pytest.param(2, 64, id="2x64")]
)
def test_text_model_macs_agree_with_the_torch_count(bert_file, batch, seq_len):
    from calc.torch_hf import count_hf

    graph = resolve(str(bert_file)).count(seq_len=seq_len, batch=batch)
    assert graph.unsupported == ()
    assert graph.batch == batch and graph.input_shape == (seq_len,)
    assert graph.macs == pytest.approx(count_hf(TINY_BERT, seq_len, batch).macs, rel=0.005)
    works = {term.work.value for row in graph.rows for term in row.cost.terms}
    assert works == {"linear", "attention matmuls"}
