"""ONNX models measured with ONNX Runtime: bounded in time and memory, weights generated (and said
so) when an upload comes without its external data, the command line's --runtime onnxruntime."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from calc.errors import SpecError
from calc.onnx_measure import check_memory, measure_source, runnable_model
from calc.onnx_source import source_from_bytes, source_from_path
from calc.sources import source_from_json
from calc.time_bound import TimeBound
from tests.onnx_graphs import graph_model

ROOT = Path(__file__).resolve().parents[1]


def external_matmul(location: str = "weights.bin") -> bytes:
    """y = relu(x[4, 64] · W[64, 32]), W stored outside the file at ``location``."""
    nodes = [helper.make_node("MatMul", ["x", "w"], ["m"]), helper.make_node("Relu", ["m"], ["y"])]
    model = graph_model(nodes, {"x": ("N", 64)})
    tensor = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=(64, 32))
    tensor.data_location = TensorProto.EXTERNAL
    tensor.external_data.add(key="location", value=location)
    model.graph.initializer.append(tensor)
    return model.SerializeToString()


def test_an_upload_without_its_weights_runs_on_generated_ones():
    source = source_from_bytes("upload.onnx", external_matmul())
    report = source.count(batch=4)
    measurement = measure_source(source, report, batch=4, bound=TimeBound.starting_now(30))
    assert measurement.generated_weights
    assert len(measurement.times_s) >= 5
    assert 0 < measurement.min_s <= measurement.median_s <= measurement.max_s
    assert measurement.device == "cpu (onnxruntime)"


def test_weights_beside_the_model_are_loaded(tmp_path):
    weights = np.arange(64 * 32, dtype=np.float32).reshape(64, 32)
    (tmp_path / "weights.bin").write_bytes(weights.tobytes())
    (tmp_path / "model.onnx").write_bytes(external_matmul())
    model, generated = runnable_model(external_matmul(), str(tmp_path))
    assert not generated
    assert np.array_equal(onnx.numpy_helper.to_array(model.graph.initializer[0]), weights)
    source = source_from_path(str(tmp_path / "model.onnx"))
    assert not measure_source(source, source.count(), bound=TimeBound.starting_now(30)).generated_weights


def test_a_forward_past_the_bound_is_refused():
    source = source_from_bytes("upload.onnx", external_matmul())
    with pytest.raises(SpecError, match="does not fit"):
        measure_source(source, source.count(), bound=TimeBound.starting_now(0.0))


def test_the_memory_budget_is_checked_before_anything_runs():
    report = source_from_bytes("upload.onnx", external_matmul()).count(batch=4)
    with pytest.raises(SpecError, match="budget"):
        check_memory(report, report.weight_bytes)  # the activations do not fit beside the weights


def test_only_onnx_sources_run_on_onnx_runtime():
    stack = source_from_json("stack.json", json.dumps({"input": [8], "layers": [{"type": "relu"}]}))
    with pytest.raises(SpecError, match="ONNX files"):
        measure_source(stack, stack.count())


def test_a_precision_other_than_the_files_is_refused():
    source = source_from_bytes("upload.onnx", external_matmul())
    with pytest.raises(SpecError, match="own precision"):
        measure_source(source, source.count(), dtype="fp16")


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "calc", *args], cwd=ROOT, capture_output=True, text=True, timeout=240
    )


def test_cli_latency_with_onnx_runtime(tmp_path):
    path = tmp_path / "upload.onnx"
    path.write_bytes(external_matmul())
    result = run_cli("latency", str(path), "--device", "cpu", "--runtime", "onnxruntime", "--json")
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["source"] == "onnx"
    assert out["runtime"] == "onnxruntime"
    assert out["generated_weights"] is True
    assert out["macs"] == 64 * 32  # batch 1: N fixed at 1
    assert out["measured_median_s"] > 0


def test_an_onnx_source_run_with_torch_points_to_onnx_runtime():
    # what `calc latency FILE.onnx --device cpu` (torch, the default runtime) answers
    with pytest.raises(SpecError, match="--runtime onnxruntime"):
        source_from_bytes("upload.onnx", external_matmul()).module(None)
