"""Stack presets: the worked examples and a few classic blocks, as stack JSON data.

One entry per preset; the Builder's preset menu and the tests read ``PRESETS``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Preset:
    name: str
    description: str
    stack: dict[str, Any]


def _conv(out_channels: int, kernel_size: int = 3, **fields: Any) -> dict[str, Any]:
    return {"type": "conv2d", "out_channels": out_channels, "kernel_size": kernel_size, **fields}


PRESETS: tuple[Preset, ...] = (
    Preset(
        "Worked example: matrix-vector",
        "linear 512 → 1000 on one vector of 512 features",
        {"input": [512], "layers": [{"type": "linear", "out_features": 1000}]},
    ),
    Preset(
        "Worked example: GEMM",
        "linear 512 → 256 on 1000 tokens of 512 features",
        {"input": [1000, 512], "layers": [{"type": "linear", "out_features": 256}]},
    ),
    Preset(
        "Worked example: 3x3 conv, RGB in",
        "3×3 conv 3 → 64 on a 224×224 image, padding 1",
        {"input": [3, 224, 224], "layers": [_conv(64, padding=1)]},
    ),
    Preset(
        "Worked example: standard 3x3 conv 32 -> 64",
        "the baseline of the depthwise-separable example",
        {"input": [32, 224, 224], "layers": [_conv(64, padding=1)]},
    ),
    Preset(
        "Worked example: separable 3x3 conv 32 -> 64",
        "depthwise 3×3 on 32 channels, then pointwise 32 → 64: compare with the standard conv",
        {
            "input": [32, 224, 224],
            "layers": [{"type": "separable_conv2d", "out_channels": 64, "kernel_size": 3, "padding": 1}],
        },
    ),
    Preset(
        "Small CNN (CIFAR-10)",
        "three conv-BN-ReLU stages, global pooling and a classifier",
        {
            "input": [3, 32, 32],
            "layers": [
                _conv(32, padding=1, bias=False),
                {"type": "batchnorm2d"},
                {"type": "relu"},
                {"type": "maxpool2d", "kernel_size": 2},
                _conv(64, padding=1, bias=False),
                {"type": "batchnorm2d"},
                {"type": "relu"},
                {"type": "maxpool2d", "kernel_size": 2},
                _conv(128, padding=1, bias=False),
                {"type": "batchnorm2d"},
                {"type": "relu"},
                {"type": "adaptive_avgpool2d"},
                {"type": "flatten"},
                {"type": "dropout", "p": 0.2},
                {"type": "linear", "out_features": 10},
            ],
        },
    ),
    Preset(
        "MobileNetV2 block",
        "inverted residual: expand 1×1 (×6), depthwise 3×3, project 1×1 (the residual add is not modelled)",
        {
            "input": [32, 56, 56],
            "layers": [
                {"type": "pointwise_conv2d", "out_channels": 192, "bias": False},
                {"type": "batchnorm2d"},
                {"type": "relu6"},
                {"type": "depthwise_conv2d", "kernel_size": 3, "padding": 1, "bias": False},
                {"type": "batchnorm2d"},
                {"type": "relu6"},
                {"type": "pointwise_conv2d", "out_channels": 32, "bias": False},
                {"type": "batchnorm2d"},
            ],
        },
    ),
    Preset(
        "Transformer encoder block (ViT-B/16)",
        "pre-norm self-attention and MLP on 197 tokens of 768 features (the residual adds are not modelled)",
        {
            "input": [197, 768],
            "layers": [
                {"type": "layernorm"},
                {"type": "attention", "num_heads": 12},
                {"type": "layernorm"},
                {"type": "linear", "out_features": 3072},
                {"type": "gelu"},
                {"type": "linear", "out_features": 768},
            ],
        },
    ),
)


def preset(name: str) -> Preset:
    for entry in PRESETS:
        if entry.name == name:
            return entry
    raise KeyError(f"no preset named {name!r}")
