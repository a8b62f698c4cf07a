"""The command line's graph command: a source's data-flow graph as JSON or Graphviz DOT."""

from __future__ import annotations

import argparse
import json

from calc.cli.arguments import check_batch_and_resolution, check_seq_len, read_source
from calc.errors import SpecError
from calc.graph import collapse, graph_to_json, heaviest_path, max_depth
from calc.graph_dot import to_dot
from calc.graph_fold import fold_repeats
from calc.source_graph import source_graph
from calc.sources import DEFAULT_SEQ_LEN


def _graph(args: argparse.Namespace) -> int:
    check_batch_and_resolution(args.batch, args.resolution)
    check_seq_len(args.seq_len)
    if args.depth is not None and args.depth < 1:
        raise SpecError(f"must be 1 or more, got {args.depth}", field="--depth")
    source = read_source(args.source)
    graph = source_graph(source, args.resolution, args.seq_len, args.batch)
    if args.fold:
        graph = fold_repeats(graph)
    if args.depth is not None and args.depth < max_depth(graph):
        graph = collapse(graph, args.depth)
    if args.format == "dot":
        print(to_dot(graph, path=heaviest_path(graph), title=source.name), end="")
    else:
        print(json.dumps(graph_to_json(graph), indent=2))
    return 0


def add_commands(commands) -> None:
    graph = commands.add_parser(
        "graph",
        help="the data-flow graph of a model: modules that did work, the tensors between them",
        description="Nodes are modules that did work (a module's own work between its children's "
        "calls, such as a residual add, is a node of its own); edges are the tensors between them. "
        "JSON: {nodes: [{id, name, type, macs, output_shape, repeat, other_ops, params}], "
        "edges: [{from, to, shape}]}; shapes are one sample's.",
    )
    graph.add_argument(
        "source",
        metavar="SOURCE",
        help="a zoo name (resnet50), timm:NAME, hf:NAME, or a stack or config.json file",
    )
    graph.add_argument(
        "--depth",
        type=int,
        help="merge modules into their ancestor at this depth (1: the model's children, such as "
        "ResNet's stages; 2: blocks; ...); default: every layer",
    )
    graph.add_argument(
        "--fold", action="store_true", help="fold runs of identical blocks into one node marked ×N"
    )
    graph.add_argument("--format", choices=("json", "dot"), default="json")
    graph.add_argument("--resolution", type=int, help="input height and width (default: the model's native)")
    graph.add_argument(
        "--seq-len", type=int, help=f"tokens of a text model's input (default {DEFAULT_SEQ_LEN})"
    )
    graph.add_argument("--batch", type=int, help="default: a stack file's own, else 1")
    graph.set_defaults(run=_graph)
