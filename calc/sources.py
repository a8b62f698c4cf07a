"""Sources: what turns a name or a file into something MACscope counts.

A SOURCE, as the command line (and later the pages) take it:

- ``resnet50``: a torchvision classifier, or a Builder preset (``stack: NAME``), by its zoo name;
  ``torchvision:resnet50`` says the same explicitly;
- ``timm:NAME``: any of timm's models (``timm.list_models()``), no weights;
- ``hf:NAME``: a Hugging Face architecture (a ``model_type``) or a known checkpoint's name; a
  checkpoint's name also works bare;
- a path to a stack JSON file, or to a Hugging Face ``config.json`` (told apart by its
  ``"model_type"``).

Each resolves to a ``Source``: its kind, the name to show, its default input, its metadata,
and ``count(...)`` returning a calc.analyze.Report. The kinds are one table, ``KINDS``: a
prefix and the module that counts them. Torch-free: a kind's counting module (calc.zoo,
calc.timm_models, calc.torch_hf) is imported when a source of that kind is counted, and the
names of timm's registry and of transformers' architectures are kept in calc.disk_cache.
A name no kind knows is refused with the closest names across all kinds.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from calc import disk_cache, hf_config, hf_models
from calc.analyze import Report, analyze
from calc.errors import SpecError, cut
from calc.jsontext import read_json
from calc.spec import MAX_JSON_BYTES, MAX_JSON_CHARS, Stack, parse_stack, stack_to_json
from calc.suggest import closest_names

DEFAULT_SEQ_LEN = 128  # tokens, when a text model's --seq-len is not given


class Takes(Enum):
    """What a source's input is, so the right setting (resolution or sequence length) applies."""

    IMAGE = "image"  # 3×H×W; a resolution sets H and W
    TOKENS = "tokens"  # L token ids; a sequence length sets L
    STACK = "stack"  # a stack's own input (a resolution applies when it is an image)


@dataclass(frozen=True)
class Source:
    kind: str  # a name in KINDS
    name: str  # as shown and as given back in JSON: "resnet50", "timm:vit_base_patch16_224", a path
    target: str  # what the kind's module knows it by: a zoo or timm name, an hf name, a path
    takes: Takes
    default_input: tuple[int, ...]  # one sample: (3, 224, 224), or (DEFAULT_SEQ_LEN,) tokens
    metadata: dict[str, Any] = field(default_factory=dict, compare=False)
    stack: Stack | None = field(default=None, compare=False)  # a stack file's
    config: dict[str, Any] | None = field(default=None, compare=False)  # a config.json's

    def input_shape(self, resolution: int | None = None, seq_len: int | None = None) -> tuple[int, ...]:
        """One sample's input at ``resolution`` (images) or ``seq_len`` (tokens); default: its own."""
        if self.takes is Takes.TOKENS:
            return (seq_len or self.default_input[0],)
        if resolution is None or len(self.default_input) != 3:
            return self.default_input
        return (self.default_input[0], resolution, resolution)

    def count(
        self,
        resolution: int | None = None,
        seq_len: int | None = None,
        batch: int | None = None,
        dtype: str | None = None,
        device: str = "meta",
    ) -> Report:
        """The Report of this source on one batch; ``batch`` and ``dtype`` default to a stack
        file's own, else 1 and fp32. The count is the same on every device."""
        return KINDS[self.kind].count(self, resolution, seq_len, batch, dtype, device)

    def module(self, resolution: int | None = None):
        """The model as an nn.Module on the meta device (imports torch): for a forward's memory
        budget, a measurement, the separable what-if."""
        return KINDS[self.kind].module(self, resolution)


Counter = Callable[[Source, "int | None", "int | None", "int | None", "str | None", str], Report]


@dataclass(frozen=True)
class SourceKind:
    name: str  # "timm"; what `calc zoo --source` takes
    prefix: str  # "timm:": a SOURCE starting so is this kind's
    handler: str  # the module that builds and counts its models (imported when one is counted)
    summary: str
    names: Callable[[], tuple[str, ...]]  # the names it lists, as a SOURCE spells them
    resolve: Callable[[str], Source | None]  # the text after the prefix -> its Source, None if unknown
    count: Counter
    module: Callable[[Source, int | None], Any]


KINDS: dict[str, SourceKind] = {}


def register(kind: SourceKind) -> SourceKind:
    if kind.name in KINDS or any(other.prefix == kind.prefix for other in KINDS.values()):
        raise ValueError(f"source kind {kind.name!r} (prefix {kind.prefix!r}) is registered twice")
    KINDS[kind.name] = kind
    return kind


# ---------------------------------------------------------------------------
# torchvision classifiers and Builder presets: calc.zoo


def _zoo_source(name: str) -> Source | None:
    from calc import zoo

    try:
        info = zoo.model_info(name)
    except KeyError:
        return None
    preset = info.source == "preset"
    return Source(
        "stack" if preset else "torchvision",
        info.name,
        info.name,
        Takes.STACK if preset else Takes.IMAGE,
        info.input_shape,
        {
            "family": info.family,
            "acc1": info.acc1,
            "acc5": info.acc5,
            "num_params": info.num_params,
            "gmacs": info.gmacs,
            "file_size_mb": info.file_size_mb,
        },
    )


def _count_zoo(source, resolution, seq_len, batch, dtype, device) -> Report:
    from calc import zoo

    return zoo.count(source.target, resolution, batch or 1, dtype or "fp32", device=device)


def _zoo_module(source: Source, resolution: int | None):
    from calc import zoo

    return zoo.module(source.target, resolution)


def _torchvision_names() -> tuple[str, ...]:
    from calc import zoo

    return zoo.list_models("torchvision")


register(
    SourceKind(
        "torchvision",
        "torchvision:",
        "calc.zoo",
        "torchvision's ImageNet classifiers (a bare name is one of these)",
        _torchvision_names,
        lambda name: source if (source := _zoo_source(name)) and source.kind == "torchvision" else None,
        _count_zoo,
        _zoo_module,
    )
)


# ---------------------------------------------------------------------------
# timm: calc.timm_models, calc.torch_timm


def _timm_source(name: str) -> Source | None:
    from calc import timm_models

    try:
        info = timm_models.model_info(name)
    except KeyError:
        return None
    return Source(
        "timm",
        "timm:" + info.name,
        info.name,
        Takes.IMAGE,
        info.input_shape,
        {"family": info.family, "num_classes": info.num_classes, "fixed_input_size": info.fixed_input_size},
    )


def _count_timm(source, resolution, seq_len, batch, dtype, device) -> Report:
    from calc import timm_models

    return timm_models.count(source.target, resolution, batch or 1, dtype or "fp32", device)


def _timm_module(source: Source, resolution: int | None):
    from calc.torch_timm import build

    return build(source.target)


def _timm_names() -> tuple[str, ...]:
    from calc import timm_models

    return tuple("timm:" + name for name in timm_models.list_names())


register(
    SourceKind(
        "timm",
        "timm:",
        "calc.torch_timm",
        "timm's vision models, every name of timm.list_models()",
        _timm_names,
        _timm_source,
        _count_timm,
        _timm_module,
    )
)


# ---------------------------------------------------------------------------
# Hugging Face: calc.hf_models (curated checkpoints) and calc.hf_config (config.json checks),
# torch-free; calc.torch_hf.count_hf builds and counts (and checks a model type's name)


HF_COUNT = ("calc.torch_hf", "count_hf")  # (name or config, seq_len, batch, dtype, device) -> Report


def _hf_model_types() -> tuple[str, ...]:
    """The model types ``hf:`` builds, as transformers' task mappings say: read once per
    transformers version (importing it takes seconds), then kept in calc.disk_cache."""
    version = disk_cache.library_version("transformers")
    if version == "absent":
        return ()
    key = {"transformers": version, "code": disk_cache.source_hash("torch_hf")}
    cached = disk_cache.read("hf-model-types", key)
    if isinstance(cached, list) and all(isinstance(name, str) for name in cached):
        return tuple(cached)
    from calc.torch_hf import supported_model_types

    model_types = supported_model_types()
    disk_cache.write("hf-model-types", key, list(model_types))
    return model_types


def _hf_names() -> tuple[str, ...]:
    """The curated checkpoints by their usual names, then every model type as ``hf:TYPE``."""
    return tuple(hf_models.CHECKPOINTS) + tuple(hf_models.HF_PREFIX + name for name in _hf_model_types())


def _hf_source(name: str) -> Source:
    """``hf:NAME``: a model type or a checkpoint's name; count_hf refuses an unknown one, naming the
    closest (it knows every model type transformers ships)."""
    checkpoint = hf_models.CHECKPOINTS.get(name)
    model_type = checkpoint.model_type if checkpoint else name
    metadata = {"family": model_type, "model_type": model_type}
    if checkpoint is not None:
        metadata.update(config_source=checkpoint.source, published_params=checkpoint.published_params)
    display = name if checkpoint is not None else hf_models.HF_PREFIX + name
    return Source("hf", display, name, Takes.TOKENS, (DEFAULT_SEQ_LEN,), metadata)


def _count_hf(source, resolution, seq_len, batch, dtype, device) -> Report:
    module_name, function = HF_COUNT
    try:
        count_hf = getattr(importlib.import_module(module_name), function)
    except (ImportError, AttributeError):
        raise SpecError(
            f"{source.name}: Hugging Face sources are not available here "
            f"({module_name}.{function} is missing)",
            field="SOURCE",
        ) from None
    target = source.config if source.config is not None else source.target
    return count_hf(target, seq_len, batch or 1, dtype or "fp32", device)


def _hf_module(source: Source, resolution: int | None):
    raise SpecError(
        f"{source.name}: a Hugging Face model is counted here, not yet built for measurement "
        "or the separable what-if",
        field="SOURCE",
    )


register(
    SourceKind(
        "hf",
        "hf:",
        "calc.torch_hf",
        "Hugging Face architectures (model_type) and known checkpoints; config.json files",
        _hf_names,
        _hf_source,
        _count_hf,
        _hf_module,
    )
)


# ---------------------------------------------------------------------------
# stack presets (by zoo name) and stack files


def _preset_names() -> tuple[str, ...]:
    from calc import zoo

    return zoo.list_models("preset")


def _count_stack(source, resolution, seq_len, batch, dtype, device) -> Report:
    if source.stack is None:  # a preset: the zoo's
        return _count_zoo(source, resolution, seq_len, batch, dtype, device)
    return analyze(stack_at(source.stack, resolution, batch, dtype))


def stack_at(stack: Stack, resolution: int | None, batch: int | None, dtype: str | None) -> Stack:
    """``stack`` with its image input at ``resolution``, and ``batch`` and ``dtype`` where given."""
    raw = stack_to_json(stack)
    if resolution is not None and len(stack.input_shape) == 3:
        raw["input"] = [stack.input_shape[0], resolution, resolution]
    return parse_stack(dict(raw, batch=batch or stack.batch, dtype=dtype or stack.dtype))


def _stack_module(source: Source, resolution: int | None):
    if source.stack is None:
        return _zoo_module(source, resolution)
    from calc.torch_build import build_stack

    return build_stack(stack_at(source.stack, resolution, None, None))


register(
    SourceKind(
        "stack",
        "stack: ",
        "calc.analyze",
        "the Builder's presets, and stack JSON files",
        _preset_names,
        lambda name: _zoo_source("stack: " + name),
        _count_stack,
        _stack_module,
    )
)


# ---------------------------------------------------------------------------
# files: a stack, or a Hugging Face config.json


def source_from_json(path: str, text: str) -> Source:
    """The Source of JSON text read from ``path``: a Hugging Face config.json when it names a
    "model_type" (checked at once: a bad field is refused before anything is built), else a stack."""
    raw = read_json(text, MAX_JSON_CHARS)
    if hf_config.is_config(raw):
        config = hf_config.check_config(raw)
        metadata = {"family": config["model_type"], "model_type": config["model_type"]}
        return Source("hf", path, path, Takes.TOKENS, (DEFAULT_SEQ_LEN,), metadata, config=config)
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
    source = _zoo_source(text) or (_hf_source(text) if text in hf_models.CHECKPOINTS else None)
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


from calc import onnx_source  # noqa: E402, F401  (registers the "onnx" kind)

__all__ = ["DEFAULT_SEQ_LEN", "KINDS", "Source", "SourceKind", "Takes", "all_names", "resolve", "stack_at"]
