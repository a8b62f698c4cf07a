"""The data-flow graph of an ONNX file (calc.onnx_dataflow through calc.source_graph): nodes that did
work, edges joining them with shapes, merges where a residual path joins, its MACs those of the count
at every depth, identical blocks folded ×N, and ``calc graph FILE.onnx`` on the command line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from onnx import helper
from onnx_graphs import exported_resnet18, graph_model

from calc.graph import INPUT_TYPE, collapse, dangling_edges, max_depth, merge_nodes
from calc.graph_fold import fold_repeats
from calc.onnx_dataflow import NOT_COUNTED
from calc.onnx_source import source_from_bytes
from calc.source_graph import source_graph

ROOT = Path(__file__).resolve().parents[1]
C, H = 8, 16  # channels and side of the handmade blocks


def residual_block(block: str, source: str) -> list:
    """conv -> relu -> conv, added to the block's input, then the same ReLU module again (as
    torchvision's BasicBlock calls its relu twice); names written as paths, as torch's older
    exporter writes them."""
    path = f"/{block.split('.')[0]}/{block}"
    return [
        helper.make_node(
            "Conv", [source, f"{block}.w1"], [f"{block}.c1"], name=f"{path}/conv1/Conv", pads=[1] * 4
        ),
        helper.make_node("Relu", [f"{block}.c1"], [f"{block}.r1"], name=f"{path}/relu/Relu"),
        helper.make_node(
            "Conv", [f"{block}.r1", f"{block}.w2"], [f"{block}.c2"], name=f"{path}/conv2/Conv", pads=[1] * 4
        ),
        helper.make_node("Add", [f"{block}.c2", source], [f"{block}.sum"], name=f"{path}/Add"),
        helper.make_node("Relu", [f"{block}.sum"], [f"{block}.out"], name=f"{path}/relu/Relu_1"),
    ]


def resnet_like(blocks: int = 3) -> bytes:
    """A stem conv, ``blocks`` identical residual blocks in a stage, a flatten and a classifier."""
    nodes = [helper.make_node("Conv", ["x", "stem.w"], ["stem"], name="/stem/Conv", pads=[1] * 4)]
    weights = {"stem.w": (C, 3, 3, 3), "fc.w": (C * H * H, 10)}
    source = "stem"
    for index in range(blocks):
        block = f"stage.{index}"
        nodes += residual_block(block, source)
        weights |= {f"{block}.w1": (C, C, 3, 3), f"{block}.w2": (C, C, 3, 3)}
        source = f"{block}.out"
    nodes += [
        helper.make_node("Flatten", [source], ["flat"], name="/Flatten"),
        helper.make_node("MatMul", ["flat", "fc.w"], ["y"], name="/fc/MatMul"),
    ]
    return graph_model(nodes, {"x": ("N", 3, H, H)}, weights).SerializeToString()


def graph_of(data: bytes, **settings):
    source = source_from_bytes("model.onnx", data)
    return source, source.count(**settings), source_graph(source, **settings)


def is_topological(graph) -> bool:
    order = {node.id: index for index, node in enumerate(graph.nodes)}
    return all(order[edge.source] < order[edge.target] for edge in graph.edges)


def test_residual_adds_are_merge_nodes_and_every_edge_joins_nodes():
    _, _, graph = graph_of(resnet_like(3))
    assert [node.type for node in merge_nodes(graph)] == ["Add"] * 3
    assert dangling_edges(graph) == ()
    assert graph.nodes[0].type == INPUT_TYPE and graph.nodes[0].output_shape == (3, H, H)
    assert len(graph.nodes) == 1 + 1 + 3 * 5 + 1  # input, stem, five nodes a block, the classifier


@pytest.mark.parametrize("fold", [pytest.param(False, id="as-is"), pytest.param(True, id="folded")])
def test_node_figures_add_up_to_the_count_at_every_depth(fold):
    _, report, graph = graph_of(resnet_like(3), batch=2)
    graph = fold_repeats(graph) if fold else graph
    for depth in range(1, max_depth(graph) + 1):
        shown = collapse(graph, depth)
        assert shown.macs == report.macs, depth
        assert sum(node.params for node in shown.nodes) == report.params, depth
        assert sum(node.other_ops for node in shown.nodes) == report.other_ops, depth
        assert dangling_edges(shown) == () and is_topological(shown), depth


def test_depth_collapses_by_name_prefix_and_a_module_called_twice_is_two_calls():
    _, _, graph = graph_of(resnet_like(2))
    assert [node.name for node in collapse(graph, 1).nodes] == [
        "x",
        "stem",
        "stage",
        "fc",
    ]  # a Flatten is no node
    blocks = collapse(graph, 2)
    assert [node.name for node in blocks.nodes][2:4] == ["stage.0", "stage.1"]
    assert [node.type for node in merge_nodes(blocks)] == []  # the adds are inside the blocks
    layers = collapse(graph, 3)
    ids = [node.id for node in layers.nodes]
    assert "stage.0.relu" in ids and "stage.0.relu@2" in ids  # no cycle through one relu node
    assert is_topological(layers)


def test_identical_blocks_fold_into_one_node_times_n():
    _, _, graph = graph_of(resnet_like(3))
    folded = collapse(fold_repeats(graph), 2)
    stage = [node for node in folded.nodes if node.name.startswith("stage")]
    assert [(node.name, node.repeat) for node in stage] == [("stage.0", 3)]
    block_macs = 2 * (H * H * C * C * 3 * 3)  # two 3×3 convolutions, C to C channels, H×H outputs
    assert stage[0].macs == 3 * block_macs


def test_a_flatten_joins_its_neighbours_with_the_shape_read():
    _, _, graph = graph_of(resnet_like(1))
    into_fc = [edge for edge in graph.edges if graph.node(edge.target).name == "fc.MatMul"]
    assert [(graph.node(edge.source).type, edge.shape) for edge in into_fc] == [("Relu", (C * H * H,))]


def test_an_op_without_a_rule_is_a_node_not_counted_and_the_flow_goes_through_it():
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"], name="conv"),
        helper.make_node("Hardmax", ["c"], ["h"], name="mystery"),
        helper.make_node("Relu", ["h"], ["y"], name="relu"),
    ]
    data = graph_model(nodes, {"x": (1, 3, H, H)}, {"w": (C, 3, 1, 1)}).SerializeToString()
    _, report, graph = graph_of(data)
    assert report.unsupported == (("Hardmax", 1),)
    mystery = next(node for node in graph.nodes if node.name == "mystery")
    assert mystery.type == "Hardmax" + NOT_COUNTED and mystery.macs == 0
    assert [(edge.source, edge.target) for edge in graph.edges] == [
        ("x", "Conv"),
        ("Conv", "Hardmax"),
        ("Hardmax", "Relu"),
    ]


def test_a_weight_transposed_once_is_the_params_of_the_node_reading_it():
    nodes = [
        helper.make_node("Transpose", ["w"], ["wt"], name="/fc/Transpose", perm=[1, 0]),
        helper.make_node("MatMul", ["x", "wt"], ["y"], name="/fc/MatMul"),
    ]
    data = graph_model(nodes, {"x": (1, 32)}, {"w": (10, 32)}).SerializeToString()
    _, report, graph = graph_of(data)
    assert [(node.name, node.params, node.macs) for node in graph.nodes] == [
        ("x", 0, 0),
        ("fc.MatMul", 10 * 32, 32 * 10),
    ]
    assert report.params == 10 * 32


def test_the_command_line_draws_an_onnx_file(tmp_path):
    path = tmp_path / "resnet_like.onnx"
    path.write_bytes(resnet_like(2))
    result = subprocess.run(
        [sys.executable, "-m", "calc", "graph", str(path), "--format", "json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    graph = json.loads(result.stdout)
    ids = {node["id"] for node in graph["nodes"]}
    assert all(edge["from"] in ids and edge["to"] in ids for edge in graph["edges"])
    _, report, _ = graph_of(resnet_like(2))
    assert sum(node["macs"] for node in graph["nodes"]) == report.macs


@pytest.fixture(scope="module")
def resnet18_onnx() -> bytes:
    return exported_resnet18(64)  # 64×64 pixels keep the export short


def test_an_exported_resnet18_has_its_eight_residual_merges(resnet18_onnx):
    _, report, graph = graph_of(resnet18_onnx)
    assert len(merge_nodes(graph)) == 8  # two BasicBlocks in each of four stages
    assert dangling_edges(graph) == ()
    folded = fold_repeats(graph)
    for depth in range(1, max_depth(folded) + 1):
        assert collapse(folded, depth).macs == report.macs
    stages = collapse(folded, 1)
    assert [node.name for node in stages.nodes if node.name.startswith("layer")] == [
        "layer1",
        "layer2",
        "layer3",
        "layer4",
    ]
    assert {node.type for node in stages.nodes if node.name.startswith("layer")} == {"Sequential"}
    assert collapse(folded, 2).node("layer1.0").repeat == 2  # layer1's two identical blocks, ×2
