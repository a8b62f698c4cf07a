"""calc.graph's torch-free logic on small graphs written out by hand: collapse by depth, ×N folding,
the heaviest path, merge nodes, and the DOT text."""

from __future__ import annotations

import itertools

import pytest

from calc.analyze import analyze
from calc.graph import (
    INPUT_TYPE,
    Call,
    Edge,
    Graph,
    Node,
    chain,
    collapse,
    dangling_edges,
    graph_to_json,
    heaviest_path,
    max_depth,
    merge_nodes,
)
from calc.graph_dot import STUB_SPAN, quoted, stubbed_edges, to_dot
from calc.graph_fold import fold_repeats
from calc.presets import preset

SHAPE = (8, 4, 4)


def leaf(node_id: str, scope: tuple[str, ...], macs: int = 10, kind: str = "Conv2d") -> Node:
    return Node(node_id, node_id, kind, macs, SHAPE, scope=(*scope, node_id))


def residual_block(stage: str, index: int, conv_macs: int = 10) -> tuple[list[Node], list[Edge], str, str]:
    """conv -> norm -> the block's own add (of the block's input and the second conv): its nodes, inner
    edges, entry node and exit node; the block's input edges are the caller's."""
    block = f"{stage}.{index}"
    scope = (stage, block)
    first, second = leaf(f"{block}.conv", scope, conv_macs), leaf(f"{block}.norm", scope, 0, "Norm")
    add = Node(block, block, "Block", 0, SHAPE, other_ops=128, scope=scope, ops=("add",))
    edges = [Edge(first.id, second.id, SHAPE), Edge(second.id, add.id, SHAPE)]
    return [first, second, add], edges, first.id, add.id


def residual_net(blocks: int = 3, first_macs: int = 20, skip: bool = False, shared: bool = False) -> Graph:
    """input -> stem -> stage "layer1" of ``blocks`` residual blocks (the first with ``first_macs``
    per conv) -> head. ``skip``: the first block also feeds the last one's add (a U-Net's skip);
    ``shared``: a "rotary" node after the stem feeds every block's first conv (a transformer's
    position embedding)."""
    nodes = [Node("input", "input", INPUT_TYPE, 0, SHAPE), leaf("stem", ())]
    edges = [Edge("input", "stem", SHAPE)]
    if shared:
        nodes.append(leaf("rotary", (), 0, "Rotary"))
        edges.append(Edge("stem", "rotary", SHAPE))
    calls = [Call("layer1", "layer1", "Sequential", SHAPE)]
    previous, exits = "stem", []
    for index in range(blocks):
        block_nodes, block_edges, entry, exit_id = residual_block(
            "layer1", index, first_macs if index == 0 else 10
        )
        nodes += block_nodes
        edges += [*block_edges, Edge(previous, entry, SHAPE), Edge(previous, exit_id, SHAPE)]
        if shared:
            edges.append(Edge("rotary", entry, SHAPE))
        calls.append(Call(f"layer1.{index}", f"layer1.{index}", "Block", SHAPE))
        previous = exit_id
        exits.append(exit_id)
    if skip:
        edges.append(Edge(exits[0], exits[-1], SHAPE))
    nodes.append(leaf("head", (), 5, "Linear"))
    edges.append(Edge(previous, "head", SHAPE))
    return Graph(tuple(nodes), tuple(edges), tuple(calls))


@pytest.mark.parametrize(
    "depth, expected_ids",
    [
        pytest.param(1, ["input", "stem", "layer1", "head"], id="stages"),
        pytest.param(2, ["input", "stem", "layer1.0", "layer1.1", "layer1.2", "head"], id="blocks"),
        pytest.param(
            3,
            ["input", "stem"]
            + [f"layer1.{i}{part}" for i in range(3) for part in (".conv", ".norm", "")]
            + ["head"],
            id="layers",
        ),
        pytest.param(9, None, id="deeper-than-the-graph-changes-nothing"),
    ],
)
def test_collapse_merges_each_node_into_its_call_at_the_depth(depth, expected_ids):
    graph = residual_net()
    collapsed = collapse(graph, depth)
    if expected_ids is None:
        assert collapsed.nodes == graph.nodes and set(collapsed.edges) == set(graph.edges)
        return
    assert [node.id for node in collapsed.nodes] == expected_ids
    assert collapsed.macs == graph.macs == 20 + 2 * 10 + 10 + 5
    assert dangling_edges(collapsed) == ()
    assert all(edge.source != edge.target for edge in collapsed.edges)


def test_a_collapsed_call_is_named_and_typed_after_it():
    stage = collapse(residual_net(), 1).node("layer1")
    assert (stage.name, stage.type, stage.output_shape) == ("layer1", "Sequential", SHAPE)
    assert stage.other_ops == 3 * 128


def test_max_depth_is_the_longest_scope():
    assert max_depth(residual_net()) == 3
    assert max_depth(collapse(residual_net(), 2)) == 2


@pytest.mark.parametrize(
    "graph, depth, expected",
    [
        # the first block differs (heavier convs): the next two fold into one ×2
        pytest.param(
            residual_net(3), 2, [("layer1.0", 1), ("layer1.1", 2)], id="identical-blocks-after-the-first"
        ),
        pytest.param(residual_net(5, first_macs=10), 2, [("layer1.0", 5)], id="all-blocks-identical"),
        pytest.param(residual_net(2), 2, [("layer1.0", 1), ("layer1.1", 1)], id="nothing-to-fold"),
        pytest.param(
            residual_net(4, skip=True),
            2,
            [("layer1.0", 1), ("layer1.1", 2), ("layer1.3", 1)],
            id="a-skip-edge-stops-the-run",
        ),
        pytest.param(
            residual_net(4, first_macs=10, shared=True),
            2,
            [("layer1.0", 4)],
            id="a-shared-outside-input-folds",
        ),
        # at layer depth the kept block's layers are each marked ×N
        pytest.param(
            residual_net(3),
            3,
            [(f"layer1.0{part}", 1) for part in (".conv", ".norm", "")]
            + [(f"layer1.1{part}", 2) for part in (".conv", ".norm", "")],
            id="layers-of-a-folded-block",
        ),
    ],
)
def test_fold_repeats_folds_runs_of_identical_chained_blocks(graph, depth, expected):
    folded = collapse(fold_repeats(graph), depth)
    blocks = [(node.id, node.repeat) for node in folded.nodes if node.id.startswith("layer1")]
    assert blocks == expected
    assert folded.macs == graph.macs  # a folded node carries its run's totals
    assert dangling_edges(folded) == ()


def test_a_folded_run_keeps_its_edges_in_and_out():
    folded = collapse(fold_repeats(residual_net(3)), 2)
    sources = folded.predecessors()
    assert sources["layer1.1"] == ["layer1.0"]
    assert sources["head"] == ["layer1.1"]  # the last block's way out now leaves from the first


def test_a_stage_holding_a_folded_run_is_one_instance():
    stage = collapse(fold_repeats(residual_net(3)), 1).node("layer1")
    assert stage.repeat == 1


def test_a_chain_of_identical_layers_folds_into_one():
    layers = [leaf(str(index), (), 7, "Linear") for index in range(1000)]
    nodes = (Node("input", "input", INPUT_TYPE, 0, SHAPE), *layers)
    edges = tuple(Edge(a.id, b.id, SHAPE) for a, b in itertools.pairwise(nodes))
    folded = fold_repeats(Graph(nodes, edges))
    assert [(node.id, node.repeat, node.macs) for node in folded.nodes] == [
        ("input", 1, 0),
        ("0", 1000, 1000 * 7),
    ]
    assert folded.edges == (Edge("input", "0", SHAPE),)


@pytest.mark.parametrize(
    "graph, expected",
    [
        pytest.param(residual_net(3), ["layer1.0", "layer1.1", "layer1.2"], id="each-residual-add"),
        pytest.param(collapse(residual_net(3), 2), [], id="blocks-are-a-chain"),
    ],
)
def test_merge_nodes_are_where_two_paths_meet(graph, expected):
    assert [node.id for node in merge_nodes(graph)] == expected


def test_heaviest_path_takes_the_branch_with_more_macs():
    # a diamond: input -> split -> (light | heavy) -> join
    nodes = (
        Node("input", "input", INPUT_TYPE, 0, SHAPE),
        leaf("split", (), 1),
        leaf("light", (), 2),
        leaf("heavy", (), 30),
        leaf("join", (), 1),
    )
    edges = tuple(
        Edge(a, b, SHAPE)
        for a, b in (
            ("input", "split"),
            ("split", "light"),
            ("split", "heavy"),
            ("light", "join"),
            ("heavy", "join"),
        )
    )
    assert heaviest_path(Graph(nodes, edges)) == ("input", "split", "heavy", "join")


def test_a_stack_is_a_chain_from_its_input():
    report = analyze(
        __import__("calc.spec", fromlist=["parse_stack"]).parse_stack(
            preset("Worked example: 3x3 conv, RGB in").stack
        )
    )
    graph = chain(report)
    assert [node.id for node in graph.nodes] == ["input"] + [row.name for row in report.rows]
    assert [(edge.source, edge.target) for edge in graph.edges] == list(
        zip([node.id for node in graph.nodes], [node.id for node in graph.nodes[1:]], strict=False)
    )
    assert graph.macs == report.macs


def test_json_has_the_contract_fields():
    data = graph_to_json(collapse(fold_repeats(residual_net(3)), 2))
    assert set(data) == {"nodes", "edges"}
    assert {"id", "name", "type", "macs", "output_shape"} <= set(data["nodes"][0])
    assert set(data["edges"][0]) == {"from", "to", "shape"}
    assert next(node for node in data["nodes"] if node["id"] == "layer1.1")["repeat"] == 2


@pytest.mark.parametrize(
    "text, expected",
    [
        pytest.param('a"b', '"a\\"b"', id="quote"),
        pytest.param("a\\b", '"a\\\\b"', id="backslash"),
        pytest.param("a\nb", '"a\\nb"', id="newline"),
    ],
)
def test_dot_strings_are_quoted(text, expected):
    assert quoted(text) == expected


def test_dot_draws_every_node_and_edge_and_the_path_thick():
    graph = collapse(fold_repeats(residual_net(3)), 2)
    path = heaviest_path(graph)
    dot = to_dot(graph, path=path)
    assert dot.startswith("digraph") and dot.rstrip().endswith("}")
    assert sum(" -> " in line for line in dot.splitlines()) == len(graph.edges)
    assert sum("penwidth=3" in line for line in dot.splitlines()) == len(path)
    assert "Block ×2" in dot


@pytest.mark.parametrize(
    "pattern, count, expected",
    [
        # (kind, MACs) per layer of the repeated group; expected: (kind, ×N) after the input
        pytest.param([("Linear", 7)], 1000, [("Linear", 1000)], id="one-layer-repeated"),
        pytest.param([("Linear", 7), ("ReLU", 0)], 500, [("Linear", 500), ("ReLU", 500)], id="pairs"),
        pytest.param(
            [("Conv2d", 9), ("Norm", 0), ("ReLU", 0)],
            4,
            [("Conv2d", 4), ("Norm", 4), ("ReLU", 4)],
            id="conv-norm-activation",
        ),
        pytest.param([("Linear", 7), ("Linear", 8)], 1, [("Linear", 1), ("Linear", 1)], id="no-repeat"),
    ],
)
def test_a_chain_folds_its_repeated_groups_of_layers(pattern, count, expected):
    layers = [
        leaf(str(index), (), macs, kind)
        for index, (kind, macs) in enumerate(
            pattern[position % len(pattern)] for position in range(len(pattern) * count)
        )
    ]
    nodes = (Node("input", "input", INPUT_TYPE, 0, SHAPE), *layers)
    graph = Graph(nodes, tuple(Edge(a.id, b.id, SHAPE) for a, b in itertools.pairwise(nodes)))
    folded = fold_repeats(graph)
    assert [(node.type, node.repeat) for node in folded.nodes[1:]] == expected
    assert folded.macs == graph.macs == count * sum(macs for _, macs in pattern)
    assert [(edge.source, edge.target) for edge in folded.edges] == list(
        itertools.pairwise(node.id for node in folded.nodes)
    )


def test_long_edges_from_a_node_feeding_many_are_stubs():
    # ranks: input 0, stem 1, rotary 2, layer1.0 3, ... layer1.5 8: rotary's edges past STUB_SPAN ranks
    graph = collapse(residual_net(6, first_macs=10, shared=True), 2)
    expected = {("rotary", f"layer1.{index}") for index in range(6) if 3 + index - 2 > STUB_SPAN}
    assert (
        stubbed_edges(graph)
        == expected
        == {("rotary", "layer1.3"), ("rotary", "layer1.4"), ("rotary", "layer1.5")}
    )
    dot = to_dot(graph)
    assert dot.count('label="from rotary"') == len(expected)
    assert dot.count(" -> ") == len(graph.edges)
