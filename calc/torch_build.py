"""Stack -> torch.nn.Module: the module each layer kind stands for.

Imports torch; nothing in ``calc`` imports this module at import time. The mapping is
the definition of what a stack means: tests run these modules on the meta device as
the oracle for shapes, params and MACs, and later measurement times them.
"""

from __future__ import annotations

import torch
from torch import nn

from calc.spec import Layer, Stack


class SelfAttention(nn.Module):
    """x -> MultiheadAttention(x, x, x), batch first, returning the output alone."""

    def __init__(self, embed_dim: int, num_heads: int, bias: bool):
        super().__init__()
        self.attention = nn.MultiheadAttention(embed_dim, num_heads, bias=bias, batch_first=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # need_weights=True keeps the explicit Q·Kᵀ and A·V matmuls that every counter sees
        return self.attention(x, x, x, need_weights=True)[0]


def _padding(value):
    return value if value == "same" else tuple(value)


def _build_conv(layer: Layer, in_shape: tuple[int, ...]) -> nn.Module:
    f = layer.fields
    c_in = in_shape[0]
    if layer.kind == "conv2d":
        return nn.Conv2d(c_in, f["out_channels"], f["kernel_size"], f["stride"], _padding(f["padding"]),
                         f["dilation"], f["groups"], f["bias"])
    if layer.kind == "depthwise_conv2d":
        return nn.Conv2d(c_in, c_in * f["multiplier"], f["kernel_size"], f["stride"], _padding(f["padding"]),
                         f["dilation"], groups=c_in, bias=f["bias"])
    if layer.kind == "pointwise_conv2d":
        return nn.Conv2d(c_in, f["out_channels"], 1, bias=f["bias"])
    # separable_conv2d: depthwise without bias, then pointwise (Keras' SeparableConv2D)
    return nn.Sequential(
        nn.Conv2d(c_in, c_in, f["kernel_size"], f["stride"], _padding(f["padding"]), f["dilation"],
                  groups=c_in, bias=False),
        nn.Conv2d(c_in, f["out_channels"], 1, bias=f["bias"]),
    )


_ACTIVATIONS = {"relu": nn.ReLU, "relu6": nn.ReLU6, "gelu": nn.GELU, "silu": nn.SiLU,
                "sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "hardswish": nn.Hardswish}


def build_layer(layer: Layer, in_shape: tuple[int, ...]) -> nn.Module:
    """The torch module for one layer whose input is one sample of ``in_shape``."""
    f = layer.fields
    if layer.kind in ("conv2d", "depthwise_conv2d", "pointwise_conv2d", "separable_conv2d"):
        return _build_conv(layer, in_shape)
    if layer.kind == "linear":
        return nn.Linear(in_shape[-1], f["out_features"], bias=f["bias"])
    if layer.kind == "attention":
        return SelfAttention(in_shape[-1], f["num_heads"], f["bias"])
    if layer.kind == "batchnorm2d":
        return nn.BatchNorm2d(in_shape[0])
    if layer.kind == "layernorm":
        return nn.LayerNorm(in_shape[-1])
    if layer.kind in _ACTIVATIONS:
        return _ACTIVATIONS[layer.kind]()
    if layer.kind == "maxpool2d":
        return nn.MaxPool2d(f["kernel_size"], f["stride"], f["padding"])
    if layer.kind == "avgpool2d":
        return nn.AvgPool2d(f["kernel_size"], f["stride"], f["padding"])
    if layer.kind == "adaptive_avgpool2d":
        return nn.AdaptiveAvgPool2d(f["output_size"])
    if layer.kind == "flatten":
        return nn.Flatten()
    if layer.kind == "dropout":
        return nn.Dropout(f["p"])
    raise KeyError(f"no torch module for layer kind {layer.kind!r}")


def build_stack(stack: Stack, device: str | torch.device = "meta") -> nn.Sequential:
    """The whole stack as nn.Sequential with parameters on ``device``.

    Built on the meta device, where each layer's input shape comes from a meta forward
    of the layers before it (torch's shapes, not calc's), then materialized on
    ``device`` with freshly initialized parameters unless that is meta.
    """
    modules = []
    x = torch.empty((stack.batch, *stack.input_shape), device="meta")
    with torch.device("meta"):
        for layer in stack.layers:
            module = build_layer(layer, tuple(x.shape[1:])).eval()  # inference: batchnorm uses running stats
            x = module(x)
            modules.append(module)
    model = nn.Sequential(*modules)
    return materialize(model, device) if torch.device(device).type != "meta" else model.eval()


def materialize(model: nn.Module, device: str | torch.device) -> nn.Module:
    """Move a model built on meta to ``device`` with freshly initialized parameters and
    buffers (in eval mode): for counting on a real device, or timing there."""
    model = model.to_empty(device=device)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.MultiheadAttention):
                module._reset_parameters()  # its initializer has a private name
            elif hasattr(module, "reset_parameters"):
                module.reset_parameters()
    return model.eval()
