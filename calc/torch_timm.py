"""timm's vision models, built from code without weights on the meta device, and counted.

Imports torch; timm is imported inside the functions, when a timm model is first listed or
built (about 2 s). Nothing is downloaded: models are created with ``pretrained=False``, and
the Hub is set offline before timm is imported.

A model is built under calc.torch_build.parameters_on_meta, so values its constructor
computes (a Swin window's relative position index, a class token) survive ``materialize``.
Hybrid ViTs (``vit_*_r50_*``, ``vit_*_resnet*``, ``vitamin_*``, ``vit_base_mci_224``) run their
backbone once inside the constructor to learn its output size, on a CPU tensor; with the
backbone's parameters on meta that forward would fail, so ``probing_forwards_on_meta`` gives
such a forward meta inputs: shapes are all it asks for, and meta gives them exactly.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn

from calc.analyze import Report
from calc.torch_build import materialize, parameters_on_meta
from calc.torch_count import count_module


def _import_timm():
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # pretrained=False reads nothing; this makes sure
    import timm

    return timm


def read_timm_models() -> dict[str, dict[str, Any]]:
    """Every name of ``timm.list_models()`` with what its default pretrained config says, read
    without building a model: name -> family (its timm module), input shape, classes, and
    whether the model takes only that input size."""
    timm = _import_timm()
    from timm.models import get_pretrained_cfg, model_entrypoint

    models = {}
    for name in timm.list_models():
        config = get_pretrained_cfg(name)
        models[name] = {
            "family": model_entrypoint(name).__module__.rsplit(".", 1)[-1],
            "input_shape": list(config.input_size),
            "num_classes": config.num_classes,
            "fixed_input_size": bool(config.fixed_input_size),
        }
    return models


def _holds_meta_tensors(module: nn.Module) -> bool:
    tensors = (*module.parameters(), *module.buffers())
    return any(tensor.is_meta for tensor in tensors)


@contextmanager
def probing_forwards_on_meta() -> Iterator[None]:
    """While a model is built, a forward of a module that holds meta tensors gets its real
    tensor inputs on meta: a constructor that runs its backbone to learn an output shape
    learns it without allocating, and without mixing devices."""

    def inputs_on_meta(module: nn.Module, inputs: tuple) -> tuple | None:
        real = [value for value in inputs if isinstance(value, torch.Tensor) and not value.is_meta]
        if not real or not _holds_meta_tensors(module):
            return None
        return tuple(value.to("meta") if isinstance(value, torch.Tensor) else value for value in inputs)

    handle = nn.modules.module.register_module_forward_pre_hook(inputs_on_meta)
    try:
        yield
    finally:
        handle.remove()


def build(name: str) -> nn.Module:
    """The timm model ``name`` without weights, its parameters on the meta device, in eval mode."""
    timm = _import_timm()
    with parameters_on_meta(), probing_forwards_on_meta():
        return timm.create_model(name, pretrained=False).eval()


def count(
    name: str, input_shape: tuple[int, ...], batch: int = 1, dtype: str = "fp32", device: str = "meta"
) -> Report:
    """The Report of timm model ``name`` on one input of ``(batch, *input_shape)``, run on ``device``
    (built on meta, then materialized there with fresh parameters when it is a real device)."""
    model = build(name)
    if device != "meta":
        model = materialize(model, device)
    return count_module(model, input_shape, batch=batch, dtype=dtype, device=device)


__all__ = ["build", "count", "probing_forwards_on_meta", "read_timm_models"]
