"""The torchvision kind: torchvision's ImageNet classifiers by their zoo name (``resnet50``, or
``torchvision:resnet50``), counted by calc.zoo. The stack kind's presets share calc.zoo's entries."""

from __future__ import annotations

from calc.analyze import Report
from calc.source_kind import Source, SourceKind, Takes, register


def zoo_source(name: str) -> Source | None:
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


def count_zoo(source, resolution, seq_len, batch, dtype, device) -> Report:
    from calc import zoo

    return zoo.count(source.target, resolution, batch or 1, dtype or "fp32", device=device)


def zoo_module(source: Source, resolution: int | None):
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
        lambda name: source if (source := zoo_source(name)) and source.kind == "torchvision" else None,
        count_zoo,
        zoo_module,
    )
)
