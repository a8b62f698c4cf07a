"""The LLM page's helpers: the language models it offers, a model counted once per session
(the closed forms; every later change is arithmetic), and the devices it prices on."""

from __future__ import annotations

from collections import Counter

import streamlit as st

from calc import hardware as hw
from calc import hf_models
from calc.errors import SpecError
from calc.kv_cache import CacheGeometry
from calc.llm import LlmCounts
from calc.llm_phases import Forms, Memory, Serving, Setting, largest_batch, longest_context
from calc.spec import MAX_JSON_BYTES
from calc.units import duration, exact, si, si_bytes

# The architectures by their config defaults, then the curated checkpoints that are causal LMs.
ARCHITECTURES = ("hf:llama", "hf:mistral", "hf:qwen2", "hf:gemma2", "hf:phi3", "hf:gpt2", "hf:mixtral")
ENCODERS = {"bert", "vit", "clip"}


def sources() -> tuple[str, ...]:
    checkpoints = tuple(
        name for name, entry in hf_models.CHECKPOINTS.items() if entry.model_type not in ENCODERS
    )
    return ARCHITECTURES + checkpoints


@st.cache_resource(show_spinner="Counting the model on meta: a prefill and two decode steps…")
def counts(source: str) -> LlmCounts:
    from calc.llm_store import count_source

    return count_source(source, "model")[0]


@st.cache_resource(show_spinner="Counting the uploaded model on meta…")
def counts_of_config(text: str, name: str) -> LlmCounts:
    """The closed forms of a config.json's text (checked by calc.hf_config before anything is built)."""
    from calc.llm_store import counted
    from calc.sources import source_from_json

    source = source_from_json(name, text)
    if source.kind != "hf":
        raise SpecError(
            "is a stack file, not a Hugging Face config.json (it names no model_type)", field=name
        )
    return counted(source.config, name)


def uploaded_counts(upload) -> LlmCounts:
    """The closed forms of an uploaded config.json; SpecError naming what is wrong with it."""
    data = upload.getvalue()
    if len(data) > MAX_JSON_BYTES:
        raise SpecError(
            f"is {len(data):,} bytes; a config.json is at most {MAX_JSON_BYTES:,}", field=upload.name
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise SpecError("is not UTF-8 text", field=upload.name) from None
    return counts_of_config(text, upload.name)


def described(counted: LlmCounts, setting: Setting, device: hw.Hardware) -> str:
    """What is priced, in a line: the model, its params, the setting and the device."""
    active = f", {si(counted.active_params)} active per token" if counted.active_params is not None else ""
    return (
        f"{counted.model} ({counted.model_type}): {si(counted.params)} params{active}; "
        f"P = {setting.prompt:,}, "
        f"G = {setting.generate:,}, B = {setting.batch:,}; {setting.dtype} activations, "
        f"{setting.weight_format} weights, {setting.cache_dtype} KV cache; on {device.name}."
    )


def cache_text(cache: CacheGeometry) -> str:
    """What each layer caches per token, as calc's cache geometry says."""
    layers = len(cache.layers)
    if cache.latent:  # DeepSeek's MLA: one latent per token, K and V expanded from it
        return f"the compressed MLA latent of {layers} layers, not full keys and values"
    return f"keys and values of {layers} layers"


def windows_text(cache: CacheGeometry, context: int) -> str:
    """A sliding window's cap, said only for a model that has one (Mistral, Gemma-2)."""
    windows = Counter(window for window in cache.windows if window is not None)
    if not windows:
        return ""
    kept = ", ".join(
        f"the last {window - 1:,} tokens in {count} of the {len(cache.layers)} layers"
        for window, count in sorted(windows.items())
    )
    capped = any(context > window - 1 for window in windows)
    return f"; a sliding window keeps only {kept}" + (
        f" ({context:,} tokens here: the cache is smaller than the product)" if capped else ""
    )


def formulas(
    counted: LlmCounts, forms: Forms, setting: Setting, served: Serving, held: Memory, device: hw.Hardware
) -> list[tuple[str, str]]:
    """(LaTeX, caption) pairs: the KV cache, why decode is memory-bound, and memory, numbers substituted."""
    per_token = counted.cache.bytes_per_token(setting.cache_dtype)
    context = setting.prompt + setting.generate
    bandwidth = device.bandwidth_bytes_per_s
    roofs = device.roofs(setting.dtype)
    kv = (
        (
            rf"\text{{KV cache}} = B \times (P + G) \times \text{{bytes per token}}"
            rf" = \text{{{setting.batch:,}}} \times \text{{{context:,}}} \times \text{{{exact(per_token)}}}"
            rf" = \text{{{si_bytes(held.kv_cache_bytes)}}}"
        ),
        f"{exact(per_token)} bytes per token: "
        + cache_text(counted.cache)
        + f", {setting.cache_dtype}"
        + windows_text(counted.cache, context)
        + ".",
    )
    decode = (
        (
            # two lines: one would be wider than a 1024-pixel window
            rf"\begin{{aligned}}\text{{TPOT}} &\geq \frac{{\text{{bytes per step}}}}{{\text{{bandwidth}}}}"
            rf" = \frac{{\text{{{si_bytes(served.decode.bytes)}}}}}{{\text{{{si_bytes(bandwidth)}/s}}}}"
            rf" = \text{{{duration(served.decode.bytes / bandwidth)}}} \\"
            rf" &\gg \frac{{\text{{FLOPs}}}}{{\text{{peak}}}}"
            rf" = \text{{{duration(served.decode.theoretical_s)}}}\end{{aligned}}"
        ),
        (
            "Why decode is memory-bound: each step reads every weight and the whole KV cache to make one "
            f"token per sequence, {served.decode.intensity:.1f} FLOPs per byte against {device.name}'s "
            f"ridge of "
            f"{roofs.ridge_flops_per_byte:.0f}; prefill reads them once for {setting.prompt:,} tokens, "
            f"{served.prefill.intensity:.0f} FLOPs per byte."
        ),
    )
    out = [kv, decode]
    if device.memory_bytes is not None:
        most = largest_batch(forms, setting, device.memory_bytes)
        longest = longest_context(forms, setting, device.memory_bytes)
        out.append(
            (
                (
                    rf"\begin{{aligned}}\text{{memory}} &= \text{{weights}} + \text{{KV cache}}"
                    rf" + \text{{activations}} \\"
                    rf" &= \text{{{si_bytes(held.weight_bytes)} + {si_bytes(held.kv_cache_bytes)} + "
                    rf"{si_bytes(held.activation_bytes)} = {si_bytes(held.total_bytes)}}}\end{{aligned}}"
                ),
                (
                    f"Of {si_bytes(device.memory_bytes)}: at most {most:,} sequences of {context:,} tokens, "
                    f"or {longest:,} tokens of context at batch {setting.batch:,}."
                ),
            )
        )
    return out


__all__ = ["cache_text", "counts", "counts_of_config", "described", "formulas", "sources", "uploaded_counts"]
