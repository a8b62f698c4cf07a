"""Arguments several commands share: SOURCE (a zoo name, timm:NAME, hf:NAME, a stack or config.json
file), --batch, --resolution and --seq-len."""

from __future__ import annotations

from calc.errors import SpecError
from calc.sources import Source, resolve

MAX_SEQ_LEN = 1024**2  # tokens: past every context length a model is built for today


def read_source(text: str, field: str = "SOURCE") -> Source:
    """SOURCE on the command line, as calc.sources resolves it; an unknown name is refused on ``field``
    with the closest names."""
    return resolve(text, field)


def check_batch_and_resolution(batch: int | None, resolution: int | None) -> None:
    if resolution is not None and not 16 <= resolution <= 4096:
        raise SpecError(f"must be from 16 to 4096 pixels, got {resolution}", field="--resolution")
    if batch is not None and not 1 <= batch <= 65536:
        raise SpecError(f"must be from 1 to 65,536, got {batch}", field="--batch")


def check_seq_len(seq_len: int | None) -> None:
    if seq_len is not None and not 1 <= seq_len <= MAX_SEQ_LEN:
        raise SpecError(f"must be from 1 to {MAX_SEQ_LEN:,} tokens, got {seq_len}", field="--seq-len")
