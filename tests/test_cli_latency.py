"""The latency commands: ``python -m calc hardware``, ``peak`` and ``latency``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from calc.__main__ import main
from calc.presets import preset

ROOT = Path(__file__).resolve().parents[1]

SMALL_CNN = "stack: Small CNN (CIFAR-10)"
RESNET50_MACS = 4089184256  # torchvision's _ops for resnet50: 4.089 GMACs
RTX_3090_FP32 = 35.6e12
RTX_3090_BYTES_PER_S = 936e9

# conv 3 -> 8 (3x3, padding 1), relu, flatten, linear 8*8*8 -> 10, on [3, 8, 8]
TINY = {
    "input": [3, 8, 8],
    "layers": [
        {"type": "conv2d", "out_channels": 8, "kernel_size": 3, "padding": 1},
        {"type": "relu"},
        {"type": "flatten"},
        {"type": "linear", "out_features": 10},
    ],
}
TINY_MACS = 8 * 3 * 3 * 3 * 8 * 8 + 10 * 8 * 8 * 8

LATENCY_KEYS = {
    "model",
    "batch",
    "dtype",
    "macs",
    "flops",
    "theoretical_s",
    "roofline_s",
    "hardware",
    "memory_bound_layers",
    "roofs",
}
MEASURED_KEYS = {
    "measured_median_s",
    "measured_iqr_s",
    "measured_min_s",
    "measured_max_s",
    "efficiency",
    "roofline_efficiency",
    "threads",
}


def run_json(capsys, *argv: str):
    assert main(list(argv)) == 0
    captured = capsys.readouterr()
    return json.loads(captured.out)


def write_stack(tmp_path: Path, stack) -> str:
    path = tmp_path / "stack.json"
    path.write_text(stack if isinstance(stack, str) else json.dumps(stack), encoding="utf-8")
    return str(path)


def test_hardware_json_lists_every_preset_with_its_source(capsys):
    presets = run_json(capsys, "hardware", "--json")
    assert len(presets) >= 13
    for entry in presets:
        assert {
            "name",
            "kind",
            "peak_flops",
            "bandwidth_bytes_per_s",
            "source",
            "derived",
            "estimate",
            "note",
        } <= set(entry)
        assert entry["source"] and entry["bandwidth_bytes_per_s"] > 0 and entry["peak_flops"]
    by_name = {entry["name"]: entry for entry in presets}
    tpu = by_name["Google TPU v4"]
    assert "fp32" not in tpu["peak_flops"] and tpu["peak_flops"]["bf16"] == 275e12
    rtx = by_name["NVIDIA RTX 3090"]
    assert rtx["peak_flops"]["fp32"] == RTX_3090_FP32 and rtx["bandwidth_bytes_per_s"] == RTX_3090_BYTES_PER_S


def test_hardware_table_has_units_and_marks(capsys):
    assert main(["hardware"]) == 0
    out = capsys.readouterr().out
    rtx = next(line for line in out.splitlines() if line.startswith("NVIDIA RTX 3090"))
    assert "35.60 T" in rtx and "936.0 GB/s" in rtx
    h100 = next(line for line in out.splitlines() if line.startswith("NVIDIA H100 SXM"))
    assert "≈989.4 T" in h100  # derived: the datasheet's sparse figure halved
    assert "iPhone 12 CPU (A14) *" in out  # an estimate
    assert "OP/s" in out and "dense" in out


def test_latency_resnet50_on_rtx_3090(capsys):
    out = run_json(
        capsys, "latency", "resnet50", "--hardware", "NVIDIA RTX 3090", "--dtype", "fp32", "--json"
    )
    assert set(out) >= LATENCY_KEYS
    assert (out["model"], out["batch"], out["dtype"], out["hardware"]) == (
        "resnet50",
        1,
        "fp32",
        "NVIDIA RTX 3090",
    )
    assert out["macs"] == RESNET50_MACS and out["flops"] == 2 * RESNET50_MACS
    assert out["roofs"] == {"peak_flops_per_s": RTX_3090_FP32, "bandwidth_bytes_per_s": RTX_3090_BYTES_PER_S}
    assert out["theoretical_s"] == pytest.approx(2 * RESNET50_MACS / RTX_3090_FP32)
    assert round(out["theoretical_s"] * 1e3, 4) == 0.2297
    assert out["roofline_s"] >= out["theoretical_s"]
    assert out["memory_bound_layers"] >= 1  # batch 1: the pointwise layers and the activations


def test_latency_tf32_is_counted_in_fp32_storage(capsys):
    fp32 = run_json(
        capsys, "latency", "resnet50", "--hardware", "NVIDIA A100 40GB SXM", "--dtype", "fp32", "--json"
    )
    tf32 = run_json(
        capsys, "latency", "resnet50", "--hardware", "NVIDIA A100 40GB SXM", "--dtype", "tf32", "--json"
    )
    assert tf32["memory_bytes"] == fp32["memory_bytes"]  # tf32 moves fp32 bytes
    assert tf32["theoretical_s"] == pytest.approx(2 * RESNET50_MACS / 156e12)
    assert fp32["theoretical_s"] == pytest.approx(2 * RESNET50_MACS / 19.5e12)


def test_latency_human_output_names_the_roofs(capsys):
    assert main(["latency", "resnet50", "--hardware", "NVIDIA RTX 3090"]) == 0
    out = capsys.readouterr().out
    assert "FLOPs = 2 × MACs" in out
    assert "NVIDIA RTX 3090" in out and "35.60 TFLOP/s" in out and "936.0 GB/s" in out
    assert "0.2297 ms" in out


def test_latency_stack_file_takes_batch_and_dtype_from_the_command_line(tmp_path: Path, capsys):
    path = write_stack(tmp_path, TINY)
    out = run_json(
        capsys, "latency", path, "--hardware", "NVIDIA T4", "--dtype", "fp16", "--batch", "4", "--json"
    )
    assert (out["model"], out["batch"], out["dtype"]) == (path, 4, "fp16")
    assert out["macs"] == 4 * TINY_MACS
    assert out["theoretical_s"] == pytest.approx(2 * 4 * TINY_MACS / 65e12)
    assert out["roofline_s"] >= out["theoretical_s"]


def test_latency_stack_file_keeps_its_own_batch_and_dtype_by_default(tmp_path: Path, capsys):
    path = write_stack(tmp_path, dict(TINY, batch=2, dtype="bf16"))
    out = run_json(capsys, "latency", path, "--hardware", "Google TPU v4", "--json")
    assert (out["batch"], out["dtype"], out["macs"]) == (2, "bf16", 2 * TINY_MACS)
    assert out["theoretical_s"] == pytest.approx(2 * 2 * TINY_MACS / 275e12)


def test_latency_on_a_stack_preset(capsys):
    out = run_json(capsys, "latency", SMALL_CNN, "--hardware", "NVIDIA RTX 3090", "--json")
    stack = preset(SMALL_CNN.removeprefix("stack: ")).stack
    assert out["model"] == SMALL_CNN and out["input_shape"] == stack["input"]
    assert out["flops"] == 2 * out["macs"] > 0
    assert out["theoretical_s"] == pytest.approx(out["flops"] / RTX_3090_FP32)


def test_latency_measured_on_this_cpu(capsys):
    out = run_json(capsys, "latency", SMALL_CNN, "--device", "cpu", "--json")
    assert set(out) >= LATENCY_KEYS | MEASURED_KEYS
    assert out["hardware"].startswith("This machine")
    assert out["measured_median_s"] > 0
    assert out["measured_min_s"] <= out["measured_median_s"] <= out["measured_max_s"]
    assert (
        out["efficiency"] == pytest.approx(out["theoretical_s"] / out["measured_median_s"])
        and out["efficiency"] > 0
    )
    assert out["roofline_efficiency"] == pytest.approx(out["roofline_s"] / out["measured_median_s"])
    assert out["roofline_s"] <= out["measured_median_s"]  # the roofline is a lower bound
    assert out["threads"] == torch.get_num_threads()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_latency_measured_on_cuda(capsys):
    out = run_json(capsys, "latency", SMALL_CNN, "--device", "cuda", "--dtype", "fp16", "--json")
    assert out["device"].startswith("cuda") and out["measured_median_s"] > 0
    assert out["roofline_s"] <= out["measured_median_s"]


def test_peak_on_this_cpu(capsys):
    out = run_json(capsys, "peak", "--device", "cpu", "--dtype", "fp32", "--json")
    assert (out["device"], out["dtype"]) == ("cpu", "fp32")
    assert out["flops_per_s"] > 0 and out["bandwidth_bytes_per_s"] > 0
    assert out["flops_per_s"] == max(rate for _, rate in out["gemm"])


NO_CUDA = pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available here")

ERRORS = [
    pytest.param(
        ["latency", "resnet5", "--hardware", "NVIDIA T4"], ["'MODEL'", "'resnet5'"], id="unknown-model"
    ),
    pytest.param(
        ["latency", "resnet18", "--hardware", "NVIDIA T5"],
        ["'NVIDIA T5'", "python -m calc hardware"],
        id="unknown-hardware",
    ),
    pytest.param(
        ["latency", "resnet18", "--hardware", "Google TPU v4", "--dtype", "fp32"],
        ["no fp32 peak", "bf16, int8"],
        id="tpu-v4-fp32",
    ),
    pytest.param(
        ["latency", SMALL_CNN, "--device", "cuda"],
        ["'--device'", "CUDA"],
        id="latency-cuda-absent",
        marks=NO_CUDA,
    ),
    pytest.param(["peak", "--device", "cuda"], ["'device'", "CUDA"], id="peak-cuda-absent", marks=NO_CUDA),
    pytest.param(
        ["latency", "resnet18", "--hardware", "NVIDIA T4", "--batch", "0"],
        ["'--batch'", "got 0"],
        id="batch-0",
    ),
    pytest.param(
        ["latency", "resnet18", "--hardware", "NVIDIA T4", "--resolution", "8"],
        ["'--resolution'", "got 8"],
        id="resolution-8",
    ),
    pytest.param(
        ["latency", "{tmp}/does-not-exist.json", "--hardware", "NVIDIA T4"],
        ["cannot read", "does-not-exist.json", "No such file"],
        id="missing-stack-file",
    ),
    pytest.param(
        ["latency", "{tmp}/stack.json", "--hardware", "NVIDIA T4"],
        ["not valid JSON"],
        id="malformed-stack-json",
    ),
    pytest.param(
        ["latency", SMALL_CNN, "--device", "cpu", "--dtype", "int8"],
        ["'dtype'", "int8", "cpu"],
        id="int8-on-cpu",
    ),
    pytest.param(["peak", "--dtype", "tf32"], ["'dtype'", "tf32", "cpu"], id="peak-tf32-on-cpu"),
    pytest.param(
        ["latency", SMALL_CNN, "--hardware", "NVIDIA T4", "--device", "cpu"],
        ["not allowed with argument --hardware"],
        id="hardware-and-device",
    ),
    pytest.param(
        ["latency", SMALL_CNN],
        ["one of the arguments --hardware --device --calibration is required"],
        id="neither-hardware-nor-device",
    ),
]


@pytest.mark.parametrize("argv, fragments", ERRORS)
def test_errors_exit_2_naming_what_is_wrong(tmp_path: Path, capsys, argv: list[str], fragments: list[str]):
    write_stack(tmp_path, '{"input": [3, 8, 8], "layers": [')
    argv = [arg.replace("{tmp}", str(tmp_path)) for arg in argv]
    try:
        status = main(argv)
    except SystemExit as error:  # argparse refuses the arguments themselves
        status = error.code
    captured = capsys.readouterr()
    assert status == 2 and captured.out == ""
    message = captured.err.strip().splitlines()[-1]
    assert "error: " in message
    for fragment in fragments:
        assert fragment in message


def test_error_is_one_line_on_stderr_without_a_traceback(tmp_path: Path):
    # int8 on the CPU reaches the lazy torch imports (torch.utils.benchmark) before it is refused
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "calc",
            "latency",
            write_stack(tmp_path, TINY),
            "--device",
            "cpu",
            "--dtype",
            "int8",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2 and result.stdout == ""
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "int8" in lines[0]
