"""The zoo and the torch-side counter: torchvision's metadata, device and mode
independence, and agreement with calc's analytic formulas."""

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
from calc.presets import PRESETS
from calc.torch_build import build_stack, materialize
from calc.torch_count import count_module

ROOT = Path(__file__).resolve().parents[1]
TORCHVISION = zoo.list_models("torchvision")


def test_the_zoo_has_every_torchvision_classifier_and_the_presets():
    assert len(TORCHVISION) == 80  # torchvision 0.29's classification models
    assert zoo.list_models("preset") == tuple(zoo.PRESET_PREFIX + entry.name for entry in PRESETS)
    assert zoo.list_models() == TORCHVISION + zoo.list_models("preset")


@pytest.mark.parametrize("name", TORCHVISION)
def test_counts_match_torchvision_metadata(name):
    info = zoo.model_info(name)
    report = zoo.count(name)
    assert round(report.macs / 10**9, 3) == info.gmacs  # _ops is GMACs, to 3 decimals
    assert report.params == info.num_params
    assert report.flops == 2 * report.macs
    assert not report.unsupported, report.unsupported


@pytest.mark.parametrize(
    "name, size",
    [
        pytest.param("resnet50", 224, id="resnet50"),
        pytest.param("inception_v3", 299, id="inception_v3"),
        pytest.param("efficientnet_b7", 600, id="efficientnet_b7"),
        pytest.param("vit_h_14", 518, id="vit_h_14"),
        pytest.param("regnet_y_128gf", 384, id="regnet_y_128gf"),
    ],
)
def test_native_input_is_the_default_weights_crop(name, size):
    assert zoo.model_info(name).input_shape == (3, size, size)


@pytest.mark.parametrize(
    "name, gmacs",
    [
        pytest.param("mobilenet_v2", 0.30, id="mobilenet_v2"),
        pytest.param("squeezenet1_0", 0.82, id="squeezenet"),
        pytest.param("resnet50", 4.09, id="resnet50"),
        pytest.param("resnet152", 11.51, id="resnet152"),
        pytest.param("vgg16", 15.47, id="vgg16"),
    ],
)
def test_the_classic_cost_table_is_in_gmacs(name, gmacs):
    assert round(zoo.count(name).macs / 10**9, 2) == gmacs


@pytest.mark.parametrize("name", ["resnet18", "mobilenet_v3_small", "vit_b_32"])
def test_same_macs_on_meta_and_cpu_in_eval_and_train(name):
    meta = zoo.count(name)
    model = materialize(zoo.build(name), "cpu")
    on_cpu = count_module(model, meta.input_shape)
    model.train()
    training = count_module(model, meta.input_shape)
    assert on_cpu.macs == meta.macs == training.macs
    assert on_cpu.params == meta.params


def test_fused_attention_fast_path_is_counted_as_its_math():
    # nn.MultiheadAttention in eval mode on real CPU tensors takes a fused kernel that hides
    # its matmuls; MACscope counts 4*N*L*D*D + 2*N*L*L*D all the same.
    n, length, d, heads = 2, 10, 32, 4
    attention = calc.parse_stack(
        {"input": [length, d], "batch": n, "layers": [{"type": "attention", "num_heads": heads}]}
    )
    model = build_stack(attention, "cpu")
    expected = 4 * n * length * d * d + 2 * n * length * length * d
    assert count_module(model, (length, d), batch=n).macs == expected
    assert calc.analyze(attention).macs == expected


@pytest.mark.parametrize("entry", [pytest.param(entry, id=entry.name) for entry in PRESETS])
def test_analytic_stack_equals_the_torch_side_count(entry):
    stack = calc.parse_stack(entry.stack)
    analytic = calc.analyze(stack)
    counted = count_module(build_stack(stack), stack.input_shape, batch=stack.batch)
    assert counted.macs == analytic.macs
    assert counted.params == analytic.params
    assert zoo.count(zoo.PRESET_PREFIX + entry.name).macs == analytic.macs


def test_rows_keep_the_module_paths_and_self_costs():
    report = zoo.count("resnet18")
    rows = {row.name: row for row in report.rows}
    assert rows["conv1"].kind == "Conv2d" and rows["conv1"].macs == 64 * 3 * 7 * 7 * 112 * 112
    assert rows["conv1"].output_shape == (64, 112, 112)
    # the residual add belongs to the block that does it, not to a convolution
    assert dict(rows["layer1.0"].cost.other_ops)["elementwise"] == 64 * 56 * 56
    assert rows["fc"].macs == 512 * 1000
    assert sum(row.macs for row in report.rows) == report.macs


def test_ops_without_a_formula_are_listed_not_zero():
    class Unusual(nn.Module):
        def forward(self, x):
            return torch.cumprod(x, dim=-1)

    report = count_module(Unusual(), (8,), device="meta")
    assert report.unsupported == (("aten.cumprod", 1),)


def test_cli_count_json():
    result = subprocess.run(
        [sys.executable, "-m", "calc", "count", "resnet18", "stack: MobileNetV2 block", "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    resnet, block = json.loads(result.stdout)
    assert resnet["model"] == "resnet18" and resnet["input_shape"] == [3, 224, 224] and resnet["batch"] == 1
    assert round(resnet["macs"] / 10**9, 3) == 1.814 and resnet["flops"] == 2 * resnet["macs"]
    assert resnet["params"] == 11_689_512 and resnet["unsupported"] == {}
    assert block["input_shape"] == [32, 56, 56]
    assert {"other_ops", "layers"} <= set(resnet)


def test_cli_count_resolution_and_batch_scale():
    result = subprocess.run(
        [sys.executable, "-m", "calc", "count", "vgg11", "--resolution", "112", "--batch", "2", "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    (vgg,) = json.loads(result.stdout)
    assert vgg["input_shape"] == [3, 112, 112] and vgg["batch"] == 2
    assert vgg["macs"] == 2 * zoo.count("vgg11", resolution=112).macs


@pytest.mark.parametrize(
    "arguments, needle",
    [
        pytest.param(["count", "resnet5"], "no model or file named 'resnet5'", id="unknown-model"),
        pytest.param(["count", "resnet18", "--resolution", "8"], "--resolution", id="tiny-resolution"),
        pytest.param(["count", "resnet18", "--batch", "0"], "--batch", id="zero-batch"),
    ],
)
def test_cli_count_bad_input(arguments, needle):
    result = subprocess.run(
        [sys.executable, "-m", "calc", *arguments], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 2 and needle in result.stderr and "Traceback" not in result.stderr


def test_cli_zoo_lists_metadata():
    result = subprocess.run(
        [sys.executable, "-m", "calc", "zoo", "--json"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    models = {entry["model"]: entry for entry in json.loads(result.stdout)}
    assert len(models) == len(zoo.list_models())
    assert models["resnet50"]["gmacs"] == 4.089 and models["resnet50"]["num_params"] == 25_557_032
    assert models["inception_v3"]["input_shape"] == [3, 299, 299]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")
@pytest.mark.parametrize("name", ["resnet18", "vit_b_32"])
def test_same_macs_on_cuda(name):
    assert zoo.count(name, device="cuda").macs == zoo.count(name).macs
