"""The command line's counting commands: stack, count, zoo."""

from __future__ import annotations

import argparse
import json

from calc.analyze import analyze, report_to_json
from calc.cli.arguments import check_batch_and_resolution
from calc.cli.files import read_stack
from calc.cli.tables import format_table
from calc.errors import SpecError
from calc.units import op_counts


def _stack(args: argparse.Namespace) -> int:
    report = analyze(read_stack(args.file))
    print(json.dumps(report_to_json(report), indent=2) if args.json else format_table(report))
    return 0


def _count(args: argparse.Namespace) -> int:
    from calc import zoo

    if args.device == "cuda":
        import torch

        if not torch.cuda.is_available():
            raise SpecError(
                "no CUDA device is available on this machine; use --device meta or cpu", field="--device"
            )
    results = []
    for name in args.models:
        try:
            info = zoo.model_info(name)
        except KeyError as error:
            raise SpecError(error.args[0], field="MODEL") from None
        check_batch_and_resolution(args.batch, args.resolution)
        if args.device != "meta":  # a real forward allocates what it computes: the measurement's budget
            from calc import torch_memory

            try:
                torch_memory.check_forward_memory(
                    zoo.module(info.name, args.resolution),
                    zoo.input_shape(info.name, args.resolution),
                    args.batch,
                    "fp32",
                    torch_memory.memory_budget_bytes(args.device),
                )
            except SpecError as error:
                raise SpecError(
                    f"{info.name}: {error.reason}, or count on --device meta (nothing is allocated)",
                    field=error.field,
                ) from None
        report = zoo.count(name, args.resolution, args.batch, device=args.device)
        results.append((info, report))
    if args.json:
        print(
            json.dumps([{"model": info.name, **report_to_json(report)} for info, report in results], indent=2)
        )
        return 0
    for info, report in results:
        print(f"{info.name}: input {'x'.join(map(str, report.input_shape))}, batch {report.batch}")
        print(format_table(report))
        if report.unsupported:
            print("ops without a formula (not counted): " + op_counts(report.unsupported))
        print()
    return 0


def _zoo(args: argparse.Namespace) -> int:
    from calc import zoo

    models = [zoo.model_info(name) for name in zoo.list_models()]
    if args.json:
        print(
            json.dumps(
                [
                    {
                        "model": m.name,
                        "family": m.family,
                        "source": m.source,
                        "input_shape": list(m.input_shape),
                        "acc1": m.acc1,
                        "acc5": m.acc5,
                        "num_params": m.num_params,
                        "gmacs": m.gmacs,
                        "file_size_mb": m.file_size_mb,
                    }
                    for m in models
                ],
                indent=2,
            )
        )
        return 0
    width = max(len(m.name) for m in models)
    print(f"{'model'.ljust(width)}  {'input':>11}  {'acc@1':>6}  {'params':>13}  {'GMACs':>8}")
    for m in models:
        acc = f"{m.acc1:.2f}" if m.acc1 is not None else "-"
        gmacs = f"{m.gmacs:.3f}" if m.gmacs is not None else "-"
        print(
            f"{m.name.ljust(width)}  {'x'.join(map(str, m.input_shape)):>11}  {acc:>6}  {m.num_params:>13,}  "
            f"{gmacs:>8}"
        )
    print("GMACs: torchvision's _ops metadata (labelled GFLOPS in its docs, but multiply-accumulates)")
    return 0


def add_commands(commands) -> None:
    stack = commands.add_parser("stack", help="analyse a layer stack given as JSON")
    stack.add_argument("file", help="stack JSON file")
    stack.add_argument("--json", action="store_true", help="print JSON instead of a table")
    stack.set_defaults(run=_stack)
    count = commands.add_parser("count", help="count zoo models (torchvision classifiers, stack presets)")
    count.add_argument("models", nargs="+", metavar="MODEL", help="zoo names, see `python -m calc zoo`")
    count.add_argument("--resolution", type=int, help="input height and width (default: the model's native)")
    count.add_argument("--batch", type=int, default=1)
    count.add_argument(
        "--device",
        choices=("meta", "cpu", "cuda"),
        default="meta",
        help="where the model runs while counted; the count is the same on each",
    )
    count.add_argument("--json", action="store_true", help="print JSON instead of tables")
    count.set_defaults(run=_count)
    zoo_parser = commands.add_parser("zoo", help="list the zoo with torchvision's metadata")
    zoo_parser.add_argument("--json", action="store_true")
    zoo_parser.set_defaults(run=_zoo)
