"""Counting the whole torchvision zoo: MACscope's counter against bare FlopCounterMode.

    python benchmarks/bench_zoo.py

Both build each model the same way (parameters on meta) and run one meta forward at
its native resolution; MACscope also attributes every op to its module, counts other
ops and lists unsupported ones. Targets: <= 1.5x FlopCounterMode's time, < 60 s for
the 80 models on this machine. "Warm" is a second pass over already-built models.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch
from torch.utils.flop_counter import FlopCounterMode

from calc import zoo
from calc.torch_count import count_module


def main() -> int:
    names = zoo.list_models("torchvision")
    models = {}
    start = time.perf_counter()
    for name in names:
        models[name] = zoo.build(name)
    build_seconds = time.perf_counter() - start

    def ours() -> None:
        for name in names:
            count_module(models[name], zoo.model_info(name).input_shape, device="meta")

    def bare() -> None:
        for name in names:
            with FlopCounterMode(display=False), torch.no_grad():
                models[name](torch.empty((1, *zoo.model_info(name).input_shape), device="meta"))

    timings = {}
    # the first pass pays one-off costs (dispatch caches, lazy imports): time each after
    # the other has run once, and report both passes of both
    for label, run in (
        ("FlopCounterMode (bare), first pass", bare),
        ("MACscope count_module", ours),
        ("FlopCounterMode (bare)", bare),
        ("MACscope count_module, second pass", ours),
    ):
        start = time.perf_counter()
        run()
        timings[label] = time.perf_counter() - start
    ratio = timings["MACscope count_module"] / timings["FlopCounterMode (bare)"]
    total = build_seconds + timings["MACscope count_module"]
    print(f"{len(names)} torchvision models, meta device, native resolution")
    print(f"  building all models (params on meta)   {build_seconds:7.2f} s")
    for label, seconds in timings.items():
        print(f"  {label:37s}  {seconds:7.2f} s")
    print(
        f"  ratio MACscope / bare                  {ratio:7.2f} x   target <= 1.5 x  "
        f"{'PASS' if ratio <= 1.5 else 'FAIL'}"
    )
    print(
        f"  cold total (build + count)             {total:7.2f} s   target < 60 s    "
        f"{'PASS' if total < 60 else 'FAIL'}"
    )
    return 0 if ratio <= 1.5 and total < 60 else 1


if __name__ == "__main__":
    sys.exit(main())
