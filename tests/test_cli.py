"""The command line, run as a user runs it: ``python -m calc stack FILE.json [--json]``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from calc.presets import preset

ROOT = Path(__file__).resolve().parents[1]

RGB_CONV = preset("Worked example: 3x3 conv, RGB in").stack

# conv 3 -> 8 (3x3, padding 1), relu, maxpool 2, flatten, linear 8*4*4 -> 10, on [3, 8, 8], batch 2
SMALL = {
    "input": [3, 8, 8],
    "batch": 2,
    "layers": [
        {"type": "conv2d", "out_channels": 8, "kernel_size": 3, "padding": 1},
        {"type": "relu"},
        {"type": "maxpool2d", "kernel_size": 2},
        {"type": "flatten"},
        {"type": "linear", "out_features": 10},
    ],
}
SMALL_MACS = 2 * 8 * 3 * 3 * 3 * 8 * 8 + 2 * 10 * 128
SMALL_PARAMS = 8 * 3 * 3 * 3 + 8 + 10 * 128 + 10
SMALL_OTHER_OPS = 2 * 8 * 8 * 8 + 2 * 8 * 8 * 8 + 3 * 2 * 8 * 4 * 4 + 2 * 10  # bias, relu, pool, bias


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "calc", *args], cwd=ROOT, capture_output=True, text=True, timeout=60
    )


def write_stack(tmp_path: Path, stack) -> str:
    path = tmp_path / "stack.json"
    path.write_text(stack if isinstance(stack, str) else json.dumps(stack), encoding="utf-8")
    return str(path)


def test_table_shows_totals_with_thousands_separators(tmp_path: Path):
    result = run_cli("stack", write_stack(tmp_path, RGB_CONV))
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    total = next(line for line in result.stdout.splitlines() if "total" in line)
    for number in (
        64 * 3 * 3 * 3 * 224 * 224,
        2 * 64 * 3 * 3 * 3 * 224 * 224,
        64 * 3 * 3 * 3 + 64,
        64 * 224 * 224,
    ):
        assert f"{number:,}" in total
    assert "86,704,128" in total and "64x224x224" in total
    assert "FLOPs = 2 x MACs" in result.stdout


def test_table_lists_every_layer_and_the_parts_of_a_separable(tmp_path: Path):
    result = run_cli(
        "stack", write_stack(tmp_path, preset("Worked example: separable 3x3 conv 32 -> 64").stack)
    )
    assert result.returncode == 0, result.stderr
    assert f"{32 * 3 * 3 * 224 * 224:,}" in result.stdout  # the depthwise part
    assert f"{64 * 32 * 224 * 224:,}" in result.stdout  # the pointwise part
    total = next(line for line in result.stdout.splitlines() if "total" in line)
    assert f"{32 * 3 * 3 * 224 * 224 + 64 * 32 * 224 * 224:,}" in total


def test_json_output(tmp_path: Path):
    result = run_cli("stack", write_stack(tmp_path, SMALL), "--json")
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert (out["macs"], out["flops"], out["params"], out["other_ops"]) == (
        SMALL_MACS,
        2 * SMALL_MACS,
        SMALL_PARAMS,
        SMALL_OTHER_OPS,
    )
    layers = out["layers"]
    assert [layer["index"] for layer in layers] == [0, 1, 2, 3, 4]
    assert [layer["type"] for layer in layers] == ["conv2d", "relu", "maxpool2d", "flatten", "linear"]
    # one sample: no batch dimension
    assert [layer["output_shape"] for layer in layers] == [[8, 8, 8], [8, 8, 8], [8, 4, 4], [128], [10]]
    assert [layer["macs"] for layer in layers] == [2 * 8 * 3 * 3 * 3 * 8 * 8, 0, 0, 0, 2 * 10 * 128]
    assert all(layer["flops"] == 2 * layer["macs"] for layer in layers)
    assert [layer["params"] for layer in layers] == [8 * 3 * 3 * 3 + 8, 0, 0, 0, 10 * 128 + 10]
    assert [layer["other_ops"] for layer in layers] == [
        2 * 8 * 8 * 8,
        2 * 8 * 8 * 8,
        3 * 2 * 8 * 4 * 4,
        0,
        2 * 10,
    ]
    assert sum(layer["macs"] for layer in layers) == out["macs"]


def test_json_output_marks_parts_and_keeps_them_out_of_totals(tmp_path: Path):
    result = run_cli(
        "stack", write_stack(tmp_path, preset("Worked example: separable 3x3 conv 32 -> 64").stack), "--json"
    )
    out = json.loads(result.stdout)
    assert [(layer["index"], layer["part"]) for layer in out["layers"]] == [(0, False), (0, True), (0, True)]
    assert out["macs"] == 32 * 3 * 3 * 224 * 224 + 64 * 32 * 224 * 224
    assert sum(layer["macs"] for layer in out["layers"] if not layer["part"]) == out["macs"]


BAD = [
    pytest.param(
        {
            "input": [6, 8, 8],
            "layers": [
                {"type": "relu"},
                {"type": "conv2d", "out_channels": 8, "kernel_size": 3, "groups": 4},
            ],
        },
        ["layer 1", "'groups'"],
        id="groups",
    ),
    pytest.param(
        {"input": [6, 8, 8], "layers": [{"type": "conv2d", "kernel_size": 3}]},
        ["layer 0", "'out_channels'", "required"],
        id="missing-field",
    ),
    pytest.param({"input": [6, 8, 8], "dtype": "fp64", "layers": []}, ["'dtype'"], id="bad-dtype"),
    pytest.param('{"input": [6, 8, 8], "layers": [', ["not valid JSON"], id="malformed-json"),
    pytest.param(
        {"input": [6, 8, 8], "layers": [{"type": "x" * 1_990_000}]},
        ["layer 0", "unknown layer type"],
        id="two-million-char-type",
    ),
    pytest.param(
        '{"input": [6, 8, 8], "layers": [], "input": [3]}', ["'input'", "given twice"], id="duplicate-key"
    ),
]


@pytest.mark.parametrize("json_flag", [pytest.param((), id="table"), pytest.param(("--json",), id="json")])
@pytest.mark.parametrize("stack, fragments", BAD)
def test_bad_stack_exits_2_with_one_line(
    tmp_path: Path, stack, fragments: list[str], json_flag: tuple[str, ...]
):
    result = run_cli("stack", write_stack(tmp_path, stack), *json_flag)
    assert result.returncode == 2
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert len(lines[0]) < 500, "the message quotes a short cut of what the file holds"
    for fragment in fragments:
        assert fragment in lines[0]


MISSING = [
    pytest.param("does-not-exist.json", "No such file", id="missing-file"),
    pytest.param(".", "it is a directory", id="a-directory"),
]


@pytest.mark.parametrize("name, fragment", MISSING)
def test_unreadable_file_exits_2_with_one_line(tmp_path: Path, name: str, fragment: str):
    path = tmp_path / name
    result = run_cli("stack", str(path))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and str(path) in lines[0] and fragment in lines[0]


def test_non_utf8_file_exits_2_with_one_line(tmp_path: Path):
    path = tmp_path / "stack.json"
    path.write_bytes(b'{"input": [3], "layers": [], "note": "\xff"}')
    result = run_cli("stack", str(path))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and len(result.stderr.splitlines()) == 1
    assert "UTF-8" in result.stderr
