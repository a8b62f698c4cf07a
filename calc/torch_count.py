"""Count any torch.nn.Module per module: MACs, other ops, params, shapes, bytes.

The model runs once under a TorchDispatchMode that sees every aten op, on the meta
device by default (nothing is allocated). Each op is attributed to the innermost
module running it (its "self" cost); a module's total is its subtree's sum.

MACs of GEMM-class ops (convolution, mm, addmm, bmm, baddbmm, the fused attention
kernels) come from torch.utils.flop_counter's formulas, divided by 2; the fused CPU
attention kernel, which flop_counter does not know, gets its formula here. Fused
fast paths that hide matmuls from dispatch (nn.MultiheadAttention's in eval mode on
real tensors) are switched off while counting, so the count is what the math does,
the same on meta, CPU and CUDA, in train and eval mode. Other ops follow the
convention stated in calc.formulas; ops with no rule are listed as unsupported,
never counted as zero silently.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator

import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten
from torch.utils.flop_counter import flop_registry

from calc.analyze import ROOT_NAME, Report, Row
from calc.cost import Cost, Term
from calc.formulas import adaptive_window_elements
from calc.units import DTYPE_BYTES
from calc.work import Work, conv_work

# Ops that only move, view or allocate data: known to cost no arithmetic.
ZERO_COST = {
    "view", "_unsafe_view", "reshape", "permute", "transpose", "t", "expand", "expand_as", "squeeze",
    "unsqueeze", "flatten", "unflatten", "select", "slice", "narrow", "split", "split_with_sizes", "chunk",
    "unbind", "cat", "stack", "clone", "contiguous", "detach", "alias", "as_strided", "copy_", "_to_copy",
    "to", "empty", "empty_like", "zeros", "zeros_like", "ones", "ones_like", "full", "full_like", "new_empty",
    "new_zeros", "new_ones", "fill_", "zero_", "arange", "lift_fresh", "index", "index_select", "gather",
    "roll", "constant_pad_nd", "pad", "repeat", "masked_fill", "masked_fill_", "dropout", "native_dropout",
    "_local_scalar_dense", "scalar_tensor", "lift_fresh_copy", "pixel_shuffle", "channel_shuffle",
    "new_full", "_reshape_alias", "diagonal", "tril", "triu", "where", "sym_size", "sym_numel", "sym_stride",
    "detach_", "resize_", "bernoulli_", "set_", "clamp_min", "clamp_max", "linspace", "meshgrid", "eq", "ne",
    "lt", "gt", "le", "ge", "logical_not", "any", "all", "argmax", "randperm", "normal_", "uniform_", "as_strided_",
}

ACTIVATIONS = {"relu", "relu_", "gelu", "gelu_", "silu", "silu_", "sigmoid", "sigmoid_", "tanh", "tanh_",
               "hardswish", "hardswish_", "hardsigmoid", "hardsigmoid_", "hardtanh", "hardtanh_", "leaky_relu",
               "leaky_relu_", "elu", "elu_", "clamp", "clamp_", "mish", "softplus", "threshold"}

ELEMENTWISE = {"add", "add_", "sub", "sub_", "mul", "mul_", "div", "div_", "rsqrt", "sqrt", "pow", "exp",
               "neg", "abs", "reciprocal", "erf", "sin", "cos", "log", "maximum", "minimum", "addcmul",
               "square", "floor", "ceil", "round", "rsub", "sign"}

REDUCTIONS = {"mean", "sum", "amax", "amin", "max", "min", "norm", "linalg_vector_norm", "var", "std",
              "var_mean", "cumsum", "logsumexp"}


def _numel(value: Any) -> int:
    return value.numel() if isinstance(value, torch.Tensor) else 0


def _first_tensor(value: Any) -> torch.Tensor | None:
    leaves, _ = tree_flatten(value)
    return next((leaf for leaf in leaves if isinstance(leaf, torch.Tensor)), None)


def _pair(value: Any) -> tuple[int, int]:
    value = list(value) if isinstance(value, (list, tuple)) else [value]
    return (value[0], value[-1])


def _cpu_flash_attention_macs(args, out) -> int:
    # [B, h, L, d_v] = softmax(Q[B, h, L, d] · Kᵀ[B, h, d, S]) · V[B, h, S, d_v]
    query, key, value = args[:3]
    batch, heads, length, depth = query.shape
    source = key.shape[-2]
    return batch * heads * length * source * depth + batch * heads * length * source * value.shape[-1]


# Where a GEMM-class op takes its bias, whose adds are other ops, not MACs.
BIAS_ARGUMENT = {"convolution": 2, "_convolution": 2, "addmm": 0}

MAC_FORMULAS_HERE = {"_scaled_dot_product_flash_attention_for_cpu": _cpu_flash_attention_macs}


def _other_ops(name: str, args: tuple, kwargs: dict, out: Any) -> tuple[str, int] | None:
    """(label, count) for a non-MAC op with a rule, None when there is none."""
    output = _first_tensor(out)
    out_elements = _numel(output)
    if name in ("_native_batch_norm_legit_no_training", "_native_batch_norm_legit", "native_batch_norm",
                "batch_norm", "_batch_norm_with_update", "_batch_norm_no_update"):
        return "normalization", 2 * _numel(args[0])
    if name in ("native_layer_norm", "layer_norm", "native_group_norm", "group_norm"):
        return "normalization", 5 * _numel(args[0])
    if name in ACTIVATIONS:
        return "activation", out_elements
    if name in ("_softmax", "softmax", "_safe_softmax", "_log_softmax", "log_softmax"):
        return "softmax", 3 * out_elements
    if name in ("max_pool2d_with_indices", "max_pool2d"):
        kernel = _pair(args[1])
        return "pooling", (kernel[0] * kernel[1] - 1) * out_elements
    if name == "avg_pool2d":
        kernel = _pair(args[1])
        return "pooling", kernel[0] * kernel[1] * out_elements
    if name in ("_adaptive_avg_pool2d", "adaptive_avg_pool2d"):
        x = args[0]
        height, width = x.shape[-2:]
        out_h, out_w = output.shape[-2:]
        channels = x.numel() // (height * width)
        return "pooling", channels * adaptive_window_elements(height, out_h) * adaptive_window_elements(width, out_w)
    if name in ELEMENTWISE:
        return "elementwise", out_elements
    if name in REDUCTIONS:
        return "reduction", _numel(args[0])
    return None


@dataclass
class _ModuleTally:
    path: str
    module: nn.Module
    macs: dict[str, int]
    other_ops: dict[str, int]
    input_elements: int = 0
    output_elements: int = 0
    input_shape: tuple[int, ...] = ()
    output_shape: tuple[int, ...] = ()


class _Counter(TorchDispatchMode):
    def __init__(self, tallies: dict[int, _ModuleTally], root: nn.Module):
        super().__init__()
        self.tallies = tallies
        self.stack: list[_ModuleTally] = [tallies[id(root)]]
        self.unsupported: dict[str, int] = {}
        self.order: list[_ModuleTally] = []  # modules in the order they first ran
        self.ran: set[int] = set()            # their ids
        self.parameters = {id(parameter) for parameter in root.parameters()}

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        name = func.__name__.split(".")[0]
        tally = self.stack[-1]
        packet = func._overloadpacket
        if packet in flop_registry or name in MAC_FORMULAS_HERE:
            if packet in flop_registry:
                macs = flop_registry[packet](*args, **kwargs, out_val=out) // 2
            else:
                macs = MAC_FORMULAS_HERE[name](args, out)
            tally.macs[name] = tally.macs.get(name, 0) + macs
            if name == "_scaled_dot_product_flash_attention_for_cpu":  # its softmax is inside the kernel
                query, key = args[0], args[1]
                scores = query.shape[0] * query.shape[1] * query.shape[2] * key.shape[-2]
                tally.other_ops["softmax"] = tally.other_ops.get("softmax", 0) + 3 * scores
            position = BIAS_ARGUMENT.get(name)
            if position is not None and len(args) > position and isinstance(args[position], torch.Tensor):
                tally.other_ops["bias add"] = tally.other_ops.get("bias add", 0) + _numel(out)
        elif name not in ZERO_COST:
            rule = _other_ops(name, args, kwargs, out)
            if rule is None:
                self.unsupported[f"aten.{name}"] = self.unsupported.get(f"aten.{name}", 0) + 1
            else:
                label, count = rule
                tally.other_ops[label] = tally.other_ops.get(label, 0) + count
        if name not in ZERO_COST:
            leaves, _ = tree_flatten((args, kwargs))
            tally.input_elements += sum(leaf.numel() for leaf in leaves if isinstance(leaf, torch.Tensor)
                                        and id(leaf) not in self.parameters)
            tally.output_elements += sum(_numel(leaf) for leaf in tree_flatten(out)[0])
        return out


@contextmanager
def _module_hooks(counter: _Counter) -> Iterator[None]:
    def enter(module, inputs):
        tally = counter.tallies.get(id(module))
        if tally is not None:
            counter.stack.append(tally)
            if id(module) not in counter.ran:
                counter.ran.add(id(module))
                counter.order.append(tally)
                first = _first_tensor(inputs)
                tally.input_shape = tuple(first.shape) if first is not None else ()

    def leave(module, inputs, output):
        tally = counter.tallies.get(id(module))
        if tally is not None and counter.stack and counter.stack[-1] is tally:
            counter.stack.pop()
            first = _first_tensor(output)
            if first is not None:
                tally.output_shape = tuple(first.shape)

    pre = nn.modules.module.register_module_forward_pre_hook(enter)
    post = nn.modules.module.register_module_forward_hook(leave)
    try:
        yield
    finally:
        pre.remove()
        post.remove()


@contextmanager
def _no_fused_fast_paths() -> Iterator[None]:
    """nn.MultiheadAttention and TransformerEncoderLayer take a fused kernel in eval mode on
    real tensors, invisible as matmuls: count the math they stand for instead."""
    enabled = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(False)
    try:
        yield
    finally:
        torch.backends.mha.set_fastpath_enabled(enabled)


# GEMM-class ops that are attention's Q·Kᵀ and A·V: batched matmuls and the fused kernels.
ATTENTION_OPS = {"bmm", "baddbmm", "_scaled_dot_product_flash_attention_for_cpu",
                 "_scaled_dot_product_efficient_attention", "_scaled_dot_product_flash_attention",
                 "_scaled_dot_product_cudnn_attention", "flex_attention"}


def term_work(module: nn.Module, op: str, module_ops: set[str]) -> Work:
    """What kind of work the MACs of ``op`` are when ``module`` runs it itself: the module's
    kind for convolutions and linear layers; otherwise attention matmuls for attention's ops,
    and linear for the other GEMMs of a module that runs attention (nn.MultiheadAttention
    and windowed attentions apply their Q, K, V and output projections with F.linear on
    their own weights); any other GEMM is an other matmul."""
    if isinstance(module, nn.Conv2d):
        return conv_work(module.in_channels, module.groups, module.kernel_size)
    if isinstance(module, nn.modules.conv._ConvNd):
        return Work.OTHER_CONV
    if isinstance(module, nn.Linear):
        return Work.LINEAR
    if op in ATTENTION_OPS:
        return Work.ATTENTION_MATMULS
    return Work.LINEAR if module_ops & ATTENTION_OPS else Work.OTHER_MATMULS


def _row(index: int, tally: _ModuleTally, params: int, bytes_per_element: int) -> Row:
    ops = set(tally.macs)
    cost = Cost(
        output_shape=tally.output_shape or (0,), params=params,
        terms=tuple(Term(f"aten.{op}", ((f"\\text{{aten.{op}}}", macs),), term_work(tally.module, op, ops))
                    for op, macs in tally.macs.items()),
        other_ops=tuple(tally.other_ops.items()),
        input_elements=tally.input_elements, output_elements=tally.output_elements,
    )
    sample = lambda shape: tuple(shape[1:])  # noqa: E731
    return Row(index, tally.path or ROOT_NAME, type(tally.module).__name__, sample(tally.input_shape),
               sample(tally.output_shape), cost, bytes_per_element)


def count_module(module: nn.Module, input_shape: tuple[int, ...], batch: int = 1, dtype: str = "fp32",
                 device: str | torch.device | None = None) -> Report:
    """Count ``module`` on one input of ``(batch, *input_shape)``.

    Rows are the modules that did work themselves (their "self" cost: a ResNet block's
    residual add belongs to the block, its convolutions to the conv modules), in the
    order they first ran, named by module path. Report totals sum them; a subtree's
    total is the sum of the rows whose path starts with its path.
    """
    if device is None:
        device = next(iter(module.parameters()), torch.empty(0, device="meta")).device
    tallies = {id(child): _ModuleTally(path, child, {}, {}) for path, child in module.named_modules()}
    counter = _Counter(tallies, module)
    x = torch.zeros((batch, *input_shape), device=device)
    with _no_fused_fast_paths(), torch.no_grad(), _module_hooks(counter), counter:
        module(x)
    bytes_per_element = DTYPE_BYTES[dtype]
    rows = []
    for tally in counter.order:
        own_params = sum(parameter.numel() for parameter in tally.module.parameters(recurse=False))
        if tally.macs or tally.other_ops or own_params or tally.input_elements:
            rows.append(_row(len(rows), tally, own_params, bytes_per_element))
    for tally in tallies.values():  # modules that never ran still hold parameters (an aux classifier)
        own_params = sum(parameter.numel() for parameter in tally.module.parameters(recurse=False))
        if id(tally.module) not in counter.ran and own_params:
            rows.append(_row(len(rows), tally, own_params, bytes_per_element))
    return Report(tuple(input_shape), batch, dtype, tuple(rows), tuple(sorted(counter.unsupported.items())))


__all__ = ["count_module"]
