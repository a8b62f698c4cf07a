"""timm's registry as a source of models: its names and default inputs, and counts of its models.

Torch-free. The listing (1,371 names in timm 1.0.31, each with its default pretrained config's
input size) is read from timm once per timm version and kept in calc.disk_cache, so listing,
searching and suggesting names never import timm again; counts on the meta device are kept
there too, keyed like the zoo's counts plus the timm version. calc.torch_timm builds and
counts, on a cache miss only.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from calc import disk_cache
from calc.analyze import Report, report_from_data, report_to_data
from calc.errors import SpecError, cut

# What a count depends on besides its arguments (calc.zoo's list, with the timm side's own modules).
COUNTING_SOURCES = (
    "timm_models",
    "torch_timm",
    "torch_build",
    "torch_count",
    "formulas",
    "cost",
    "analyze",
    "work",
)


@dataclass(frozen=True)
class TimmModel:
    name: str  # as timm.list_models() spells it, without the "timm:" prefix
    family: str  # the timm module that registers it: resnet, vision_transformer, swin_transformer…
    input_shape: tuple[int, ...]  # one sample, from its default pretrained config: (3, H, W)
    num_classes: int
    fixed_input_size: bool  # its config says it takes only that size (a ViT's position embedding)


def _key(**arguments: Any) -> dict[str, Any]:
    return {
        **arguments,
        "source": "timm",  # a timm resnet50 is not torchvision's: keys never meet the zoo's
        "torch": disk_cache.library_version("torch"),
        "timm": disk_cache.library_version("timm"),
        "code": disk_cache.source_hash(*COUNTING_SOURCES),
    }


def _model_from_data(name: str, fields: dict[str, Any]) -> TimmModel:
    model = TimmModel(
        name,
        fields["family"],
        tuple(fields["input_shape"]),
        fields["num_classes"],
        fields["fixed_input_size"],
    )
    if (
        not isinstance(model.family, str)
        or len(model.input_shape) != 3
        or not all(type(size) is int and size > 0 for size in model.input_shape)
        or type(model.num_classes) is not int
        or type(model.fixed_input_size) is not bool
    ):
        raise ValueError(f"a timm entry of the wrong types: {fields!r:.80}")
    return model


@lru_cache(maxsize=1)
def _models() -> dict[str, TimmModel]:
    if disk_cache.library_version("timm") == "absent":
        return {}
    key = {"timm": disk_cache.library_version("timm"), "code": disk_cache.source_hash("timm_models")}
    cached = disk_cache.read("timm-models", key)
    if isinstance(cached, dict):
        try:
            return {name: _model_from_data(name, fields) for name, fields in cached.items()}
        except (AttributeError, KeyError, TypeError, ValueError):
            pass  # not what this code writes: read the registry again
    from calc.torch_timm import read_timm_models

    listing = read_timm_models()
    disk_cache.write("timm-models", key, listing)
    return {name: _model_from_data(name, fields) for name, fields in listing.items()}


def list_names() -> tuple[str, ...]:
    """Every timm model name (without the "timm:" prefix), in timm's order; empty without timm."""
    return tuple(_models())


def model_info(name: str) -> TimmModel:
    models = _models()
    if name not in models:
        raise KeyError(f"no timm model named {name!r}; `python -m calc zoo --source timm` lists them")
    return models[name]


def input_shape(name: str, resolution: int | None = None) -> tuple[int, ...]:
    """One sample's input for ``name`` at ``resolution`` (default: its config's size)."""
    shape = model_info(name).input_shape
    return shape if resolution is None else (shape[0], resolution, resolution)


def count(
    name: str, resolution: int | None = None, batch: int = 1, dtype: str = "fp32", device: str = "meta"
) -> Report:
    """The Report of timm model ``name`` at ``resolution`` (default: its config's input size).

    On the meta device, a count made once on this machine is read from calc.disk_cache, and
    so is a refused resolution."""
    info = model_info(name)
    shape = input_shape(name, resolution)
    if info.fixed_input_size and shape != info.input_shape:
        raise SpecError(
            f"timm:{name} takes only {info.input_shape[1]}×{info.input_shape[2]} inputs "
            "(its config says the size is fixed)",
            field="resolution",
        )
    if device != "meta":
        return _count_timm(name, shape, batch, dtype, device)
    key = _key(model=name, input_shape=list(shape), batch=batch, dtype=dtype)
    cached = disk_cache.read("count", key)
    if isinstance(cached, dict) and isinstance(cached.get("refused"), str):
        raise SpecError(cached["refused"], field="resolution")
    if cached is not None:
        try:
            return report_from_data(cached)
        except (AttributeError, KeyError, TypeError, ValueError):
            pass  # not what this code writes: count again, and overwrite it
    try:
        report = _count_timm(name, shape, batch, dtype, device)
    except SpecError as error:
        disk_cache.write("count", key, {"refused": error.reason})
        raise
    disk_cache.write("count", key, report_to_data(report))
    return report


def _count_timm(name: str, shape: tuple[int, ...], batch: int, dtype: str, device: str) -> Report:
    from calc import torch_timm

    try:
        return torch_timm.count(name, shape, batch, dtype, device)
    except (AssertionError, RuntimeError, ValueError) as error:  # the model's own check of its input
        native = model_info(name).input_shape
        if shape == native:
            raise  # not the size's fault: a failure to report, not a refusal to keep
        reason = cut(str(error).strip().splitlines()[0], 160) if str(error).strip() else type(error).__name__
        raise SpecError(
            f"timm:{name} does not accept a {shape[1]}×{shape[2]} input ({reason}); its native size is "
            f"{native[1]}×{native[2]}",
            field="resolution",
        ) from None


__all__ = ["TimmModel", "count", "input_shape", "list_names", "model_info"]
