"""The command line's counting commands: stack, count, zoo."""

from __future__ import annotations

import argparse
import json

from calc.analyze import analyze, report_to_json
from calc.cli.arguments import check_batch_and_resolution, check_seq_len, read_source
from calc.cli.files import read_stack
from calc.cli.tables import format_table
from calc.errors import SpecError
from calc.sources import DEFAULT_SEQ_LEN, KINDS, Source, Takes, resolve
from calc.units import op_counts


def _stack(args: argparse.Namespace) -> int:
    report = analyze(read_stack(args.file))
    print(json.dumps(report_to_json(report), indent=2) if args.json else format_table(report))
    return 0


def _count(args: argparse.Namespace) -> int:
    check_batch_and_resolution(args.batch, args.resolution)
    check_seq_len(args.seq_len)
    if args.device == "cuda":
        import torch

        if not torch.cuda.is_available():
            raise SpecError(
                "no CUDA device is available on this machine; use --device meta or cpu", field="--device"
            )
    results = []
    for text in args.sources:
        source = read_source(text)
        if args.device != "meta":
            _check_forward_memory(source, args)
        report = source.count(args.resolution, args.seq_len, args.batch, device=args.device)
        results.append((source, report))
    if args.json:
        print(
            json.dumps(
                [
                    {"model": source.name, "source": source.kind, **report_to_json(report)}
                    for source, report in results
                ],
                indent=2,
            )
        )
        return 0
    for source, report in results:
        print(
            f"{source.name} ({source.kind}): input {'x'.join(map(str, report.input_shape))}, "
            f"batch {report.batch}"
        )
        print(format_table(report))
        if report.unsupported:
            print("ops without a formula (not counted): " + op_counts(report.unsupported))
        print()
    return 0


def _check_forward_memory(source: Source, args: argparse.Namespace) -> None:
    """A real forward allocates what it computes: refused past the measurement's budget."""
    from calc import torch_memory

    try:
        module = source.module(args.resolution)
    except SpecError:
        if source.kind == "hf":  # two inputs together (CLIP): count_hf bounds its weights itself
            return
        raise
    try:
        torch_memory.check_forward_memory(
            module,
            source.input_shape(args.resolution, args.seq_len),
            args.batch or 1,
            "fp32",
            torch_memory.memory_budget_bytes(args.device),
        )
    except SpecError as error:
        raise SpecError(
            f"{source.name}: {error.reason}, or count on --device meta (nothing is allocated)",
            field=error.field,
        ) from None


ZOO_COLUMNS = ("model", "input", "family", "acc@1", "params", "GMACs")


def _zoo(args: argparse.Namespace) -> int:
    kinds = [args.source] if args.source else ["torchvision", "stack"]  # today's listing by default
    names = [name for kind in kinds for name in KINDS[kind].names()]
    if not names:
        raise SpecError(f"no {args.source} models are available here", field="--source")
    models = [resolve(name) for name in names]
    if args.json:
        print(json.dumps([_zoo_entry(source) for source in models], indent=2))
        return 0
    rows = [ZOO_COLUMNS] + [_zoo_row(source) for source in models]
    widths = [max(len(row[i]) for row in rows) for i in range(len(ZOO_COLUMNS))]
    for row in rows:
        cells = zip(row, widths, strict=True)
        print("  ".join(cell.ljust(w) if i in (0, 2) else cell.rjust(w) for i, (cell, w) in enumerate(cells)))
    if "torchvision" in kinds:
        print("GMACs: torchvision's _ops metadata (labelled GFLOPS in its docs, but multiply-accumulates)")
    if "timm" in kinds:
        print("timm: inputs from each model's default pretrained config; `calc count timm:NAME` counts one")
    return 0


def _zoo_entry(source: Source) -> dict:
    metadata = source.metadata
    return {
        "model": source.name,
        "family": metadata.get("family"),
        "source": "preset" if source.kind == "stack" else source.kind,
        "input_shape": list(source.default_input),
        **{key: metadata.get(key) for key in ("acc1", "acc5", "num_params", "gmacs", "file_size_mb")},
        **({"num_classes": metadata["num_classes"]} if "num_classes" in metadata else {}),
    }


def _zoo_row(source: Source) -> tuple[str, ...]:
    entry = _zoo_entry(source)
    acc1, num_params, gmacs = entry["acc1"], entry["num_params"], entry["gmacs"]
    return (
        entry["model"],
        "x".join(map(str, entry["input_shape"])) + (" tokens" if source.takes is Takes.TOKENS else ""),
        entry["family"] or "-",
        "-" if acc1 is None else f"{acc1:.2f}",
        "-" if num_params is None else f"{num_params:,}",
        "-" if gmacs is None else f"{gmacs:.3f}",
    )


def add_commands(commands) -> None:
    stack = commands.add_parser("stack", help="analyse a layer stack given as JSON")
    stack.add_argument("file", help="stack JSON file")
    stack.add_argument("--json", action="store_true", help="print JSON instead of a table")
    stack.set_defaults(run=_stack)
    count = commands.add_parser(
        "count",
        help="count models: torchvision or timm classifiers, Hugging Face models, stack, config.json or "
        ".onnx files",
    )
    count.add_argument(
        "sources",
        nargs="+",
        metavar="SOURCE",
        help="a zoo name (resnet50), timm:NAME, hf:NAME, a stack or config.json file, or an .onnx file; "
        "`python -m calc zoo --source KIND` lists names",
    )
    count.add_argument("--resolution", type=int, help="input height and width (default: the model's native)")
    count.add_argument(
        "--seq-len", type=int, help=f"tokens of a text model's input (default {DEFAULT_SEQ_LEN})"
    )
    count.add_argument("--batch", type=int, help="default: a stack file's own, else 1")
    count.add_argument(
        "--device",
        choices=("meta", "cpu", "cuda"),
        default="meta",
        help="where the model runs while counted; the count is the same on each",
    )
    count.add_argument("--json", action="store_true", help="print JSON instead of tables")
    count.set_defaults(run=_count)
    zoo_parser = commands.add_parser(
        "zoo",
        help="list one kind of source's models (default: torchvision's with its metadata, and the presets)",
    )
    zoo_parser.add_argument("--source", choices=tuple(KINDS), help="which kind of source to list")
    zoo_parser.add_argument("--json", action="store_true")
    zoo_parser.set_defaults(run=_zoo)
