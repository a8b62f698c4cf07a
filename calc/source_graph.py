"""The graph of any calc.sources Source: one way per kind of source, in one table.

Torch-free until a torch model's graph is asked for (calc.torch_graph records it in a counting
pass); an ONNX file's is read from its own graph (calc.onnx_dataflow). The Source is counted
first, so a refused input (a resolution the model does not take, too many tokens) is refused with
the count's own message; a stack's graph is its count's chain.
"""

from __future__ import annotations

from collections.abc import Callable

from calc.analyze import Report
from calc.errors import SpecError
from calc.graph import Graph, chain
from calc.sources import DEFAULT_SEQ_LEN, Source


def _torchvision(source: Source, report: Report, resolution: int | None, seq_len: int | None) -> Graph:
    from calc.torch_graph import torchvision_graph

    return torchvision_graph(source.target, report.input_shape, report.batch, report.dtype)


def _timm(source: Source, report: Report, resolution: int | None, seq_len: int | None) -> Graph:
    from calc.torch_graph import timm_graph

    return timm_graph(source.target, report.input_shape, report.batch, report.dtype)


def _hf(source: Source, report: Report, resolution: int | None, seq_len: int | None) -> Graph:
    from calc.torch_graph import hf_graph

    tokens = report.input_shape[0] if len(report.input_shape) == 1 else seq_len or DEFAULT_SEQ_LEN
    target = source.config if source.config is not None else source.target
    return hf_graph(target, tokens, report.batch, report.dtype)


def _stack(source: Source, report: Report, resolution: int | None, seq_len: int | None) -> Graph:
    return chain(report)


def _onnx(source: Source, report: Report, resolution: int | None, seq_len: int | None) -> Graph:
    from calc.onnx_dataflow import onnx_dataflow
    from calc.onnx_source import load

    return onnx_dataflow(load(source, resolution, seq_len, report.batch), report.dtype)


# a kind of calc.sources.KINDS -> its graph, from the Source, its Report, the resolution and tokens asked
GRAPHS: dict[str, Callable[[Source, Report, int | None, int | None], Graph]] = {
    "torchvision": _torchvision,
    "timm": _timm,
    "hf": _hf,
    "stack": _stack,
    "onnx": _onnx,
}


def source_graph(
    source: Source,
    resolution: int | None = None,
    seq_len: int | None = None,
    batch: int | None = None,
    dtype: str | None = None,
) -> Graph:
    """The data-flow graph of ``source``, its nodes at their finest (calc.graph.collapse and
    calc.graph_fold.fold_repeats make it coarser)."""
    graph_of = GRAPHS.get(source.kind)
    if graph_of is None:
        raise SpecError(f"{source.name}: no graph is drawn for {source.kind} sources yet", field="SOURCE")
    return graph_of(source, source.count(resolution, seq_len, batch, dtype), resolution, seq_len)


__all__ = ["GRAPHS", "source_graph"]
