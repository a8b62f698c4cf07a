"""The Hugging Face kind: ``hf:MODEL_TYPE`` (a transformers architecture at its config class's
defaults), a curated checkpoint's name (calc.hf_models; bare too), and config.json files
(calc.sources reads them, calc.hf_config checks them). Torch-free: the model types, and whether each
takes an image, are read from transformers once per version and kept in calc.disk_cache;
calc.torch_hf builds and counts.
"""

from __future__ import annotations

import importlib

from calc import disk_cache, hf_models
from calc.analyze import Report
from calc.errors import SpecError
from calc.source_kind import DEFAULT_SEQ_LEN, Source, SourceKind, Takes, register

HF_COUNT = ("calc.torch_hf", "count_hf")  # (name or config, seq_len, batch, dtype, device) -> Report


def _read_once(kind: str, read, **key_parts):
    """What ``read()`` returns (plain JSON data, from transformers), read once per transformers
    version, code and ``key_parts``, then kept in calc.disk_cache; None where transformers is absent."""
    version = disk_cache.library_version("transformers")
    if version == "absent":
        return None
    key = {"transformers": version, "code": disk_cache.source_hash("torch_hf"), **key_parts}
    cached = disk_cache.read(kind, key)
    if cached is not None:
        return cached
    value = read()
    disk_cache.write(kind, key, value)
    return value


def _hf_model_types() -> tuple[str, ...]:
    """The model types ``hf:`` builds, as transformers' task mappings say (importing it takes seconds)."""

    def read() -> list[str]:
        from calc.torch_hf import supported_model_types

        return list(supported_model_types())

    cached = _read_once("hf-model-types", read)
    return tuple(cached) if isinstance(cached, list) and all(isinstance(n, str) for n in cached) else ()


def _hf_image_input(model_type: str) -> tuple[int, ...] | None:
    """One image [C, H, W] at ``model_type``'s config defaults when its main input is an image
    (ViT, Swin, ConvNeXt, ...); None when it takes token ids (or transformers does not know it)."""

    def read() -> list[int] | str:
        from calc.torch_hf import image_input

        shape = image_input(model_type)
        return "tokens" if shape is None else list(shape)

    cached = _read_once("hf-image-input", read, model_type=model_type)
    return tuple(cached) if isinstance(cached, list) else None


def _image_side(value) -> tuple[int, int] | None:
    """A config's image_size: 224, or [H, W]."""
    if type(value) is int:
        return value, value
    if isinstance(value, list | tuple) and len(value) == 2 and all(type(side) is int for side in value):
        return value[0], value[1]
    return None


def _input_of(model_type: str, config: dict | None) -> tuple[Takes, tuple[int, ...]]:
    """What a source of ``model_type`` takes, and its default input: an image encoder's image at
    its config's size (a checkpoint's or a file's own image_size and num_channels where given),
    else DEFAULT_SEQ_LEN token ids, or fewer when the config has fewer positions (CLIP's 77), as
    calc.torch_hf.count_hf counts them."""
    default = _hf_image_input(model_type)
    config = config or {}
    if default is None:
        text = config.get("text_config") if isinstance(config.get("text_config"), dict) else config
        positions = [text.get(name) for name in ("n_positions", "max_position_embeddings")]
        limit = next((value for value in positions if type(value) is int and value > 0), DEFAULT_SEQ_LEN)
        return Takes.TOKENS, (min(DEFAULT_SEQ_LEN, limit),)
    channels = config.get("num_channels") if type(config.get("num_channels")) is int else default[0]
    height, width = _image_side(config.get("image_size")) or default[1:]
    return Takes.IMAGE, (channels, height, width)


def _hf_names() -> tuple[str, ...]:
    """The curated checkpoints by their usual names, then every model type as ``hf:TYPE``."""
    return tuple(hf_models.CHECKPOINTS) + tuple(hf_models.HF_PREFIX + name for name in _hf_model_types())


def hf_source(name: str) -> Source:
    """``hf:NAME``: a model type or a checkpoint's name; count_hf refuses an unknown one, naming the
    closest (it knows every model type transformers ships)."""
    checkpoint = hf_models.CHECKPOINTS.get(name)
    model_type = checkpoint.model_type if checkpoint else name
    metadata = {"family": model_type, "model_type": model_type}
    if checkpoint is not None:
        metadata.update(config_source=checkpoint.source, published_params=checkpoint.published_params)
    display = name if checkpoint is not None else hf_models.HF_PREFIX + name
    takes, default_input = _input_of(model_type, checkpoint.config if checkpoint else None)
    return Source("hf", display, name, takes, default_input, metadata)


def hf_source_of_config(path: str, config: dict) -> Source:
    """The Source of a config.json's contents (checked by calc.hf_config)."""
    model_type = config["model_type"]
    metadata = {"family": model_type, "model_type": model_type}
    takes, default_input = _input_of(model_type, config)
    return Source("hf", path, path, takes, default_input, metadata, config=config)


def _target(source: Source, resolution: int | None) -> str | dict:
    """What calc.torch_hf builds: the name or the config; an image encoder at ``resolution`` is
    its config with that image_size (a ViT's position embeddings are sized by it)."""
    if source.takes is not Takes.IMAGE or resolution is None:
        return source.config if source.config is not None else source.target
    if source.config is not None:
        config = source.config
    elif source.target in hf_models.CHECKPOINTS:
        config = hf_models.CHECKPOINTS[source.target].config
    else:
        config = {"model_type": source.target.removeprefix(hf_models.HF_PREFIX)}
    return {**config, "image_size": resolution}


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
    return count_hf(_target(source, resolution), seq_len, batch or 1, dtype or "fp32", device)


def _hf_module(source: Source, resolution: int | None):
    from calc.torch_hf_measure import module

    return module(_target(source, resolution))


register(
    SourceKind(
        "hf",
        "hf:",
        "calc.torch_hf",
        "Hugging Face architectures (model_type) and known checkpoints; config.json files",
        _hf_names,
        hf_source,
        _count_hf,
        _hf_module,
    )
)


__all__ = ["HF_COUNT", "hf_source", "hf_source_of_config"]
