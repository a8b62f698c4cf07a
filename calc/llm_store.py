"""An LLM's closed forms kept on disk (calc.disk_cache): counted once per model, transformers
version and counting code, then read back in milliseconds without importing torch or
transformers (a fresh server, the next command line). Torch-free; the count itself is
calc.torch_llm's, imported on a miss."""

from __future__ import annotations

from typing import Any

from calc import disk_cache
from calc.errors import SpecError
from calc.kv_cache import CacheGeometry, CacheLayer
from calc.llm import LlmCounts, RowForm

KIND = "llm-counts"
# what the forms depend on
CODE = ("llm", "kv_cache", "torch_llm", "torch_llm_layers", "torch_hf", "torch_count")


def counts_to_data(counts: LlmCounts) -> dict[str, Any]:
    return {
        "model": counts.model,
        "model_type": counts.model_type,
        "params": counts.params,
        "active_params": counts.active_params,
        "max_positions": counts.max_positions,
        "cache": [[layer.elements_per_token, layer.window] for layer in counts.cache.layers],
        "latent": counts.cache.latent,
        "rows": [
            [
                row.name,
                row.kind,
                row.layer,
                row.window,
                row.attention,
                row.params,
                row.quantizable_params,
                list(row.experts) if row.experts else None,
                {quantity: list(form) for quantity, form in row.prefill.items()},
                {quantity: list(form) for quantity, form in row.decode.items()},
                row.kv_elements_per_token,
            ]
            for row in counts.rows
        ],
        "unsupported": [list(entry) for entry in counts.unsupported],
    }


def counts_from_data(data: dict[str, Any]) -> LlmCounts:
    """The LlmCounts of counts_to_data's output; KeyError, TypeError or ValueError if it is not one."""
    rows = tuple(
        RowForm(
            str(name),
            str(kind),
            layer,
            window,
            bool(attention),
            int(params),
            int(quantizable),
            tuple(experts) if experts else None,
            {quantity: tuple(int(value) for value in form) for quantity, form in prefill.items()},
            {quantity: tuple(int(value) for value in form) for quantity, form in decode.items()},
            int(kv),
        )
        for name, kind, layer, window, attention, params, quantizable, experts, prefill, decode, kv in data[
            "rows"
        ]
    )
    geometry = CacheGeometry(
        tuple(CacheLayer(int(elements), window) for elements, window in data["cache"]), bool(data["latent"])
    )
    return LlmCounts(
        data["model"],
        data["model_type"],
        int(data["params"]),
        data["active_params"],
        data["max_positions"],
        geometry,
        rows,
        tuple((str(op), int(runs)) for op, runs in data["unsupported"]),
    )


def counted(source: str | dict, name: str | None = None) -> LlmCounts:
    """calc.torch_llm.count_llm of ``source``, from the disk cache when it has it."""
    key = {
        "source": source,
        "name": name,
        "transformers": disk_cache.library_version("transformers"),
        "torch": disk_cache.library_version("torch"),
        "code": disk_cache.source_hash(*CODE),
    }
    stored = disk_cache.read(KIND, key)
    if isinstance(stored, dict):
        try:
            return counts_from_data(stored)
        except (KeyError, TypeError, ValueError):
            pass  # a file of an older layout: count again
    from calc.torch_llm import count_llm

    counts = count_llm(source, name)
    disk_cache.write(KIND, key, counts_to_data(counts))
    return counts


def count_source(text: str, field: str = "SOURCE") -> tuple[LlmCounts, str | dict]:
    """(the closed forms of a SOURCE, what calc.torch_hf.config_for builds it from); SpecError on
    ``field`` unless it is a Hugging Face model (an architecture, a checkpoint, a config.json)."""
    from calc.sources import resolve

    source = resolve(text, field)
    if source.kind != "hf":
        raise SpecError(
            f"{source.name} is not a language model: give hf:NAME (hf:llama, hf:mistral, ...), a curated "
            "checkpoint (Llama-3.1-8B, ...) or a config.json",
            field=field,
        )
    target = source.config if source.config is not None else source.target
    return counted(target, source.name), target


__all__ = ["count_source", "counted", "counts_from_data", "counts_to_data"]
