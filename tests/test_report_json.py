"""The JSON contract of a Report (calc.analyze.report_to_json): every key, and its value for a
small stack, written as arithmetic from the stack's shapes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from calc.__main__ import main
from calc.analyze import analyze, report_to_json
from calc.spec import parse_stack

# Legend: batch N, input C x H x W, element size B bytes (fp16), kernel K (padding 1 keeps H x W),
# C1 conv outputs, C2 separable outputs, F linear outputs.
N, C, H, W, B, K, C1, C2, F = 2, 4, 6, 6, 2, 3, 8, 6, 5
STACK = {
    "input": [C, H, W],
    "batch": N,
    "dtype": "fp16",
    "layers": [
        {"type": "conv2d", "out_channels": C1, "kernel_size": K, "padding": 1},
        {"type": "relu"},
        {"type": "separable_conv2d", "out_channels": C2, "kernel_size": K, "padding": 1},
        {"type": "flatten"},
        {"type": "linear", "out_features": F},
    ],
}

CONV_PARAMS, CONV_MACS = C1 * C * K * K + C1, N * C1 * C * K * K * H * W
DEPTHWISE_PARAMS, DEPTHWISE_MACS = C1 * K * K, N * C1 * K * K * H * W  # no bias
POINTWISE_PARAMS, POINTWISE_MACS = C2 * C1 + C2, N * C2 * C1 * H * W
LINEAR_PARAMS, LINEAR_MACS = F * C2 * H * W + F, N * F * C2 * H * W


def _layer(
    index: int,
    name: str,
    kind: str,
    part: bool,
    input_shape: list[int],
    output_shape: list[int],
    params: int,
    macs: int,
    other_ops_by_label: dict[str, int],
) -> dict:
    """One entry of "layers": bytes are elements x B (activations for the whole batch, weights once)."""
    input_bytes, output_bytes = N * _elements(input_shape) * B, N * _elements(output_shape) * B
    return {
        "index": index,
        "name": name,
        "type": kind,
        "part": part,
        "input_shape": input_shape,
        "output_shape": output_shape,
        "params": params,
        "macs": macs,
        "flops": 2 * macs,
        "other_ops": sum(other_ops_by_label.values()),
        "other_ops_by_label": other_ops_by_label,
        "weight_bytes": params * B,
        "input_bytes": input_bytes,
        "output_bytes": output_bytes,
        "intensity_flops_per_byte": 2 * macs / (params * B + input_bytes + output_bytes),
    }


def _elements(shape: list[int]) -> int:
    count = 1
    for extent in shape:
        count *= extent
    return count


LAYERS = [
    _layer(
        0, "0", "conv2d", False, [C, H, W], [C1, H, W], CONV_PARAMS, CONV_MACS, {"bias add": N * C1 * H * W}
    ),
    _layer(1, "1", "relu", False, [C1, H, W], [C1, H, W], 0, 0, {"activation": N * C1 * H * W}),
    _layer(
        2,
        "2",
        "separable_conv2d",
        False,
        [C1, H, W],
        [C2, H, W],
        DEPTHWISE_PARAMS + POINTWISE_PARAMS,
        DEPTHWISE_MACS + POINTWISE_MACS,
        {"bias add": N * C2 * H * W},
    ),
    _layer(
        2,
        "2.depthwise",
        "separable_conv2d (depthwise)",
        True,
        [C1, H, W],
        [C1, H, W],
        DEPTHWISE_PARAMS,
        DEPTHWISE_MACS,
        {},
    ),
    _layer(
        2,
        "2.pointwise",
        "separable_conv2d (pointwise)",
        True,
        [C1, H, W],
        [C2, H, W],
        POINTWISE_PARAMS,
        POINTWISE_MACS,
        {"bias add": N * C2 * H * W},
    ),
    _layer(3, "3", "flatten", False, [C2, H, W], [C2 * H * W], 0, 0, {}),
    _layer(4, "4", "linear", False, [C2 * H * W], [F], LINEAR_PARAMS, LINEAR_MACS, {"bias add": N * F}),
]
WHOLE = [layer for layer in LAYERS if not layer["part"]]  # totals count whole layers only

TOP = [  # key, its value: the order is the order printed
    pytest.param("input_shape", [C, H, W], id="input_shape"),
    pytest.param("batch", N, id="batch"),
    pytest.param("dtype", "fp16", id="dtype"),
    pytest.param("macs", CONV_MACS + DEPTHWISE_MACS + POINTWISE_MACS + LINEAR_MACS, id="macs"),
    pytest.param("flops", 2 * (CONV_MACS + DEPTHWISE_MACS + POINTWISE_MACS + LINEAR_MACS), id="flops"),
    pytest.param("params", CONV_PARAMS + DEPTHWISE_PARAMS + POINTWISE_PARAMS + LINEAR_PARAMS, id="params"),
    pytest.param("other_ops", N * C1 * H * W + N * C1 * H * W + N * C2 * H * W + N * F, id="other_ops"),
    pytest.param(
        "other_ops_by_label",
        {"bias add": N * C1 * H * W + N * C2 * H * W + N * F, "activation": N * C1 * H * W},
        id="other_ops_by_label",
    ),
    pytest.param(
        "weight_bytes",
        (CONV_PARAMS + DEPTHWISE_PARAMS + POINTWISE_PARAMS + LINEAR_PARAMS) * B,
        id="weight_bytes",
    ),
    pytest.param(
        "activation_bytes",
        sum(layer["input_bytes"] + layer["output_bytes"] for layer in WHOLE),
        id="activation_bytes",
    ),
    pytest.param("unsupported", {}, id="unsupported"),
    pytest.param("layers", LAYERS, id="layers"),
]


@pytest.fixture(scope="module")
def report_json() -> dict:
    return report_to_json(analyze(parse_stack(STACK)))


def test_the_keys_are_the_contract_in_order(report_json: dict):
    assert list(report_json) == [param.values[0] for param in TOP]
    assert [list(layer) for layer in report_json["layers"]] == [list(layer) for layer in LAYERS]


@pytest.mark.parametrize("key, value", TOP)
def test_each_top_level_value(report_json: dict, key: str, value):
    assert report_json[key] == value
    assert json.dumps(report_json[key]) == json.dumps(value)  # labels in first-seen order, as printed


@pytest.mark.parametrize(
    "index", [pytest.param(index, id=layer["name"]) for index, layer in enumerate(LAYERS)]
)
def test_each_layer(report_json: dict, index: int):
    assert report_json["layers"][index] == LAYERS[index]


def test_it_is_plain_json_data(report_json: dict):
    assert json.loads(json.dumps(report_json)) == report_json  # a tuple would come back a list


def test_stack_json_prints_the_contract(tmp_path: Path, capsys):
    path = tmp_path / "stack.json"
    path.write_text(json.dumps(STACK), encoding="utf-8")
    assert main(["stack", str(path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == report_to_json(analyze(parse_stack(STACK)))
