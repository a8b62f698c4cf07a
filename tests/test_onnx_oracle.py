"""torchvision models exported with torch.onnx.export(dynamo=True) count, from their graph, the MACs
the torch counter finds (within 0.5 %); the command line counts the same file. A sample here (exports
are slow: each once per session); all 80 in benchmarks/bench_onnx.py."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from calc.sources import resolve

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ("resnet18", "vit_b_32")  # convolutions; attention (depthwise ones: the benchmark, per-op tests)


@pytest.fixture(scope="session")
def exported(tmp_path_factory):
    """name -> the path of its ONNX export, made once per session."""
    folder = tmp_path_factory.mktemp("onnx-exports")
    paths: dict[str, Path] = {}

    def export(name: str) -> Path:
        if name not in paths:
            import torch
            import torchvision

            model = torchvision.models.get_model(name).eval()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                program = torch.onnx.export(model, (torch.zeros(1, 3, 224, 224),), dynamo=True, verbose=False)
            paths[name] = folder / f"{name}.onnx"
            program.save(str(paths[name]))
        return paths[name]

    return export


@pytest.mark.parametrize("name", SAMPLE)
def test_onnx_macs_agree_with_the_torch_count(exported, name):
    graph = resolve(str(exported(name))).count()
    torch_count = resolve(name).count()
    assert graph.unsupported == ()
    assert graph.macs == pytest.approx(torch_count.macs, rel=0.005)
    # exporters fold BatchNorm into the convolution: its scale, shift and statistics leave the params
    assert graph.params <= torch_count.params


def test_cli_counts_an_onnx_file_as_json(exported):
    path = exported("resnet18")
    result = subprocess.run(
        [sys.executable, "-m", "calc", "count", str(path), "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    (entry,) = json.loads(result.stdout)
    assert entry["source"] == "onnx"
    assert entry["model"] == str(path)
    assert entry["macs"] == resolve(str(path)).count().macs
    assert entry["layers"][0]["type"] == "Conv"
    assert entry["layers"][0]["name"].startswith("bn1.")  # BatchNorm folded in: the exporter's scope


def test_cli_refuses_a_batch_the_graph_does_not_take(exported):
    result = subprocess.run(
        [sys.executable, "-m", "calc", "count", str(exported("resnet18")), "--batch", "2"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert "fixed at batch 1" in result.stderr
