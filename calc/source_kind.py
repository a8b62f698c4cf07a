"""A source and its kind: what MACscope counts, however it was named, and the registry of kinds.

A ``Source`` is one model or file resolved: its kind, the name to show, what it takes as input
(an image, token ids, a stack's own input), its default input, its metadata, and ``count(...)``
returning a calc.analyze.Report. A ``SourceKind`` is a registration: a prefix (``timm:``), the
names it lists, how it resolves a name, counts and builds a source. ``KINDS`` holds them, one
``register`` call per kind (calc.source_torchvision, calc.source_timm, calc.source_hf,
calc.source_stack); calc.sources resolves a SOURCE's text through them. Torch-free.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from calc.analyze import Report
from calc.spec import Stack

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


__all__ = ["DEFAULT_SEQ_LEN", "KINDS", "Source", "SourceKind", "Takes", "register"]
