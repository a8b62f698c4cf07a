"""The depthwise-separable what-if on torch models: read each nn.Conv2d's settings, and the
rewritten module that the tests count as the oracle.

The what-if itself is calc.separable.what_if_convs, pure arithmetic over a counted Report;
``rewrite_separable`` builds the model it stands for, so counting that model must agree.
"""

from __future__ import annotations

import torch
from torch import nn

from calc.analyze import ROOT_NAME
from calc.separable import ConvSettings, WhatIf, is_replaceable, what_if_convs, what_if_stack
from calc.spec import parse_stack


def _settings(conv: nn.Conv2d) -> ConvSettings:
    padding = conv.padding  # nn.Conv2d keeps "same" and "valid" as given
    padding = (0, 0) if padding == "valid" else padding if padding == "same" else tuple(padding)
    return ConvSettings(
        conv.in_channels,
        conv.out_channels,
        tuple(conv.kernel_size),
        tuple(conv.stride),
        padding,
        tuple(conv.dilation),
        conv.groups,
        conv.bias is not None,
    )


def conv_settings(model: nn.Module) -> dict[str, ConvSettings]:
    """Every nn.Conv2d of ``model`` by module path (the names count_module gives its rows)."""
    return {
        path or ROOT_NAME: _settings(module)
        for path, module in model.named_modules()
        if isinstance(module, nn.Conv2d)
    }


def what_if_model(name: str, resolution: int | None = None) -> WhatIf:
    """The what-if of a zoo model at ``resolution`` (default: native): a preset through its
    stack, a torchvision model through its count and its convs' settings."""
    from calc import zoo

    if zoo.model_info(name).source == "preset":
        return what_if_stack(parse_stack(zoo.preset_stack(name, resolution)))
    return what_if_convs(zoo.count(name, resolution), conv_settings(zoo.build(name)))


def what_if_source(source, resolution: int | None = None, seq_len: int | None = None) -> WhatIf:
    """The what-if of any calc.sources.Source at ``resolution`` (default: native; a text model at
    ``seq_len`` tokens): a stack
    through its layers, a zoo model through ``what_if_model``, any other torch model (timm) through
    its count and its convs' settings. A source that cannot be built in torch is a SpecError."""
    from calc.sources import stack_at

    if source.stack is not None:
        return what_if_stack(stack_at(source.stack, resolution, None, None))
    if source.kind in ("torchvision", "stack"):
        return what_if_model(source.target, resolution)
    module = source.module(resolution)  # first: a source not built in torch is refused before its count
    return what_if_convs(source.count(resolution, seq_len), conv_settings(module))


def _separable_twin(conv: nn.Conv2d) -> nn.Sequential:
    # depthwise k×k without bias, then pointwise 1×1 with the original's bias: separable_conv2d
    return nn.Sequential(
        nn.Conv2d(
            conv.in_channels,
            conv.in_channels,
            conv.kernel_size,
            conv.stride,
            conv.padding,
            conv.dilation,
            groups=conv.in_channels,
            bias=False,
            padding_mode=conv.padding_mode,
        ),
        nn.Conv2d(conv.in_channels, conv.out_channels, 1, bias=conv.bias is not None),
    )


def rewrite_separable(model: nn.Module) -> nn.Module:
    """Replace, in place, each nn.Conv2d with groups 1 and a kernel over 1×1 by nn.Sequential(depthwise,
    pointwise), built on the meta device; returns the model (the twin itself if ``model`` is such a conv).

    The oracle of the what-if: counting the result must give what_if_convs' numbers.
    """

    def replaceable(module: nn.Module) -> bool:
        return isinstance(module, nn.Conv2d) and is_replaceable(tuple(module.kernel_size), module.groups)

    with torch.device("meta"):
        if replaceable(model):
            return _separable_twin(model).eval()
        targets = [
            (parent, name, child)
            for parent in model.modules()
            for name, child in parent.named_children()
            if replaceable(child)
        ]
        for parent, name, child in targets:
            setattr(parent, name, _separable_twin(child).train(child.training))
    return model


__all__ = ["conv_settings", "rewrite_separable", "what_if_model"]
