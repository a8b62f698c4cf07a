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
convention stated in calc.formulas, one rule per aten op in ``OTHER_OPS`` (a MAC op's
own extras, such as addmm's bias add, included); ops with no rule are listed as
unsupported, never counted as zero silently.
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.overrides import TorchFunctionMode
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
    "view",
    "_unsafe_view",
    "reshape",
    "permute",
    "transpose",
    "t",
    "expand",
    "expand_as",
    "squeeze",
    "unsqueeze",
    "flatten",
    "unflatten",
    "select",
    "slice",
    "narrow",
    "split",
    "split_with_sizes",
    "chunk",
    "unbind",
    "cat",
    "stack",
    "clone",
    "contiguous",
    "detach",
    "alias",
    "as_strided",
    "copy_",
    "_to_copy",
    "to",
    "empty",
    "empty_like",
    "zeros",
    "zeros_like",
    "ones",
    "ones_like",
    "full",
    "full_like",
    "new_empty",
    "new_zeros",
    "new_ones",
    "fill_",
    "zero_",
    "arange",
    "lift_fresh",
    "index",
    "index_select",
    "gather",
    "roll",
    "constant_pad_nd",
    "pad",
    "repeat",
    "masked_fill",
    "masked_fill_",
    "dropout",
    "native_dropout",
    "_local_scalar_dense",
    "scalar_tensor",
    "lift_fresh_copy",
    "pixel_shuffle",
    "channel_shuffle",
    "new_full",
    "_reshape_alias",
    "diagonal",
    "tril",
    "triu",
    "where",
    "sym_size",
    "sym_numel",
    "sym_stride",
    "detach_",
    "resize_",
    "bernoulli_",
    "set_",
    "clamp_min",
    "clamp_max",
    "linspace",
    "meshgrid",
    "eq",
    "ne",
    "lt",
    "gt",
    "le",
    "ge",
    "logical_not",
    "any",
    "all",
    "argmax",
    "randperm",
    "normal_",
    "uniform_",
    "as_strided_",
    # look-ups and masks: a token embedding, a causal mask's logic, an MoE router's scatter of its choices
    "embedding",
    "bitwise_and",
    "bitwise_or",
    "bitwise_not",
    "scatter",
    "scatter_",
}
# What a calibrated prediction (calc.calibration) still prices of them, for none runs free: every
# dispatch but an allocation pays the per-op overhead (Cost.layout_ops), and the ops that write what
# they read (a concatenation, a contiguous copy, a pad, a shuffle) move those bytes (Cost.copied_elements).
# ShuffleNet's channel shuffles are views and copies only: 2.2 of its 12 ms forward (one thread).
ALLOCATING = frozenset(
    {"empty", "empty_like", "new_empty", "lift_fresh", "sym_size", "sym_numel", "sym_stride"}
)
COPYING = frozenset(
    {
        "cat",
        "stack",
        "clone",
        "contiguous",
        "copy_",
        "_to_copy",
        "to",
        "constant_pad_nd",
        "pad",
        "roll",
        "repeat",
        "index",
        "index_select",
        "gather",
        "masked_fill",
        "pixel_shuffle",
        "channel_shuffle",
        "lift_fresh_copy",
        "where",
    }
)

# Kernels that run all of softmax(Q·Kᵀ·scale)·V at once. With bmm and baddbmm they are the
# attention matmuls: ATTENTION_OPS, the one list of them.
FUSED_ATTENTION = frozenset(
    {
        "_scaled_dot_product_flash_attention_for_cpu",
        "_scaled_dot_product_efficient_attention",
        "_scaled_dot_product_flash_attention",
        "_scaled_dot_product_cudnn_attention",
        "flex_attention",
    }
)
ATTENTION_OPS = FUSED_ATTENTION | {"bmm", "baddbmm"}


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


MAC_FORMULAS_HERE = {"_scaled_dot_product_flash_attention_for_cpu": _cpu_flash_attention_macs}


def _macs(func, name: str, args: tuple, kwargs: dict, out: Any) -> int | None:
    """MACs of a GEMM-class op; None for any other op."""
    if func._overloadpacket in flop_registry:
        return flop_registry[func._overloadpacket](*args, **kwargs, out_val=out) // 2
    if name in MAC_FORMULAS_HERE:
        return MAC_FORMULAS_HERE[name](args, out)
    return None


# ---------------------------------------------------------------------------
# other ops: one rule per aten op (fvcore's handle table), the convention of calc.formulas

OtherOps = tuple[tuple[str, int], ...]
Rule = Callable[[tuple, Any], OtherOps]  # (the op's positional arguments, its output) -> labelled counts


def per_output_element(label: str, ops: int = 1) -> Rule:
    """``ops`` per element the op writes: activations, elementwise arithmetic, softmax."""
    return lambda args, out: ((label, ops * _numel(_first_tensor(out))),)


def per_input_element(label: str, ops: int = 1) -> Rule:
    """``ops`` per element of the op's input: normalizations, reductions."""
    return lambda args, out: ((label, ops * _numel(args[0])),)


def window_pooling(ops_per_window: Callable[[int], int]) -> Rule:
    """``ops_per_window(K_h·K_w)`` per output element of a pooling op whose args[1] is its kernel."""

    def rule(args: tuple, out: Any) -> OtherOps:
        # [N, C, H', W'] = pool([N, C, H, W]) with a K_h×K_w window
        kernel_h, kernel_w = _pair(args[1])
        return (("pooling", ops_per_window(kernel_h * kernel_w) * _numel(_first_tensor(out))),)

    return rule


def adaptive_average_pooling(args: tuple, out: Any) -> OtherOps:
    # [N, C, H', W'] = adaptive_avg_pool([N, C, H, W]): each output averages its own window
    x, output = args[0], _first_tensor(out)
    (height, width), (out_h, out_w) = x.shape[-2:], output.shape[-2:]
    windows = adaptive_window_elements(height, out_h) * adaptive_window_elements(width, out_w)
    return (("pooling", math.prod(x.shape[:-2]) * windows),)


def global_pooling_or_reduction(args: tuple, out: Any) -> OtherOps:
    """A mean over both spatial axes of [N, C, H, W] is global average pooling (what
    nn.AdaptiveAvgPool2d(1) runs, and x.mean([2, 3]) in MNASNet); any other is a reduction."""
    x = args[0]
    dims = args[1] if len(args) > 1 else None
    dims = [dims] if isinstance(dims, int) else dims
    spatial = x.dim() == 4 and dims is not None and sorted(dim % 4 for dim in dims) == [2, 3]
    return (("pooling" if spatial else "reduction", x.numel()),)


def scaling_or_elementwise(args: tuple, out: Any) -> OtherOps:
    """x·c or x/c by one constant is scaling (attention's 1/√d); of two tensors, elementwise."""
    operands = args[:2]
    by_constant = any(not isinstance(operand, torch.Tensor) or operand.dim() == 0 for operand in operands)
    return (("scaling" if by_constant else "elementwise", _numel(_first_tensor(out))),)


def bias_or_elementwise(args: tuple, out: Any) -> OtherOps:
    """x + b for a learned vector b is a bias add (F.linear's on an input it cannot fold into
    addmm: MultiheadAttention's projection of a batch); any other add is elementwise."""
    bias = any(isinstance(operand, nn.Parameter) and operand.dim() == 1 for operand in args[:2])
    return (("bias add" if bias else "elementwise", _numel(_first_tensor(out))),)


def adds_argument(position: int, label: str) -> Rule:
    """A MAC op that also adds the tensor at ``args[position]`` when given one (addmm's,
    a convolution's bias): 1 per output element."""

    def rule(args: tuple, out: Any) -> OtherOps:
        given = len(args) > position and isinstance(args[position], torch.Tensor)
        return ((label, _numel(_first_tensor(out))),) if given else ()

    return rule


def fused_attention(args: tuple, out: Any) -> OtherOps:
    # [B, h, L, d_v] = softmax(Q[B, h, L, d] · Kᵀ[B, h, d, S] · scale) · V[B, h, S, d_v]: the
    # scale and the softmax run inside the kernel, counted as calc.formulas counts them
    # unfused: 1 per element of Q, 3 per score
    query, key = args[0], args[1]
    scores = math.prod(query.shape[:-1]) * key.shape[-2]
    return (("scaling", query.numel()), ("softmax", 3 * scores))


def rule_table(*groups: tuple[Iterable[str], Rule]) -> dict[str, Rule]:
    """aten op name -> its rule; an op given two rules, or a rule and ZERO_COST, is refused."""
    table: dict[str, Rule] = {}
    for names, rule in groups:
        for name in names:
            if name in table:
                raise ValueError(f"aten.{name} is given two rules")
            if name in ZERO_COST:
                raise ValueError(f"aten.{name} is given a rule, and ZERO_COST says it costs nothing")
            table[name] = rule
    return table


OTHER_OPS = rule_table(
    (
        (
            "_native_batch_norm_legit_no_training",
            "_native_batch_norm_legit",
            "native_batch_norm",
            "batch_norm",
            "_batch_norm_with_update",
            "_batch_norm_no_update",
        ),
        per_input_element("normalization", 2),
    ),
    (
        ("native_layer_norm", "layer_norm", "native_group_norm", "group_norm"),
        per_input_element("normalization", 5),
    ),
    (
        (
            "relu",
            "relu_",
            "gelu",
            "gelu_",
            "silu",
            "silu_",
            "sigmoid",
            "sigmoid_",
            "tanh",
            "tanh_",
            "hardswish",
            "hardswish_",
            "hardsigmoid",
            "hardsigmoid_",
            "hardtanh",
            "hardtanh_",
            "leaky_relu",
            "leaky_relu_",
            "elu",
            "elu_",
            "clamp",
            "clamp_",
            "mish",
            "softplus",
            "threshold",
        ),
        per_output_element("activation"),
    ),
    (
        ("_softmax", "softmax", "_safe_softmax", "_log_softmax", "log_softmax"),
        per_output_element("softmax", 3),
    ),
    (("max_pool2d_with_indices", "max_pool2d"), window_pooling(lambda window: window - 1)),  # comparisons
    (("avg_pool2d",), window_pooling(lambda window: window)),  # adds and the divide
    (("_adaptive_avg_pool2d", "adaptive_avg_pool2d"), adaptive_average_pooling),
    (("mean",), global_pooling_or_reduction),
    (("mul", "mul_", "div", "div_"), scaling_or_elementwise),
    (("add", "add_"), bias_or_elementwise),
    (
        (
            "sub",
            "sub_",
            "rsqrt",
            "sqrt",
            "pow",
            "exp",
            "neg",
            "abs",
            "reciprocal",
            "erf",
            "sin",
            "cos",
            "log",
            "maximum",
            "minimum",
            "addcmul",
            "square",
            "floor",
            "ceil",
            "round",
            "rsub",
            "sign",
        ),
        per_output_element("elementwise"),
    ),
    (
        (
            "sum",
            "amax",
            "amin",
            "max",
            "min",
            "norm",
            "linalg_vector_norm",
            "var",
            "std",
            "var_mean",
            "cumsum",
            "logsumexp",
            "topk",  # an MoE router's choice: every score read and compared
        ),
        per_input_element("reduction"),
    ),
    # what MAC ops do besides their MACs
    (("addmm",), adds_argument(0, "bias add")),
    (("convolution", "_convolution"), adds_argument(2, "bias add")),
    (("baddbmm",), adds_argument(0, "elementwise")),  # the mask or bias added to the scores
    (FUSED_ATTENTION, fused_attention),
)


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
    layout_ops: int = 0  # ZERO_COST dispatches but allocations
    copied_elements: int = 0  # written by the COPYING ones


class _Counter(TorchDispatchMode):
    def __init__(self, tallies: dict[int, _ModuleTally], root: nn.Module):
        super().__init__()
        self.tallies = tallies
        self.stack: list[_ModuleTally] = [tallies[id(root)]]
        self.unsupported: dict[str, int] = {}
        self.order: list[_ModuleTally] = []  # modules in the order they first ran
        self.ran: set[int] = set()  # their ids
        self.parameters = {id(parameter) for parameter in root.parameters()}
        # what data-movement ops made of a parameter (F.linear's weight.t(), an expert's weights[0], a
        # cast): still weights, not activations; by id, checked against a weak reference (ids are reused)
        self.weight_views: dict[int, weakref.ref] = {}

    def is_weight(self, value: Any) -> bool:
        if not isinstance(value, torch.Tensor):
            return False
        if id(value) in self.parameters:
            return True
        view = self.weight_views.get(id(value))
        return view is not None and view() is value

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        name = func.__name__.split(".")[0]
        tally = self.stack[-1]
        macs = _macs(func, name, args, kwargs, out)
        if macs is not None:
            tally.macs[name] = tally.macs.get(name, 0) + macs
        rule = OTHER_OPS.get(name)
        if rule is not None:
            for label, count in rule(args, out):
                tally.other_ops[label] = tally.other_ops.get(label, 0) + count
        elif macs is None and name not in ZERO_COST:
            self.unsupported[f"aten.{name}"] = self.unsupported.get(f"aten.{name}", 0) + 1
        leaves, _ = tree_flatten((args, kwargs))
        if name in ZERO_COST:
            if name not in ALLOCATING:
                tally.layout_ops += 1
            if name in COPYING:
                tally.copied_elements += sum(_numel(leaf) for leaf in tree_flatten(out)[0])
            if any(self.is_weight(leaf) for leaf in leaves):
                for made in tree_flatten(out)[0]:
                    if isinstance(made, torch.Tensor):
                        self.weight_views[id(made)] = weakref.ref(made)
        else:
            tally.input_elements += sum(
                leaf.numel() for leaf in leaves if isinstance(leaf, torch.Tensor) and not self.is_weight(leaf)
            )
            tally.output_elements += sum(_numel(leaf) for leaf in tree_flatten(out)[0])
        return out

    def note_inputs(self, inputs: dict[str, Any], batch: int) -> None:
        """The model's inputs, by name, before it runs (the counts need nothing of them)."""

    def enter(self, tally: _ModuleTally, inputs: Any) -> None:
        """A module starts running: its ops are its own until it returns (or a child runs)."""
        self.stack.append(tally)
        if id(tally.module) not in self.ran:
            self.ran.add(id(tally.module))
            self.order.append(tally)
            first = _first_tensor(inputs)
            tally.input_shape = tuple(first.shape) if first is not None else ()

    def leave(self, tally: _ModuleTally, output: Any) -> None:
        self.stack.pop()
        first = _first_tensor(output)
        if first is not None:
            tally.output_shape = tuple(first.shape)


@contextmanager
def _module_hooks(counter: _Counter) -> Iterator[None]:
    def enter(module, inputs):
        tally = counter.tallies.get(id(module))
        if tally is not None:
            counter.enter(tally, inputs)

    def leave(module, inputs, output):
        tally = counter.tallies.get(id(module))
        if tally is not None and counter.stack and counter.stack[-1] is tally:
            counter.leave(tally, output)

    pre = nn.modules.module.register_module_forward_pre_hook(enter)
    post = nn.modules.module.register_module_forward_hook(leave)
    try:
        yield
    finally:
        pre.remove()
        post.remove()


def _fused_attention_on_meta(
    query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None, enable_gqa=False
) -> torch.Tensor | None:
    # [B, h, L, d_v] = softmax(Q·Kᵀ·scale + mask)·V: the CPU's one kernel, its meta function
    if (
        not query.is_meta
        or query.dim() != 4
        or value.shape[-1] != query.shape[-1]  # its meta function would give Q's depth, not V's
        or (enable_gqa and key.shape[-3] != query.shape[-3])
    ):
        return None  # torch's own choice: the math decomposition
    return torch.ops.aten._scaled_dot_product_flash_attention_for_cpu(
        query, key, value, dropout_p, is_causal, attn_mask=attn_mask, scale=scale
    )[0]


class _FusedAttentionOnMeta(TorchFunctionMode):
    """On meta, F.scaled_dot_product_attention runs its math decomposition (Q and Kᵀ each scaled,
    then matmul, softmax, matmul) where the CPU runs one fused kernel, counted as calc.formulas
    counts attention: meta runs the CPU kernel's meta function instead, so the two agree."""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func is nn.functional.scaled_dot_product_attention:
            fused = _fused_attention_on_meta(*args, **kwargs)
            if fused is not None:
                return fused
        return func(*args, **kwargs)


@contextmanager
def _no_fused_fast_paths() -> Iterator[None]:
    """nn.MultiheadAttention and TransformerEncoderLayer take a fused kernel in eval mode on
    real tensors, invisible as matmuls: count the math they stand for instead. (Scaled dot
    product attention, one op that every counter sees, stays fused, on meta too.)"""
    enabled = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(False)
    try:
        with _FusedAttentionOnMeta():
            yield
    finally:
        torch.backends.mha.set_fastpath_enabled(enabled)


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
        output_shape=tally.output_shape or (0,),
        params=params,
        terms=tuple(
            Term(f"aten.{op}", ((f"\\text{{aten.{op}}}", macs),), term_work(tally.module, op, ops))
            for op, macs in tally.macs.items()
        ),
        other_ops=tuple(tally.other_ops.items()),
        input_elements=tally.input_elements,
        output_elements=tally.output_elements,
        layout_ops=tally.layout_ops,
        copied_elements=tally.copied_elements,
    )
    sample = lambda shape: tuple(shape[1:])  # noqa: E731
    return Row(
        index,
        tally.path or ROOT_NAME,
        type(tally.module).__name__,
        sample(tally.input_shape),
        sample(tally.output_shape),
        cost,
        bytes_per_element,
    )


def count_module(
    module: nn.Module,
    input_shape: tuple[int, ...],
    batch: int = 1,
    dtype: str = "fp32",
    device: str | torch.device | None = None,
    example_inputs: dict[str, Any] | None = None,
) -> Report:
    """Count ``module`` on one input of ``(batch, *input_shape)``, zeros of the default float
    dtype; or, given ``example_inputs``, on ``module(**example_inputs)`` (token ids and an
    attention mask, say), ``input_shape`` then only naming one sample's input in the Report.

    Rows are the modules that did work themselves (their "self" cost: a ResNet block's
    residual add belongs to the block, its convolutions to the conv modules), in the
    order they first ran, named by module path. Report totals sum them; a subtree's
    total is the sum of the rows whose path starts with its path.
    """
    return count_with(_Counter, module, input_shape, batch, dtype, device, example_inputs)[0]


def count_with(
    counter_type: type[_Counter],
    module: nn.Module,
    input_shape: tuple[int, ...],
    batch: int = 1,
    dtype: str = "fp32",
    device: str | torch.device | None = None,
    example_inputs: dict[str, Any] | None = None,
) -> tuple[Report, _Counter]:
    """count_module's pass under ``counter_type`` (a _Counter that also records more: the graph of
    calc.torch_graph), returning the counter with the Report."""
    if device is None:
        device = next(iter(module.parameters()), torch.empty(0, device="meta")).device
    tallies = {id(child): _ModuleTally(path, child, {}, {}) for path, child in module.named_modules()}
    counter = counter_type(tallies, module)
    x = torch.zeros((batch, *input_shape), device=device) if example_inputs is None else None
    counter.note_inputs({"input": x} if example_inputs is None else example_inputs, batch)
    with _no_fused_fast_paths(), torch.no_grad(), _module_hooks(counter), counter:
        module(x) if example_inputs is None else module(**example_inputs)
    bytes_per_element = DTYPE_BYTES[dtype]
    rows = []
    counted: set[int] = set()  # a parameter two modules share (tied embeddings) counts once, where first run

    def own_params(module: nn.Module) -> int:
        fresh = [parameter for parameter in module.parameters(recurse=False) if id(parameter) not in counted]
        counted.update(id(parameter) for parameter in fresh)
        return sum(parameter.numel() for parameter in fresh)

    for tally in counter.order:
        params = own_params(tally.module)
        if tally.macs or tally.other_ops or params or tally.input_elements or tally.layout_ops:
            rows.append(_row(len(rows), tally, params, bytes_per_element))
    for tally in tallies.values():  # modules that never ran still hold parameters (an aux classifier)
        params = own_params(tally.module) if id(tally.module) not in counter.ran else 0
        if params:
            rows.append(_row(len(rows), tally, params, bytes_per_element))
    report = Report(tuple(input_shape), batch, dtype, tuple(rows), tuple(sorted(counter.unsupported.items())))
    return report, counter


# The counting pass as calc.torch_graph extends it (a counter that also records the data flow): public
# names for what it builds on, kept as aliases so that this module's own code reads as before.
DispatchCounter = _Counter  # the TorchDispatchMode that counts; count_with runs any subclass of it
ModuleTally = _ModuleTally  # one module's running figures
first_tensor = _first_tensor  # the first tensor in a nest of values (a module's inputs or outputs)

__all__ = ["DispatchCounter", "ModuleTally", "count_module", "count_with", "first_tensor"]
