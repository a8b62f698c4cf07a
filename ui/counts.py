"""The counts and names of every source for every page, cached once per server.

Two layers of cache: calc.zoo keeps each count on disk (calc.disk_cache), so a fresh server
shows it without importing torch; this module keeps the Reports of this server in memory,
shared by all pages, so that a model counted on the Model page is not read again on the
Latency or Compare page. Nothing here imports torch: a count that is on disk stays torch-free.
Any source (ui.source_text: timm, Hugging Face, an uploaded config.json, the Builder's stack)
is counted through the same memory cache, keyed by its text, its JSON and its inputs; timm's
counts are on disk too (calc.timm_models), Hugging Face's only in memory.
"""

from __future__ import annotations

import streamlit as st

from calc import zoo
from calc.analyze import Report
from calc.errors import SpecError
from calc.sources import Takes
from ui import shell
from ui.source_text import source_of

# A Report of the largest zoo model is about 100 kB, most are a few kB: hundreds fit in memory.
MAX_COUNTS = 512  # the Compare page sweeps each chosen model at seven resolutions


@st.cache_data(show_spinner=False, max_entries=MAX_COUNTS)
def _count(name: str, resolution: int | None, batch: int, storage_dtype: str) -> Report:
    return zoo.count(name, resolution, batch, storage_dtype)


def count(name: str, resolution: int | None = None, batch: int = 1, storage_dtype: str = "fp32") -> Report:
    """``zoo.count`` on the meta device (SpecError for a refused resolution), cached in memory.

    Every argument is passed on by position, so that count("resnet50") and
    count("resnet50", None, 1, "fp32") are one cache entry."""
    return _count(name, resolution, batch, storage_dtype)


@st.cache_data(show_spinner=False, max_entries=MAX_COUNTS)
def _count_source(
    text: str,
    payload: str | None,
    resolution: int | None,
    seq_len: int | None,
    batch: int,
    storage_dtype: str,
) -> Report:
    return source_of(text, payload).count(resolution, seq_len, batch, storage_dtype)


def count_source(
    text: str,
    payload: str | None = None,
    resolution: int | None = None,
    seq_len: int | None = None,
    batch: int = 1,
    storage_dtype: str = "fp32",
) -> Report:
    """The Report of any source (ui.source_text) on the meta device, cached in memory: a zoo
    model through ``count`` (one entry with the pages that count it by name), any other keyed by
    its text and JSON with only the input setting it takes (an image's resolution, a text
    model's sequence length). SpecError for a name, file or input refused."""
    source = source_of(text, payload)
    if source.kind in ("torchvision", "stack") and source.stack is None:
        return count(source.target, resolution, batch, storage_dtype)
    if source.takes is Takes.TOKENS:
        resolution = None
    else:
        seq_len = None
    return _count_source(text, payload, resolution, seq_len, batch, storage_dtype)


@st.cache_data(show_spinner=False, max_entries=MAX_COUNTS)
def _count_onnx(
    digest: str,
    _source,
    resolution: int | None,
    seq_len: int | None,
    batch: int,
    storage_dtype: str,
) -> Report:
    return _source.count(resolution, seq_len, batch, storage_dtype)


def count_onnx(
    source,
    resolution: int | None = None,
    seq_len: int | None = None,
    batch: int = 1,
    storage_dtype: str = "fp32",
) -> Report:
    """The Report of an ONNX Source (calc.onnx_source: an uploaded file, named by no text), cached
    in memory by a hash of its bytes (hashing the bytes on every rerun would cost more than a key)."""
    import hashlib

    digest = hashlib.sha256(source.metadata["model_bytes"]).hexdigest()
    if source.takes is Takes.TOKENS:
        resolution = None
    else:
        seq_len = None
    return _count_onnx(digest, source, resolution, seq_len, batch, storage_dtype)


@st.cache_data(show_spinner=False)
def _zoo_names(source: str | None) -> tuple[str, ...]:
    return zoo.list_models(source)


def zoo_names(source: str | None = None) -> tuple[str, ...]:
    """The zoo's model names (``source``: "torchvision" or "preset" for one kind only)."""
    return _zoo_names(source)


def read_zoo() -> tuple[str, ...]:
    """The zoo's names, saying so on the page while a first read imports torchvision."""
    with st.spinner(shell.READING_ZOO):
        return zoo_names()


@st.cache_data(show_spinner=False, max_entries=64)
def what_if_source(text: str, payload: str | None = None):
    """calc.torch_separable.what_if_source at the native input: any source (ui.source_text) against
    its separable twin (builds the model in torch; a stack is counted through its layers)."""
    from calc.torch_separable import what_if_source as what_if

    source = source_of(text, payload)
    if source.kind == "onnx":
        raise SpecError(
            f"{source.name} is an ONNX graph: the separable what-if rewrites the convolutions of a torch "
            "model (torchvision, timm, Hugging Face) or of the Builder's stack, and an ONNX file has none "
            "to rewrite; its own count is on the Model page"
        )
    return what_if(source)
