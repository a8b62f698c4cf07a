"""An LLM counted by its distinct decoder layers: count a reduced copy, then repeat its layers' rows.

The decoder layers of a transformer are alike: Llama-3.1-70B runs one layer 80 times, Gemma-2
alternates a sliding-window layer and a full one, DeepSeek-V3 has 3 dense layers then 58 of
experts. Counting every layer on meta costs per op dispatched (9 ms a layer per forward), so
calc.torch_llm counts a copy that keeps only the leading layers in which every kind of layer
has appeared after the first (the copy reduced_config makes: per-layer lists of the config cut),
and gives each layer of the model the rows of the first layer of its kind after the first, renamed.

A layer's kind is what can make its work differ: its modules' classes, their plain attributes
(sizes, a sliding window, an attention type; the layer index itself aside), their params' and
buffers' shapes, and its entries of the config's per-layer lists (layer_types, ...). The plan
is only trusted when checked: the reduced copy's layers have the kinds of the model's leading
layers, its cache layers the model's, and a copy with one layer more counts (a prefill) exactly
as the reduced count repeated to that many layers would: so nothing outside the layers depends
on how many there are (no op of the model's own loop, no module the layers share). Otherwise
the model is counted whole. tests/test_llm_layers.py checks repeated against whole counts.
"""

from __future__ import annotations

import copy
import re
from collections import Counter
from dataclasses import dataclass, replace
from typing import Any

from torch import nn

from calc.analyze import Report
from calc.kv_cache import CacheGeometry
from calc.torch_count import DispatchCounter

# the attributes by which a layer knows its own index: its position, not its kind
INDEX_ATTRIBUTES = frozenset({"layer_idx", "layer_id", "layer_index", "layer_num", "layer_number"})
PLAIN = (bool, int, float, str, type(None))


def reduced_config(config, layers: int):
    """``config`` with only its first ``layers`` decoder layers (per-layer lists cut to match)."""
    total = config.num_hidden_layers
    reduced = copy.deepcopy(config)
    for name, value in vars(config).items():
        if isinstance(value, list) and len(value) == total:
            setattr(reduced, name, value[:layers])
    reduced.num_hidden_layers = layers
    return reduced


def _plain(value: Any) -> bool:
    if isinstance(value, (tuple, list)):
        return all(isinstance(item, PLAIN) for item in value)
    return isinstance(value, PLAIN)


def module_signature(module: nn.Module) -> tuple:
    """What a module tree computes by, its index aside: per module its path, class, plain
    attributes, and params' and buffers' shapes and dtypes."""
    return tuple(
        (
            path,
            type(part).__qualname__,
            tuple(
                sorted(
                    (name, repr(value))
                    for name, value in vars(part).items()
                    if not name.startswith("_") and name not in INDEX_ATTRIBUTES and _plain(value)
                )
            ),
            tuple(
                (name, tuple(tensor.shape), str(tensor.dtype))
                for tensors in (part.named_parameters(recurse=False), part.named_buffers(recurse=False))
                for name, tensor in tensors
            ),
        )
        for path, part in module.named_modules()
    )


@dataclass(frozen=True)
class LayerPlan:
    path: str  # of the decoder layers' ModuleList: "model.layers"
    kinds: tuple[tuple, ...]  # each layer's kind (module_signature, its per-layer config entries)
    representative: tuple[int, ...]  # each layer's first layer of its kind
    per_layer: tuple[str, ...] = ()  # the config's per-layer lists, by name

    @property
    def kept(self) -> int:
        """Leading layers in which every kind has appeared: the reduced copy's."""
        return max(self.representative) + 1

    def layer_of(self, name: str) -> tuple[int, str] | None:
        """(layer index, the rest of the path) of a module path inside the layers."""
        match = re.fullmatch(rf"{re.escape(self.path)}\.(\d+)((?:\..*)?)", name)
        return (int(match.group(1)), match.group(2)) if match else None

    def renamed(self, name: str, layer: int) -> str:
        return f"{self.path}.{layer}{self.layer_of(name)[1]}"


def _layer_list(model: nn.Module, layers: int) -> tuple[str, nn.ModuleList] | None:
    found = [
        (path, module)
        for path, module in model.named_modules()
        if isinstance(module, nn.ModuleList) and len(module) == layers
    ]
    return found[0] if len(found) == 1 else None


def per_layer_lists(config) -> tuple[str, ...]:
    """The config's lists with an entry per layer (layer_types, ...), by name; a list of the layer
    indices themselves (Llama-4's moe_layers when all are) tells no layer from another."""
    layers = config.num_hidden_layers
    return tuple(
        name
        for name, value in vars(config).items()
        if isinstance(value, list) and len(value) == layers and value != list(range(layers))
    )


def layer_kinds(
    config, model: nn.Module, per_layer: tuple[str, ...] | None = None
) -> tuple[str, tuple[tuple, ...]] | None:
    """(path of the decoder layers, each one's kind, by the ``per_layer`` lists of the config, its
    own by default); None where they cannot be told apart."""
    layers = getattr(config, "num_hidden_layers", None)
    if not isinstance(layers, int) or getattr(config, "is_heterogeneous", False):
        return None
    found = _layer_list(model, layers)
    if found is None:
        return None
    path, modules = found
    lists = [getattr(config, name) for name in (per_layer_lists(config) if per_layer is None else per_layer)]
    kinds = tuple(
        (module_signature(layer), tuple(repr(values[index]) for values in lists))
        for index, layer in enumerate(modules)
    )
    return path, kinds


def layer_plan(config, model: nn.Module) -> LayerPlan | None:
    """The plan for counting ``model`` by its distinct layers; None where that saves nothing."""
    found = layer_kinds(config, model)
    if found is None:
        return None
    path, kinds = found
    # the first layer stands for itself alone: its input is the embedding's output, which the counter
    # takes for a view of the embedding's weight (calc.torch_count), not another layer's output
    first: dict[tuple, int] = {}
    representative = (0, *(first.setdefault(kind, index) for index, kind in enumerate(kinds) if index))
    plan = LayerPlan(path, kinds, representative, per_layer_lists(config))
    return plan if plan.kept < len(kinds) else None


def same_kinds(plan: LayerPlan, config, model: nn.Module) -> bool:
    """Whether a reduced copy's layers are the plan's leading layers, kind for kind."""
    found = layer_kinds(config, model, plan.per_layer)
    return found is not None and found[0] == plan.path and found[1] == plan.kinds[: len(found[1])]


class _UnsupportedByModule(dict):
    """The counter's unsupported ops (op -> runs), also noted per module path: a layer's repeat."""

    def __init__(self, counter: DispatchCounter):
        super().__init__()
        self.counter = counter
        self.by_module: Counter[tuple[str, str]] = Counter()

    def __setitem__(self, op: str, runs: int) -> None:
        self.by_module[self.counter.stack[-1].path, op] += 1
        super().__setitem__(op, runs)


class LayerCounter(DispatchCounter):
    """calc.torch_count's counter, keeping which module ran each unsupported op."""

    def __init__(self, tallies, root: nn.Module):
        super().__init__(tallies, root)
        self.unsupported = _UnsupportedByModule(self)


def repeat_report(
    report: Report, unsupported: Counter[tuple[str, str]], plan: LayerPlan, layers: int
) -> Report | None:
    """``report`` of a reduced copy as the model's first ``layers`` layers would count: each layer
    the rows of its representative, renamed; None where the layers' rows are not one run of rows
    in layer order (a module outside the layers ran between them)."""
    before, by_layer, after = [], {}, []
    for row in report.rows:
        found = plan.layer_of(row.name)
        if found is None:
            (after if by_layer else before).append(row)
        elif after or (by_layer and found[0] < max(by_layer)):
            return None
        else:
            by_layer.setdefault(found[0], []).append(row)
    rows = [
        *before,
        *(
            replace(row, name=plan.renamed(row.name, layer))
            for layer in range(layers)
            for row in by_layer.get(plan.representative[layer], ())
        ),
        *after,
    ]
    runs: Counter[str] = Counter()
    for (path, op), count in unsupported.items():
        found = plan.layer_of(path)
        if found is None:
            runs[op] += count
        else:
            runs[op] += count * plan.representative[:layers].count(found[0])
    return Report(
        report.input_shape,
        report.batch,
        report.dtype,
        tuple(replace(row, index=index) for index, row in enumerate(rows)),
        tuple(sorted(runs.items())),
        report.active_params,
    )


def repeat_cache(cache: CacheGeometry, plan: LayerPlan) -> CacheGeometry:
    return CacheGeometry(tuple(cache.layers[kept] for kept in plan.representative), cache.latent)


def repeat_paths(values: dict[str, Any], plan: LayerPlan) -> dict[str, Any]:
    """Values by module path of a reduced copy, for the model's modules of each layer."""
    repeated = {}
    for path, value in values.items():
        found = plan.layer_of(path)
        if found is None:
            repeated[path] = value
        else:
            for layer, kept in enumerate(plan.representative):
                if kept == found[0]:
                    repeated[plan.renamed(path, layer)] = value
    return repeated


def cache_layer_kinds(cache) -> tuple[tuple[str, Any], ...]:
    """Each layer of an empty DynamicCache: its class and window."""
    return tuple((type(layer).__name__, getattr(layer, "sliding_window", None)) for layer in cache.layers)


__all__ = [
    "LayerCounter",
    "LayerPlan",
    "cache_layer_kinds",
    "layer_plan",
    "module_signature",
    "reduced_config",
    "repeat_cache",
    "repeat_paths",
    "repeat_report",
    "same_kinds",
]
