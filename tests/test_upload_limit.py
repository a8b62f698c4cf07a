"""Upload limits: the server caps every upload at the ONNX file limit; the Builder's JSON upload
is capped in the browser at the stack limit rounded up to a MiB, and a file over the stack limit
is refused in code before it is parsed; an upload's bytes are let go once read, refused or not."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest
from test_app import metrics, open_page, read_text

from calc.onnx_graph import MAX_ONNX_BYTES
from calc.presets import preset
from calc.spec import MAX_JSON_BYTES
from ui import onnx_files
from ui.stack_state import MAX_UPLOAD_MB

ROOT = Path(__file__).resolve().parents[1]
BLOCK = preset("Transformer encoder block (ViT-B/16)").stack


def test_the_server_caps_uploads_at_the_onnx_limit():
    server = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text(encoding="utf-8"))["server"]
    assert server["maxUploadSize"] == onnx_files.MAX_UPLOAD_MB
    assert onnx_files.MAX_UPLOAD_MB * 2**20 <= MAX_ONNX_BYTES  # calc reads whatever the server takes


def test_the_json_uploads_keep_the_stack_limit():
    assert (
        (MAX_UPLOAD_MB - 1) * 2**20 < MAX_JSON_BYTES <= MAX_UPLOAD_MB * 2**20
    )  # the smallest MiB cap that fits


@pytest.fixture
def builder():
    return open_page("pages/builder.py")


def test_the_uploader_refuses_big_files_in_the_browser(builder):
    assert builder.file_uploader(key="upload_json_0").proto.max_upload_size_mb == MAX_UPLOAD_MB


def test_a_file_over_the_limit_is_refused_and_dropped(builder):
    layers = [dict(layer) for layer in builder.session_state["stack"]["layers"]]
    oversized = json.dumps(BLOCK).encode() + b" " * MAX_JSON_BYTES
    builder.file_uploader(key="upload_json_0").upload("big.json", oversized, "application/json").run()
    assert not builder.exception
    assert builder.session_state["stack"]["layers"] == layers
    assert any(
        f"It is {len(oversized):,} bytes, beyond the limit of {MAX_JSON_BYTES:,}" in read_text(error.value)
        and "unchanged" in read_text(error.value)
        for error in builder.error
    )
    assert builder.file_uploader(key="upload_json_1").value is None  # a fresh, empty uploader


def test_an_accepted_upload_is_let_go_too(builder):
    builder.file_uploader(key="upload_json_0").upload(
        "block.json", json.dumps(BLOCK).encode(), "application/json"
    ).run()
    assert not builder.exception
    assert builder.session_state["stack"]["layers"] == BLOCK["layers"]
    assert builder.file_uploader(key="upload_json_1").value is None
    assert metrics(builder)["MACs"]
