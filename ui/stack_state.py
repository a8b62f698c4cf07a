"""The Builder's stack in st.session_state, and the callbacks that change it.

The stack is kept as stack JSON (``{"input", "batch", "dtype", "layers"}``), the
format of the CLI and of import/export, with a parallel list of ids that name each
layer's widgets. The layer dicts are the source of truth; widgets are initialised
from them, so a layer's edits survive while its widgets are not on screen.
Every change runs as a widget callback, before the script draws any widget.
"""

from __future__ import annotations

import copy
import json
import math
from typing import Any

import streamlit as st

from calc.errors import SpecError
from calc.presets import PRESETS, preset
from calc.spec import MAX_JSON_BYTES, load_stack, parse_stack, stack_to_json
from ui.fields import refuse

STACK = "stack"
UIDS = "layer_uids"
UNDO = "stack_undo"  # earlier stacks, the latest last
SEEN = "stack_seen"  # the stack as the last run left it
MAX_UNDO = 30
NEXT_UID = "next_layer_uid"
IMPORT_MESSAGE = "import_message"
UPLOADS = "uploads"  # uploads so far: names the uploader's key
# The uploader's cap in whole MiB, as Streamlit takes it (per uploader in the browser;
# server.maxUploadSize in .streamlit/config.toml on the server): the smallest over the limit.
MAX_UPLOAD_MB = math.ceil(MAX_JSON_BYTES / 2**20)
DEFAULT_PRESET = "Small CNN (CIFAR-10)"

INPUT_KINDS = {3: "image C×H×W", 2: "tokens L×D", 1: "vector D"}
_INPUT_KEYS = {3: ("in_c", "in_h", "in_w"), 2: ("in_l", "in_d"), 1: ("in_d",)}
INPUT_FIELDS = {
    "in_c": ("C", "channels"),
    "in_h": ("H", "height in pixels"),
    "in_w": ("W", "width in pixels"),
    "in_l": ("L", "tokens (sequence length)"),
    "in_d": ("D", "features per token"),
}
_INPUT_DEFAULTS = {"in_c": 3, "in_h": 224, "in_w": 224, "in_l": 197, "in_d": 768}


def _new_uid() -> int:
    st.session_state[NEXT_UID] = st.session_state.get(NEXT_UID, 0) + 1
    return st.session_state[NEXT_UID]


def _set_input_widgets(stack: dict[str, Any]) -> None:
    shape = stack["input"]
    st.session_state["input_kind"] = INPUT_KINDS[len(shape)]
    for key, size in zip(_INPUT_KEYS[len(shape)], shape, strict=True):
        st.session_state[key] = size
    st.session_state["batch"] = stack.get("batch", 1)
    st.session_state["dtype"] = stack.get("dtype", "fp32")
    st.session_state["add_kind"] = "conv2d" if len(shape) == 3 else "linear"


def replace_stack(stack: dict[str, Any]) -> None:
    """Make ``stack`` (already validated stack JSON) the Builder's stack."""
    st.session_state[STACK] = copy.deepcopy(stack)
    st.session_state[UIDS] = [_new_uid() for _ in stack["layers"]]
    st.session_state["edit_index"] = 0
    st.session_state.pop("explain_layer", None)  # the new stack's heaviest layer is explained first
    _set_input_widgets(stack)


def ensure_stack() -> None:
    if STACK not in st.session_state:
        st.session_state["preset"] = DEFAULT_PRESET
        replace_stack(stack_to_json(load_stack(json.dumps(preset(DEFAULT_PRESET).stack))))


def layers() -> list[dict[str, Any]]:
    return st.session_state[STACK]["layers"]


def uids() -> list[int]:
    return st.session_state[UIDS]


def input_keys(rank: int) -> tuple[str, ...]:
    return _INPUT_KEYS[rank]


def keep_index(key: str, count: int, default: int) -> None:
    """Make ``session_state[key]`` an index below ``count`` (``default`` if it is not one), before its
    selectbox is drawn; with no options the key is dropped.

    A selectbox sends back its option's label, not the index. When the stack changes under it (a preset
    loaded, a layer edited), the browser still holds the old label and sends it with the next rerun;
    the new options do not contain it and Streamlit hands it over as that str ("4 · conv2d"). Setting
    the int on every run sends the browser the current label, so it never holds a stale one, and the
    link is written from the int.
    """
    index = st.session_state.get(key)
    if count <= 0:
        st.session_state.pop(key, None)
        return
    valid = isinstance(index, int) and not isinstance(index, bool) and 0 <= index < count
    st.session_state[key] = index if valid else default


def sync_input_from_widgets() -> None:
    """Read the input widgets' state into the stack, before anything is drawn.

    A widget that was not drawn in the last run has lost its state; it is seeded
    again from the stack (or a default for a different input kind).
    """
    stack = st.session_state[STACK]
    shape = stack["input"]
    state = st.session_state
    state.setdefault("input_kind", INPUT_KINDS[len(shape)])
    rank = next(r for r, label in INPUT_KINDS.items() if label == state["input_kind"])
    defaults = dict(_INPUT_DEFAULTS)
    if rank == len(shape):
        defaults.update(zip(_INPUT_KEYS[rank], shape, strict=True))
    for key in _INPUT_KEYS[rank]:
        state.setdefault(key, defaults[key])
    state.setdefault("batch", stack.get("batch", 1))
    state.setdefault("dtype", stack.get("dtype", "fp32"))
    stack["input"] = [int(state[key]) for key in _INPUT_KEYS[rank]]
    stack["batch"] = int(state["batch"])
    stack["dtype"] = state["dtype"]


def record_edit() -> None:
    """At the top of a run: if the stack is not the one the last run left, that one can be undone to."""
    now = st.session_state[STACK]
    seen = st.session_state.get(SEEN)
    if seen is not None and seen != now:
        history = st.session_state.setdefault(UNDO, [])
        history.append(seen)
        del history[:-MAX_UNDO]
    st.session_state[SEEN] = copy.deepcopy(now)


def can_undo() -> bool:
    return bool(st.session_state.get(UNDO))


# ---------------------------------------------------------------------------
# callbacks


def check_input(key: str) -> None:
    """Callback of an input widget (C, H, W, L, D, batch): a size the stack format refuses is not
    applied; the widget goes back to the stack's value and says why under it."""
    stack = st.session_state[STACK]
    typed = st.session_state[key]
    if key == "batch":
        candidate, kept = {"input": stack["input"], "batch": typed}, stack.get("batch", 1)
    else:
        rank = next(r for r, label in INPUT_KINDS.items() if label == st.session_state["input_kind"])
        sizes = [st.session_state.get(name, _INPUT_DEFAULTS[name]) for name in _INPUT_KEYS[rank]]
        candidate = {"input": sizes}
        kept = (
            stack["input"][_INPUT_KEYS[rank].index(key)]
            if rank == len(stack["input"])
            else _INPUT_DEFAULTS[key]
        )
    try:
        parse_stack({**candidate, "layers": []})
    except SpecError as error:
        refuse(key, "Batch N" if key == "batch" else INPUT_FIELDS[key][0], typed, error.reason, kept)
        st.session_state[key] = kept


def clear_stack() -> None:
    layers().clear()
    uids().clear()
    st.session_state["edit_index"] = 0


def undo() -> None:
    """Back to the stack before the last change (layers, input, batch and dtype)."""
    stack = st.session_state[UNDO].pop()
    selection = {
        key: st.session_state[key] for key in ("edit_index", "explain_layer") if key in st.session_state
    }
    replace_stack(stack)
    st.session_state.update(selection)  # the page's keep_index brings them into range
    st.session_state[SEEN] = copy.deepcopy(stack)


def add_layer(layer: dict[str, Any]) -> None:
    layers().append(layer)
    uids().append(_new_uid())
    st.session_state["edit_index"] = len(layers()) - 1


def delete_layer(index: int) -> None:
    del layers()[index]
    del uids()[index]
    st.session_state["edit_index"] = max(0, min(index, len(layers()) - 1))


def duplicate_layer(index: int) -> None:
    layers().insert(index + 1, copy.deepcopy(layers()[index]))
    uids().insert(index + 1, _new_uid())
    st.session_state["edit_index"] = index + 1


def move_layer(index: int, step: int) -> None:
    target = index + step
    if 0 <= target < len(layers()):
        for items in (layers(), uids()):
            items[index], items[target] = items[target], items[index]
        st.session_state["edit_index"] = target


def load_preset() -> None:
    entry = preset(st.session_state["preset"])
    replace_stack(stack_to_json(load_stack(json.dumps(entry.stack))))
    st.session_state[IMPORT_MESSAGE] = ("success", f"Loaded the preset “{entry.name}”.")


def import_json_text(text: str, source: str) -> None:
    """Replace the stack with JSON text; on a bad stack keep the current one and say why."""
    try:
        stack = load_stack(text)
    except SpecError as error:
        st.session_state[IMPORT_MESSAGE] = (
            "error",
            f"{source} was not loaded, your stack is unchanged. {error}",
        )
        return
    replace_stack(stack_to_json(stack))
    st.session_state[IMPORT_MESSAGE] = ("success", f"Loaded {len(stack.layers)} layers from {source}.")


def import_pasted() -> None:
    import_json_text(st.session_state.get("import_json", ""), "the pasted JSON")


def upload_key() -> str:
    """The uploader's key: a new one after each upload, so the widget lets go of the file."""
    return f"upload_json_{st.session_state.get(UPLOADS, 0)}"


def drop_upload(upload, counter: str = UPLOADS) -> None:
    """Free the uploaded bytes now instead of at the end of the session: Streamlit keeps
    them per session until the browser removes the file, however big or refused. ``counter``
    counts an uploader's uploads: its next key is a new one, so the widget lets go of the file."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    context = get_script_run_ctx()
    if context is not None:
        context.uploaded_file_mgr.remove_file(context.session_id, upload.file_id)
    st.session_state[counter] = st.session_state.get(counter, 0) + 1


def import_uploaded(key: str) -> None:
    upload = st.session_state.get(key)
    if upload is None:
        return
    try:
        if upload.size > MAX_JSON_BYTES:  # the server's cap is in whole MiB, a little above the limit
            st.session_state[IMPORT_MESSAGE] = (
                "error",
                (
                    f"{upload.name} was not loaded, your stack is unchanged. "
                    f"It is {upload.size:,} bytes, beyond the limit of {MAX_JSON_BYTES:,}."
                ),
            )
            return
        try:
            text = upload.getvalue().decode("utf-8")
        except UnicodeDecodeError:
            st.session_state[IMPORT_MESSAGE] = (
                "error",
                f"{upload.name} is not UTF-8 text; your stack is unchanged.",
            )
            return
        import_json_text(text, upload.name)
    finally:
        drop_upload(upload)


PRESET_NAMES = tuple(entry.name for entry in PRESETS)
