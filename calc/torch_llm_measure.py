"""Measured here: a reduced copy of an LLM timed on this machine, prefill and decode with a real
KV cache, against that copy's own theory on this machine's probed roofs.

The copy keeps the architecture, hidden size, heads and head_dim, and the first k decoder layers,
k as many as fit the measurement's memory budget (calc.torch_memory) with its weights (twice:
oneDNN keeps a reordered copy), KV cache and activations; its weights are random (transformers'
initialization), in the activation dtype (no quantized kernels here). Timing: a warm-up prefill,
then prefills of P tokens (the median), then decode steps of one token each against the cache
the last prefill filled (the median step), all inside a time bound. Theory is calc.llm_phases on
the copy's own count, for the same P, B and the decode steps that ran.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass

import torch

from calc.errors import SpecError
from calc.llm import LlmCounts
from calc.llm_phases import Forms, Setting, memory, serve
from calc.roofline import Roofs
from calc.time_bound import TimeBound
from calc.torch_hf import build
from calc.torch_llm import count_config, decode_inputs, empty_cache, prefill_inputs
from calc.torch_llm_layers import reduced_config
from calc.torch_memory import WEIGHT_COPIES
from calc.units import DTYPE_BYTES, si_bytes

MIN_PREFILLS = 3
MAX_PREFILLS = 10
MIN_DECODE_STEPS = 4
TORCH_DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


@dataclass(frozen=True)
class LlmMeasurement:
    device: str
    dtype: str
    layers_kept: int
    layers: int
    params: int  # of the reduced copy
    prefill_s: float  # median prefill of P tokens × B
    prefills: int
    decode_s: float  # median decode step (one token per sequence)
    decode_steps: int
    theory_prefill_s: float  # the copy's roofline on the probed roofs
    theory_decode_s: float

    @property
    def prefill_efficiency(self) -> float:
        return self.theory_prefill_s / self.prefill_s

    @property
    def decode_efficiency(self) -> float:
        return self.theory_decode_s / self.decode_s


def _per_layer_params(counts: LlmCounts) -> tuple[int, list[int]]:
    """(params outside the decoder layers, params of each layer in order)."""
    layers = [0] * len(counts.cache.layers)
    outside = 0
    for row in counts.rows:
        if row.layer is not None and row.layer < len(layers):
            layers[row.layer] += row.params
        else:
            outside += row.params
    return outside, layers


def layers_to_keep(counts: LlmCounts, setting: Setting, budget_bytes: float) -> int:
    """The most leading decoder layers whose copy fits ``budget_bytes``: weights twice, the KV cache
    at P + G, and a prefill's activations (the full model's largest module input + output);
    0 if not even one does."""
    outside, per_layer = _per_layer_params(counts)
    element = DTYPE_BYTES[setting.dtype]
    context = setting.prompt + setting.generate
    activations = memory(Forms(counts), setting, None).activation_bytes
    kept, weights, cache = 0, outside, 0
    for index, params in enumerate(per_layer):
        weights += params
        layer = counts.cache.layers[index]
        cache += setting.batch * layer.elements_per_token * layer.stored_tokens(context) * element
        if WEIGHT_COPIES * weights * element + cache + activations > budget_bytes:
            break
        kept = index + 1
    return kept


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize(device)


def _timed(run, device: str) -> float:
    _sync(device)
    started = time.perf_counter()
    run()
    _sync(device)
    return time.perf_counter() - started


def measure_llm(
    config,
    counts: LlmCounts,
    setting: Setting,
    device: str,
    roofs: Roofs,
    budget_bytes: float,
    bound: TimeBound,
) -> LlmMeasurement:
    """Time a reduced copy of ``config`` (counted as ``counts``) on ``device`` within ``bound``."""
    kept = layers_to_keep(counts, setting, budget_bytes)
    if kept == 0:
        raise SpecError(
            f"not even one of its layers fits the {si_bytes(budget_bytes)} a measurement on {device} may "
            "use with this prompt and batch; lower --prompt or --batch",
            field="--device",
        )
    reduced = reduced_config(config, kept)
    reduced_counts = count_config(reduced, f"{counts.model} ({kept} layers)")
    torch.manual_seed(0)
    model = build(reduced, device).to(TORCH_DTYPES[setting.dtype])
    with torch.inference_mode():
        first = _timed(lambda: model(**prefill_inputs(model, setting.prompt, setting.batch)), device)
        if not bound.fits(MIN_PREFILLS * first * 1.5):
            raise SpecError(
                f"one prefill of {kept} layers took {first:.1f} s here, too slow for the "
                f"{bound.seconds:.0f} s a measurement may take; lower --prompt or --batch",
                field="--prompt",
            )
        prefills = []
        cache = None
        while len(prefills) < MAX_PREFILLS and (len(prefills) < MIN_PREFILLS or bound.fits(first * 4)):
            bound.check()
            cache = empty_cache(model)
            inputs = prefill_inputs(model, setting.prompt, setting.batch, cache=cache)
            prefills.append(_timed(lambda inputs=inputs: model(**inputs), device))
        steps: list[float] = []
        while len(steps) < setting.generate:
            bound.check()
            inputs = decode_inputs(model, cache, setting.batch)
            steps.append(_timed(lambda inputs=inputs: model(**inputs), device))
            if len(steps) >= MIN_DECODE_STEPS and not bound.fits(2 * max(steps[-MIN_DECODE_STEPS:])):
                break
    ran = Setting(setting.prompt, len(steps), setting.batch, setting.dtype)
    theory = serve(Forms(reduced_counts), ran, roofs)
    return LlmMeasurement(
        device,
        setting.dtype,
        kept,
        len(counts.cache.layers),
        reduced_counts.params,
        statistics.median(prefills),
        len(prefills),
        statistics.median(steps),
        len(steps),
        theory.time_to_first_token_s,
        theory.time_per_output_token_s,
    )


__all__ = ["LlmMeasurement", "layers_to_keep", "measure_llm", "reduced_config"]
