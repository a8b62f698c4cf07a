"""The worked examples, exact, through the presets the Builder offers."""

from __future__ import annotations

from fractions import Fraction

import pytest

import calc
from calc.explain import explain
from calc.presets import PRESETS, preset
from calc.units import exact


def analyse_preset(name: str) -> calc.Report:
    return calc.analyze(calc.parse_stack(preset(name).stack))


WORKED = [
    # name, output shape, params, MACs
    pytest.param("Worked example: matrix-vector", (1000,), 1000 * 512 + 1000, 1000 * 512, id="matrix-vector"),
    pytest.param("Worked example: GEMM", (1000, 256), 256 * 512 + 256, 1000 * 256 * 512, id="gemm"),
    pytest.param(
        "Worked example: 3x3 conv, RGB in",
        (64, 224, 224),
        64 * 3 * 3 * 3 + 64,
        64 * 3 * 3 * 3 * 224 * 224,
        id="conv-3x3-rgb",
    ),
    pytest.param(
        "Worked example: standard 3x3 conv 32 -> 64",
        (64, 224, 224),
        64 * 32 * 3 * 3 + 64,
        64 * 32 * 3 * 3 * 224 * 224,
        id="standard-conv-32-64",
    ),
    pytest.param(
        "Worked example: separable 3x3 conv 32 -> 64",
        (64, 224, 224),
        32 * 3 * 3 + 64 * 32 + 64,
        32 * 3 * 3 * 224 * 224 + 64 * 32 * 224 * 224,
        id="separable-conv-32-64",
    ),
]


@pytest.mark.parametrize("name, output_shape, params, macs", WORKED)
def test_worked_example(name: str, output_shape: tuple[int, ...], params: int, macs: int):
    report = analyse_preset(name)
    assert report.output_shape == output_shape
    assert report.params == params
    assert report.macs == macs
    assert report.flops == 2 * macs


PUBLISHED = [
    pytest.param("Worked example: matrix-vector", 512_000, id="matrix-vector"),
    pytest.param("Worked example: GEMM", 131_072_000, id="gemm"),
    pytest.param("Worked example: 3x3 conv, RGB in", 86_704_128, id="conv-3x3-rgb"),
    pytest.param("Worked example: standard 3x3 conv 32 -> 64", 924_844_032, id="standard-conv-32-64"),
    pytest.param("Worked example: separable 3x3 conv 32 -> 64", 117_211_136, id="separable-conv-32-64"),
]


@pytest.mark.parametrize("name, macs", PUBLISHED)
def test_worked_example_matches_the_quoted_number(name: str, macs: int):
    report = analyse_preset(name)
    assert report.macs == macs
    assert exact(report.macs) == f"{macs:,}"


def test_rgb_conv_is_not_the_published_slip():
    # 87,096,000 circulates for this layer; the product is 64*27*50176 = 86,704,128
    assert analyse_preset("Worked example: 3x3 conv, RGB in").macs != 87_096_000


def test_separable_rows_show_both_parts():
    report = analyse_preset("Worked example: separable 3x3 conv 32 -> 64")
    rows = report.rows_with_parts()
    assert [(row.name, row.is_part) for row in rows] == [
        ("0", False),
        ("0.depthwise", True),
        ("0.pointwise", True),
    ]
    whole, depthwise, pointwise = rows
    assert depthwise.macs == 32 * 3 * 3 * 224 * 224 == 14_450_688
    assert pointwise.macs == 64 * 32 * 224 * 224 == 102_760_448
    assert whole.macs == depthwise.macs + pointwise.macs == 117_211_136
    assert (depthwise.params, pointwise.params) == (32 * 3 * 3, 64 * 32 + 64)
    assert depthwise.input_shape == (32, 224, 224) and depthwise.output_shape == (32, 224, 224)
    assert pointwise.input_shape == (32, 224, 224) and pointwise.output_shape == (64, 224, 224)
    # parts are shown, not counted twice
    assert report.macs == whole.macs and report.params == whole.params


def test_separable_saving_is_one_minus_a_sixty_fourth_and_a_ninth():
    standard = analyse_preset("Worked example: standard 3x3 conv 32 -> 64").macs
    separable = analyse_preset("Worked example: separable 3x3 conv 32 -> 64").macs
    # MobileNet's ratio: 1/C_out + 1/K^2, exact here
    assert Fraction(separable, standard) == Fraction(1, 64) + Fraction(1, 9)
    assert round(1 - separable / standard, 4) == 0.8733 == round(1 - (1 / 64 + 1 / 9), 4)


def test_conv_formula_text_substitutes_the_worked_numbers():
    cost = analyse_preset("Worked example: 3x3 conv, RGB in").rows[0].cost
    text = explain(cost)
    assert text.macs_substituted.endswith("= 86{,}704{,}128")
    assert "173{,}408{,}256" in text.flops  # 2 * 86,704,128


# whole presets pinned (as flop_counter pins a ResNet-18): name, params, MACs
PINNED = [
    pytest.param(
        "Small CNN (CIFAR-10)",
        32 * 3 * 3 * 3 + 2 * 32 + 64 * 32 * 3 * 3 + 2 * 64 + 128 * 64 * 3 * 3 + 2 * 128 + 10 * 128 + 10,
        32 * 3 * 3 * 3 * 32 * 32 + 64 * 32 * 3 * 3 * 16 * 16 + 128 * 64 * 3 * 3 * 8 * 8 + 10 * 128,
        id="small-cnn",
    ),
    pytest.param(
        "MobileNetV2 block",
        192 * 32 + 2 * 192 + 192 * 3 * 3 + 2 * 192 + 32 * 192 + 2 * 32,
        192 * 32 * 56 * 56 + 192 * 3 * 3 * 56 * 56 + 32 * 192 * 56 * 56,
        id="mobilenetv2-block",
    ),
    pytest.param(
        "Transformer encoder block (ViT-B/16)",
        2 * 768 + (4 * 768 * 768 + 4 * 768) + 2 * 768 + (3072 * 768 + 3072) + (768 * 3072 + 768),
        197 * 768 * 3 * 768 + 2 * (12 * 197 * 197 * 64) + 197 * 768 * 768 + 2 * 197 * 768 * 3072,
        id="vit-b16-block",
    ),
]


@pytest.mark.parametrize("name, params, macs", PINNED)
def test_pinned_preset(name: str, params: int, macs: int):
    report = analyse_preset(name)
    assert (report.params, report.macs) == (params, macs)


def test_every_preset_is_a_worked_example_or_pinned():
    tested = {param.values[0] for param in WORKED + PINNED}
    assert {entry.name for entry in PRESETS} == tested
