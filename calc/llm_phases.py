"""Serving an LLM: work, bytes and roofline time of its prefill and decode, from calc.llm's forms.

Torch-free, pure arithmetic on the closed forms (numpy over modules and steps), so a sweep of
batch or context costs no count. For P prompt tokens, G generated, B sequences:

  prefill        one forward of P tokens: time to first token (TTFT)
  decode step i  one token per sequence against a cache of P + i tokens, i = 0 … G − 1;
                 time per output token (TPOT) is the mean over the G steps

Bytes of a module in a phase (the roofline's memory traffic):
  weights        its params in the weight format, read once per forward; an experts module
                 reads only the experts its T tokens pick: E·(1 − (1 − k/E)^T) of E, uniform
                 routing's expectation (T = B in a decode step, B·P in a prefill)
  activations    its inputs read and outputs written once, in the activation dtype
  KV cache       the attention module writes its new tokens' K and V (or latent) and, in a
                 decode step, reads the cached ones, in the KV dtype; those reads replace the
                 K and V operands of its matmuls (counted as activations, and as GQA's
                 repeated heads, by the counter)

Time of a phase: peak time FLOPs / P_peak ("theoretical"), and the roofline Σ over modules of
max(FLOPs / P_peak, bytes / bandwidth) as calc.roofline prices a Report.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from calc.errors import SpecError
from calc.kv_cache import kv_dtype_bytes
from calc.llm import LlmCounts
from calc.llm_weights import activation_bytes, weight_bytes, weight_format
from calc.roofline import Roofs
from calc.units import flops_from_macs

INF_WINDOW = np.iinfo(np.int64).max // 4  # a full-attention layer's "window"


@dataclass(frozen=True)
class Setting:
    prompt: int  # P
    generate: int  # G
    batch: int = 1  # B
    dtype: str = "bf16"  # activations and arithmetic
    weights: str | None = None  # storage of the weights; None: as dtype
    kv_dtype: str | None = None  # storage of the KV cache; None: as dtype

    @property
    def weight_format(self) -> str:
        return self.weights or self.dtype

    @property
    def cache_dtype(self) -> str:
        return self.kv_dtype or self.dtype

    def check(self, max_positions: int | None = None) -> None:
        """SpecError naming the field that is out of range."""
        for field, value, least in (
            ("prompt", self.prompt, 1),
            ("generate", self.generate, 1),
            ("batch", self.batch, 1),
        ):
            if type(value) is not int or value < least:
                raise SpecError(f"must be a whole number of at least {least}, not {value!r}", field=field)
        if self.batch > 65_536:
            raise SpecError(f"must be at most 65,536, not {self.batch:,}", field="batch")
        activation_bytes(self.dtype)
        weight_format(self.weight_format)
        kv_dtype_bytes(self.cache_dtype)
        context = self.prompt + self.generate
        if max_positions is not None and context > max_positions:
            raise SpecError(
                f"prompt + generate = {context:,} tokens, beyond the {max_positions:,} positions the model "
                "is configured for",
                field="prompt",
            )


@dataclass(frozen=True)
class Phase:
    """One phase's figures for the whole batch (a decode phase: the mean step)."""

    flops: float
    bytes: float
    weight_bytes: float
    activation_bytes: float
    kv_bytes: float  # KV cache read and written
    theoretical_s: float  # FLOPs / peak
    roofline_s: float  # Σ modules max(FLOPs / peak, bytes / bandwidth)
    module_flops: np.ndarray  # per module (a decode phase: its mean step), for a roofline chart
    module_bytes: np.ndarray

    @property
    def intensity(self) -> float:
        return self.flops / self.bytes if self.bytes else 0.0


class Forms:
    """calc.llm's RowForms as numpy columns (one entry per module), for fast evaluation."""

    def __init__(self, counts: LlmCounts):
        rows = counts.rows
        self.counts = counts
        self.names = tuple(row.name for row in rows)
        column = lambda values: np.array(list(values), dtype=np.float64)  # noqa: E731
        self.prefill = {
            quantity: column(row.prefill[quantity] for row in rows) for quantity in rows[0].prefill
        }  # [modules, 3]
        self.decode = {quantity: column(row.decode[quantity] for row in rows) for quantity in rows[0].decode}
        self.window = np.array([row.window or INF_WINDOW for row in rows], dtype=np.int64)
        self.attention = np.array([row.attention for row in rows])
        self.kv_per_token = column(row.kv_elements_per_token for row in rows)
        self.operands_per_key = column(row.kv_operands_per_key for row in rows)
        self.params = column(row.params for row in rows)
        self.quantizable = column(min(row.quantizable_params, row.params) for row in rows)
        self.experts = column(row.experts[0] if row.experts else 0 for row in rows)
        self.top_k = column(row.experts[1] if row.experts else 0 for row in rows)
        # modules whose decode step depends on the context: evaluated per step
        grows = (
            (self.decode["macs"][:, 1] != 0) | (self.decode["elements"][:, 1] != 0) | (self.kv_per_token != 0)
        )
        self.growing = np.nonzero(grows)[0]
        self._weight_bytes: dict[tuple[str, str], np.ndarray] = {}
        self.fixed = np.nonzero(~grows)[0]

    def resident_weight_bytes(self, setting: Setting) -> np.ndarray:
        """Each module's params in memory (all experts) in the setting's weight format."""
        key = (setting.weight_format, setting.dtype)
        if key not in self._weight_bytes:  # a sweep asks again at every point
            self._weight_bytes[key] = np.array(
                [
                    weight_bytes(quantizable, params - quantizable, setting.weight_format, setting.dtype)
                    for quantizable, params in zip(self.quantizable, self.params, strict=True)
                ]
            )
        return self._weight_bytes[key]

    def read_fraction(self, tokens: float) -> np.ndarray:
        """Share of each module's weights a forward of ``tokens`` tokens reads: 1, or for an experts
        module the experts its tokens pick under uniform routing, E·(1 − (1 − k/E)^T) of E."""
        with np.errstate(divide="ignore", invalid="ignore"):
            picked = 1 - (1 - self.top_k / self.experts) ** tokens
        return np.where(self.experts > 0, picked, 1.0)

    def keys(self, past: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Keys attended per decode step: [modules, steps], capped by each module's window."""
        return np.minimum(past[None, :], self.window[rows, None] - 1) + 1


def prefill_phase(forms: Forms, setting: Setting, roofs: Roofs) -> Phase:
    prompt, batch = setting.prompt, setting.batch
    powers = np.array([1.0, prompt, float(prompt) ** 2])
    macs = batch * (forms.prefill["macs"] @ powers)
    elements = batch * (forms.prefill["elements"] @ powers)
    stored = np.minimum(prompt, forms.window - 1)
    kv = batch * forms.kv_per_token * stored * kv_dtype_bytes(setting.cache_dtype)
    weights = forms.resident_weight_bytes(setting) * forms.read_fraction(batch * prompt)
    activations = elements * activation_bytes(setting.dtype)
    module_bytes = weights + activations + kv
    module_flops = 2.0 * macs
    flops = flops_from_macs(forms.counts.prefill_total("macs", prompt, batch))
    return Phase(
        flops,
        float(module_bytes.sum()),
        float(weights.sum()),
        float(activations.sum()),
        float(kv.sum()),
        flops / roofs.peak_flops_per_s,
        _roofline(module_flops, module_bytes, roofs).sum(),
        module_flops,
        module_bytes,
    )


def _roofline(module_flops: np.ndarray, module_bytes: np.ndarray, roofs: Roofs) -> np.ndarray:
    return np.maximum(module_flops / roofs.peak_flops_per_s, module_bytes / roofs.bandwidth_bytes_per_s)


def decode_phase(forms: Forms, setting: Setting, roofs: Roofs, steps: int | None = None) -> Phase:
    """The mean of G decode steps (pasts P … P + G − 1), or of ``steps`` steps spread evenly over
    them (a sweep's shortcut: the mean of a linear function is exact at any even spread)."""
    batch, act, kv_bytes = setting.batch, activation_bytes(setting.dtype), kv_dtype_bytes(setting.cache_dtype)
    count = setting.generate if steps is None else min(steps, setting.generate)
    past = np.rint(np.linspace(setting.prompt, setting.prompt + setting.generate - 1, count)).astype(np.int64)
    weights = forms.resident_weight_bytes(setting) * forms.read_fraction(batch)
    module_flops = np.empty((len(forms.names), len(past)))
    module_bytes = np.empty_like(module_flops)
    fixed, growing = forms.fixed, forms.growing
    module_flops[fixed] = (2.0 * batch * forms.decode["macs"][fixed, 0])[:, None]
    module_bytes[fixed] = (weights[fixed] + batch * act * forms.decode["elements"][fixed, 0])[:, None]
    keys = forms.keys(past, growing)  # [growing, steps]
    line = lambda quantity: (  # noqa: E731
        forms.decode[quantity][growing, 0, None] + forms.decode[quantity][growing, 1, None] * keys
    )
    module_flops[growing] = 2.0 * batch * line("macs")
    operands = forms.operands_per_key[growing, None] * keys  # K, V read from the cache instead
    kv = batch * forms.kv_per_token[growing, None] * keys * kv_bytes  # keys − 1 read, 1 written
    module_bytes[growing] = weights[growing, None] + batch * act * (line("elements") - operands) + kv
    step_seconds = _roofline(module_flops, module_bytes, roofs).sum(axis=0)
    flops = module_flops.sum(axis=0).mean()
    activations = module_bytes.sum(axis=0).mean() - weights.sum() - kv.sum(axis=0).mean()
    return Phase(
        float(flops),
        float(module_bytes.sum(axis=0).mean()),
        float(weights.sum()),
        float(activations),
        float(kv.sum(axis=0).mean()),
        float(flops / roofs.peak_flops_per_s),
        float(step_seconds.mean()),
        module_flops.mean(axis=1),
        module_bytes.mean(axis=1),
    )


@dataclass(frozen=True)
class Serving:
    setting: Setting
    prefill: Phase
    decode: Phase  # the mean step

    @property
    def time_to_first_token_s(self) -> float:
        return self.prefill.roofline_s

    @property
    def time_per_output_token_s(self) -> float:
        return self.decode.roofline_s

    @property
    def tokens_per_s(self) -> float:
        """Decode throughput of the batch: B tokens per step."""
        return self.setting.batch / self.decode.roofline_s


def serve(forms: Forms, setting: Setting, roofs: Roofs, steps: int | None = None) -> Serving:
    setting.check(forms.counts.max_positions)
    return Serving(setting, prefill_phase(forms, setting, roofs), decode_phase(forms, setting, roofs, steps))


@dataclass(frozen=True)
class Memory:
    weight_bytes: float  # resident: every expert
    kv_cache_bytes: int  # at P + G tokens
    activation_bytes: float  # the prefill's largest module input + output (attention's scores aside)
    capacity_bytes: float | None

    @property
    def total_bytes(self) -> float:
        return self.weight_bytes + self.kv_cache_bytes + self.activation_bytes

    @property
    def fits(self) -> bool | None:
        return None if self.capacity_bytes is None else self.total_bytes <= self.capacity_bytes


def _peak_activation_bytes(forms: Forms, prompt: int, batch: int, dtype: str) -> float:
    """The largest input + output one module holds in a prefill of ``prompt`` tokens, leaving out
    attention's P × P scores (fused attention kernels never hold them)."""
    powers = np.array([1.0, prompt, float(prompt) ** 2])
    elements = np.where(forms.attention, 0.0, forms.prefill["elements"] @ powers)
    return batch * float(elements.max(initial=0.0)) * activation_bytes(dtype)


def memory(forms: Forms, setting: Setting, capacity_bytes: float | None) -> Memory:
    counts = forms.counts
    return Memory(
        float(forms.resident_weight_bytes(setting).sum()),
        counts.cache.cache_bytes(setting.prompt + setting.generate, setting.batch, setting.cache_dtype),
        _peak_activation_bytes(forms, setting.prompt, setting.batch, setting.dtype),
        capacity_bytes,
    )


def largest_batch(forms: Forms, setting: Setting, capacity_bytes: float) -> int:
    """The most sequences of P + G tokens that fit: memory grows by the same per sequence."""
    one = memory(
        forms,
        replace(setting, batch=1),
        None,
    )
    per_sequence = one.kv_cache_bytes + one.activation_bytes
    spare = capacity_bytes - one.weight_bytes
    return max(int(spare // per_sequence), 0) if per_sequence else 0


def longest_context(forms: Forms, setting: Setting, capacity_bytes: float) -> int:
    """The most tokens (a prompt filling the context, G = 0) that fit for the setting's batch,
    up to the model's positions; 0 when not even one fits. Memory grows with context, so bisect."""
    limit = forms.counts.max_positions or 2**24

    def fits(context: int) -> bool:
        at = replace(setting, prompt=context, generate=0)
        return memory(forms, at, capacity_bytes).total_bytes <= capacity_bytes

    if not fits(1):
        return 0
    low, high = 1, limit
    while low < high:
        middle = (low + high + 1) // 2
        low, high = (middle, high) if fits(middle) else (low, middle - 1)
    return low


__all__ = [
    "Forms",
    "Memory",
    "Phase",
    "Serving",
    "Setting",
    "decode_phase",
    "largest_batch",
    "longest_context",
    "memory",
    "prefill_phase",
    "serve",
]
