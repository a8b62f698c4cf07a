"""Depthwise-separable comparison and what-if: hand arithmetic, and torch as the oracle.

A standard conv and its separable twin are counted by the registered formulas; torch counts
nn.Conv2d and the depthwise + pointwise pair on the meta device (FlopCounterMode // 2, params
by numel). The what-if on a torch model is checked against counting the rewritten module.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import calc
from calc.breakdown import row_category
from calc.errors import SpecError
from calc.presets import preset
from calc.registry import MAX_DIM
from calc.separable import compare, savings_grid, separable_stack, what_if_convs, what_if_stack
from calc.work import Work

ROOT = Path(__file__).resolve().parents[1]
SMALL_CNN = preset("Small CNN (CIFAR-10)").stack


# ---------------------------------------------------------------------------
# compare: one conv


def test_the_check_figures_32_to_64_3x3_at_224():
    c = compare(32, 64, 3, 224)
    assert c.standard_macs == 64 * 32 * 3 * 3 * 224 * 224 == 924_844_032
    assert c.depthwise_macs == 32 * 3 * 3 * 224 * 224 == 14_450_688
    assert c.pointwise_macs == 64 * 32 * 224 * 224 == 102_760_448
    assert c.separable_macs == 32 * 3 * 3 * 224 * 224 + 64 * 32 * 224 * 224 == 117_211_136
    assert (c.standard_params, c.depthwise_params, c.pointwise_params, c.separable_params) == (
        64 * 32 * 3 * 3,
        32 * 3 * 3,
        64 * 32,
        32 * 3 * 3 + 64 * 32,
    )
    assert c.input_shape == (32, 224, 224) and c.output_shape == (64, 224, 224) and c.padding == 1
    assert c.savings == 1 - 117_211_136 / 924_844_032
    assert round(c.savings, 4) == 0.8733
    assert c.approximate_savings == pytest.approx(1 - (1 / 64 + 1 / 9), abs=1e-15)


def test_the_comparison_is_the_registered_formulas():
    """The same numbers as the stack presets of the worked example, analysed as any stack."""
    c = compare(32, 64, 3, 224)
    standard = dict(preset("Worked example: standard 3x3 conv 32 -> 64").stack)
    separable = dict(preset("Worked example: separable 3x3 conv 32 -> 64").stack)
    for stack in (standard, separable):
        stack["layers"] = [dict(layer, bias=False) for layer in stack["layers"]]
    assert c.standard_macs == calc.analyze(calc.parse_stack(standard)).macs
    assert c.separable_macs == calc.analyze(calc.parse_stack(separable)).macs
    assert c.separable.rows[0].kind == "separable_conv2d" and c.standard.rows[0].kind == "conv2d"


# H' = (113 + 2*2 - 5) // 2 + 1 = 57; W' = (90 + 2*2 - 5) // 2 + 1 = 45
ODD = [
    pytest.param(
        dict(in_channels=24, out_channels=40, kernel_size=5, size=113, stride=2, padding=2),
        (40, 57, 57),
        40 * 24 * 5 * 5 * 57 * 57,
        24 * 5 * 5 * 57 * 57,
        40 * 24 * 57 * 57,
        id="24-40-5x5-stride2-113",
    ),
    pytest.param(
        dict(in_channels=24, out_channels=40, kernel_size=5, size=(113, 90), stride=2, padding=2),
        (40, 57, 45),
        40 * 24 * 5 * 5 * 57 * 45,
        24 * 5 * 5 * 57 * 45,
        40 * 24 * 57 * 45,
        id="rectangular-input",
    ),
    # H' = (15 - 4) // 3 + 1 = 4: no padding, an even kernel, stride 3
    pytest.param(
        dict(in_channels=7, out_channels=5, kernel_size=4, size=15, stride=3, padding=0),
        (5, 4, 4),
        5 * 7 * 4 * 4 * 4 * 4,
        7 * 4 * 4 * 4 * 4,
        5 * 7 * 4 * 4,
        id="even-kernel-no-padding-stride3",
    ),
    # padding default 1 // 2 = 0: a 1x1 "standard" conv, whose twin costs more
    pytest.param(
        dict(in_channels=16, out_channels=8, kernel_size=1, size=10),
        (8, 10, 10),
        8 * 16 * 10 * 10,
        16 * 10 * 10,
        8 * 16 * 10 * 10,
        id="1x1-costs-more",
    ),
]


@pytest.mark.parametrize("arguments, output_shape, standard, depthwise, pointwise", ODD)
def test_odd_cases_as_arithmetic_and_against_torch(arguments, output_shape, standard, depthwise, pointwise):
    torch = pytest.importorskip("torch")
    from torch import nn
    from torch.utils.flop_counter import FlopCounterMode

    c = compare(**arguments)
    assert (c.output_shape, c.standard_macs, c.depthwise_macs, c.pointwise_macs) == (
        output_shape,
        standard,
        depthwise,
        pointwise,
    )
    assert c.separable_macs == depthwise + pointwise

    c_in, c_out, k, stride, padding = (c.in_channels, c.out_channels, c.kernel_size, c.stride, c.padding)
    with torch.device("meta"):
        conv = nn.Conv2d(c_in, c_out, k, stride, padding, bias=False)
        depthwise_conv = nn.Conv2d(c_in, c_in, k, stride, padding, groups=c_in, bias=False)
        pointwise_conv = nn.Conv2d(c_in, c_out, 1, bias=False)
    x = torch.empty((1, *c.input_shape), device="meta")
    outputs = []
    for module, macs, params in (
        (conv, c.standard_macs, c.standard_params),
        (depthwise_conv, c.depthwise_macs, c.depthwise_params),
    ):
        with FlopCounterMode(display=False) as counter:
            outputs.append(module(x))
        assert counter.get_total_flops() // 2 == macs
        assert sum(p.numel() for p in module.parameters()) == params
    with FlopCounterMode(display=False) as counter:
        z = pointwise_conv(depthwise_conv(x))
    assert counter.get_total_flops() // 2 == c.separable_macs
    assert sum(p.numel() for p in pointwise_conv.parameters()) == c.pointwise_params
    assert tuple(outputs[0].shape[1:]) == tuple(z.shape[1:]) == c.output_shape


APPROXIMATE = [
    pytest.param((32, 64, 3, 224), id="stride1-same"),
    pytest.param((24, 40, 5, 113, 2, 2), id="stride2-5x5"),
    pytest.param((7, 5, 4, 15, 3, 0), id="even-kernel-stride3-no-padding"),
    pytest.param((3, 10, 7, (31, 17), 2, 0), id="7x7-valid-rectangular"),
    pytest.param((16, 8, 1, 10), id="1x1-negative-savings"),
]


@pytest.mark.parametrize("arguments", APPROXIMATE)
def test_the_textbook_savings_hold_for_every_stride_and_padding(arguments):
    """1 - (1/C_out + 1/K²) is exact, not only at stride 1 with same padding: the depthwise conv has
    the standard one's output extent and the pointwise runs there, so H'·W' cancels. Params (no bias)
    are the MACs without H'·W': the same ratio."""
    c = compare(*arguments)
    assert c.savings == c.approximate_savings == c.params_savings
    k, c_out = c.kernel_size, c.out_channels
    assert c.separable_macs * c_out * k * k == c.standard_macs * (k * k + c_out)


def test_savings_grid_shape_and_monotonicity():
    out_channels_values, kernel_values = (8, 16, 32, 64, 128, 256), (1, 3, 5, 7)
    grid = savings_grid(32, out_channels_values, kernel_values, 56)
    assert len(grid) == len(out_channels_values) * len(kernel_values)
    assert [(c_out, k) for c_out, k, _ in grid] == [
        (c_out, k) for c_out in out_channels_values for k in kernel_values
    ]
    savings = {(c_out, k): value for c_out, k, value in grid}
    for k in kernel_values:  # more output channels: the depthwise share shrinks
        column = [savings[c_out, k] for c_out in out_channels_values]
        assert column == sorted(column) and len(set(column)) == len(column)
    for c_out in out_channels_values:  # larger kernels: the pointwise share shrinks
        row = [savings[c_out, k] for k in kernel_values]
        assert row == sorted(row) and len(set(row)) == len(row)
    assert savings[64, 3] == compare(32, 64, 3, 56).savings
    assert savings[8, 1] < 0 < savings[8, 3]  # a 1x1 conv gains nothing from a depthwise 1x1
    strided = savings_grid(32, (64,), (3,), 56, stride=2)
    assert strided == [(64, 3, compare(32, 64, 3, 56, stride=2).savings)]


ERRORS = [
    pytest.param(dict(in_channels=0), "in_channels", id="in-channels-zero"),
    pytest.param(dict(out_channels=-4), "out_channels", id="out-channels-negative"),
    pytest.param(dict(in_channels=MAX_DIM + 1), "in_channels", id="in-channels-beyond-limit"),
    pytest.param(dict(out_channels=True), "out_channels", id="out-channels-bool"),
    pytest.param(dict(kernel_size=0), "kernel_size", id="kernel-zero"),
    pytest.param(dict(kernel_size=3.0), "kernel_size", id="kernel-float"),
    pytest.param(dict(kernel_size=9, size=4, padding=1), "kernel_size", id="kernel-larger-than-padded-input"),
    pytest.param(dict(size=0), "size", id="size-zero"),
    pytest.param(dict(size=(32, 32, 3)), "size", id="size-three-values"),
    pytest.param(dict(size=(32, MAX_DIM + 1)), "size", id="width-beyond-limit"),
    pytest.param(dict(stride=0), "stride", id="stride-zero"),
    pytest.param(dict(padding=-1), "padding", id="padding-negative"),
    pytest.param(dict(padding="same"), "padding", id="padding-string"),
]


@pytest.mark.parametrize("change, field", ERRORS)
def test_bad_input_names_the_field(change, field):
    arguments = dict(in_channels=32, out_channels=64, kernel_size=3, size=224) | change
    with pytest.raises(SpecError) as raised:
        compare(**arguments)
    assert raised.value.field == field and raised.value.layer is None
    assert f"field '{field}'" in str(raised.value) and "\n" not in str(raised.value)


def test_an_output_beyond_the_element_limit_is_refused():
    with pytest.raises(SpecError, match="beyond the limit"):
        compare(1, MAX_DIM, 1, (MAX_DIM, MAX_DIM))


def test_savings_grid_fits_any_kernel_and_refuses_a_bad_one():
    # padding k // 2 makes the padded input H + 2·(k // 2) >= k: any kernel fits even a 1x1 input
    assert [c_out_k[:2] for c_out_k in savings_grid(8, (16,), (3, 11), 1)] == [(16, 3), (16, 11)]
    with pytest.raises(SpecError, match="field 'kernel_size'"):
        savings_grid(8, (16,), (3, 0), 4)


# ---------------------------------------------------------------------------
# what-if on a stack


def _separable_by_hand(stack_json: dict) -> dict:
    """The rewritten stack JSON, written independently of calc.separable."""
    layers = []
    for layer in stack_json["layers"]:
        kernel = layer.get("kernel_size")
        kernel = kernel if isinstance(kernel, list) else [kernel, kernel]
        if layer["type"] == "conv2d" and layer.get("groups", 1) == 1 and max(kernel) > 1:
            layers.append(
                {
                    "type": "separable_conv2d",
                    **{key: value for key, value in layer.items() if key not in ("type", "groups")},
                }
            )
        else:
            layers.append(layer)
    return dict(stack_json, layers=layers)


def test_what_if_small_cnn_by_arithmetic():
    what_if = what_if_stack(calc.parse_stack(SMALL_CNN))
    # conv 3 -> 32 at 32x32, conv 32 -> 64 at 16x16, conv 64 -> 128 at 8x8; all 3x3, padding 1, no bias
    assert [(c.name, c.kind_before, c.kind_after) for c in what_if.changes] == [
        ("0", "conv2d", "separable_conv2d"),
        ("4", "conv2d", "separable_conv2d"),
        ("8", "conv2d", "separable_conv2d"),
    ]
    assert [(c.macs_before, c.macs_after) for c in what_if.changes] == [
        (32 * 3 * 3 * 3 * 32 * 32, 3 * 3 * 3 * 32 * 32 + 32 * 3 * 32 * 32),
        (64 * 32 * 3 * 3 * 16 * 16, 32 * 3 * 3 * 16 * 16 + 64 * 32 * 16 * 16),
        (128 * 64 * 3 * 3 * 8 * 8, 64 * 3 * 3 * 8 * 8 + 128 * 64 * 8 * 8),
    ]
    assert [(c.params_before, c.params_after) for c in what_if.changes] == [
        (32 * 3 * 3 * 3, 3 * 3 * 3 + 32 * 3),
        (64 * 32 * 3 * 3, 32 * 3 * 3 + 64 * 32),
        (128 * 64 * 3 * 3, 64 * 3 * 3 + 128 * 64),
    ]
    saved = sum(c.macs_before - c.macs_after for c in what_if.changes)
    assert what_if.macs_after == what_if.macs_before - saved
    assert what_if.savings == 1 - what_if.macs_after / what_if.macs_before
    unchanged = [
        (old, new)
        for old, new in zip(what_if.before.rows, what_if.after.rows, strict=True)
        if old.kind == new.kind
    ]
    assert len(unchanged) == len(SMALL_CNN["layers"]) - 3
    assert all(old == new for old, new in unchanged)  # shapes kept: every other layer costs what it did


def test_what_if_small_cnn_equals_the_rewritten_stack_and_torch():
    torch = pytest.importorskip("torch")
    from torch.utils.flop_counter import FlopCounterMode

    from calc.torch_build import build_stack

    what_if = what_if_stack(calc.parse_stack(SMALL_CNN))
    rewritten = calc.parse_stack(_separable_by_hand(SMALL_CNN))
    assert separable_stack(calc.parse_stack(SMALL_CNN)) == rewritten
    expected = calc.analyze(rewritten)
    assert what_if.after == expected
    assert [row.macs for row in what_if.after.rows] == [row.macs for row in expected.rows]
    model = build_stack(rewritten)
    with FlopCounterMode(display=False) as counter:
        model(torch.empty((1, *rewritten.input_shape), device="meta"))
    assert counter.get_total_flops() // 2 == what_if.macs_after
    assert sum(p.numel() for p in model.parameters()) == what_if.params_after


WHAT_IF_STACKS = [
    # 3x3 with stride, dilation and bias; 1x3 (a kernel over 1 on one side); "same"
    pytest.param(
        {
            "input": [4, 19, 17],
            "batch": 2,
            "layers": [
                {
                    "type": "conv2d",
                    "out_channels": 6,
                    "kernel_size": 3,
                    "stride": 2,
                    "padding": 2,
                    "dilation": 2,
                },
                {
                    "type": "conv2d",
                    "out_channels": 6,
                    "kernel_size": [1, 3],
                    "padding": [0, 1],
                    "bias": False,
                },
                {"type": "conv2d", "out_channels": 8, "kernel_size": 4, "padding": "same"},
            ],
        },
        ["0", "1", "2"],
        id="strided-dilated-rect-same",
    ),
    # grouped, depthwise-as-conv2d and 1x1 convs are left alone
    pytest.param(
        {
            "input": [8, 12, 12],
            "layers": [
                {"type": "conv2d", "out_channels": 8, "kernel_size": 3, "padding": 1, "groups": 4},
                {"type": "conv2d", "out_channels": 8, "kernel_size": 3, "padding": 1, "groups": 8},
                {"type": "conv2d", "out_channels": 16, "kernel_size": 1},
                {"type": "conv2d", "out_channels": 16, "kernel_size": 5},
            ],
        },
        ["3"],
        id="grouped-depthwise-1x1-left-alone",
    ),
]


@pytest.mark.parametrize("stack_json, changed", WHAT_IF_STACKS)
def test_what_if_stack_cases_against_the_rewritten_stack(stack_json, changed):
    what_if = what_if_stack(calc.parse_stack(stack_json))
    assert [c.name for c in what_if.changes] == changed
    assert what_if.after == calc.analyze(calc.parse_stack(_separable_by_hand(stack_json)))
    assert what_if.before.output_shape == what_if.after.output_shape


def test_what_if_with_nothing_to_replace_is_an_empty_diff():
    what_if = what_if_stack(calc.parse_stack(preset("MobileNetV2 block").stack))
    assert what_if.changes == () and what_if.skipped == ()
    assert what_if.after == what_if.before and what_if.savings == 0.0


def test_what_if_stack_refuses_a_stack_that_does_not_fit():
    bad = {"input": [3, 4, 4], "layers": [{"type": "conv2d", "out_channels": 8, "kernel_size": 7}]}
    with pytest.raises(SpecError, match="field 'kernel_size'"):
        what_if_stack(calc.parse_stack(bad))


# ---------------------------------------------------------------------------
# what-if on torch models: the rewritten module is the oracle


def _assert_what_if_matches_rewritten(what_if, rewritten_report):
    oracle = {row.name: row for row in rewritten_report.rows}
    changed = {c.name for c in what_if.changes}
    for row in what_if.after.rows:
        if row.name in changed:
            parts = [oracle[f"{row.name}.0"], oracle[f"{row.name}.1"]]
            kinds = [row_category(part) for part in parts]
            assert kinds == [Work.DEPTHWISE_CONV, Work.POINTWISE_CONV], row.name
            assert row.macs == sum(part.macs for part in parts), row.name
            assert row.params == sum(part.params for part in parts), row.name
            assert row.output_shape == parts[1].output_shape, row.name
        else:
            assert (row.macs, row.params) == (oracle[row.name].macs, oracle[row.name].params), row.name
    assert (what_if.macs_after, what_if.params_after) == (rewritten_report.macs, rewritten_report.params)


def test_what_if_convs_on_a_small_module():
    torch = pytest.importorskip("torch")
    from torch import nn

    from calc.torch_count import count_module
    from calc.torch_separable import conv_settings, rewrite_separable

    def model():
        with torch.device("meta"):
            return nn.Sequential(
                nn.Conv2d(3, 8, 3, stride=2, padding=1),  # replaced, with bias
                nn.ReLU(),
                nn.Conv2d(8, 8, (1, 3), padding=(0, 1), bias=False),  # replaced: 1x3
                nn.Conv2d(8, 16, 3, padding="same", dilation=2),  # replaced: "same", dilated
                nn.Conv2d(16, 16, 3, padding=1, groups=4),  # grouped: left alone
                nn.Conv2d(16, 16, 3, padding=1, groups=16),  # depthwise: left alone
                nn.Conv2d(16, 12, 1),  # 1x1: left alone
            ).eval()

    report = count_module(model(), (3, 15, 14), batch=2)
    what_if = what_if_convs(report, conv_settings(model()))
    assert [c.name for c in what_if.changes] == ["0", "2", "3"] and what_if.skipped == ()
    # conv 0: H' = (15 + 2 - 3) // 2 + 1 = 8, W' = (14 + 2 - 3) // 2 + 1 = 7, batch 2
    first = what_if.changes[0]
    assert (first.kind_before, first.kind_after) == ("Conv2d", "separable_conv2d")
    assert (first.macs_before, first.macs_after) == (
        2 * 8 * 3 * 3 * 3 * 8 * 7,
        2 * (3 * 3 * 3 * 8 * 7 + 8 * 3 * 8 * 7),
    )
    assert (first.params_before, first.params_after) == (8 * 3 * 3 * 3 + 8, 3 * 3 * 3 + 8 * 3 + 8)
    rewritten = rewrite_separable(model())
    assert [type(m).__name__ for m in rewritten] == [
        "Sequential",
        "ReLU",
        "Sequential",
        "Sequential",
        "Conv2d",
        "Conv2d",
        "Conv2d",
    ]
    _assert_what_if_matches_rewritten(what_if, count_module(rewritten, (3, 15, 14), batch=2))


def test_what_if_convs_leaves_a_conv_that_ran_twice_or_never():
    torch = pytest.importorskip("torch")
    from torch import nn

    from calc.torch_count import count_module
    from calc.torch_separable import conv_settings

    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.shared = nn.Conv2d(4, 4, 3, padding=1)
            self.unused = nn.Conv2d(4, 4, 3)

        def forward(self, x):
            return self.shared(torch.relu(self.shared(x)))

    with torch.device("meta"):
        model = Model()
    report = count_module(model, (4, 6, 6))
    what_if = what_if_convs(report, conv_settings(model))
    assert what_if.changes == () and what_if.after == what_if.before
    assert [reason.split(":")[0] for reason in what_if.skipped] == ["shared", "unused"]


def test_resnet18_what_if_equals_counting_the_rewritten_model():
    pytest.importorskip("torchvision")
    from calc import zoo
    from calc.torch_count import count_module
    from calc.torch_separable import rewrite_separable, what_if_model

    what_if = what_if_model("resnet18")
    assert what_if.before == zoo.count("resnet18")
    assert (
        what_if.macs_before == 1_814_073_344 and what_if.params_before == 11_689_512
    )  # torchvision's metadata
    # the stem 7x7 and sixteen 3x3 convs; the 1x1 downsample convs stay
    assert len(what_if.changes) == 1 + 16 and what_if.skipped == ()
    assert not any("downsample" in c.name for c in what_if.changes)
    stem = what_if.changes[0]
    # conv1: 3 -> 64, 7x7, stride 2, padding 3: H' = (224 + 6 - 7) // 2 + 1 = 112
    assert (stem.name, stem.macs_before, stem.macs_after) == (
        "conv1",
        64 * 3 * 7 * 7 * 112 * 112,
        3 * 7 * 7 * 112 * 112 + 64 * 3 * 112 * 112,
    )
    rewritten = count_module(rewrite_separable(zoo.build("resnet18")), (3, 224, 224))
    _assert_what_if_matches_rewritten(what_if, rewritten)
    assert what_if.macs_after == 223_042_560 and what_if.params_after == 1_946_107


def test_grouped_convs_are_left_alone_in_regnet():
    pytest.importorskip("torchvision")
    from torch import nn

    from calc import zoo
    from calc.torch_count import count_module
    from calc.torch_separable import conv_settings, rewrite_separable, what_if_model

    settings = conv_settings(zoo.build("regnet_x_400mf"))
    grouped = {path for path, conv in settings.items() if conv.groups > 1}
    assert len(grouped) == 22
    what_if = what_if_model("regnet_x_400mf")
    assert [c.name for c in what_if.changes] == ["stem.0"]  # the only 3x3 conv with groups 1
    before = {row.name: row for row in what_if.before.rows}
    for row in what_if.after.rows:
        if row.name in grouped:
            assert row is before[row.name]
    rewritten_model = rewrite_separable(zoo.build("regnet_x_400mf"))
    still = {
        path
        for path, module in rewritten_model.named_modules()
        if isinstance(module, nn.Conv2d) and module.groups > 1 and module.groups != module.in_channels
    }
    assert still == grouped
    _assert_what_if_matches_rewritten(what_if, count_module(rewritten_model, (3, 224, 224)))


def test_what_if_model_on_a_preset_is_the_stack_what_if():
    pytest.importorskip("torch")
    from calc.torch_separable import what_if_model

    assert what_if_model("stack: Small CNN (CIFAR-10)") == what_if_stack(calc.parse_stack(SMALL_CNN))
    at_64 = what_if_model("stack: Small CNN (CIFAR-10)", resolution=64)
    assert at_64.changes[0].macs_after == 4 * what_if_stack(calc.parse_stack(SMALL_CNN)).changes[0].macs_after


# ---------------------------------------------------------------------------
# boundary


def test_separable_works_with_torch_absent():
    code = textwrap.dedent("""
        import sys
        sys.modules["torch"] = None  # import torch now raises ImportError
        import calc
        from calc.separable import compare, what_if_stack
        from calc.presets import preset
        assert compare(32, 64, 3, 224).separable_macs == 117_211_136
        what_if = what_if_stack(calc.parse_stack(preset("Small CNN (CIFAR-10)").stack))
        assert len(what_if.changes) == 3
        from calc.__main__ import main
        assert main(["separable", "--in-channels", "32", "--out-channels", "64", "--kernel-size", "3",
                     "--size", "224", "--json"]) == 0
        assert not [name for name in sys.modules if name.split(".")[0] == "torch" and sys.modules[name]]
    """)
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert '"separable_macs": 117211136' in result.stdout
