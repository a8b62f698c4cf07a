"""Other ops agree: a stack's analytic count (calc.analyze) and the torch-side count of the
module it stands for (calc.torch_count.count_module on calc.torch_build.build_stack) give
the same labels and counts, in total and layer by layer -- the convention stated once in
calc.formulas, followed by both sides.

A torch-side row belongs to the stack layer its module path starts with ("1.attention"
to layer 1); a label counted zero times is no label.
"""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from hypothesis import HealthCheck, given, settings  # noqa: E402
from test_torch_oracle import valid_stacks  # noqa: E402
from torch import nn  # noqa: E402

import calc  # noqa: E402
from calc import torch_count  # noqa: E402
from calc.analyze import Report  # noqa: E402
from calc.presets import PRESETS, preset  # noqa: E402
from calc.torch_build import build_stack  # noqa: E402
from calc.torch_count import count_module  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel:UserWarning")


def _labelled(pairs) -> dict[str, int]:
    totals: dict[str, int] = {}
    for label, count in pairs:
        totals[label] = totals.get(label, 0) + count
    return {label: count for label, count in totals.items() if count}


def analytic_by_layer(report: Report) -> dict[str, dict[str, int]]:
    layers = {row.name: _labelled(row.cost.other_ops) for row in report.rows}
    return {layer: ops for layer, ops in layers.items() if ops}


def torch_by_layer(report: Report) -> dict[str, dict[str, int]]:
    pairs: dict[str, list[tuple[str, int]]] = {}
    for row in report.rows:
        pairs.setdefault(row.name.split(".")[0], []).extend(row.cost.other_ops)
    layers = {layer: _labelled(ops) for layer, ops in pairs.items()}
    return {layer: ops for layer, ops in layers.items() if ops}


def assert_other_ops_agree(stack_json: dict, device: str = "meta") -> None:
    stack = calc.parse_stack(stack_json)
    analytic = calc.analyze(stack)
    counted = count_module(build_stack(stack, device), stack.input_shape, batch=stack.batch)
    assert not counted.unsupported, counted.unsupported
    assert _labelled(counted.other_ops_by_label().items()) == _labelled(analytic.other_ops_by_label().items())
    assert torch_by_layer(counted) == analytic_by_layer(analytic), stack_json


@pytest.mark.parametrize("stack_json", [pytest.param(entry.stack, id=entry.name) for entry in PRESETS])
def test_every_preset_agrees(stack_json: dict):
    assert_other_ops_agree(stack_json)


def _conv(out_channels: int, kernel_size, **fields) -> dict:
    return {"type": "conv2d", "out_channels": out_channels, "kernel_size": kernel_size, **fields}


# output 1x1 runs as a mean over H and W, other sizes as _adaptive_avg_pool2d: both pooling
ADAPTIVE_POOLS = {
    "input": [5, 7, 9],
    "layers": [
        {"type": "adaptive_avgpool2d", "output_size": [3, 4]},
        {"type": "adaptive_avgpool2d", "output_size": 1},
        {"type": "flatten"},
        {"type": "dropout"},
        {"type": "linear", "out_features": 3},
    ],
}
# on a batch, MultiheadAttention projects its transposed input by matmul then add (bias add all the same)
ATTENTION_ON_A_BATCH = {
    "input": [9, 24],
    "batch": 3,
    "layers": [
        {"type": "attention", "num_heads": 4},
        {"type": "attention", "num_heads": 3, "bias": False},
        {"type": "layernorm"},
        {"type": "gelu"},
        {"type": "sigmoid"},
        {"type": "tanh"},
    ],
}

STACKS = [
    pytest.param(
        {
            "input": [3, 12, 10],
            "batch": 2,
            "layers": [
                _conv(4, 3, padding=1),
                {"type": "batchnorm2d"},
                {"type": "relu6"},
                _conv(4, 1, bias=False),
                {"type": "hardswish"},
                {"type": "maxpool2d", "kernel_size": [3, 2], "stride": 2, "padding": 1},
                {"type": "avgpool2d", "kernel_size": 2, "padding": 1},
            ],
        },
        id="convs-norm-windowed-pools",
    ),
    pytest.param(ADAPTIVE_POOLS, id="adaptive-pools"),
    pytest.param(
        {
            "input": [8, 6, 6],
            "layers": [
                {"type": "depthwise_conv2d", "kernel_size": 3, "multiplier": 2},
                {"type": "separable_conv2d", "out_channels": 4, "kernel_size": 3, "padding": 1},
                {"type": "pointwise_conv2d", "out_channels": 2, "bias": False},
                {"type": "silu"},
            ],
        },
        id="depthwise-separable-pointwise",
    ),
    pytest.param(ATTENTION_ON_A_BATCH, id="attention-on-a-batch"),
    pytest.param(
        {"input": [3, 4, 6], "layers": [{"type": "linear", "out_features": 5}, {"type": "layernorm"}]},
        id="linear-on-an-image",
    ),
]


@pytest.mark.parametrize("stack_json", STACKS)
def test_hand_written_stacks_agree(stack_json: dict):
    assert_other_ops_agree(stack_json)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(valid_stacks())
def test_random_valid_stacks_agree(stack_json: dict):
    assert_other_ops_agree(stack_json)


@pytest.mark.parametrize(
    "stack_json",
    [
        pytest.param(ATTENTION_ON_A_BATCH, id="attention-on-a-batch"),
        pytest.param(ADAPTIVE_POOLS, id="adaptive-pools"),
    ],
)
def test_a_real_module_on_the_cpu_agrees(stack_json: dict):
    assert_other_ops_agree(stack_json, device="cpu")


# ---------------------------------------------------------------------------
# the check notices a rule the torch side loses


@pytest.mark.parametrize(
    "op, preset_name",
    [
        pytest.param("addmm", "Worked example: GEMM", id="linear-bias-adds"),
        pytest.param("convolution", "Worked example: 3x3 conv, RGB in", id="conv-bias-adds"),
        pytest.param("_softmax", "Transformer encoder block (ViT-B/16)", id="attention-softmax"),
        pytest.param("mean", "Small CNN (CIFAR-10)", id="global-average-pooling"),
    ],
)
def test_dropping_a_rule_breaks_agreement(op: str, preset_name: str, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setitem(torch_count.OTHER_OPS, op, lambda args, out: ())
    with pytest.raises(AssertionError):
        assert_other_ops_agree(preset(preset_name).stack)


# ---------------------------------------------------------------------------
# the rules, one op at a time


class Lambda(nn.Module):
    def __init__(self, function):
        super().__init__()
        self.function = function

    def forward(self, x):
        return self.function(x)


RULES = [
    pytest.param(lambda x: x * 0.125, (2, 3, 4), {"scaling": 2 * 3 * 4}, id="times-a-constant"),
    pytest.param(lambda x: x / 8, (2, 3, 4), {"scaling": 2 * 3 * 4}, id="over-a-constant"),
    pytest.param(lambda x: x * x, (2, 3, 4), {"elementwise": 2 * 3 * 4}, id="times-a-tensor"),
    pytest.param(lambda x: x + x[:, :1], (2, 3, 4), {"elementwise": 2 * 3 * 4}, id="residual-add"),
    pytest.param(lambda x: x.mean([2, 3]), (2, 3, 5, 4), {"pooling": 2 * 3 * 5 * 4}, id="mean-over-h-w"),
    pytest.param(lambda x: x.mean(-1), (2, 3, 5, 4), {"reduction": 2 * 3 * 5 * 4}, id="mean-over-w"),
    pytest.param(lambda x: x.mean([1, 2]), (2, 3, 5), {"reduction": 2 * 3 * 5}, id="mean-of-tokens"),
    pytest.param(lambda x: x.sum(1), (2, 3, 5), {"reduction": 2 * 3 * 5}, id="sum"),
    pytest.param(lambda x: torch.softmax(x, -1), (2, 3, 5), {"softmax": 3 * 2 * 3 * 5}, id="softmax"),
    pytest.param(
        lambda x: nn.functional.group_norm(x, 2),
        (2, 4, 3, 3),
        {"normalization": 5 * 2 * 4 * 3 * 3},
        id="group-norm",
    ),
    pytest.param(
        lambda x: torch.baddbmm(x[:, :, :3], x, x.transpose(1, 2)[:, :, :3]),
        (2, 3, 5),
        {"elementwise": 2 * 3 * 3},
        id="baddbmm-adds-its-input",
    ),
    pytest.param(lambda x: torch.bmm(x, x.transpose(1, 2)), (2, 3, 5), {}, id="bmm-adds-nothing"),
    pytest.param(
        lambda x: nn.functional.linear(x, torch.ones(4, 5, device=x.device)),
        (2, 3, 5),
        {},
        id="linear-without-bias",
    ),
]


@pytest.mark.parametrize("function, shape, expected", RULES)
def test_rule(function, shape: tuple[int, ...], expected: dict[str, int]):
    report = count_module(Lambda(function), shape[1:], batch=shape[0], device="meta")
    assert not report.unsupported
    assert _labelled(report.other_ops_by_label().items()) == expected


def test_the_fused_cpu_attention_kernel_counts_the_scaling_and_softmax_inside_it():
    # need_weights=False on real CPU tensors runs one kernel for softmax(Q·Kᵀ/√d)·V
    n, length, d, heads = 2, 7, 12, 3
    attention = nn.MultiheadAttention(d, heads, batch_first=True).eval()
    report = count_module(
        Lambda(lambda x: attention(x, x, x, need_weights=False)[0]), (length, d), batch=n, device="cpu"
    )
    kernels = {term.label for row in report.rows for term in row.cost.terms}
    assert "aten._scaled_dot_product_flash_attention_for_cpu" in kernels
    scores = n * heads * length * length
    assert report.other_ops_by_label() == {
        "bias add": n * length * (3 * d + d),
        "scaling": n * length * d,
        "softmax": 3 * scores,
    }
    analytic = calc.analyze(
        calc.parse_stack(
            {"input": [length, d], "batch": n, "layers": [{"type": "attention", "num_heads": heads}]}
        )
    )
    assert report.other_ops_by_label() == _labelled(analytic.other_ops_by_label().items())
    assert report.macs == analytic.macs == 4 * n * length * d * d + 2 * n * length * length * d


def test_one_op_is_given_one_rule():
    with pytest.raises(ValueError, match=r"aten\.relu"):
        torch_count.rule_table(
            (("relu",), torch_count.per_output_element("activation")),
            (("relu",), torch_count.per_output_element("elementwise")),
        )
    with pytest.raises(ValueError, match=r"aten\.view"):
        torch_count.rule_table((("view",), torch_count.per_output_element("elementwise")))
