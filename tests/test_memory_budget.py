"""The memory a real forward needs, bounded on the meta device before anything is allocated
(calc.torch_memory): intermediates included, attention's h × L × L scores above all, and
refused with a message that names what to lower. The bound is checked against the
resident memory of real forwards, each in a fresh process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

import calc
from calc import zoo
from calc.__main__ import main
from calc.errors import SpecError
from calc.torch_build import build_stack
from calc.torch_memory import (
    ACTIVATION_MARGIN,
    WEIGHT_COPIES,
    check_forward_memory,
    forward_memory,
    memory_budget_bytes,
)
from calc.units import si_bytes

ROOT = Path(__file__).resolve().parents[1]
GIB = 2**30


def attention_stack(tokens: int, width: int = 16, heads: int = 4, batch: int = 1) -> calc.Stack:
    return calc.parse_stack(
        {"input": [tokens, width], "batch": batch, "layers": [{"type": "attention", "num_heads": heads}]}
    )


def test_a_linear_layer_holds_its_output():
    # [8, 1000] = linear([8, 512]): weights 1000*512 + 1000, input 8*512, one output 8*1000, fp32
    memory = forward_memory(nn.Linear(512, 1000, device="meta"), (512,), 8, "fp32")
    assert memory.weight_bytes == 4 * (1000 * 512 + 1000)
    assert memory.input_bytes == 4 * 8 * 512
    assert memory.peak_activation_bytes == memory.largest_bytes == 4 * 8 * 1000
    assert memory.peak_bytes == int(
        WEIGHT_COPIES * 4 * (1000 * 512 + 1000) + 4 * 8 * 512 + ACTIVATION_MARGIN * 4 * 8 * 1000
    )


@pytest.mark.parametrize(
    "dtype, element_bytes",
    [
        pytest.param("fp32", 4, id="fp32"),
        pytest.param("tf32", 4, id="tf32-stored-as-fp32"),
        pytest.param("bf16", 2, id="bf16"),
    ],
)
def test_the_dtype_sets_the_bytes(dtype, element_bytes):
    memory = forward_memory(nn.Linear(512, 1000, device="meta"), (512,), 8, dtype)
    assert (memory.weight_bytes, memory.input_bytes, memory.peak_activation_bytes) == (
        element_bytes * (1000 * 512 + 1000),
        element_bytes * 8 * 512,
        element_bytes * 8 * 1000,
    )


def test_attention_scores_count_and_the_softmax_beside_them():
    # [h, L, L] = bmm(Q[h, L, d], Kᵀ[h, d, L]); its softmax is a second one alive at the same time
    tokens, heads = 300, 4
    memory = forward_memory(build_stack(attention_stack(tokens, heads=heads)), (tokens, 16), 1, "fp32")
    scores = 4 * heads * tokens * tokens
    assert (memory.largest_bytes, memory.largest_op, memory.largest_shape) == (
        scores,
        "bmm",
        (heads, tokens, tokens),
    )
    assert memory.peak_activation_bytes >= 2 * scores


def test_the_model_is_left_as_it_was():
    model = zoo.module("resnet18")
    forward_memory(model, (3, 224, 224), 2, "bf16")
    assert all(parameter.is_meta and parameter.dtype == torch.float32 for parameter in model.parameters())


def test_a_real_model_is_not_copied():
    with pytest.raises(ValueError, match="built on the meta device"):
        forward_memory(nn.Linear(4, 4), (4,), 1, "fp32")


# The cases: one attention layer over 20,000 × 16 tokens reached 5.4 GB resident; over
# 30,000 × 16 it tried to allocate 14.4 GB (4 × 30,000 × 30,000 fp32 scores) and died.
@pytest.mark.parametrize(
    "tokens", [pytest.param(20_000, id="20k-tokens"), pytest.param(30_000, id="30k-tokens")]
)
def test_long_attention_is_refused_naming_the_sequence_length(tokens):
    with pytest.raises(SpecError) as raised:
        check_forward_memory(
            build_stack(attention_stack(tokens)), (tokens, 16), 1, "fp32", memory_budget_bytes("cpu")
        )
    message = str(raised.value)
    assert f"batch 1 of {tokens:,} tokens" in message and "lower the sequence length" in message
    assert (
        f"4×{tokens:,}×{tokens:,} from aten.bmm" in message and si_bytes(4 * 4 * tokens * tokens) in message
    )
    assert si_bytes(memory_budget_bytes("cpu")) in message


def test_a_huge_batch_is_refused_naming_batch_and_resolution():
    with pytest.raises(SpecError) as raised:
        check_forward_memory(zoo.module("resnet50"), (3, 224, 224), 4096, "fp32", memory_budget_bytes("cpu"))
    # conv1's output alone: 4096 x 64 x 112 x 112 fp32 elements
    assert si_bytes(4 * 4096 * 64 * 112 * 112) in str(raised.value)
    assert "batch 4,096 at 224×224 px" in str(raised.value) and "lower the batch or the resolution" in str(
        raised.value
    )
    assert raised.value.field == "batch"


def test_memory_budget_on_the_cpu_is_at_most_4_gib():
    assert 0 < memory_budget_bytes("cpu") <= 4 * GIB


# --- the bound against real forwards ------------------------------------------------------------------------

RESIDENT = """
import json, sys
import torch
import calc
from calc import zoo
from calc.torch_build import build_stack
from calc.torch_measure import prepare
from calc.torch_memory import forward_memory
kind, name, batch = sys.argv[1], sys.argv[2], int(sys.argv[3])
if kind == "attention":
    attention = {"type": "attention", "num_heads": 4}
    stack = calc.parse_stack({"input": [int(name), 16], "batch": batch, "layers": [attention]})
    module, shape = build_stack(stack), stack.input_shape
else:
    module, shape = zoo.module(name), zoo.input_shape(name)
bound = forward_memory(module, shape, batch, "fp32").peak_bytes
model = prepare(module, "cpu", "fp32")
x = torch.randn((batch, *shape))
resident = int(open("/proc/self/statm").read().split()[1]) * 4096
before = resident - sum(p.numel() * 4 for p in model.parameters()) - x.numel() * 4
with torch.inference_mode():
    model(x)
# VmHWM: this process image's peak resident memory (ru_maxrss would carry the parent's over fork and exec)
peak = next(int(line.split()[1]) * 1024 for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(json.dumps({"bound": bound, "grown": peak - before}))
"""


@pytest.mark.parametrize(
    "kind, name, batch",
    [
        pytest.param("zoo", "mobilenet_v3_small", 64, id="mobilenet_v3_small-batch64"),
        pytest.param("attention", "3000", 1, id="attention-3000-tokens"),
    ],
)
def test_the_bound_covers_a_real_forward(kind, name, batch):
    # what the process grew by from before the model and its input existed to its peak
    done = subprocess.run(
        [sys.executable, "-c", RESIDENT, kind, name, str(batch)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    assert figures["grown"] <= figures["bound"], figures


# --- the command line ---------------------------------------------------------------------------------------


def test_count_on_the_cpu_refuses_beyond_the_budget_before_allocating(capsys):
    # mobilenet_v3_small at batch 65,536 and 4096 px: a 13 TB allocation, once reported as the
    # model not accepting a 4096×4096 input
    assert (
        main(["count", "mobilenet_v3_small", "--device", "cpu", "--batch", "65536", "--resolution", "4096"])
        == 2
    )
    error = capsys.readouterr().err
    assert "mobilenet_v3_small: a forward pass of batch 65,536 at 4096×4096 px needs about" in error
    assert "lower the batch or the resolution" in error and "--device meta" in error
    assert "does not accept" not in error


def test_count_on_meta_allocates_nothing_and_is_not_refused(capsys):
    assert main(["count", "mobilenet_v3_small", "--batch", "65536", "--resolution", "4096", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["batch"] == 65536


def test_latency_refuses_long_attention_before_probing(tmp_path, capsys):
    path = tmp_path / "attention.json"
    path.write_text(json.dumps({"input": [30_000, 16], "layers": [{"type": "attention", "num_heads": 4}]}))
    assert main(["latency", str(path), "--device", "cpu"]) == 2
    error = capsys.readouterr().err
    assert "30,000 tokens" in error and "lower the sequence length" in error and "Traceback" not in error
