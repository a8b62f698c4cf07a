"""The model zoo: every torchvision classifier, plus the Builder's stack presets.

One entry per model; ``list_models()`` feeds the pages and the tests. torchvision
models are built without weights (nothing is downloaded) as their default weights
would build them, parameters on the meta device; their metadata ships with
torchvision. torch and torchvision are imported only when a model is listed or counted
for the first time on this machine: the metadata and every count on the meta device are
kept in calc.disk_cache, keyed by the library versions and our counting code.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Any

from calc import disk_cache
from calc.analyze import Report, analyze, report_from_data, report_to_data
from calc.cost import shape_from_data
from calc.errors import SpecError
from calc.presets import PRESETS, preset
from calc.spec import parse_stack

PRESET_PREFIX = "stack: "

# Builder arguments that torchvision's default weights imply (their builders set them
# from the weights): googlenet drops its aux classifiers, vit_h_14's SWAG weights are 518 px.
BUILD_ARGUMENTS = {
    "googlenet": {"aux_logits": False, "init_weights": False},
    "inception_v3": {"init_weights": False},
    "vit_h_14": {"image_size": 518},
}


SMALLEST_RESOLUTION = 16  # the command line's floor; most classifiers accept any square input from it
# Families built for one input size: a ViT's position embedding has one length, MaxViT's
# window grid one shape (torchvision builds maxvit_t for 224 px).
NATIVE_SIZE_ONLY = frozenset({"vit", "maxvit"})
# The smallest square input (pixels) where it is above SMALLEST_RESOLUTION: below it a
# layer's input shrinks to nothing. Keyed by name, else family. Found by running each
# model on the meta device; tests/test_zoo_resolutions.py checks every model against torch.
MIN_RESOLUTION = {
    "alexnet": 63,
    "convnext": 32,
    "densenet": 29,
    "inception": 75,
    "squeezenet1_0": 21,
    "squeezenet1_1": 17,
    "vgg": 32,
}


@dataclass(frozen=True)
class Resolutions:
    """The square inputs a model accepts: ``minimum`` to ``maximum`` pixels (None: no bound)."""

    minimum: int
    maximum: int | None = None

    @property
    def fixed(self) -> bool:
        return self.minimum == self.maximum

    def accepts(self, size: int) -> bool:
        return self.minimum <= size and (self.maximum is None or size <= self.maximum)

    def describe(self) -> str:
        if self.fixed:
            return f"only {self.minimum}×{self.minimum} inputs (it is built for that size)"
        return f"inputs from {self.minimum}×{self.minimum} pixels up"


def _resolutions(name: str, native: int) -> Resolutions:
    if family(name) in NATIVE_SIZE_ONLY:
        return Resolutions(native, native)
    return Resolutions(MIN_RESOLUTION.get(name, MIN_RESOLUTION.get(family(name), SMALLEST_RESOLUTION)))


@dataclass(frozen=True)
class ZooModel:
    name: str
    family: str
    source: str  # "torchvision" | "preset"
    input_shape: tuple[int, ...]  # native input, one sample: the default weights' crop size
    acc1: float | None = None  # ImageNet-1K top-1, %
    acc5: float | None = None
    num_params: int | None = None
    gmacs: float | None = None  # torchvision's "_ops" metadata: GMACs, though its docs say GFLOPS
    file_size_mb: float | None = None
    resolutions: Resolutions | None = None  # torchvision models; a preset's stack checks its own input

    @property
    def takes_images(self) -> bool:
        """Its input is a 3-channel image, whose side a resolution sets; a stack may take anything."""
        return len(self.input_shape) == 3 and self.input_shape[0] == 3

    @property
    def fixed_resolution(self) -> bool:
        """An image model built for its native size only (a ViT's position embeddings, say)."""
        return self.takes_images and self.resolutions is not None and self.resolutions.fixed


def family(name: str) -> str:
    """resnet50 -> resnet, efficientnet_v2_s -> efficientnet, vit_b_16 -> vit."""
    return re.split(r"[_\d]", name, maxsplit=1)[0] or name


# What a count depends on besides its arguments: a change to any of these sources makes new keys.
COUNTING_SOURCES = ("zoo", "torch_count", "formulas", "cost", "analyze", "work")


def _cache_key(**arguments: Any) -> dict[str, Any]:
    return {
        **arguments,
        "torch": disk_cache.library_version("torch"),
        "torchvision": disk_cache.library_version("torchvision"),
        "code": disk_cache.source_hash(*COUNTING_SOURCES),
    }


@lru_cache(maxsize=1)
def _torchvision_models() -> dict[str, ZooModel]:
    key = _cache_key()
    cached = disk_cache.read("zoo", key)
    if cached is not None:
        try:
            return {name: _zoo_model_from_data(fields) for name, fields in cached.items()}
        except (AttributeError, KeyError, TypeError, ValueError):
            pass  # not what this code writes: read it from torchvision again
    models = _read_torchvision_models()
    disk_cache.write("zoo", key, {name: asdict(model) for name, model in models.items()})
    return models


def _zoo_model_from_data(fields: dict) -> ZooModel:
    """A ZooModel from the disk cache, every field of the type it is written with."""
    resolutions = fields.get("resolutions")
    model = ZooModel(
        **dict(
            fields,
            input_shape=shape_from_data(fields["input_shape"]),
            resolutions=None if resolutions is None else Resolutions(**resolutions),
        )
    )
    texts, numbers = (
        (model.name, model.family, model.source),
        (model.acc1, model.acc5, model.gmacs, model.file_size_mb),
    )
    bounds = () if model.resolutions is None else (model.resolutions.minimum, model.resolutions.maximum)
    if (
        not all(isinstance(text, str) for text in texts)
        or not all(number is None or type(number) in (int, float) for number in numbers)
        or not (model.num_params is None or type(model.num_params) is int)
        or not all(bound is None or type(bound) is int for bound in bounds)
    ):
        raise ValueError(f"a zoo entry of the wrong types: {fields!r:.80}")
    return model


def _read_torchvision_models() -> dict[str, ZooModel]:
    import torchvision
    from torchvision.models import get_model_weights

    models = {}
    for name in torchvision.models.list_models(module=torchvision.models):
        weights = get_model_weights(name).DEFAULT
        crop = weights.transforms().crop_size[0]
        metrics = weights.meta["_metrics"]["ImageNet-1K"]
        models[name] = ZooModel(
            name,
            family(name),
            "torchvision",
            (3, crop, crop),
            metrics["acc@1"],
            metrics["acc@5"],
            weights.meta["num_params"],
            weights.meta["_ops"],
            weights.meta["_file_size"],
            _resolutions(name, crop),
        )
    return models


@lru_cache(maxsize=1)
def _preset_models() -> dict[str, ZooModel]:
    models = {}
    for entry in PRESETS:
        report = analyze(parse_stack(entry.stack))
        models[PRESET_PREFIX + entry.name] = ZooModel(
            PRESET_PREFIX + entry.name,
            "stack preset",
            "preset",
            tuple(entry.stack["input"]),
            num_params=report.params,
        )
    return models


def list_models(source: str | None = None) -> tuple[str, ...]:
    """Every zoo model name: torchvision classifiers (sorted), then the stack presets."""
    names = list(_torchvision_models()) if source in (None, "torchvision") else []
    return tuple(names + (list(_preset_models()) if source in (None, "preset") else []))


@lru_cache(maxsize=1)
def _all_models() -> dict[str, ZooModel]:
    return {**_torchvision_models(), **_preset_models()}


def forget_listing() -> None:
    """Drop the listing this process holds: the next look-up reads the disk cache (or torchvision) again."""
    _torchvision_models.cache_clear()
    _all_models.cache_clear()


def model_info(name: str) -> ZooModel:
    models = _all_models()
    if name not in models:
        raise KeyError(f"no zoo model named {name!r}; `python -m calc zoo` lists them")
    return models[name]


def build(name: str):
    """A torchvision model without weights, its parameters on the meta device."""
    from torchvision.models import get_model

    from calc.torch_build import parameters_on_meta

    with parameters_on_meta():
        return get_model(name, weights=None, **BUILD_ARGUMENTS.get(name, {})).eval()


def preset_stack(name: str, resolution: int | None = None, batch: int = 1, dtype: str = "fp32") -> dict:
    """The stack JSON of a preset zoo entry, at ``resolution`` if it takes images."""
    info = model_info(name)
    stack = dict(preset(name[len(PRESET_PREFIX) :]).stack, batch=batch, dtype=dtype)
    if resolution is not None and len(info.input_shape) == 3:
        stack["input"] = [info.input_shape[0], resolution, resolution]
    return stack


def input_shape(name: str, resolution: int | None = None) -> tuple[int, ...]:
    """One sample's input shape for ``name`` at ``resolution`` (default: native)."""
    info = model_info(name)
    if resolution is None or len(info.input_shape) != 3:
        return info.input_shape
    return (info.input_shape[0], resolution, resolution)


def module(name: str, resolution: int | None = None):
    """Any zoo entry as an nn.Module on the meta device (a preset through build_stack)."""
    if model_info(name).source == "preset":
        from calc.torch_build import build_stack

        return build_stack(parse_stack(preset_stack(name, resolution)))
    return build(name)


def count(
    name: str, resolution: int | None = None, batch: int = 1, dtype: str = "fp32", device: str = "meta"
) -> Report:
    """The Report of a zoo model at ``resolution`` (default: its native one).

    On the meta device, a count made once on this machine is read from calc.disk_cache,
    and so is a refused resolution."""
    info = model_info(name)
    if info.source == "preset":
        return analyze(parse_stack(preset_stack(name, resolution, batch, dtype)))
    if device != "meta":
        return _count_torchvision(name, resolution, batch, dtype, device)
    key = _cache_key(model=name, resolution=resolution or info.input_shape[1], batch=batch, dtype=dtype)
    cached = disk_cache.read("count", key)
    if isinstance(cached, dict) and isinstance(cached.get("refused"), str):
        raise SpecError(cached["refused"], field="resolution")
    report = _cached_report(cached)
    if report is not None:
        return report
    try:
        report = _count_torchvision(name, resolution, batch, dtype, device)
    except SpecError as error:
        disk_cache.write("count", key, {"refused": error.reason})
        raise
    disk_cache.write("count", key, report_to_data(report))
    return report


def _cached_report(data: Any) -> Report | None:
    if data is None:
        return None
    try:
        return report_from_data(data)
    except (AttributeError, KeyError, TypeError, ValueError):
        return None  # not what this code writes: count again, and overwrite it


def _count_torchvision(name: str, resolution: int | None, batch: int, dtype: str, device: str) -> Report:
    info = model_info(name)
    from calc.torch_build import materialize
    from calc.torch_count import count_module

    size = resolution or info.input_shape[1]
    if not info.resolutions.accepts(size):
        native = "" if info.resolutions.fixed else f"; its native size is {info.input_shape[1]}"
        raise SpecError(
            f"{name} accepts {info.resolutions.describe()}, not {size}×{size}{native}", field="resolution"
        )
    model = build(name)
    if device != "meta":
        model = materialize(model, device)
    try:
        return count_module(model, (3, size, size), batch=batch, dtype=dtype, device=device)
    except (AssertionError, RuntimeError, ValueError) as error:  # the model's own check of its input
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise SpecError(
            f"{name} does not accept a {size}×{size} input ({reason}); its native size is "
            f"{info.input_shape[1]}",
            field="resolution",
        ) from None
