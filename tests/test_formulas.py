"""Every registered layer kind against hand-written arithmetic (torchprofile's OPERATOR_CASES style).

Each case is one layer on one input: the expected output shape (one sample, no batch),
params, MACs and other ops (by label) are written as the arithmetic of the counting
convention stated in calc.formulas, never copied from the code's output.
Pooling windows of adaptive pools follow torch: start = floor(i*H/H'), end = ceil((i+1)*H/H').
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pytest

import calc
from calc.fields import IntField
from calc.registry import register
from calc.units import DTYPE_BYTES, flops_from_macs


@dataclass(frozen=True)
class Case:
    input_shape: list[int]
    layer: dict
    output_shape: tuple[int, ...]
    params: int
    macs: int
    other_ops: dict[str, int]
    batch: int = 1


CASES = [
    # --- conv2d -----------------------------------------------------------------------------
    pytest.param(
        Case(
            [3, 224, 224],
            {"type": "conv2d", "out_channels": 64, "kernel_size": 3, "padding": 1},
            (64, 224, 224),
            64 * 3 * 3 * 3 + 64,
            64 * 3 * 3 * 3 * 224 * 224,
            {"bias add": 64 * 224 * 224},
        ),
        id="conv2d-3x3-rgb-224",
    ),
    # H' = (32 + 2*1 - 3) // 2 + 1 = 16
    pytest.param(
        Case(
            [3, 32, 32],
            {
                "type": "conv2d",
                "out_channels": 16,
                "kernel_size": 3,
                "stride": 2,
                "padding": 1,
                "bias": False,
            },
            (16, 16, 16),
            16 * 3 * 3 * 3,
            16 * 3 * 3 * 3 * 16 * 16,
            {},
        ),
        id="conv2d-stride2-nobias",
    ),
    # span = 2*(3-1)+1 = 5, H' = 20 - 5 + 1 = 16
    pytest.param(
        Case(
            [8, 20, 20],
            {"type": "conv2d", "out_channels": 8, "kernel_size": 3, "dilation": 2},
            (8, 16, 16),
            8 * 8 * 3 * 3 + 8,
            8 * 8 * 3 * 3 * 16 * 16,
            {"bias add": 8 * 16 * 16},
        ),
        id="conv2d-dilation2",
    ),
    # H' = 10 - 3 + 1 = 8, W' = 12 - 5 + 1 = 8
    pytest.param(
        Case(
            [4, 10, 12],
            {"type": "conv2d", "out_channels": 6, "kernel_size": [3, 5]},
            (6, 8, 8),
            6 * 4 * 3 * 5 + 6,
            6 * 4 * 3 * 5 * 8 * 8,
            {"bias add": 6 * 8 * 8},
        ),
        id="conv2d-rect-kernel-3x5",
    ),
    # H' = (11 - 3) // 2 + 1 = 5, W' = (11 + 2 - 3) // 1 + 1 = 11
    pytest.param(
        Case(
            [2, 11, 11],
            {"type": "conv2d", "out_channels": 3, "kernel_size": 3, "stride": [2, 1], "padding": [0, 1]},
            (3, 5, 11),
            3 * 2 * 3 * 3 + 3,
            3 * 2 * 3 * 3 * 5 * 11,
            {"bias add": 3 * 5 * 11},
        ),
        id="conv2d-rect-stride-padding",
    ),
    pytest.param(
        Case(
            [8, 16, 16],
            {"type": "conv2d", "out_channels": 16, "kernel_size": 3, "padding": 1, "groups": 4},
            (16, 16, 16),
            16 * (8 // 4) * 3 * 3 + 16,
            16 * (8 // 4) * 3 * 3 * 16 * 16,
            {"bias add": 16 * 16 * 16},
        ),
        id="conv2d-groups4",
    ),
    pytest.param(
        Case(
            [6, 8, 8],
            {"type": "conv2d", "out_channels": 6, "kernel_size": 3, "padding": 1, "groups": 6, "bias": False},
            (6, 8, 8),
            6 * 1 * 3 * 3,
            6 * 1 * 3 * 3 * 8 * 8,
            {},
        ),
        id="conv2d-groups-equal-channels",
    ),
    pytest.param(
        Case(
            [2, 9, 9],
            {"type": "conv2d", "out_channels": 4, "kernel_size": 4, "padding": "same"},
            (4, 9, 9),
            4 * 2 * 4 * 4 + 4,
            4 * 2 * 4 * 4 * 9 * 9,
            {"bias add": 4 * 9 * 9},
        ),
        id="conv2d-same-even-kernel",
    ),
    pytest.param(
        Case(
            [3, 7, 6],
            {"type": "conv2d", "out_channels": 5, "kernel_size": [2, 4], "padding": "same", "dilation": 2},
            (5, 7, 6),
            5 * 3 * 2 * 4 + 5,
            5 * 3 * 2 * 4 * 7 * 6,
            {"bias add": 5 * 7 * 6},
        ),
        id="conv2d-same-even-rect-dilated",
    ),
    pytest.param(
        Case(
            [3, 16, 16],
            {"type": "conv2d", "out_channels": 8, "kernel_size": 3, "padding": 1},
            (8, 16, 16),
            8 * 3 * 3 * 3 + 8,
            4 * 8 * 3 * 3 * 3 * 16 * 16,
            {"bias add": 4 * 8 * 16 * 16},
            batch=4,
        ),
        id="conv2d-batch4",
    ),
    # H' = 5 - 5 + 1 = 1: a kernel exactly as large as the input
    pytest.param(
        Case(
            [2, 5, 5],
            {"type": "conv2d", "out_channels": 3, "kernel_size": 5},
            (3, 1, 1),
            3 * 2 * 5 * 5 + 3,
            3 * 2 * 5 * 5 * 1 * 1,
            {"bias add": 3},
        ),
        id="conv2d-kernel-equals-input",
    ),
    # --- depthwise, pointwise, separable --------------------------------------------------------
    pytest.param(
        Case(
            [32, 224, 224],
            {"type": "depthwise_conv2d", "kernel_size": 3, "padding": 1},
            (32, 224, 224),
            32 * 1 * 3 * 3 + 32,
            32 * 1 * 3 * 3 * 224 * 224,
            {"bias add": 32 * 224 * 224},
        ),
        id="depthwise-3x3",
    ),
    # H' = (16 + 2 - 3) // 2 + 1 = 8
    pytest.param(
        Case(
            [8, 16, 16],
            {
                "type": "depthwise_conv2d",
                "kernel_size": 3,
                "padding": 1,
                "stride": 2,
                "multiplier": 2,
                "bias": False,
            },
            (8 * 2, 8, 8),
            8 * 2 * 1 * 3 * 3,
            8 * 2 * 1 * 3 * 3 * 8 * 8,
            {},
        ),
        id="depthwise-multiplier2-stride2",
    ),
    pytest.param(
        Case(
            [4, 12, 12],
            {"type": "depthwise_conv2d", "kernel_size": [5, 3], "dilation": 2},
            (4, 4, 8),
            4 * 5 * 3 + 4,
            4 * 5 * 3 * 4 * 8,
            {"bias add": 4 * 4 * 8},
        ),
        id="depthwise-rect-dilated",
    ),  # H' = 12 - 9 + 1 = 4, W' = 12 - 5 + 1 = 8
    pytest.param(
        Case(
            [32, 14, 14],
            {"type": "pointwise_conv2d", "out_channels": 64},
            (64, 14, 14),
            64 * 32 + 64,
            64 * 32 * 14 * 14,
            {"bias add": 64 * 14 * 14},
        ),
        id="pointwise",
    ),
    pytest.param(
        Case(
            [16, 7, 5],
            {"type": "pointwise_conv2d", "out_channels": 24, "bias": False},
            (24, 7, 5),
            24 * 16,
            3 * 24 * 16 * 7 * 5,
            {},
            batch=3,
        ),
        id="pointwise-batch3-nobias",
    ),
    pytest.param(
        Case(
            [32, 56, 56],
            {"type": "separable_conv2d", "out_channels": 64, "kernel_size": 3, "padding": 1},
            (64, 56, 56),
            32 * 3 * 3 + 64 * 32 + 64,
            32 * 3 * 3 * 56 * 56 + 64 * 32 * 56 * 56,
            {"bias add": 64 * 56 * 56},
        ),
        id="separable-3x3",
    ),
    # H' = (15 + 2 - 3) // 2 + 1 = 8
    pytest.param(
        Case(
            [16, 15, 15],
            {
                "type": "separable_conv2d",
                "out_channels": 24,
                "kernel_size": 3,
                "padding": 1,
                "stride": 2,
                "bias": False,
            },
            (24, 8, 8),
            16 * 3 * 3 + 24 * 16,
            2 * (16 * 3 * 3 * 8 * 8 + 24 * 16 * 8 * 8),
            {},
            batch=2,
        ),
        id="separable-stride2-batch2",
    ),
    # --- conv1d: L' = (50 + 2*2 - 5) // 2 + 1 = 25, two groups of 4 / 2 input channels ---------------
    pytest.param(
        Case(
            [4, 50],
            {"type": "conv1d", "out_channels": 8, "kernel_size": 5, "stride": 2, "padding": 2, "groups": 2},
            (8, 25),
            8 * (4 // 2) * 5 + 8,
            8 * 25 * (4 // 2) * 5,
            {"bias add": 8 * 25},
        ),
        id="conv1d-strided-padded-grouped",
    ),
    # --- linear and attention ------------------------------------------------------------------
    pytest.param(
        Case(
            [512],
            {"type": "linear", "out_features": 1000},
            (1000,),
            1000 * 512 + 1000,
            1000 * 512,
            {"bias add": 1000},
        ),
        id="linear-vector",
    ),
    pytest.param(
        Case(
            [10, 64],
            {"type": "linear", "out_features": 32, "bias": False},
            (10, 32),
            32 * 64,
            2 * 10 * 64 * 32,
            {},
            batch=2,
        ),
        id="linear-tokens-batch2-nobias",
    ),
    pytest.param(
        Case(
            [3, 4, 8],
            {"type": "linear", "out_features": 5},
            (3, 4, 5),
            5 * 8 + 5,
            3 * 4 * 8 * 5,
            {"bias add": 3 * 4 * 5},
        ),
        id="linear-on-last-dim-of-image",
    ),
    # QKV: L·D·3D, scores and weighted values: h·L·L·(D/h) each, output projection: L·D·D
    pytest.param(
        Case(
            [16, 64],
            {"type": "attention", "num_heads": 4},
            (16, 64),
            4 * 64 * 64 + 4 * 64,
            16 * 64 * 3 * 64 + 2 * (4 * 16 * 16 * (64 // 4)) + 16 * 64 * 64,
            {"bias add": 16 * 3 * 64 + 16 * 64, "scaling": 16 * 64, "softmax": 3 * 4 * 16 * 16},
        ),
        id="attention-bias",
    ),
    pytest.param(
        Case(
            [10, 32],
            {"type": "attention", "num_heads": 8, "bias": False},
            (10, 32),
            4 * 32 * 32,
            2 * (10 * 32 * 3 * 32 + 2 * (8 * 10 * 10 * (32 // 8)) + 10 * 32 * 32),
            {"scaling": 2 * 10 * 32, "softmax": 2 * 3 * 8 * 10 * 10},
            batch=2,
        ),
        id="attention-nobias-batch2",
    ),
    pytest.param(
        Case(
            [1, 12],
            {"type": "attention", "num_heads": 1},
            (1, 12),
            4 * 12 * 12 + 4 * 12,
            12 * 3 * 12 + 2 * (1 * 12) + 12 * 12,
            {"bias add": 3 * 12 + 12, "scaling": 12, "softmax": 3},
        ),
        id="attention-one-token-one-head",
    ),
    # --- normalization ---------------------------------------------------------------------------
    pytest.param(
        Case(
            [16, 8, 8],
            {"type": "batchnorm2d"},
            (16, 8, 8),
            2 * 16,
            0,
            {"normalization": 2 * 2 * 16 * 8 * 8},
            batch=2,
        ),
        id="batchnorm2d-batch2",
    ),
    pytest.param(
        Case([10, 64], {"type": "layernorm"}, (10, 64), 2 * 64, 0, {"normalization": 5 * 10 * 64}),
        id="layernorm-tokens",
    ),
    pytest.param(
        Case([48], {"type": "layernorm"}, (48,), 2 * 48, 0, {"normalization": 5 * 48}), id="layernorm-vector"
    ),
    # --- activations: one op per element ----------------------------------------------------------
    pytest.param(
        Case([8, 4, 4], {"type": "relu"}, (8, 4, 4), 0, 0, {"activation": 2 * 8 * 4 * 4}, batch=2),
        id="relu-batch2",
    ),
    pytest.param(Case([6, 5, 5], {"type": "relu6"}, (6, 5, 5), 0, 0, {"activation": 6 * 5 * 5}), id="relu6"),
    pytest.param(
        Case([197, 3072], {"type": "gelu"}, (197, 3072), 0, 0, {"activation": 197 * 3072}), id="gelu"
    ),
    pytest.param(
        Case([100], {"type": "silu"}, (100,), 0, 0, {"activation": 3 * 100}, batch=3), id="silu-vector"
    ),
    pytest.param(
        Case([4, 3, 2], {"type": "sigmoid"}, (4, 3, 2), 0, 0, {"activation": 4 * 3 * 2}), id="sigmoid"
    ),
    pytest.param(Case([7, 9], {"type": "tanh"}, (7, 9), 0, 0, {"activation": 7 * 9}), id="tanh"),
    pytest.param(
        Case([16, 112, 112], {"type": "hardswish"}, (16, 112, 112), 0, 0, {"activation": 16 * 112 * 112}),
        id="hardswish",
    ),
    # --- reshapes: known zero ---------------------------------------------------------------------
    pytest.param(Case([10, 64], {"type": "dropout", "p": 0.1}, (10, 64), 0, 0, {}), id="dropout"),
    pytest.param(Case([64, 7, 7], {"type": "flatten"}, (64 * 7 * 7,), 0, 0, {}, batch=2), id="flatten-image"),
    pytest.param(Case([10, 8], {"type": "flatten"}, (10 * 8,), 0, 0, {}), id="flatten-tokens"),
    # --- pooling ------------------------------------------------------------------------------------
    pytest.param(
        Case(
            [8, 32, 32],
            {"type": "maxpool2d", "kernel_size": 2},
            (8, 16, 16),
            0,
            0,
            {"pooling": (2 * 2 - 1) * 8 * 16 * 16},
        ),
        id="maxpool-2x2",
    ),
    # H' = (15 + 2*1 - 3) // 2 + 1 = 8
    pytest.param(
        Case(
            [4, 15, 15],
            {"type": "maxpool2d", "kernel_size": 3, "stride": 2, "padding": 1},
            (4, 8, 8),
            0,
            0,
            {"pooling": (3 * 3 - 1) * 4 * 8 * 8},
        ),
        id="maxpool-3x3-stride2-padding1",
    ),
    # H' = (8 - 2) // 2 + 1 = 4, W' = (9 - 3) // 1 + 1 = 7
    pytest.param(
        Case(
            [2, 8, 9],
            {"type": "maxpool2d", "kernel_size": [2, 3], "stride": [2, 1]},
            (2, 4, 7),
            0,
            0,
            {"pooling": (2 * 3 - 1) * 2 * 4 * 7},
        ),
        id="maxpool-rect",
    ),
    pytest.param(
        Case(
            [8, 32, 32],
            {"type": "avgpool2d", "kernel_size": 2},
            (8, 16, 16),
            0,
            0,
            {"pooling": 2 * 2 * 3 * 8 * 16 * 16},
            batch=3,
        ),
        id="avgpool-2x2-batch3",
    ),
    pytest.param(
        Case(
            [4, 7, 7],
            {"type": "avgpool2d", "kernel_size": 3, "stride": 1, "padding": 1},
            (4, 7, 7),
            0,
            0,
            {"pooling": 3 * 3 * 4 * 7 * 7},
        ),
        id="avgpool-3x3-padding1",
    ),
    # H' = (9 + 2*2 - 5) // 3 + 1 = 3, W' = (10 + 2*1 - 3) // 3 + 1 = 4
    pytest.param(
        Case(
            [2, 9, 10],
            {"type": "avgpool2d", "kernel_size": [5, 3], "stride": 3, "padding": [2, 1]},
            (2, 3, 4),
            0,
            0,
            {"pooling": 5 * 3 * 2 * 3 * 4},
        ),
        id="avgpool-rect-padded",
    ),
    pytest.param(
        Case([64, 7, 7], {"type": "adaptive_avgpool2d"}, (64, 1, 1), 0, 0, {"pooling": 64 * 7 * 7}),
        id="adaptive-to-1",
    ),
    # 7 -> 3: windows [0, 3), [2, 5), [4, 7) along each axis
    pytest.param(
        Case(
            [5, 7, 7],
            {"type": "adaptive_avgpool2d", "output_size": 3},
            (5, 3, 3),
            0,
            0,
            {"pooling": 5 * (3 + 3 + 3) * (3 + 3 + 3)},
        ),
        id="adaptive-7-to-3",
    ),
    # 10 -> 3: [0, 4), [3, 7), [6, 10);  10 -> 4: [0, 3), [2, 5), [5, 8), [7, 10)
    pytest.param(
        Case(
            [2, 10, 10],
            {"type": "adaptive_avgpool2d", "output_size": [3, 4]},
            (2, 3, 4),
            0,
            0,
            {"pooling": 2 * 2 * (4 + 4 + 4) * (3 + 3 + 3 + 3)},
            batch=2,
        ),
        id="adaptive-10-to-3x4-batch2",
    ),
    # 3 -> 5 (upsampling): [0, 1), [0, 2), [1, 2), [1, 3), [2, 3);  4 -> 4: four windows of 1
    pytest.param(
        Case(
            [1, 3, 4],
            {"type": "adaptive_avgpool2d", "output_size": [5, 4]},
            (1, 5, 4),
            0,
            0,
            {"pooling": (1 + 2 + 1 + 2 + 1) * (1 + 1 + 1 + 1)},
        ),
        id="adaptive-3-to-5-upsampling",
    ),
]


def analyse_case(case: Case, batch: int | None = None, dtype: str = "fp32") -> calc.Report:
    stack = calc.parse_stack(
        {
            "input": case.input_shape,
            "batch": case.batch if batch is None else batch,
            "dtype": dtype,
            "layers": [case.layer],
        }
    )
    return calc.analyze(stack)


def test_cases_cover_every_registered_kind():
    covered = {param.values[0].layer["type"] for param in CASES}
    assert covered == {kind.name for kind in calc.layer_kinds()}


def test_a_kind_cannot_be_registered_twice():
    with pytest.raises(ValueError, match="registered twice"):
        register("relu", group="activation", summary="again", fields=(IntField("x"),))(lambda shape, x: None)


@pytest.mark.parametrize("case", CASES)
def test_layer_costs(case: Case):
    row = analyse_case(case).rows[0]
    assert row.output_shape == case.output_shape
    assert row.cost.output_shape == (case.batch, *case.output_shape)
    assert row.params == case.params
    assert row.macs == case.macs
    assert dict(row.cost.other_ops) == case.other_ops
    assert row.other_ops == sum(case.other_ops.values())


@pytest.mark.parametrize("case", CASES)
def test_macs_are_the_sum_of_terms_and_flops_twice_that(case: Case):
    report = analyse_case(case)
    row = report.rows[0]
    assert row.cost.macs == sum(term.value for term in row.cost.terms)
    assert all(term.value == math.prod(value for _, value in term.factors) for term in row.cost.terms)
    assert row.flops == flops_from_macs(row.macs) == 2 * case.macs
    assert report.flops == 2 * report.macs == 2 * case.macs
    # a layer without MACs has no terms: its formula shows no product
    assert bool(row.cost.terms) == (case.macs > 0)


@pytest.mark.parametrize("case", CASES)
def test_batch_scales_everything_but_params(case: Case):
    one, three = analyse_case(case, batch=1).rows[0], analyse_case(case, batch=3).rows[0]
    assert one.output_shape == three.output_shape == case.output_shape
    assert one.params == three.params == case.params
    assert three.macs * case.batch == 3 * case.macs
    assert {label: 3 * count for label, count in one.cost.other_ops} == dict(three.cost.other_ops)
    assert three.cost.input_elements == 3 * one.cost.input_elements == 3 * math.prod(case.input_shape)
    assert three.cost.output_elements == 3 * one.cost.output_elements == 3 * math.prod(case.output_shape)


DTYPES = [
    pytest.param("fp32", 4, id="fp32"),
    pytest.param("fp16", 2, id="fp16"),
    pytest.param("bf16", 2, id="bf16"),
    pytest.param("int8", 1, id="int8"),
]


def test_dtype_table_is_what_the_tests_assume():
    assert DTYPE_BYTES == {"fp32": 4, "fp16": 2, "bf16": 2, "int8": 1}


@pytest.mark.parametrize("dtype, bytes_per_element", DTYPES)
@pytest.mark.parametrize("case", CASES)
def test_bytes_and_intensity(case: Case, dtype: str, bytes_per_element: int):
    report = analyse_case(case, dtype=dtype)
    row = report.rows[0]
    weight_bytes = case.params * bytes_per_element
    input_bytes = case.batch * math.prod(case.input_shape) * bytes_per_element
    output_bytes = case.batch * math.prod(case.output_shape) * bytes_per_element
    assert (row.weight_bytes, row.input_bytes, row.output_bytes) == (weight_bytes, input_bytes, output_bytes)
    assert row.memory_bytes == weight_bytes + input_bytes + output_bytes
    assert row.intensity == pytest.approx(2 * case.macs / (weight_bytes + input_bytes + output_bytes))
    assert report.weight_bytes == weight_bytes
    assert report.activation_bytes == input_bytes + output_bytes
    assert report.intensity == pytest.approx(row.intensity)


def test_report_totals_add_up_over_layers():
    # conv 3->8 (3x3, padding 1), relu, maxpool 2, flatten, linear 8*8*8 -> 10, on [3, 16, 16], batch 2
    report = calc.analyze(
        calc.parse_stack(
            {
                "input": [3, 16, 16],
                "batch": 2,
                "layers": [
                    {"type": "conv2d", "out_channels": 8, "kernel_size": 3, "padding": 1},
                    {"type": "relu"},
                    {"type": "maxpool2d", "kernel_size": 2},
                    {"type": "flatten"},
                    {"type": "linear", "out_features": 10},
                ],
            }
        )
    )
    assert [row.output_shape for row in report.rows] == [
        (8, 16, 16),
        (8, 16, 16),
        (8, 8, 8),
        (8 * 8 * 8,),
        (10,),
    ]
    assert report.output_shape == (10,)
    assert report.params == (8 * 3 * 3 * 3 + 8) + (10 * 512 + 10)
    assert report.macs == 2 * 8 * 3 * 3 * 3 * 16 * 16 + 2 * 10 * 512
    assert report.other_ops_by_label() == {
        "bias add": 2 * 8 * 16 * 16 + 2 * 10,
        "activation": 2 * 8 * 16 * 16,
        "pooling": 3 * 2 * 8 * 8 * 8,
    }
    assert report.other_ops == sum(report.other_ops_by_label().values())
    # the largest input + output of one layer: the conv or the relu, (3 + 8 or 8 + 8) * 16 * 16 * 2 * 4 bytes
    assert report.peak_activation_bytes == (8 + 8) * 16 * 16 * 2 * 4


def test_empty_stack_is_the_identity():
    report = calc.analyze(calc.parse_stack({"input": [3, 8, 8], "layers": []}))
    assert (report.rows, report.output_shape) == ((), (3, 8, 8))
    assert (report.macs, report.params, report.intensity) == (0, 0, 0.0)


def _torch_adaptive_window_total(size: int, out: int) -> int:
    # torch's adaptive pooling window i: [floor(i * size / out), ceil((i + 1) * size / out))
    return sum(math.ceil((i + 1) * size / out) - math.floor(i * size / out) for i in range(out))


@pytest.mark.parametrize("height", [pytest.param(h, id=f"H{h}") for h in (1, 2, 3, 5, 7, 12, 13, 32)])
def test_adaptive_pool_windows_follow_torch_indices(height: int):
    for out in range(1, 2 * height + 3):  # shrinking, equal and upsampling
        report = calc.analyze(
            calc.parse_stack(
                {"input": [2, height, 3], "layers": [{"type": "adaptive_avgpool2d", "output_size": [out, 2]}]}
            )
        )
        # width 3 -> 2: windows [0, 2), [1, 3)
        expected = 2 * _torch_adaptive_window_total(height, out) * (2 + 2)
        assert report.other_ops_by_label() == {"pooling": expected}, out


def test_adaptive_pool_upsampling_to_the_dimension_limit():
    report = calc.analyze(
        calc.parse_stack(
            {"input": [1, 1, 1], "layers": [{"type": "adaptive_avgpool2d", "output_size": [2**20, 3]}]}
        )
    )
    # 1 -> 2^20 and 1 -> 3: every window is the one input element, so one op per output
    assert report.rows[0].other_ops == 2**20 * 3
