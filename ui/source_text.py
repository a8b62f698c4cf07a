"""What a page's ``model=`` says: a source as text, and back to a calc.sources.Source.

The text is calc.sources' SOURCE (``resnet50``, ``timm:convnext_tiny``, ``hf:llama``, a
checkpoint's name such as ``Llama-3.1-8B``) with three names of the app's own: the uploaded
config.json and the Builder's stack, whose contents travel beside the text (in a link, as
``config=`` and ``stack=`` tokens; in the count cache, as canonical JSON), and the uploaded ONNX
file, whose payload is its SHA-256 (ui.onnx_files holds the bytes; no link carries them). A file
path is never a source here: a link must not make the server read its files.

Torch-free and streamlit-free; timm's and transformers' names come from calc.disk_cache.
"""

from __future__ import annotations

import json
from typing import Any

from calc import hf_models, sources
from calc.errors import SpecError, cut
from calc.sources import KINDS, Source
from ui import onnx_files

# The kinds a picker offers, in its order: calc.sources' kinds (presets ride with torchvision,
# as the zoo lists them) and the app's own uploads and stack.
TORCHVISION, TIMM, HF, CONFIG, ONNX, BUILDER = "torchvision", "timm", "hf", "config", "onnx", "builder"
PICKER_KINDS = (TORCHVISION, TIMM, HF, CONFIG, ONNX, BUILDER)
KIND_LABELS = {
    TORCHVISION: "torchvision",
    TIMM: "timm",
    HF: "Hugging Face",
    CONFIG: "config.json",
    ONNX: "ONNX file",
    BUILDER: "Builder stack",
}
CONFIG_TEXT = "config.json"  # the uploaded config's text; its contents travel beside it
BUILDER_TEXT = "Builder stack"  # the Builder's stack; its JSON travels beside it
ONNX_TEXT = "ONNX file"  # the session's uploaded .onnx; its payload is its digest, never in a link
OWN_TEXTS = {CONFIG_TEXT: CONFIG, BUILDER_TEXT: BUILDER, ONNX_TEXT: ONNX}


def canonical_json(value: Any) -> str:
    """One text per JSON value (sorted keys, no spaces): a cache key that equal contents share."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def hf_model_types() -> tuple[str, ...]:
    """Every ``hf:TYPE`` transformers builds (read from calc.disk_cache; transformers is imported
    only the first time on a machine), without the curated checkpoints."""
    return tuple(name for name in KINDS[HF].names() if name.startswith(hf_models.HF_PREFIX))


def resolve_name(text: str, field: str = "model") -> Source:
    """The Source a name says (no file, no app-own text); SpecError on ``field`` naming the
    closest names when no kind knows it."""
    if text in hf_models.CHECKPOINTS:
        return sources.resolve(hf_models.HF_PREFIX + text, field)
    if text in OWN_TEXTS or sources.is_path(text) or "\x00" in text:
        raise SpecError(f"{cut(text)!r} is not a model name (a file is uploaded, not named)", field=field)
    source = sources.resolve(text, field)
    # calc.sources leaves an unknown model type to the count (transformers knows them all): a link
    # is told now, with the closest names, before anything is built.
    if (
        source.kind == HF
        and source.target not in hf_models.CHECKPOINTS
        and source.name not in hf_model_types()
    ):
        raise sources.unknown(text, KINDS[HF].names(), field)
    return source


def source_of(text: str, payload: str | None = None) -> Source:
    """The Source of a picker's text; ``payload`` is the uploaded config's or the Builder stack's
    JSON text for those two (checked again here: a bad one is a SpecError naming its field), an
    uploaded ONNX file's digest (its bytes checked when uploaded, held by ui.onnx_files)."""
    if text == ONNX_TEXT:
        return onnx_files.held(payload)
    if text in OWN_TEXTS:
        if payload is None:
            raise SpecError(f"the {KIND_LABELS[OWN_TEXTS[text]]} has no contents", field="model")
        return sources.source_from_json(text, payload)
    return resolve_name(text)


def picker_kind(source: Source, text: str) -> str:
    """The picker kind that shows ``text``: a zoo preset is listed with torchvision's models."""
    if text in OWN_TEXTS:
        return OWN_TEXTS[text]
    return TORCHVISION if source.kind == "stack" else source.kind


__all__ = [
    "BUILDER_TEXT",
    "CONFIG_TEXT",
    "KIND_LABELS",
    "ONNX_TEXT",
    "PICKER_KINDS",
    "canonical_json",
    "picker_kind",
    "resolve_name",
    "source_of",
]
