"""ONNX counting against the torch count, and against onnx-tool and onnx-opcounter, on torchvision.

    python benchmarks/bench_onnx.py [--models resnet18,vit_b_16] [--exports DIR]

Each classifier is exported with torch.onnx.export(dynamo=True) at its native resolution (slow: the
files are kept in DIR, default artifacts/onnx-exports, and reused), then counted from its graph by
calc (``calc count FILE.onnx``), and by the peers when they are installed (pip install onnx-tool==1.0.1
onnx-opcounter; neither is a requirement of MACscope). Printed per model: MACs of the torch count, the
ONNX count's relative difference (target: within 0.5 %), params (ONNX's lack the BatchNorm folded into
convolutions), unsupported ops, and seconds per count. Timings on a shared machine are disturbed.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import statistics
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from calc import zoo
from calc.errors import SpecError
from calc.onnx_graph import MAX_ONNX_BYTES
from calc.sources import resolve

TOLERANCE = 0.005


def export(name: str, folder: Path) -> Path:
    path = folder / f"{name}.onnx"
    if not path.exists():
        import torch
        from torchvision.models import get_model

        # as calc.zoo builds it (the same arguments), with real random weights the exporter can trace
        model = get_model(name, weights=None, **zoo.BUILD_ARGUMENTS.get(name, {})).eval()
        shape = zoo.model_info(name).input_shape
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            program = torch.onnx.export(model, (torch.zeros(1, *shape),), dynamo=True, verbose=False)
        # weights past calc's limit on one file go beside it, as exporters do past protobuf's 2 GB
        weight_bytes = 4 * sum(parameter.numel() for parameter in model.parameters())
        program.save(str(path), external_data=weight_bytes > MAX_ONNX_BYTES // 2)
    return path


def onnx_tool_macs(path: Path) -> tuple[int | None, float]:
    try:
        import onnx_tool
    except ImportError:
        return None, 0.0
    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        model = onnx_tool.Model(str(path))
        model.graph.shape_infer()
        model.graph.profile()
    return int(model.graph.macs[0]), time.perf_counter() - start


def onnx_opcounter_macs(path: Path) -> tuple[int | None, float]:
    try:
        import onnx
        import onnx_opcounter
    except ImportError:
        return None, 0.0
    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        macs = onnx_opcounter.calculate_macs(onnx.load(str(path), load_external_data=False))
    return int(macs), time.perf_counter() - start


def difference(macs: int | None, reference: int) -> str:
    return "-" if macs is None else f"{100 * (macs - reference) / reference:+.2f}%"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", help="comma-separated torchvision names (default: all 80)")
    parser.add_argument("--exports", default="artifacts/onnx-exports", help="where exports are kept")
    args = parser.parse_args()
    names = args.models.split(",") if args.models else list(zoo.list_models("torchvision"))
    folder = Path(args.exports)
    folder.mkdir(parents=True, exist_ok=True)
    header = f"{'model':28} {'torch MACs':>15} {'calc onnx':>9} {'onnx-tool':>9} {'opcounter':>9} "
    print(header + f"{'params torch/onnx':>23} {'s calc':>7} {'s tool':>7} {'s opc':>7}  unsupported")
    agree = 0
    seconds: list[float] = []
    for name in names:
        path = export(name, folder)
        reference = resolve(name).count()
        start = time.perf_counter()
        try:
            graph = resolve(str(path)).count()
        except SpecError as error:  # a refusal is a finding: printed, the other models still run
            print(f"{name:28} {reference.macs:>15,} refused: {error}", flush=True)
            continue
        seconds.append(time.perf_counter() - start)
        tool, tool_seconds = onnx_tool_macs(path)
        opcounter, opcounter_seconds = onnx_opcounter_macs(path)
        within = abs(graph.macs - reference.macs) <= TOLERANCE * reference.macs
        agree += within
        print(
            f"{name:28} {reference.macs:>15,} {difference(graph.macs, reference.macs):>9} "
            f"{difference(tool, reference.macs):>9} {difference(opcounter, reference.macs):>9} "
            f"{reference.params:>11,}/{graph.params:>11,} {seconds[-1]:>7.2f} {tool_seconds:>7.2f} "
            f"{opcounter_seconds:>7.2f}  {dict(graph.unsupported) or ''}",
            flush=True,
        )
    print(
        f"\n{agree} of {len(names)} within {TOLERANCE:.1%} of the torch count; calc counted them in "
        f"{sum(seconds):.1f} s (median {statistics.median(seconds or [0.0]):.2f} s per model)"
    )
    return 0 if agree == len(names) else 1


if __name__ == "__main__":
    raise SystemExit(main())
