"""The peak memory of one forward pass, found on the meta device before anything real is allocated.

The model runs once on meta tensors (shapes, no storage) under a dispatch mode that sees
every aten op. Each op's output storage is tallied from the op that creates it until the
last tensor using it is gone, so the peak of the sum is what a real forward holds at its
worst moment: every intermediate included, attention's h × L × L scores and their softmax
among them, not only the layers' inputs and outputs. Weights, buffers and the input are
added. Views share their base's storage and cost nothing.

What the mode cannot see: oneDNN keeps a reordered copy of the weights, kernels use
scratch memory (a convolution's unfolded columns), and the allocator does not hand freed
memory back at once. On this machine's CPU real forwards grew the resident memory by
1.3 to 1.5 times the activations the mode sees (resnet50, vgg16, mobilenet_v3_small,
resnet18 in bf16): hence the factors below, checked against real forwards in
tests/test_memory_budget.py.
"""

from __future__ import annotations

import copy
import os
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

from calc.errors import SpecError
from calc.torch_inputs import example_input, takes_tokens
from calc.torch_precision import TORCH_DTYPE
from calc.units import si_bytes

MEMORY_BUDGET_BYTES = 4 * 2**30
WEIGHT_COPIES = 2  # the weights, and oneDNN's reordered copy of them
ACTIVATION_MARGIN = 1.5  # kernel scratch and allocator slack over the intermediates the dispatcher sees


@dataclass(frozen=True)
class ForwardMemory:
    weight_bytes: int  # parameters and buffers
    input_bytes: int
    peak_activation_bytes: int  # the most the intermediates hold at once
    largest_bytes: int  # the largest single intermediate
    largest_op: str  # the aten op that made it
    largest_shape: tuple[int, ...]

    @property
    def peak_bytes(self) -> int:
        """The bound a measurement is checked against: everything at the peak, with margins."""
        return int(
            WEIGHT_COPIES * self.weight_bytes
            + self.input_bytes
            + ACTIVATION_MARGIN * self.peak_activation_bytes
        )


class _LiveStorages(TorchDispatchMode):
    def __init__(self, held: set[int]) -> None:
        super().__init__()
        self.held = held  # storages alive throughout: weights and the input
        self.live: dict[int, list[int]] = {}  # storage -> [bytes, tensors using it]
        self.bytes = 0
        self.peak = 0
        self.largest = (0, "", ())

    def _release(self, key: int) -> None:
        entry = self.live[key]
        entry[1] -= 1
        if entry[1] == 0:
            self.bytes -= entry[0]
            del self.live[key]

    def __torch_dispatch__(
        self,
        func: Callable[..., Any],
        types: tuple[type, ...],
        args: tuple[Any, ...] = (),
        kwargs: dict[str, Any] | None = None,
    ) -> Any:
        out = func(*args, **(kwargs or {}))
        for tensor in tree_flatten(out)[0]:
            if not isinstance(tensor, torch.Tensor):
                continue
            storage = tensor.untyped_storage()
            key = storage._cdata
            if key in self.held:
                continue
            entry = self.live.get(key)
            if entry is None:
                size = storage.nbytes()
                entry = self.live[key] = [size, 0]
                self.bytes += size
                self.peak = max(self.peak, self.bytes)
                if size > self.largest[0]:
                    self.largest = (size, func.__name__.split(".")[0], tuple(tensor.shape))
            entry[1] += 1
            weakref.finalize(tensor, self._release, key)
        return out


def forward_memory(model: nn.Module, input_shape: tuple[int, ...], batch: int, dtype: str) -> ForwardMemory:
    """What one inference forward of ``model`` (built on the meta device) on ``(batch, *input_shape)``
    in ``dtype`` holds, found on a copy of it: nothing real is allocated, ``model`` is left as it is."""
    if any(not tensor.is_meta for tensor in [*model.parameters(), *model.buffers()]):
        raise ValueError("forward_memory needs a model built on the meta device")
    meta = copy.deepcopy(model).to(TORCH_DTYPE[dtype]).eval()
    weights = {
        t.untyped_storage()._cdata: t.untyped_storage().nbytes()
        for t in [*meta.parameters(), *meta.buffers()]
    }
    x = example_input(meta, input_shape, batch, dtype, "meta")
    held = set(weights) | {x.untyped_storage()._cdata}
    tally = _LiveStorages(held)
    with torch.inference_mode(), tally:
        meta(x)
    size, op, shape = tally.largest
    return ForwardMemory(sum(weights.values()), x.untyped_storage().nbytes(), tally.peak, size, op, shape)


def check_forward_memory(
    model: nn.Module, input_shape: tuple[int, ...], batch: int, dtype: str, budget_bytes: int
) -> ForwardMemory:
    """Refuse, before anything is allocated, a forward whose peak is beyond ``budget_bytes``;
    the message names what to lower: the batch, and the resolution or the sequence length. Weights
    beyond the budget on their own are refused first, without running the forward."""
    _check_weights(model, dtype, budget_bytes)
    memory = forward_memory(model, input_shape, batch, dtype)
    if memory.peak_bytes <= budget_bytes:
        return memory
    raise SpecError(refusal(memory, input_shape, batch, budget_bytes, takes_tokens(model)), field="batch")


def weight_bytes(model: nn.Module, dtype: str) -> int:
    """The bytes of ``model``'s parameters and buffers in ``dtype`` (integer buffers kept as they are)."""
    itemsize = torch.empty((), dtype=TORCH_DTYPE[dtype]).element_size()
    tensors = {id(t): t for t in (*model.parameters(), *model.buffers())}.values()  # a tied weight once
    return sum(t.numel() * (itemsize if t.is_floating_point() else t.element_size()) for t in tensors)


def _check_weights(model: nn.Module, dtype: str, budget_bytes: int) -> None:
    weights = weight_bytes(model, dtype)
    if WEIGHT_COPIES * weights <= budget_bytes:
        return
    raise SpecError(
        f"its {dtype} weights alone are {si_bytes(weights)} ({si_bytes(WEIGHT_COPIES * weights)} to run: "
        f"they are held twice), beyond the memory budget of {si_bytes(budget_bytes)} for a real forward "
        "here; count it instead (on meta nothing is allocated), or measure a smaller model",
        field="model",
    )


def refusal(
    memory: ForwardMemory,
    input_shape: tuple[int, ...],
    batch: int,
    budget_bytes: int,
    tokens: bool = False,
) -> str:
    if tokens:  # token ids: one sample is (L,)
        what, lower = f"batch {batch:,} of {input_shape[0]:,} tokens", "the sequence length or the batch"
    elif len(input_shape) == 3:
        what, lower = (
            f"batch {batch:,} at {input_shape[1]}×{input_shape[2]} px",
            "the batch or the resolution",
        )
    elif len(input_shape) == 2:
        what, lower = f"batch {batch:,} of {input_shape[0]:,} tokens", "the sequence length or the batch"
    else:
        what, lower = f"batch {batch:,}", "the batch"
    largest = "×".join(f"{n:,}" for n in memory.largest_shape)
    return (
        f"a forward pass of {what} needs about {si_bytes(memory.peak_bytes)} at its peak (its largest "
        f"intermediate, {largest} from aten.{memory.largest_op}, alone is {si_bytes(memory.largest_bytes)}), "
        f"beyond the memory budget of {si_bytes(budget_bytes)} for a real forward here; lower {lower}"
    )


def memory_budget_bytes(device: str = "cpu") -> int:
    """How much one measurement may allocate: a quarter of this machine's RAM (at most
    4 GiB), or half the CUDA device's free memory."""
    if device.startswith("cuda"):
        free, _ = torch.cuda.mem_get_info(torch.device(device))
        return free // 2
    try:
        physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError):
        physical = 4 * MEMORY_BUDGET_BYTES
    return min(MEMORY_BUDGET_BYTES, physical // 4)


__all__ = ["ForwardMemory", "check_forward_memory", "forward_memory", "memory_budget_bytes", "weight_bytes"]
