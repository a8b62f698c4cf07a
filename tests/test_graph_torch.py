"""The graph recorded in the counting pass (calc.torch_graph) on real models, with torch's own count
(calc.torch_count.count_module) as the oracle of every node's figures."""

from __future__ import annotations

from functools import cache

import pytest
import torch
from torch import nn

from calc import zoo
from calc.graph import INPUT_TYPE, Graph, collapse, dangling_edges, max_depth, merge_nodes
from calc.graph_fold import fold_repeats
from calc.source_graph import source_graph
from calc.sources import resolve
from calc.torch_count import count_module
from calc.torch_graph import graph_module

RESNET50_BLOCKS = 3 + 4 + 6 + 3
VIT_B_16_LAYERS = 12


@cache
def zoo_graph(name: str) -> Graph:
    return graph_module(zoo.build(name), zoo.input_shape(name))[1]


def in_execution_order(graph: Graph) -> bool:
    order = {node.id: index for index, node in enumerate(graph.nodes)}
    return all(order[edge.source] < order[edge.target] for edge in graph.edges)


@pytest.mark.parametrize(
    "name, merges",
    [
        # each bottleneck's residual add, where its convolutions meet its input (or its downsample)
        pytest.param("resnet50", RESNET50_BLOCKS, id="resnet50"),
        # each encoder block's two residual adds: after attention, after the MLP
        pytest.param("vit_b_16", 2 * VIT_B_16_LAYERS, id="vit_b_16"),
        pytest.param(
            "mobilenet_v2", 10, id="mobilenet_v2"
        ),  # its blocks with a stride of 1 and equal channels
    ],
)
def test_residual_adds_are_where_two_paths_merge(name, merges):
    graph = zoo_graph(name)
    assert len(merge_nodes(graph)) == merges
    assert dangling_edges(graph) == ()
    assert in_execution_order(graph)  # so the graph is acyclic


@pytest.mark.parametrize("name", ["resnet50", "vit_b_16", "mobilenet_v2"])
def test_nodes_add_up_to_the_count_and_edges_join_nodes(name):
    graph = zoo_graph(name)
    report = count_module(zoo.build(name), zoo.input_shape(name))
    assert graph.macs == report.macs
    assert sum(node.other_ops for node in graph.nodes) == report.other_ops
    for depth in range(1, max_depth(graph) + 1):
        for shown in (collapse(graph, depth), collapse(fold_repeats(graph), depth)):
            assert dangling_edges(shown) == ()
            assert shown.macs == report.macs
            assert in_execution_order(shown)


def test_vit_merges_are_the_encoder_blocks_own_adds():
    merges = {node.id for node in merge_nodes(zoo_graph("vit_b_16"))}
    blocks = [f"encoder.layers.encoder_layer_{index}" for index in range(VIT_B_16_LAYERS)]
    assert merges == set(blocks) | {block + "#2" for block in blocks}


@pytest.mark.parametrize(
    "depth, expected",
    [
        pytest.param(1, 11, id="stages"),  # input, conv1, bn1, relu, maxpool, layer1-4, avgpool, fc
        pytest.param(2, 7 + RESNET50_BLOCKS, id="blocks"),
    ],
)
def test_resnet50_collapses_to_stages_and_blocks(depth, expected):
    assert len(collapse(zoo_graph("resnet50"), depth).nodes) == expected


def test_resnet50_folds_each_stages_identical_bottlenecks():
    blocks = collapse(fold_repeats(zoo_graph("resnet50")), 2)
    repeats = {node.id: node.repeat for node in blocks.nodes if node.id.startswith("layer")}
    # each stage: its first block (with the downsample), then the rest as one node ×N
    assert repeats == {
        "layer1.0": 1,
        "layer1.1": 3 - 1,
        "layer2.0": 1,
        "layer2.1": 4 - 1,
        "layer3.0": 1,
        "layer3.1": 6 - 1,
        "layer4.0": 1,
        "layer4.1": 3 - 1,
    }


class SharedActivation(nn.Module):
    """One ReLU module called three times (as torchvision's Bottleneck does), and a residual add."""

    def __init__(self):
        super().__init__()
        self.first, self.second = nn.Linear(4, 4), nn.Linear(4, 4)
        self.act = nn.ReLU()

    def forward(self, x):
        y = self.act(self.second(self.act(self.first(x))))
        return self.act(y + x.flatten(1))


def test_a_module_called_again_is_a_node_per_call():
    report, graph = graph_module(SharedActivation(), (4,))
    ids = [node.id for node in graph.nodes]
    assert ids == ["input", "first", "act", "second", "act@2", "(model)", "act@3"]
    assert {(edge.source, edge.target) for edge in graph.edges} == {
        ("input", "first"),
        ("first", "act"),
        ("act", "second"),
        ("second", "act@2"),
        ("act@2", "(model)"),
        ("input", "(model)"),  # through a flatten, which makes no node
        ("(model)", "act@3"),
    }
    assert graph.macs == report.macs == 2 * 4 * 4


def test_the_token_embedding_is_a_node():
    model = nn.Sequential(nn.Embedding(10, 4), nn.Linear(4, 2))
    tokens = torch.zeros((1, 3), dtype=torch.int64)
    _, graph = graph_module(model, (3,), example_inputs={"input": tokens})
    assert [(edge.source, edge.target, edge.shape) for edge in graph.edges] == [
        ("input", "0", (3,)),
        ("0", "1", (3, 4)),
    ]


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("stack: Worked example: 3x3 conv, RGB in", id="stack-preset"),
        pytest.param("timm:resnet18", id="timm"),
        pytest.param("hf:gpt2", id="hf"),
    ],
)
def test_every_kind_of_source_has_a_graph(text):
    source = resolve(text)
    graph = source_graph(source)
    assert dangling_edges(graph) == ()
    assert graph.macs == source.count().macs
    assert graph.nodes[0].type == INPUT_TYPE


def test_a_transformer_at_block_depth_folds_its_layers():
    graph = collapse(fold_repeats(source_graph(resolve("hf:gpt2"))), 2)
    layers = [node for node in graph.nodes if node.id.startswith("transformer.h.")]
    assert [(node.id, node.repeat) for node in layers] == [("transformer.h.0", 12)]
