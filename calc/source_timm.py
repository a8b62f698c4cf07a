"""The timm kind: ``timm:NAME`` for every name of ``timm.list_models()``, no weights; listed by
calc.timm_models (torch-free, from its disk cache), built and counted by calc.torch_timm."""

from __future__ import annotations

from calc.analyze import Report
from calc.source_kind import Source, SourceKind, Takes, register


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
