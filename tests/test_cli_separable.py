"""The depthwise-separable commands: ``python -m calc separable`` and ``python -m calc whatif``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import calc
from calc.__main__ import main
from calc.presets import preset
from calc.separable import what_if_stack

ROOT = Path(__file__).resolve().parents[1]

CHECK = ("separable", "--in-channels", "32", "--out-channels", "64", "--kernel-size", "3", "--size", "224")
KEYS = {
    "standard_macs",
    "depthwise_macs",
    "pointwise_macs",
    "separable_macs",
    "standard_params",
    "separable_params",
    "savings",
}
SMALL_CNN = preset("Small CNN (CIFAR-10)").stack


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "calc", *args], cwd=ROOT, capture_output=True, text=True, timeout=120
    )


def run_json(capsys, *argv: str):
    assert main(list(argv)) == 0
    return json.loads(capsys.readouterr().out)


def write_stack(tmp_path: Path, stack: dict) -> str:
    path = tmp_path / "stack.json"
    path.write_text(json.dumps(stack), encoding="utf-8")
    return str(path)


def test_separable_json_check_figures_as_a_user_runs_it():
    result = run_cli(*CHECK, "--json")
    assert result.returncode == 0 and result.stderr == "", result.stderr
    out = json.loads(result.stdout)
    assert set(out) >= KEYS
    assert out["standard_macs"] == 64 * 32 * 3 * 3 * 224 * 224 == 924_844_032
    assert out["depthwise_macs"] == 32 * 3 * 3 * 224 * 224 == 14_450_688
    assert out["pointwise_macs"] == 64 * 32 * 224 * 224 == 102_760_448
    assert out["separable_macs"] == 117_211_136
    assert (out["standard_params"], out["separable_params"]) == (64 * 32 * 3 * 3, 32 * 3 * 3 + 64 * 32)
    assert out["savings"] == 1 - 117_211_136 / 924_844_032 and round(out["savings"], 4) == 0.8733
    assert out["approximate_savings"] == pytest.approx(1 - (1 / 64 + 1 / 9), abs=1e-15)
    assert out["input"] == [32, 224, 224] and out["output_shape"] == [64, 224, 224] and out["padding"] == 1


def test_separable_human_output_has_exact_counts_and_the_formula(capsys):
    assert main(list(CHECK)) == 0
    out = capsys.readouterr().out
    lines = {line.split()[0]: line for line in out.splitlines()}
    assert "924,844,032 MACs" in lines["standard"] and "18,432 params" in lines["standard"]
    assert "14,450,688 MACs" in lines["depthwise"] and "102,760,448 MACs" in lines["pointwise"]
    assert "117,211,136 MACs" in lines["separable"] and "2,336 params" in lines["separable"]
    assert "1·64·224·224·32·3·3" in lines["standard"]
    assert "0.8733" in lines["savings"] and "1 - 117,211,136 / 924,844,032" in lines["savings"]
    assert "1 - (1/C_out + 1/K²) = 1 - (1/64 + 1/9)" in lines["approximate"]
    # the counts are right-aligned in one column
    columns = {lines[label].index(" MACs") for label in ("standard", "depthwise", "pointwise", "separable")}
    assert len(columns) == 1


def test_separable_odd_case_stride_2(capsys):
    # H' = (113 + 2*2 - 5) // 2 + 1 = 57
    out = run_json(
        capsys,
        "separable",
        "--in-channels",
        "24",
        "--out-channels",
        "40",
        "--kernel-size",
        "5",
        "--size",
        "113",
        "--stride",
        "2",
        "--padding",
        "2",
        "--json",
    )
    assert out["output_shape"] == [40, 57, 57]
    assert out["standard_macs"] == 40 * 24 * 5 * 5 * 57 * 57
    assert out["separable_macs"] == 24 * 5 * 5 * 57 * 57 + 40 * 24 * 57 * 57
    assert out["savings"] == out["approximate_savings"] == 1 - (1 / 40 + 1 / 25)


def test_separable_rectangular_size(capsys):
    # H' = (20 + 2 - 3) // 1 + 1 = 20, W' = 30
    out = run_json(
        capsys,
        "separable",
        "--in-channels",
        "8",
        "--out-channels",
        "16",
        "--kernel-size",
        "3",
        "--size",
        "20x30",
        "--json",
    )
    assert out["input"] == [8, 20, 30] and out["standard_macs"] == 16 * 8 * 3 * 3 * 20 * 30


SEPARABLE_ERRORS = [
    pytest.param(
        ("--in-channels", "0", "--out-channels", "64", "--kernel-size", "3", "--size", "224"),
        "in_channels",
        id="in-channels-zero",
    ),
    pytest.param(
        ("--in-channels", "32", "--out-channels", "64", "--kernel-size", "0", "--size", "224"),
        "kernel_size",
        id="kernel-zero",
    ),
    pytest.param(
        (
            "--in-channels",
            "32",
            "--out-channels",
            "64",
            "--kernel-size",
            "9",
            "--size",
            "4",
            "--padding",
            "0",
        ),
        "kernel_size",
        id="kernel-larger-than-input",
    ),
    pytest.param(
        ("--in-channels", "32", "--out-channels", "64", "--kernel-size", "3", "--size", "big"),
        "--size",
        id="size-not-a-number",
    ),
    pytest.param(
        ("--in-channels", "32", "--out-channels", "64", "--kernel-size", "3", "--size", "0"),
        "size",
        id="size-zero",
    ),
    pytest.param(
        (
            "--in-channels",
            "32",
            "--out-channels",
            "64",
            "--kernel-size",
            "3",
            "--size",
            "224",
            "--stride",
            "0",
        ),
        "stride",
        id="stride-zero",
    ),
    pytest.param(
        ("--in-channels", "32", "--out-channels", "2000000", "--kernel-size", "3", "--size", "224"),
        "out_channels",
        id="out-channels-beyond-limit",
    ),
]


@pytest.mark.parametrize("arguments, field", SEPARABLE_ERRORS)
def test_separable_errors_exit_2_with_one_line(arguments, field, capsys):
    assert main(["separable", *arguments]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("error: ") and captured.err.count("\n") == 1
    assert f"field '{field}'" in captured.err


def test_whatif_on_a_stack_file(tmp_path: Path, capsys):
    out = run_json(capsys, "whatif", write_stack(tmp_path, SMALL_CNN), "--json")
    expected = what_if_stack(calc.parse_stack(SMALL_CNN))
    assert (out["macs_before"], out["macs_after"]) == (expected.macs_before, expected.macs_after)
    assert (out["params_before"], out["params_after"]) == (expected.params_before, expected.params_after)
    assert [c["name"] for c in out["changes"]] == ["0", "4", "8"]
    assert out["changes"][0] == {
        "name": "0",
        "kind_before": "conv2d",
        "kind_after": "separable_conv2d",
        "macs_before": 32 * 3 * 3 * 3 * 32 * 32,
        "macs_after": 3 * 3 * 3 * 32 * 32 + 32 * 3 * 32 * 32,
        "params_before": 32 * 3 * 3 * 3,
        "params_after": 3 * 3 * 3 + 32 * 3,
        "savings": 1 - (1 / 32 + 1 / 9),
    }
    at_64 = run_json(capsys, "whatif", write_stack(tmp_path, SMALL_CNN), "--resolution", "64", "--json")
    assert at_64["input_shape"] == [3, 64, 64]
    assert [c["macs_after"] for c in at_64["changes"]] == [4 * c["macs_after"] for c in out["changes"]]


def test_whatif_human_output(tmp_path: Path, capsys):
    assert main(["whatif", write_stack(tmp_path, SMALL_CNN)]) == 0
    out = capsys.readouterr().out
    expected = what_if_stack(calc.parse_stack(SMALL_CNN))
    assert f"{expected.macs_before:,} -> {expected.macs_after:,}" in out
    assert "3 standard convs" in out and "separable_conv2d" in out


def test_whatif_with_nothing_to_replace_says_so(tmp_path: Path, capsys):
    assert main(["whatif", write_stack(tmp_path, preset("MobileNetV2 block").stack)]) == 0
    assert "nothing changes" in capsys.readouterr().out


def test_whatif_on_a_zoo_model(capsys):
    pytest.importorskip("torchvision")
    from calc.torch_separable import what_if_model

    out = run_json(capsys, "whatif", "resnet18", "--json")
    expected = what_if_model("resnet18")
    assert (out["model"], out["macs_before"], out["macs_after"]) == (
        "resnet18",
        1_814_073_344,
        expected.macs_after,
    )
    assert out["params_after"] == expected.params_after and len(out["changes"]) == 17
    assert out["changes"][0]["name"] == "conv1" and out["changes"][0]["kind_before"] == "Conv2d"


WHATIF_ERRORS = [
    pytest.param(("no_such_model",), "MODEL", id="unknown-model"),
    pytest.param(("missing.json",), None, id="missing-file"),
    pytest.param(("resnet18", "--resolution", "8"), "--resolution", id="resolution-too-small"),
]


@pytest.mark.parametrize("arguments, field", WHATIF_ERRORS)
def test_whatif_errors_exit_2_with_one_line(arguments, field, capsys):
    assert main(["whatif", *arguments]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1
    if field:
        assert f"field '{field}'" in err
