"""torch is the oracle: every layer of a stack against the torch module it stands for.

calc.torch_build.build_stack(stack) defines what a stack means; each layer runs on the
meta device under torch.utils.flop_counter.FlopCounterMode, whose FLOPs are 2 x MACs with
bias adds excluded -- the convention of calc.formulas. Shapes, params and MACs must agree.
"""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

import calc  # noqa: E402
from calc.presets import PRESETS  # noqa: E402
from calc.torch_build import build_stack  # noqa: E402

# torch notes that "same" with an even kernel pads asymmetrically; those cases are deliberate
pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel:UserWarning")


def assert_matches_torch(stack_json: dict) -> None:
    """Every layer: calc's output shape, params and MACs == torch's on the meta device."""
    stack = calc.parse_stack(stack_json)
    report = calc.analyze(stack)
    model = build_stack(stack)
    assert len(model) == len(report.rows)
    x = torch.empty((stack.batch, *stack.input_shape), device="meta")
    for row, module in zip(report.rows, model, strict=True):
        with FlopCounterMode(display=False) as counter:
            x = module(x)
        where = f"layer {row.index} ({row.kind}) of {stack_json}"
        assert tuple(x.shape) == (stack.batch, *row.output_shape), where
        assert row.output_shape == tuple(x.shape[1:]), where
        assert row.params == sum(p.numel() for p in module.parameters()), where
        torch_flops = counter.get_total_flops()
        assert torch_flops % 2 == 0 and row.macs == torch_flops // 2, where
        assert row.flops == torch_flops, where
    assert report.params == sum(p.numel() for p in model.parameters())


def _slug(name: str) -> str:
    return "-".join("".join(c if c.isalnum() else " " for c in name.lower()).split())


def _conv(out_channels: int, kernel_size, **fields) -> dict:
    return {"type": "conv2d", "out_channels": out_channels, "kernel_size": kernel_size, **fields}


STACKS = [
    pytest.param(
        {
            "input": [3, 17, 17],
            "batch": 2,
            "layers": [
                _conv(8, 3, stride=2, padding=1),
                {"type": "batchnorm2d"},
                {"type": "relu"},
                _conv(8, 3, dilation=2, groups=4, bias=False),
                _conv(6, [3, 5], stride=[1, 2], padding=[0, 2]),
                {"type": "maxpool2d", "kernel_size": 3, "stride": 2, "padding": 1},
                {"type": "flatten"},
                {"type": "linear", "out_features": 7},
            ],
        },
        id="strided-dilated-grouped-rect",
    ),
    pytest.param(
        {
            "input": [4, 9, 10],
            "layers": [
                _conv(6, 4, padding="same"),
                _conv(6, [2, 4], padding="same", dilation=[2, 1], groups=2),
                {"type": "depthwise_conv2d", "kernel_size": 3, "padding": "same", "multiplier": 2},
                {"type": "hardswish"},
            ],
        },
        id="padding-same-even-kernels",
    ),
    pytest.param(
        {
            "input": [8, 15, 13],
            "batch": 3,
            "layers": [
                {
                    "type": "depthwise_conv2d",
                    "kernel_size": [3, 5],
                    "stride": 2,
                    "multiplier": 2,
                    "bias": False,
                },
                {"type": "pointwise_conv2d", "out_channels": 12},
                {"type": "relu6"},
                {"type": "separable_conv2d", "out_channels": 5, "kernel_size": 3, "stride": 2, "padding": 1},
                {"type": "avgpool2d", "kernel_size": [2, 3], "padding": [1, 1]},
                {"type": "silu"},
            ],
        },
        id="depthwise-pointwise-separable-pools",
    ),
    pytest.param(
        {
            "input": [5, 7, 7],
            "layers": [
                {"type": "adaptive_avgpool2d", "output_size": 3},
                {"type": "adaptive_avgpool2d", "output_size": [5, 2]},
                {"type": "adaptive_avgpool2d", "output_size": [1, 1]},
                {"type": "flatten"},
                {"type": "dropout", "p": 0.3},
                {"type": "linear", "out_features": 4, "bias": False},
                {"type": "sigmoid"},
            ],
        },
        id="adaptive-pools",
    ),
    pytest.param(
        {
            "input": [16, 64],
            "batch": 2,
            "layers": [
                {"type": "layernorm"},
                {"type": "attention", "num_heads": 4},
                {"type": "attention", "num_heads": 8, "bias": False},
                {"type": "linear", "out_features": 48},
                {"type": "gelu"},
                {"type": "attention", "num_heads": 3},
                {"type": "tanh"},
                {"type": "flatten"},
                {"type": "linear", "out_features": 2},
            ],
        },
        id="tokens-attention",
    ),
    pytest.param(
        {"input": [1, 5], "layers": [{"type": "attention", "num_heads": 5}]}, id="attention-one-token"
    ),
    pytest.param(
        {"input": [512], "layers": [{"type": "linear", "out_features": 1000}, {"type": "layernorm"}]},
        id="vector",
    ),
    pytest.param(
        {
            "input": [3, 6, 8],
            "layers": [{"type": "linear", "out_features": 5}, {"type": "layernorm"}, _conv(2, [6, 5])],
        },
        id="linear-on-image-then-conv",
    ),
    # batchnorm on one value per channel: torch refuses it in training mode, so the oracle
    # builds in eval mode (found by the property test below)
    pytest.param(
        {"input": [2, 1, 1], "layers": [{"type": "batchnorm2d"}, {"type": "relu"}]},
        id="batchnorm-one-value-per-channel",
    ),
] + [pytest.param(entry.stack, id=f"preset-{_slug(entry.name)}") for entry in PRESETS]


@pytest.mark.parametrize("stack_json", STACKS)
def test_stack_matches_torch(stack_json: dict):
    assert_matches_torch(stack_json)


# ---------------------------------------------------------------------------
# random valid stacks, every registered kind drawn through its registration's field strategies


def _fitting_kinds(shape: tuple[int, ...]) -> list:
    """The kinds that accept one sample of ``shape``; a kind with more fields to get wrong
    (the convolutions) is listed once per field, so it is drawn more often."""
    return [
        kind
        for kind in calc.layer_kinds()
        if kind.input_rank in (None, len(shape))
        for _ in range(1 + len(kind.fields))
    ]


def _layer(draw, shape: tuple[int, ...]) -> dict:
    kind = draw(st.sampled_from(_fitting_kinds(shape)))
    fields: dict = {}
    for field in kind.fields:  # in order: a field's strategy may depend on the ones before it
        fields[field.name] = draw(field.strategy(shape, fields))
    return {"type": kind.name, **fields}


@st.composite
def valid_stacks(draw) -> dict:
    if draw(st.integers(0, 2)):  # two image stacks for one token stack
        input_shape = [draw(st.integers(1, 32)), draw(st.integers(1, 32)), draw(st.integers(1, 32))]
    else:
        input_shape = [
            draw(st.integers(1, 16)),
            draw(st.sampled_from((1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64))),
        ]
    stack = {"input": input_shape, "batch": draw(st.integers(1, 3)), "layers": []}
    shape = tuple(input_shape)
    for _ in range(draw(st.integers(1, 6))):
        stack["layers"].append(_layer(draw, shape))
        # the next layer is drawn for the shape this one gives: calc's, checked against torch below
        report, error = calc.analyze_until_error(calc.parse_stack(stack))
        assert error is None, f"a valid stack was refused: {error} in {stack}"
        shape = report.output_shape
    return stack


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(valid_stacks())
def test_random_valid_stacks_match_torch(stack_json: dict):
    assert_matches_torch(stack_json)


# ---------------------------------------------------------------------------
# a real module on the CPU

CPU_STACKS = [
    pytest.param(
        {
            "input": [3, 17, 17],
            "batch": 2,
            "layers": [
                _conv(8, 3, stride=2, padding=1),
                {"type": "batchnorm2d"},
                {"type": "relu"},
                {"type": "separable_conv2d", "out_channels": 6, "kernel_size": [2, 4], "padding": "same"},
                {"type": "avgpool2d", "kernel_size": 3, "padding": 1},
                {"type": "adaptive_avgpool2d", "output_size": 2},
                {"type": "flatten"},
                {"type": "dropout"},
                {"type": "linear", "out_features": 5},
            ],
        },
        id="image",
    ),
    pytest.param(
        {
            "input": [6, 16],
            "batch": 3,
            "layers": [
                {"type": "layernorm"},
                {"type": "attention", "num_heads": 4},
                {"type": "linear", "out_features": 8},
                {"type": "gelu"},
            ],
        },
        id="tokens",
    ),
] + [pytest.param(entry.stack, id=f"preset-{_slug(entry.name)}") for entry in PRESETS]


@pytest.mark.parametrize("stack_json", CPU_STACKS)
def test_cpu_build_runs_a_real_forward(stack_json: dict):
    stack = calc.parse_stack(stack_json)
    report = calc.analyze(stack)
    model = build_stack(stack, "cpu")
    parameters = list(model.parameters())
    assert all(p.device.type == "cpu" and not p.is_meta for p in parameters)
    assert not model.training  # inference: dropout is an identity, batchnorm uses running stats
    assert sum(p.numel() for p in parameters) == report.params
    with torch.no_grad():
        output = model(torch.randn((stack.batch, *stack.input_shape)))
    assert output.device.type == "cpu"
    assert tuple(output.shape) == (stack.batch, *report.output_shape)
    assert math.prod(output.shape) * 4 == report.rows[-1].output_bytes


@pytest.mark.parametrize("stack_json", CPU_STACKS)
def test_cpu_build_initializes_every_parameter_and_buffer(stack_json: dict, monkeypatch: pytest.MonkeyPatch):
    # to_empty() leaves whatever the allocator returns; make that NaN so that anything build_stack
    # does not initialize shows, every run, instead of only when the memory happens to be garbage
    empty_like = torch.empty_like

    def nan_like(tensor: torch.Tensor, **kwargs) -> torch.Tensor:
        empty = empty_like(tensor, **kwargs)
        return empty.fill_(math.nan) if empty.is_floating_point() else empty

    monkeypatch.setattr(torch, "empty_like", nan_like)
    stack = calc.parse_stack(stack_json)
    model = build_stack(stack, "cpu")
    for name, tensor in [*model.named_parameters(), *model.named_buffers()]:
        if tensor.is_floating_point():
            assert bool(torch.isfinite(tensor).all()), f"{name} was not initialized"
    with torch.no_grad():
        output = model(torch.randn((stack.batch, *stack.input_shape)))
    assert bool(torch.isfinite(output).all())
