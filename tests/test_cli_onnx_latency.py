"""``calc latency FILE.onnx``: theory on a preset from the graph, ONNX Runtime's measurement without
torch's calibrated prediction, and the CUDA provider chosen where onnxruntime has it (said clearly
where it has not)."""

from __future__ import annotations

import json

import onnxruntime
import pytest
from onnx import helper

from calc import calibration_file, disk_cache, onnx_export, torch_calibrate, zoo
from calc.__main__ import main
from calc.errors import SpecError
from calc.onnx_measure import execution_provider, measure_source
from calc.onnx_source import source_from_bytes
from calc.time_bound import TimeBound
from tests.onnx_graphs import graph_model
from tests.test_calibration import calibration_with

HAS_CUDA_PROVIDER = "CUDAExecutionProvider" in onnxruntime.get_available_providers()
RTX_3090_FP32 = 35.6e12  # calc.hardware's preset: FLOP/s
RTX_3090_BYTES_PER_S = 936e9


def matmul_relu() -> bytes:
    """y = relu(x[N, 64] · W[64, 32]), the weights inside the file."""
    nodes = [helper.make_node("MatMul", ["x", "w"], ["m"]), helper.make_node("Relu", ["m"], ["y"])]
    return graph_model(nodes, {"x": ("N", 64)}, {"w": (64, 32)}).SerializeToString()


@pytest.fixture
def model_file(tmp_path):
    path = tmp_path / "tiny.onnx"
    path.write_bytes(matmul_relu())
    return str(path)


@pytest.fixture(scope="module")
def cpu_probe():
    """One short real probe of this CPU for the module: each `latency --device` would probe again."""
    from calc import torch_probe

    return torch_probe.probe("cpu", budget_seconds_per_dtype=0.3)


@pytest.fixture
def probed(cpu_probe, monkeypatch):
    from calc import torch_probe

    monkeypatch.setattr(torch_probe, "probe", lambda *args, **kwargs: cpu_probe)


def run(capsys, *args: str) -> tuple[int, str, str]:
    status = main(["latency", *args])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_a_preset_gives_the_theory_of_the_graph(capsys, model_file):
    status, out, err = run(capsys, model_file, "--hardware", "NVIDIA RTX 3090", "--batch", "4", "--json")
    assert status == 0, err
    result = json.loads(out)
    assert result["source"] == "onnx"
    assert result["macs"] == 4 * 64 * 32
    assert result["theoretical_s"] == pytest.approx(2 * 4 * 64 * 32 / RTX_3090_FP32)
    # MatMul reads x and W and writes m; Relu reads m and writes y: fp32, 4 bytes each
    matmul_bytes = 4 * (4 * 64 + 64 * 32 + 4 * 32)
    relu_bytes = 4 * (4 * 32 + 4 * 32)
    assert result["roofline_s"] == pytest.approx(
        max(2 * 4 * 64 * 32 / RTX_3090_FP32, matmul_bytes / RTX_3090_BYTES_PER_S)
        + relu_bytes / RTX_3090_BYTES_PER_S
    )
    assert "measured_median_s" not in result and "predicted_s" not in result


@pytest.mark.usefixtures("probed")
def test_onnx_runtime_gets_no_prediction_calibrated_on_torch(capsys, model_file, tmp_path, monkeypatch):
    monkeypatch.setenv(disk_cache.CACHE_DIR_ENV, str(tmp_path / "cache"))
    calibration_file.store(calibration_with(fingerprint=torch_calibrate.fingerprint("cpu", "fp32")))
    status, out, err = run(capsys, model_file, "--device", "cpu", "--runtime", "onnxruntime", "--json")
    assert status == 0, err
    result = json.loads(out)
    assert result["runtime"] == "onnxruntime" and result["device"] == "cpu (onnxruntime)"
    assert result["measured_min_s"] <= result["measured_median_s"] <= result["measured_max_s"]
    assert "predicted_s" not in result and "calibration" not in result
    status, out, err = run(capsys, model_file, "--device", "cpu", "--runtime", "onnxruntime")
    assert status == 0, err
    labels = [line.split()[0] for line in out.splitlines()]
    assert "measured" in labels and "predicted" not in labels


@pytest.mark.usefixtures("probed")
def test_a_zoo_model_is_exported_and_measured_with_onnx_runtime(capsys):
    model = "stack: Small CNN (CIFAR-10)"
    status, out, err = run(capsys, model, "--device", "cpu", "--runtime", "onnxruntime", "--json")
    assert status == 0, err
    result = json.loads(out)
    assert result["source"] == "stack" and result["exported_to_onnx"] is True
    assert result["macs"] == zoo.count(model).macs  # the torch count, the export's oracle
    assert result["device"] == "cpu (onnxruntime)" and result["measured_median_s"] > 0
    assert onnx_export.cached(model, None, 1) is not None  # kept for the next time
    status, out, err = run(capsys, model, "--device", "cpu", "--runtime", "onnxruntime", "--dtype", "fp16")
    assert status == 2 and "the ONNX export is fp32" in err and "--dtype" in err


def test_a_calibration_asked_for_an_onnx_file_says_it_predicts_torch(capsys, model_file, tmp_path):
    calibration = calibration_with(fingerprint=torch_calibrate.fingerprint("cpu", "fp32"))
    path = tmp_path / "box.json"
    path.write_text(calibration_file.calibration_to_json(calibration), encoding="utf-8")
    status, out, err = run(capsys, model_file, "--calibration", str(path))
    assert status == 0, err
    predicted = next(line for line in out.splitlines() if line.startswith("predicted"))
    assert "torch's time there, not ONNX Runtime's" in predicted


@pytest.mark.skipif(HAS_CUDA_PROVIDER, reason="this onnxruntime has the CUDA provider")
def test_cuda_asked_of_a_cpu_only_onnxruntime_says_what_to_install(capsys, model_file):
    status, out, err = run(capsys, model_file, "--device", "cuda", "--runtime", "onnxruntime")
    assert status == 2 and not out
    assert "--device" in err and "CUDAExecutionProvider" in err and "onnxruntime-gpu" in err
    assert "CPUExecutionProvider" in err  # what it has


@pytest.mark.parametrize(
    "device, provider, options",
    [
        pytest.param("cpu", "CPUExecutionProvider", {}, id="cpu"),
        pytest.param(
            "cuda",
            "CUDAExecutionProvider",
            {"device_id": 0},
            id="cuda",
            marks=pytest.mark.skipif(not HAS_CUDA_PROVIDER, reason="onnxruntime without CUDA"),
        ),
        pytest.param(
            "cuda:1",
            "CUDAExecutionProvider",
            {"device_id": 1},
            id="cuda-1",
            marks=pytest.mark.skipif(not HAS_CUDA_PROVIDER, reason="onnxruntime without CUDA"),
        ),
    ],
)
def test_the_provider_of_each_device(device, provider, options):
    assert execution_provider(device) == (provider, options)


@pytest.mark.parametrize("device", ["tpu", "cuda:x", "cpu:0:1"])
def test_a_device_onnx_runtime_does_not_know_is_refused(device):
    with pytest.raises(SpecError, match="not a device here"):
        execution_provider(device)


@pytest.mark.skipif(not HAS_CUDA_PROVIDER, reason="this onnxruntime is CPU-only (onnxruntime-gpu absent)")
def test_the_cuda_provider_measures_where_present():
    source = source_from_bytes("tiny.onnx", matmul_relu())
    measurement = measure_source(source, source.count(), device="cuda", bound=TimeBound.starting_now(30))
    assert measurement.device == "cuda (onnxruntime)"
    assert measurement.median_s > 0
