"""The uploaded Hugging Face config.json, one per session (every page's source picker shows it,
as the Builder's stack is one): the uploader, its checks (calc.hf_config, and the size cap of the
Builder's uploader), and its link parameter ``config`` (compressed as calc.share does a stack)."""

from __future__ import annotations

import streamlit as st

from calc import hf_config
from calc.errors import SpecError
from calc.share import MAX_LINK_CHARS, decode_config, encode_config
from calc.spec import MAX_JSON_BYTES
from ui import links, stack_state
from ui.source_text import CONFIG_TEXT, canonical_json
from ui.text import plain

CONFIG_KEY = "source_config"  # the session's uploaded config.json: {"name": its file name, "config": dict}
CONFIG_MESSAGE = "source_config_message"  # (kind, text) of the last upload, shown once
CONFIG_UPLOADS = "source_config_uploads"  # uploads so far: names the uploader's key


def _upload_key() -> str:
    return f"source_config_upload_{st.session_state.get(CONFIG_UPLOADS, 0)}"


def read_uploaded_config(name: str, data: bytes) -> dict:
    """An uploaded config.json's contents, checked (calc.hf_config); SpecError naming what is wrong."""
    if len(data) > MAX_JSON_BYTES:  # the server's cap is in whole MiB, a little above the limit
        raise SpecError(f"{name} is {len(data):,} bytes, beyond the limit of {MAX_JSON_BYTES:,}")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise SpecError(f"{name} is not UTF-8 text") from None
    return hf_config.read_config(text)


def _config_uploaded(key: str) -> None:
    upload = st.session_state.get(key)
    if upload is None:
        return
    try:
        config = read_uploaded_config(upload.name, upload.getvalue())
    except SpecError as error:
        st.session_state[CONFIG_MESSAGE] = ("error", f"{upload.name} was not loaded: {error}")
    else:
        st.session_state[CONFIG_KEY] = {"name": upload.name, "config": config}
        st.session_state[CONFIG_MESSAGE] = ("success", f"Loaded {upload.name} ({config['model_type']}).")
    finally:
        stack_state.drop_upload(upload, CONFIG_UPLOADS)


def config_choice() -> tuple[str, str | None, str]:
    st.file_uploader(
        "Upload a Hugging Face config.json",
        type=["json"],
        key=_upload_key(),
        on_change=_config_uploaded,
        args=(_upload_key(),),
        max_upload_size=stack_state.MAX_UPLOAD_MB,
        help="Its architecture values only (no weights); a config naming custom code (auto_map) is refused",
    )
    message = st.session_state.pop(CONFIG_MESSAGE, None)
    if message:
        (st.success if message[0] == "success" else st.error)(plain(message[1]))
    entry = st.session_state.get(CONFIG_KEY)
    if entry is None:
        return CONFIG_TEXT, None, CONFIG_TEXT
    return CONFIG_TEXT, config_payload(), f"{entry['name']} ({entry['config']['model_type']})"


def _apply_config(config: dict) -> None:
    st.session_state[CONFIG_KEY] = {"name": CONFIG_TEXT, "config": config}


def config_param() -> links.Param:
    """The link parameter ``config``: the uploaded config.json's contents, compressed as calc.share
    does a stack, checked as an upload is (calc.hf_config) when read back."""
    return links.Param(
        "config",
        CONFIG_KEY,
        decode_config,
        lambda entry: encode_config(entry["config"]),
        apply=_apply_config,
        max_chars=MAX_LINK_CHARS,
    )


def config_payload() -> str | None:
    """The session's uploaded config.json as canonical JSON (the count cache's key), if any."""
    entry = st.session_state.get(CONFIG_KEY)
    return None if entry is None else canonical_json(entry["config"])


__all__ = ["CONFIG_KEY", "config_choice", "config_param", "config_payload", "read_uploaded_config"]
