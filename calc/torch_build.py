"""Stack -> torch.nn.Module: the module each layer kind stands for; and any model built
on the meta device, then materialized on a real one.

Imports torch; nothing in ``calc`` imports this module at import time. Each kind's
registration holds the module it stands for; that mapping is the definition of what a
stack means: tests run these modules on the meta device as
the oracle for shapes, params and MACs, and later measurement times them.
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from itertools import chain

import torch
from torch import nn

from calc.registry import layer_kind
from calc.spec import Layer, Stack


class SelfAttention(nn.Module):
    """x -> MultiheadAttention(x, x, x), batch first, returning the output alone."""

    def __init__(self, embed_dim: int, num_heads: int, bias: bool):
        super().__init__()
        self.attention = nn.MultiheadAttention(embed_dim, num_heads, bias=bias, batch_first=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # need_weights=True keeps the explicit Q·Kᵀ and A·V matmuls that every counter sees, the same
        # ops on meta, CPU and CUDA; the weights are dropped, so they are not averaged over heads
        # (work the layer does not stand for: N·h·L·L adds that calc.formulas rightly leaves out)
        return self.attention(x, x, x, need_weights=True, average_attn_weights=False)[0]


class _Modules:
    """What a registration's ``module`` builder sees as ``nn``: torch.nn's classes, and
    MACscope's own modules for the kinds torch has no single module for."""

    SelfAttention = SelfAttention

    def __getattr__(self, name: str):
        return getattr(nn, name)


_MODULES = _Modules()


def build_layer(layer: Layer, in_shape: tuple[int, ...]) -> nn.Module:
    """The torch module for one layer whose input is one sample of ``in_shape``, as its
    registration (calc.registry) builds it."""
    kind = layer_kind(layer.kind)
    if kind is None or kind.module is None:
        raise KeyError(f"no torch module for layer kind {layer.kind!r}")
    return kind.module(_MODULES, layer.fields, in_shape)


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


def reinitialized(module: nn.Module) -> bool:
    """Whether ``materialize`` gives ``module``'s own parameters fresh values: modules whose
    initializer is torch's (convolutions, linear layers, norms, attention, and subclasses that
    keep it). Another library's reset_parameters may leave a parameter its constructor computed
    alone (timm's RoPE frequencies): such parameters keep their constructed values instead."""
    reset = getattr(type(module), "reset_parameters", None)
    torch_reset = reset is not None and getattr(reset, "__module__", "").startswith("torch.")
    return torch_reset or isinstance(module, nn.MultiheadAttention)


def has_initializer(module: nn.Module) -> bool:
    """Whether ``module`` has an initializer of its own, which ``materialize`` runs."""
    return hasattr(module, "reset_parameters") or refills_buffers(module)


# timm's initializer of non-persistent buffers (its reinit_non_persistent_buffers walks them):
# a Swin V2 block's attention mask, computed on its weights' device.
BUFFER_INITIALIZER = "init_non_persistent_buffers"


def refills_buffers(module: nn.Module) -> bool:
    """Whether ``materialize`` gives ``module``'s own buffers fresh values through its own
    buffer initializer (timm's convention), besides ``reset_parameters``."""
    return hasattr(module, BUFFER_INITIALIZER)


def _has_fresh_value(module: nn.Module, name: str) -> bool:
    if name in module._parameters:
        return reinitialized(module)
    return isinstance(module, nn.modules.batchnorm._NormBase)  # reset_parameters resets running stats


# What the constructor left in each tensor that no initializer remakes, taken when the
# tensor went to the meta device: a Swin window's relative position index is arithmetic,
# a ViT's class token and a ConvNeXt layer scale are filled by the model's constructor.
# materialize() puts these values back, where to_empty() alone leaves stale memory.
_CONSTRUCTED: weakref.WeakKeyDictionary[nn.Module, dict[str, torch.Tensor]] = weakref.WeakKeyDictionary()


def constructed_values(module: nn.Module) -> dict[str, torch.Tensor]:
    """Real values of ``module``'s own parameters and buffers as its constructor left them
    under ``parameters_on_meta``: the ones ``materialize`` cannot remake."""
    return _CONSTRUCTED.get(module, {})


@contextmanager
def parameters_on_meta() -> Iterator[None]:
    """Build modules with parameters and buffers on the meta device while the
    constructor's own arithmetic stays real (RegNets compute widths with tensors,
    which fails under ``with torch.device("meta")``).

    Parameters and buffers that ``materialize`` re-initializes (those of a module with
    its own initializer) go to meta at once; the others stay real until the constructor
    is done (its own initializers fill them), then their values are kept and they go to
    meta too.
    """
    register_parameter, register_buffer = nn.Module.register_parameter, nn.Module.register_buffer
    kept: dict[tuple[int, str], tuple[nn.Module, str]] = {}

    def parameter_on_meta(self, name, parameter):
        if parameter is not None and parameter.device.type != "meta":
            if reinitialized(self):
                parameter = nn.Parameter(parameter.to("meta"), requires_grad=parameter.requires_grad)
            else:
                kept[id(self), name] = (self, name)
        register_parameter(self, name, parameter)

    def buffer_on_meta(self, name, tensor, persistent=True):
        if tensor is not None and tensor.device.type != "meta":
            # a norm's running stats, and the buffers of a module with its own initializer: on meta
            # with its parameters, so that the initializer, which computes buffers on its weights'
            # device (timm's Swin V2 and RoPE modules), meets one device; materialize runs it again
            if isinstance(self, nn.modules.batchnorm._NormBase) or has_initializer(self):
                tensor = tensor.to("meta")
            else:
                kept[id(self), name] = (self, name)
        register_buffer(self, name, tensor, persistent)

    nn.Module.register_parameter, nn.Module.register_buffer = parameter_on_meta, buffer_on_meta
    try:
        yield
    finally:
        nn.Module.register_parameter, nn.Module.register_buffer = register_parameter, register_buffer
        on_meta: dict[int, torch.Tensor] = {}  # a tensor shared by two modules stays one tensor
        for module, name in kept.values():
            tensors = module._parameters if name in module._parameters else module._buffers
            value = tensors.get(name)
            if value is None or value.device.type == "meta":
                continue
            _CONSTRUCTED.setdefault(module, {})[name] = value.detach()
            if id(value) not in on_meta:
                meta = value.detach().to("meta")
                on_meta[id(value)] = (
                    nn.Parameter(meta, value.requires_grad) if name in module._parameters else meta
                )
            tensors[name] = on_meta[id(value)]


def _sentinel(tensor: torch.Tensor) -> float | int | None:
    """A value no initializer writes everywhere: NaN, or an integer type's least; None for bool."""
    if tensor.dtype.is_floating_point or tensor.dtype.is_complex:
        return math.nan
    return None if tensor.dtype == torch.bool else torch.iinfo(tensor.dtype).min


def _mark_unfilled(buffers: dict[str, torch.Tensor]) -> None:
    for tensor in buffers.values():
        if _sentinel(tensor) is not None:
            tensor.fill_(_sentinel(tensor))


def _filled(name: str, tensor: torch.Tensor, emptied: dict[str, torch.Tensor]) -> bool:
    """Whether the module's initializer gave buffer ``name`` a value: registered it anew, or
    wrote over the sentinel ``_mark_unfilled`` left in it."""
    if name not in emptied:
        return False
    if tensor is not emptied[name] or tensor.numel() == 0:
        return True
    sentinel = _sentinel(tensor)
    if sentinel is None:
        return False
    unfilled = tensor.isnan() if isinstance(sentinel, float) else tensor == sentinel
    return not bool(unfilled.any())


# A model that knows how to build itself on a real device sets this attribute to that builder
# (device -> model): calc.torch_hf's, where transformers computes every buffer (RoPE frequencies,
# position ids) and initializes every weight on the device itself.
BUILDER_ON_DEVICE = "macscope_build_on"


def materialize(model: nn.Module, device: str | torch.device) -> nn.Module:
    """Move a model built on meta to ``device`` with freshly initialized parameters (in
    eval mode): for counting on a real device, or timing there. A model carrying its own
    builder (BUILDER_ON_DEVICE) is built anew on ``device`` by it.

    Modules with an initializer run it; every other parameter and buffer gets the value
    its constructor computed (kept by ``parameters_on_meta``). A buffer that the initializer
    fills is fresh too (timm's Swin blocks compute their attention mask in reset_parameters);
    each is set to a sentinel first, so one it leaves alone is seen. A tensor with none of
    these is refused: ``to_empty`` leaves whatever bytes were in memory, NaNs and all.
    """
    build_on = getattr(model, BUILDER_ON_DEVICE, None)
    if build_on is not None:
        return build_on(device).eval()
    model = model.to_empty(device=device)
    with torch.no_grad():
        for path, module in model.named_modules():
            emptied = dict(module.named_buffers(recurse=False))
            _mark_unfilled(emptied)
            if isinstance(module, nn.MultiheadAttention):
                module._reset_parameters()  # its initializer has a private name
            elif hasattr(module, "reset_parameters"):
                module.reset_parameters()
            if refills_buffers(module):
                getattr(module, BUFFER_INITIALIZER)()
            constructed = constructed_values(module)
            for name, tensor in chain(
                module.named_parameters(recurse=False), module.named_buffers(recurse=False)
            ):
                if name in constructed:
                    tensor.copy_(constructed[name])
                elif not _has_fresh_value(module, name) and not _filled(name, tensor, emptied):
                    raise ValueError(
                        f"{path + '.' if path else ''}{name} of {type(module).__name__} has no known "
                        "value: build the model under calc.torch_build.parameters_on_meta"
                    )
    return model.eval()
