"""``python -m calc graph SOURCE [--depth D] [--fold] [--format dot|json]``, run in this process."""

from __future__ import annotations

import json

import pytest

from calc import zoo
from calc.cli import main
from calc.torch_graph import graph_module


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    """``python -m calc graph ARGS`` in this process (a subprocess would import torch again)."""
    status = main(["graph", *args])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_cli_prints_the_json_contract_at_layer_depth(capsys):
    status, out, err = run_cli(capsys, "resnet50")
    assert status == 0, err
    data = json.loads(out)
    ids = {node["id"] for node in data["nodes"]}
    assert len(data["nodes"]) == len(graph_module(zoo.build("resnet50"), (3, 224, 224))[1].nodes)
    assert all(edge["from"] in ids and edge["to"] in ids for edge in data["edges"])
    assert {"id", "name", "type", "macs", "output_shape"} <= set(data["nodes"][1])


def test_cli_prints_dot_at_a_depth(capsys):
    status, out, err = run_cli(capsys, "resnet50", "--depth", "2", "--fold", "--format", "dot")
    assert status == 0, err
    assert out.startswith("digraph") and "Bottleneck ×5" in out


@pytest.mark.parametrize(
    "args, message",
    [
        pytest.param(("resnet50", "--depth", "0"), "--depth", id="depth-zero"),
        pytest.param(("no_such_model",), "no model or file named", id="unknown-source"),
    ],
)
def test_cli_refuses_bad_input(capsys, args, message):
    status, _, err = run_cli(capsys, *args)
    assert status == 2 and message in err
