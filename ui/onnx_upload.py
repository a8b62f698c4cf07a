"""The uploaded ONNX file, one per session (every page's source picker shows it, as the uploaded
config.json is one): the uploader, its limit said beside it, its checks (ui.onnx_files.read_upload:
calc.onnx_graph's refusals) and what a link says of it (it cannot carry the file).

The file is checked once, when it arrives; the session keeps its Source and digest, and puts it
back in ui.onnx_files on every run, so counts and graphs are cached per file (its SHA-256) and a
rerun is instant. The upload's bytes are let go from Streamlit's uploads at once, refused or not.
"""

from __future__ import annotations

import streamlit as st

from calc.errors import SpecError, cut
from ui import onnx_files, stack_state
from ui.source_text import ONNX_TEXT
from ui.text import plain

ONNX_KEY = "source_onnx"  # the session's uploaded file: {"name", "digest", "source"}
ONNX_MESSAGE = "source_onnx_message"  # (kind, text) of the last upload, shown once
ONNX_UPLOADS = "source_onnx_uploads"  # uploads so far: names the uploader's key
NOT_IN_LINK = (
    "names an uploaded ONNX file, which a link cannot carry: choose “ONNX file” as the source and "
    "upload the file"
)
# calc.onnx_count's params are the file's initializers
ONNX_PARAMS_NOTE = (
    "params are the file's own weights: an exporter that folded BatchNorm into the convolutions "
    "dropped its scale and shift"
)
SHARE_NOTE = (
    "An uploaded ONNX file is not in the link (a link cannot carry a file): the recipient must upload "
    "it. The link keeps the other settings."
)


def _upload_key() -> str:
    return f"source_onnx_upload_{st.session_state.get(ONNX_UPLOADS, 0)}"


def described(source) -> str:
    """What the file says of itself, for the message after its upload (its text is the user's)."""
    facts = source.metadata
    opsets = ", ".join(f"{domain} {version}" for domain, version in sorted(facts["opsets"].items()))
    made_by = f", made by {facts['producer']}" if facts["producer"] else ""
    return f"{facts['nodes']:,} nodes, opsets {cut(opsets, 80)}{made_by}"


def _onnx_uploaded(key: str) -> None:
    upload = st.session_state.get(key)
    if upload is None:
        return
    try:
        if upload.size > onnx_files.MAX_UPLOAD_BYTES:  # refused before its bytes are copied
            raise SpecError(
                f"it is {upload.size:,} bytes, beyond the upload limit of {onnx_files.MAX_UPLOAD_MB} MiB"
            )
        digest, source = onnx_files.read_upload(upload.name, upload.getvalue())
    except SpecError as error:
        st.session_state[ONNX_MESSAGE] = ("error", f"{upload.name} was not loaded: {error}")
    else:
        st.session_state[ONNX_KEY] = {"name": upload.name, "digest": digest, "source": source}
        st.session_state[ONNX_MESSAGE] = ("success", f"Loaded {upload.name}: {described(source)}.")
    finally:
        stack_state.drop_upload(upload, ONNX_UPLOADS)


def onnx_choice() -> tuple[str, str | None, str]:
    """The uploader and its limit; (text, payload: the file's digest or None, label)."""
    st.file_uploader(
        "Upload an ONNX model (.onnx)",
        type=["onnx"],
        key=_upload_key(),
        on_change=_onnx_uploaded,
        args=(_upload_key(),),
        max_upload_size=onnx_files.MAX_UPLOAD_MB,
        help="Counted from its graph with ONNX shape inference: nothing in the file is run, and external "
        "weight data is never read",
    )
    st.caption(
        f"Up to {onnx_files.MAX_UPLOAD_MB} MB per file. An uploaded file stays in this session; a share "
        "link cannot carry it."
    )
    message = st.session_state.pop(ONNX_MESSAGE, None)
    if message:
        (st.success if message[0] == "success" else st.error)(plain(message[1]))
    entry = st.session_state.get(ONNX_KEY)
    if entry is None:
        return ONNX_TEXT, None, ONNX_TEXT
    onnx_files.keep(entry["digest"], entry["source"])  # back on the server, were it pushed out
    return ONNX_TEXT, entry["digest"], entry["name"]


def onnx_payload() -> str | None:
    """The session's uploaded ONNX file's digest (the count cache's key), if any; held again."""
    entry = st.session_state.get(ONNX_KEY)
    if entry is None:
        return None
    onnx_files.keep(entry["digest"], entry["source"])
    return entry["digest"]


__all__ = [
    "NOT_IN_LINK",
    "ONNX_KEY",
    "ONNX_PARAMS_NOTE",
    "SHARE_NOTE",
    "described",
    "onnx_choice",
    "onnx_payload",
]
