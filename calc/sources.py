"""Sources: what turns a name or a file into something MACscope counts.

A SOURCE, as the command line (and later the pages) take it:

- ``resnet50``: a torchvision classifier, or a Builder preset (``stack: NAME``), by its zoo name;
  ``torchvision:resnet50`` says the same explicitly;
- ``timm:NAME``: any of timm's models (``timm.list_models()``), no weights;
- ``hf:NAME``: a Hugging Face architecture (a ``model_type``) or a known checkpoint's name; a
  checkpoint's name also works bare;
- a path to a stack JSON file, or to a Hugging Face ``config.json`` (told apart by its
  ``"model_type"``).

Each resolves to a ``Source`` (calc.source_kind): its kind, the name to show, its default input,
its metadata, and ``count(...)`` returning a calc.analyze.Report. The kinds are one table,
``KINDS``, filled by one registration module per kind (calc.source_torchvision, source_timm,
source_hf, source_stack, onnx_source), imported here in the order they are listed. Torch-free: a kind's
counting module (calc.zoo, calc.timm_models, calc.torch_hf) is imported when a source of that
kind is counted, and the names of timm's registry and of transformers' architectures are kept
in calc.disk_cache. A name no kind knows is refused with the closest names across all kinds.
This module resolves a SOURCE's text and reads files; every public name of the kinds is
importable from here.
"""

from __future__ import annotations

import os

# isort: off
# each kind's module registers it: they are listed in this order
from calc import source_torchvision, source_timm, source_hf, source_stack, onnx_source  # noqa: F401
# isort: on

from calc import hf_config, hf_models
from calc.errors import SpecError, cut
from calc.jsontext import read_json
from calc.source_hf import HF_COUNT, hf_source, hf_source_of_config
from calc.source_kind import DEFAULT_SEQ_LEN, KINDS, Source, SourceKind, Takes, register
from calc.source_stack import stack_at
from calc.source_torchvision import zoo_source
from calc.spec import MAX_JSON_BYTES, MAX_JSON_CHARS, parse_stack
from calc.suggest import closest_names

# ---------------------------------------------------------------------------
# files: a stack, or a Hugging Face config.json


def source_from_json(path: str, text: str) -> Source:
    """The Source of JSON text read from ``path``: a Hugging Face config.json when it names a
    "model_type" (checked at once: a bad field is refused before anything is built), else a stack."""
    raw = read_json(text, MAX_JSON_CHARS)
    if hf_config.is_config(raw):
        return hf_source_of_config(path, hf_config.check_config(raw))
    stack = parse_stack(raw)
    return Source(
        "stack",
        path,
        path,
        Takes.STACK,
        stack.input_shape,
        {"layers": len(stack.layers), "batch": stack.batch, "dtype": stack.dtype},
        stack=stack,
    )


def _file_source(path: str) -> Source:
    if path.endswith(".onnx"):  # a binary graph: calc.onnx_source reads and checks it
        return KINDS["onnx"].resolve(path)
    from calc.cli.files import read_limited

    data = read_limited(path, MAX_JSON_BYTES)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise SpecError(f"{path} is not UTF-8 text") from None
    return source_from_json(path, text)


# ---------------------------------------------------------------------------
# resolving a SOURCE


def is_path(text: str) -> bool:
    return os.path.exists(text) or text.endswith((".json", ".onnx"))


def resolve(text: str, field: str = "SOURCE") -> Source:
    """The Source that ``text`` names; SpecError (on ``field``) with the closest names if none does."""
    if is_path(text):
        return _file_source(text)
    for kind in KINDS.values():
        if text.startswith(kind.prefix):
            source = kind.resolve(text[len(kind.prefix) :])
            if source is not None:
                return source
            raise unknown(text, kind.names(), field)
    source = zoo_source(text) or (hf_source(text) if text in hf_models.CHECKPOINTS else None)
    if source is None:
        raise unknown(text, all_names(), field)
    return source


def all_names() -> tuple[str, ...]:
    """Every name a SOURCE can be, each kind's as it spells them (bare zoo names, "timm:…", "hf:…")."""
    return tuple(name for kind in KINDS.values() for name in kind.names())


def unknown(text: str, candidates: tuple[str, ...], field: str = "SOURCE") -> SpecError:
    """The refusal of a name no source knows, with the closest names among ``candidates``."""
    closest = closest_names(text, candidates)
    hint = f"; did you mean {', '.join(closest)}?" if closest else ""
    return SpecError(
        f"no model or file named {cut(text)!r}{hint} (`python -m calc zoo --source KIND` lists the "
        f"names of each kind: {', '.join(KINDS)})",
        field=field,
    )


__all__ = [
    "DEFAULT_SEQ_LEN",
    "HF_COUNT",
    "KINDS",
    "Source",
    "SourceKind",
    "Takes",
    "all_names",
    "is_path",
    "register",
    "resolve",
    "source_from_json",
    "stack_at",
    "unknown",
]
