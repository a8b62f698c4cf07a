"""Where a model's calibrated prediction goes wrong, per kind of work, at N threads.

Run from the repository root on a quiet machine:
``python benchmarks/bench_threads.py --threads 2 shufflenet_v2_x1_0 mobilenet_v3_large``
(``--calibration FILE`` for a calibration exported with ``calc calibrate --json``, else the one
stored for this machine and thread count, made if there is none).

For each model it prints, per kind of work, three sums over the model's layers:

- predicted   calc.calibration.predict, the calibrated time of each layer
- in rounds   the model's own layers timed as the calibration times its micro-benchmarks
              (calc.torch_rounds: in rounds over groups of NEIGHBOURS layers, each layer's input
              written just before it, its median round), in network order
- profiled    the profiler's time inside each layer during whole forwards (calc.torch_measure)

and the forward's median (calc.torch_measure.measure), then the layers whose profiled time is
furthest above their prediction. It tells apart the two ways a prediction can miss:
predicted < in rounds ≈ profiled: the calibration's grid or fit does not cover these layers
(their shapes attain less than the grid's ops of the same size); predicted ≈ in rounds <
profiled: layers run slower inside a network than one by one (what the rounds do not
reproduce: caches, threads, the data left by the layer before).

Issue 16's held-out benchmark at 2 threads (a quiet run): every model under-predicted,
shufflenet_v2_x1_0 by 42 %, while at 1 thread all 24 were within ±25 %. What changes with the
threads (seen on this machine, AVX-512, with another program busy on one of its 2 cores, so
times are lower bounds; counts do not depend on the load):
- aten sends a batch-1, stride-1 1×1 convolution of more than 20480 input elements to oneDNN
  only when it has more than one thread ("MKLDNN is faster than THNN when multi-threaded");
  at 1 thread it runs the native GEMM path. shufflenet_v2_x1_0 runs 20 oneDNN convolutions per
  forward at 1 thread and 47 at 2 (mobilenet_v3_large 16 and 39, resnet50 20 and 53).
- each oneDNN convolution of an NCHW model reorders its input to the blocked layout and its
  output back, and its weights, at every call: shufflenet's activation reorders move 6.5 MB per
  forward at 1 thread and 14.4 MB at 2. Channel counts that are not a multiple of 16 (58, 116,
  232; mobilenet_v3's 40, 72, 120, 200, 184) take oneDNN's padded reorder ("jit:uni"), about
  10 GB/s against 30-50 GB/s for the blocked one: 58→58 1×1 at 28×28 spent 29.8 µs in the
  convolution and 39 µs in reorders, 64→64 29.8 µs and 11.7 µs. The calibration grid's
  depthwise convolutions all have multiples of 16 and its oneDNN-path pointwise ones all but
  one output (96→24), so it hardly times a padded reorder.
- a 58→58 1×1 convolution at 28×28 took 66 µs at 1 thread and 125 µs at 2 (64→64: 77 and
  97 µs), the calibration predicting 67 µs at 2 threads; while a chain of 65536-element
  in-place adds cost 4.6 µs an op at 2 threads and 4.9 at 1: OpenMP's fork and join is not
  the missing time.
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

NEIGHBOURS = 8  # as calc.torch_calibrate's groups
ROUNDS = 25
WORST_LAYERS = 10


def leaf_layers(model, report, input_shape):
    """The model's modules that are rows of ``report`` and have no children, in the order the
    forward calls them, with the shape of their input (one sample)."""
    import torch

    rows = {row.name for row in report.rows}
    called: list[tuple[str, object, tuple[int, ...]]] = []
    handles = []
    for name, module in model.named_modules():
        if name in rows and not list(module.children()):

            def record(module, args, name=name):
                if args and isinstance(args[0], torch.Tensor):
                    called.append((name, module, tuple(args[0].shape[1:])))

            handles.append(module.register_forward_pre_hook(record))
    try:
        with torch.inference_mode():
            model(torch.randn(1, *input_shape))
    finally:
        for handle in handles:
            handle.remove()
    seen: set[str] = set()
    return [(name, module, shape) for name, module, shape in called if not (name in seen or seen.add(name))]


def in_rounds(layers) -> dict[str, float]:
    """Each layer's median round, timed among its NEIGHBOURS neighbours in network order."""
    from calc.time_bound import TimeBound
    from calc.torch_rounds import time_in_rounds

    seconds: dict[str, float] = {}
    for start in range(0, len(layers), NEIGHBOURS):
        group = layers[start : start + NEIGHBOURS]
        timing = time_in_rounds(
            [module for _, module, _ in group],
            [shape for _, _, shape in group],
            "cpu",
            "fp32",
            TimeBound.starting_now(10.0),
            max_rounds=ROUNDS,
        )
        for (name, _, _), median in zip(group, timing.median_s, strict=True):
            if median is not None:
                seconds[name] = median
    return seconds


def compare(name: str, calibration) -> str:
    from calc import zoo
    from calc.calibration import predict
    from calc.torch_measure import measure, prepare, profile_layers

    report = zoo.count(name)
    model = prepare(zoo.module(name), "cpu", "fp32")
    predicted = {layer.row.name: layer for layer in predict(report, calibration).layers}
    layers = leaf_layers(model, report, report.input_shape)
    rounds = in_rounds(layers)
    profiled = profile_layers(model, report, report.input_shape, 1, "fp32", forwards=20, warmup=3).seconds
    forward = measure(model, report.input_shape, 1, "fp32", min_run_time=1.0, max_seconds=30.0)
    by_kind: dict[str, list[float]] = defaultdict(lambda: [0, 0.0, 0.0, 0.0])
    for layer_name in rounds:
        layer = predicted[layer_name]
        sums = by_kind[layer.work or "nothing priced"]
        sums[0] += 1
        sums[1] += layer.seconds
        sums[2] += rounds[layer_name]
        sums[3] += profiled.get(layer_name, 0.0)
    lines = [
        (
            f"{name}: forward median {forward.median_s * 1e3:.2f} ms{' *' if forward.disturbed else ''}, "
            f"predicted {sum(layer.seconds for layer in predicted.values()) * 1e3:.2f} ms; "
            f"{len(rounds)} leaf layers timed:"
        ),
        f"  {'kind of work':<40}{'layers':>7}{'predicted ms':>14}{'in rounds ms':>14}{'profiled ms':>13}",
    ]
    for kind, (count, sum_predicted, sum_rounds, sum_profiled) in sorted(
        by_kind.items(), key=lambda item: -item[1][3]
    ):
        lines.append(
            f"  {kind:<40}{count:>7}{sum_predicted * 1e3:>14.2f}{sum_rounds * 1e3:>14.2f}"
            f"{sum_profiled * 1e3:>13.2f}"
        )
    worst = sorted(rounds, key=lambda n: predicted[n].seconds - profiled.get(n, 0.0))[:WORST_LAYERS]
    lines.append("  furthest above their prediction (µs: predicted, in rounds, profiled):")
    lines += [
        f"    {n:<36} {predicted[n].work:<40}{predicted[n].seconds * 1e6:>9.1f}{rounds[n] * 1e6:>9.1f}"
        f"{profiled.get(n, 0.0) * 1e6:>9.1f}"
        for n in worst
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", help="zoo names")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads (default 2)")
    parser.add_argument("--calibration", type=Path, help="a calibration JSON file (calc calibrate --json)")
    args = parser.parse_args(argv)

    import logging

    import torch

    from calc import calibration_file, machine_load, torch_calibrate

    logging.getLogger("torch.utils.cpp_extension").setLevel(logging.ERROR)
    torch.set_num_threads(args.threads)
    before = machine_load.sample()
    if args.calibration:
        calibration = calibration_file.calibration_from_json(args.calibration.read_text())
    else:
        calibration = torch_calibrate.calibration_here("cpu", "fp32")
    if calibration.fingerprint.threads != torch.get_num_threads():
        print(
            f"WARNING: the calibration is for {calibration.fingerprint.threads} threads, "
            f"this run uses {torch.get_num_threads()}"
        )
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    for name in args.models:
        print(compare(name, calibration) + "\n")
    others = machine_load.other_cores(before, machine_load.sample())
    busy = others is not None and others > machine_load.BUSY_OTHER_CORES
    print(
        "other programs: "
        + (f"{others:.2f} cores on average" if others is not None else "unknown")
        + (" (a busy machine: run again on a quiet one)" if busy else "")
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
