"""Values that a model's constructor computes survive materialization: buffers (a Swin
window's relative position index, Swin V2's log-spaced coordinate table) and parameters
that no initializer remakes (a ViT's class token, a ConvNeXt layer scale, Swin V2's
logit scale). Every zoo model with such values is counted and measured on a real device.

Which models have them is found, not listed: a buffer outside a normalization layer
(whose running statistics reset_parameters resets), or a parameter of a module with
no reset_parameters of its own.
"""

from __future__ import annotations

import subprocess
import sys
from itertools import chain
from pathlib import Path

import pytest
import torch
from torch import nn

from calc import zoo
from calc.torch_build import materialize
from calc.torch_measure import measure, prepare

ROOT = Path(__file__).resolve().parents[1]
CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")
RUN_SECONDS = 0.05
CPU_BUDGET_MACS = 20 * 10**9  # a forward this big takes tens of seconds on a busy 2-core machine
CPU_BUDGET_PARAMS = 100 * 10**6  # two CPU constructions of a model this big fit in memory


def constructed_names(model: nn.Module, buffers_only: bool = False) -> list[str]:
    names = []
    for path, module in model.named_modules():
        has_initializer = hasattr(module, "reset_parameters") or isinstance(module, nn.MultiheadAttention)
        parameters = (
            []
            if has_initializer or buffers_only
            else [name for name, _ in module.named_parameters(recurse=False)]
        )
        buffers = (
            []
            if isinstance(module, nn.modules.batchnorm._NormBase)
            else [name for name, _ in module.named_buffers(recurse=False)]
        )
        names += [f"{path}.{name}" if path else name for name in chain(parameters, buffers)]
    return names


MODELS = [name for name in zoo.list_models() if constructed_names(zoo.module(name))]
# Counted and measured on the CPU: every model with computed buffers (indices that crash
# a forward when stale), and the smallest model of each other family with constructed values.
COMPUTED_BUFFERS = [name for name in MODELS if constructed_names(zoo.module(name), buffers_only=True)]
ON_CPU = COMPUTED_BUFFERS + [
    min((name for name in MODELS if zoo.family(name) == family), key=lambda name: zoo.model_info(name).gmacs)
    for family in sorted(
        {zoo.family(name) for name in MODELS} - {zoo.family(name) for name in COMPUTED_BUFFERS}
    )
]


def small_resolution(name: str) -> int | None:
    """A cheap input for a CPU forward: what the constructor computed does not depend on it."""
    rule = zoo.model_info(name).resolutions
    return rule.minimum if rule.fixed else max(rule.minimum, 64)


def on_cpu(name: str):
    """``name`` where a CPU forward fits the test's budget, else a skip."""
    macs = zoo.count(name, small_resolution(name)).macs
    if macs > CPU_BUDGET_MACS:
        pytest.skip(
            f"{name}: {macs / 1e9:.0f} GMACs at its smallest size, beyond a CPU test (the CUDA twin runs it)"
        )
    return name


def cpu_construction(name: str, seed: int) -> dict[str, torch.Tensor]:
    from torchvision.models import get_model

    torch.manual_seed(seed)
    model = get_model(name, weights=None, **zoo.BUILD_ARGUMENTS.get(name, {}))
    return dict(chain(model.named_parameters(), model.named_buffers()))


def test_the_models_with_constructed_values_are_found():
    # torchvision 0.29: the seven with computed buffers, then ConvNeXt and ViT parameters
    assert {"swin_t", "swin_s", "swin_b", "swin_v2_t", "swin_v2_s", "swin_v2_b", "maxvit_t"} <= set(MODELS)
    assert {"convnext_tiny", "vit_b_16"} <= set(MODELS)
    assert set(COMPUTED_BUFFERS) == {
        "swin_t",
        "swin_s",
        "swin_b",
        "swin_v2_t",
        "swin_v2_s",
        "swin_v2_b",
        "maxvit_t",
    }


@pytest.mark.parametrize("name", MODELS)
def test_materialized_values_are_what_a_cpu_construction_computes(name):
    if zoo.model_info(name).num_params > CPU_BUDGET_PARAMS:
        pytest.skip(f"{name}: two CPU constructions of {zoo.model_info(name).num_params:,} parameters")
    model = materialize(zoo.build(name), "cpu")
    materialized = dict(chain(model.named_parameters(), model.named_buffers()))
    first, second = cpu_construction(name, 0), cpu_construction(name, 1)
    for path in constructed_names(model):
        if torch.equal(first[path], second[path]):  # computed, not drawn: the same value exactly
            assert torch.equal(materialized[path], first[path]), path
        else:  # drawn by the model's own initializer: the same spread, and no stale memory
            assert torch.isfinite(materialized[path]).all(), path
            assert 0.5 < materialized[path].std() / first[path].std() < 2, path


@pytest.mark.parametrize("name", ON_CPU)
def test_counted_on_the_cpu(name):
    on_cpu(name)
    on_meta = zoo.count(name, small_resolution(name))
    counted = zoo.count(name, small_resolution(name), device="cpu")
    assert (counted.macs, counted.params) == (on_meta.macs, on_meta.params)


@pytest.mark.parametrize("name", ON_CPU)
def test_measured_on_the_cpu(name):
    on_cpu(name)
    input_shape = zoo.input_shape(name, small_resolution(name))
    model = prepare(zoo.module(name, small_resolution(name)), "cpu", "fp32")
    with torch.no_grad():
        logits = model(torch.randn(1, *input_shape))
    assert logits.shape == (1, 1000) and torch.isfinite(logits).all()
    measurement = measure(model, input_shape, 1, "fp32", "cpu", min_run_time=RUN_SECONDS, max_seconds=60)
    assert measurement.median_s > 0


def test_cli_counts_swin_t_on_the_cpu():
    result = subprocess.run(
        [sys.executable, "-m", "calc", "count", "swin_t", "--device", "cpu", "--resolution", "64", "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr[-800:]


def test_a_value_nothing_can_remake_is_refused():
    class Window(nn.Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("index", torch.arange(49))  # computed, then lost on meta

        def forward(self, x):
            return x[..., self.index]

    with torch.device("meta"):
        model = Window()
    with pytest.raises(ValueError, match="index of Window has no known value"):
        materialize(model, "cpu")


@CUDA
@pytest.mark.parametrize("name", MODELS)
def test_counted_and_measured_on_cuda(name):
    assert zoo.count(name, device="cuda").macs == zoo.count(name).macs
    model = prepare(zoo.module(name), "cuda", "fp32")
    input_shape = zoo.input_shape(name)
    with torch.no_grad():
        assert torch.isfinite(model(torch.randn(1, *input_shape, device="cuda"))).all()
    measurement = measure(model, input_shape, 1, "fp32", "cuda", min_run_time=RUN_SECONDS, max_seconds=60)
    assert measurement.median_s > 0
