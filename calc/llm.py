"""An LLM's work per phase as closed forms, fitted to counts of the real module.

Torch-free. calc.torch_llm counts a causal LM on meta four times: a prefill of P = 7 and of
P = 8 tokens, and two decode steps with a real KV cache (8 and 9 tokens seen before the step).
Each module's (each Row's) MACs, other ops and activation elements are then a polynomial:

  prefill, P prompt tokens:     q(P) = a + b·P + c·P²   (c: attention's P × P scores only)
  decode step, S keys attended: q(S) = a + b·S         (S = min(past, W − 1) + 1 in a window W)

per sequence; a batch of B multiplies all of it by B. The decode slope b is the difference of
the two steps; the prefill's quadratic c of an attention module is what its decode step adds per
key, less the K and V it reads per key (in a prefill those grow with P, not P²): one query
against one key in a decode step is one query-key pair of a prefill. So counting four forwards
gives every prompt length and context at once; tests check the forms against counts at other
lengths, exactly. Letters: P prompt tokens, G generated, B batch, S keys, W a sliding window.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from calc.analyze import Report, Row
from calc.errors import SpecError
from calc.kv_cache import CacheGeometry
from calc.work import Work

PREFILL_FIT = (7, 8)  # prompt lengths counted (one apart: integer slopes)
# tokens seen before each counted decode step (one apart), from the second prefill's cache on
DECODE_FIT = (PREFILL_FIT[1], PREFILL_FIT[1] + 1)

Quantity = Callable[[Row], int]
QUANTITIES: dict[str, Quantity] = {
    "macs": lambda row: row.macs,
    "elements": lambda row: row.cost.input_elements + row.cost.output_elements,
    "other_ops": lambda row: row.other_ops,
}


@dataclass(frozen=True)
class RowForm:
    """One module's work as closed forms, per sequence."""

    name: str
    kind: str
    layer: int | None  # the decoder layer it belongs to (its cache layer), None outside the layers
    window: int | None  # that layer's sliding window
    attention: bool  # runs the attention matmuls of its layer
    params: int
    quantizable_params: int  # block matrices (calc.llm_weights): stored quantized under int8/int4
    experts: tuple[int, int] | None  # (experts, top_k) of an experts module: a token reads top_k of them
    prefill: dict[str, tuple[int, int, int]]  # quantity -> (a, b, c) of a + b·P + c·P²
    decode: dict[str, tuple[int, int]]  # quantity -> (a, b) of a + b·S
    kv_elements_per_token: int = 0  # the cache its layer keeps per token (on its layer's first attention row)

    @property
    def kv_operands_per_key(self) -> int:
        """K and V elements the attention matmuls read per key in a decode step: one query,
        so exactly their MACs per key (Q·Kᵀ: d_k per head and key; P·V: d_v)."""
        return self.decode["macs"][1] if self.attention else 0

    def keys(self, past: int) -> int:
        """Keys a decode step attends to after ``past`` tokens, in this row's layer."""
        return (past if self.window is None else min(past, self.window - 1)) + 1

    def prefill_value(self, quantity: str, prompt: int) -> int:
        a, b, c = self.prefill[quantity]
        return a + b * prompt + c * prompt * prompt

    def decode_value(self, quantity: str, past: int) -> int:
        a, b = self.decode[quantity]
        return a + b * self.keys(past)


@dataclass(frozen=True)
class LlmCounts:
    """Everything counted once on meta: closed forms per module, the KV cache's geometry, params."""

    model: str
    model_type: str
    params: int
    active_params: int | None  # MoE: one token's params; None for a dense model
    max_positions: int | None  # the model's configured context
    cache: CacheGeometry
    rows: tuple[RowForm, ...]
    unsupported: tuple[tuple[str, int], ...] = ()

    def prefill_total(self, quantity: str, prompt: int, batch: int = 1) -> int:
        return batch * sum(row.prefill_value(quantity, prompt) for row in self.rows)

    def decode_total(self, quantity: str, past: int, batch: int = 1) -> int:
        return batch * sum(row.decode_value(quantity, past) for row in self.rows)


_LAYER_INDEX = re.compile(r"\.(\d+)(?:\.|$)")


def layer_of(name: str) -> int | None:
    """The decoder layer a module path belongs to: its first numeric part ("model.layers.3.mlp" -> 3)."""
    match = _LAYER_INDEX.search(name)
    return int(match.group(1)) if match else None


def _by_name(report: Report) -> dict[str, Row]:
    return {row.name: row for row in report.rows}


def _runs_attention(row: Row | None) -> bool:
    return row is not None and any(term.work is Work.ATTENTION_MATMULS for term in row.cost.terms)


def fit(
    prefill: tuple[Report, Report],
    decode: tuple[Report, Report],
    cache: CacheGeometry,
    quantizable: dict[str, int],
    experts: dict[str, tuple[int, int]],
) -> tuple[RowForm, ...]:
    """The closed forms of every module from counts at PREFILL_FIT and DECODE_FIT (batch 1).
    ``quantizable``: block-matrix params per module path; ``experts``: (experts, top_k) per
    experts module. Refuses a model whose attention layers do not map onto its cache layers."""
    for report in (*prefill, *decode):
        if report.batch != 1:
            raise ValueError("closed forms are fitted to counts of one sequence")
    rows = [_by_name(report) for report in (*prefill, *decode)]
    names = list(dict.fromkeys(name for counted in rows for name in counted))
    attention_layers = [layer_of(name) for name in names if _runs_attention(rows[2].get(name))]
    if sorted(set(attention_layers)) != list(range(len(cache.layers))) or None in attention_layers:
        raise SpecError(
            f"its attention modules ({len(set(attention_layers))} layers) do not match the "
            f"{len(cache.layers)} layers of its KV cache; MACscope models decoder-only transformers",
            field="model_type",
        )
    windows = set(cache.windows)
    shared_window = windows.pop() if len(windows) == 1 else None
    forms, seen_layers = [], set()
    for name in names:
        found = [counted.get(name) for counted in rows]
        sample = next(row for row in found if row is not None)
        layer = layer_of(name)
        cache_layer = cache.layers[layer] if layer is not None and layer < len(cache.layers) else None
        # outside the layers (the causal mask's making): the window all layers share, if they share one
        window = cache_layer.window if cache_layer else shared_window
        attention = _runs_attention(found[2])
        value = {
            quantity: [measure(row) if row else 0 for row in found]
            for quantity, measure in QUANTITIES.items()
        }
        keys = [(past if window is None else min(past, window - 1)) + 1 for past in DECODE_FIT]
        decode_forms = {}
        for quantity, (_, _, first, second) in value.items():
            slope = (second - first) // (keys[1] - keys[0])
            decode_forms[quantity] = (first - slope * keys[0], slope)
        prefill_forms = {}
        for quantity, (at_first, at_second, _, _) in value.items():
            per_pair = 0
            if attention:  # a query-key pair of the prefill is one key of a decode step, less K and V
                operands = decode_forms["macs"][1]
                per_pair = decode_forms[quantity][1] - (operands if quantity == "elements" else 0)
            first = at_first - per_pair * PREFILL_FIT[0] ** 2
            second = at_second - per_pair * PREFILL_FIT[1] ** 2
            slope = (second - first) // (PREFILL_FIT[1] - PREFILL_FIT[0])
            prefill_forms[quantity] = (first - slope * PREFILL_FIT[0], slope, per_pair)
        kv = 0
        if attention and layer not in seen_layers:
            seen_layers.add(layer)
            kv = cache_layer.elements_per_token
        forms.append(
            RowForm(
                name,
                sample.kind,
                layer,
                window,
                attention,
                sample.params,
                quantizable.get(name, 0),
                experts.get(name),
                prefill_forms,
                decode_forms,
                kv,
            )
        )
    return tuple(forms)


__all__ = ["DECODE_FIT", "PREFILL_FIT", "LlmCounts", "RowForm", "fit", "layer_of"]
