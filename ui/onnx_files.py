"""Uploaded ONNX files, held once per server by the SHA-256 of their bytes: what a picker's text
"ONNX file" and its payload (the digest) name, so that counts, graphs and measurements are cached
per file and reach the bytes from any page or thread.

Each session keeps its own upload (ui.onnx_upload) and puts it back here on every run, so a file
another session's uploads pushed out returns at once; a file no session holds is let go after
MAX_FILES newer ones. A link never carries a file (it is too big): a digest unknown here is
refused with a message saying to upload the file. Streamlit-free (ui.source_text reads it).
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict

from calc.errors import SpecError, cut
from calc.onnx_graph import MAX_ONNX_BYTES
from calc.onnx_source import source_from_bytes
from calc.sources import Source

# MiB: the largest ONNX file uploaded (.streamlit/config.toml's server.maxUploadSize, which a test
# ties to this); calc reads files up to calc.onnx_graph.MAX_ONNX_BYTES from the command line
MAX_UPLOAD_MB = 200
MAX_UPLOAD_BYTES = MAX_UPLOAD_MB * 2**20
MAX_FILES = 4  # files held beyond those the sessions hold: 4 × 200 MiB at the most
assert MAX_UPLOAD_BYTES <= MAX_ONNX_BYTES

_FILES: OrderedDict[str, Source] = OrderedDict()
_LOCK = threading.Lock()


def digest_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_upload(name: str, data: bytes) -> tuple[str, Source]:
    """An uploaded file checked as calc checks any ONNX file (size, protobuf, domains, external
    data, declared dimensions, order): its digest and Source, held here; a SpecError saying what
    is wrong otherwise."""
    if len(data) > MAX_UPLOAD_BYTES:  # the server's cap has some slack for the upload's envelope
        raise SpecError(f"{cut(name)} is {len(data):,} bytes, beyond the upload limit of {MAX_UPLOAD_MB} MiB")
    source = source_from_bytes(name, data)
    digest = digest_of(data)
    keep(digest, source)
    return digest, source


def keep(digest: str, source: Source) -> None:
    """Hold ``source`` under ``digest`` (again), the newest; the oldest past MAX_FILES let go."""
    with _LOCK:
        _FILES[digest] = source
        _FILES.move_to_end(digest)
        while len(_FILES) > MAX_FILES:
            _FILES.popitem(last=False)


def held(digest: str | None) -> Source:
    """The Source of the uploaded file of ``digest``; SpecError when no session holds it (a link
    or a count cache outliving the file)."""
    with _LOCK:
        source = _FILES.get(digest or "")
    if source is None:
        raise SpecError(
            "the uploaded ONNX file is not on the server (a link cannot carry a file): upload it again",
            field="model",
        )
    return source


__all__ = ["MAX_UPLOAD_BYTES", "MAX_UPLOAD_MB", "digest_of", "held", "keep", "read_upload"]
