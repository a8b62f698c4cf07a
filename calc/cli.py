"""The command line's shared pieces and its counting commands: stack, count, zoo."""

from __future__ import annotations

import argparse
import json
import os
import stat

from calc.analyze import Report, analyze
from calc.errors import SpecError
from calc.spec import MAX_JSON_BYTES, Stack, load_stack, parse_stack, stack_to_json
from calc.units import exact, op_counts


def report_to_json(report: Report) -> dict:
    return {
        "input_shape": list(report.input_shape), "batch": report.batch, "dtype": report.dtype,
        "macs": report.macs, "flops": report.flops, "params": report.params, "other_ops": report.other_ops,
        "other_ops_by_label": report.other_ops_by_label(),
        "weight_bytes": report.weight_bytes, "activation_bytes": report.activation_bytes,
        "unsupported": dict(report.unsupported),  # op -> how often it ran
        "layers": [{
            "index": row.index, "name": row.name, "type": row.kind, "part": row.is_part,
            "input_shape": list(row.input_shape), "output_shape": list(row.output_shape),
            "params": row.params, "macs": row.macs, "flops": row.flops, "other_ops": row.other_ops,
            "other_ops_by_label": dict(row.cost.other_ops),
            "weight_bytes": row.weight_bytes, "input_bytes": row.input_bytes, "output_bytes": row.output_bytes,
            "intensity_flops_per_byte": row.intensity,
        } for row in report.rows_with_parts()],
    }


def format_table(report: Report) -> str:
    header = ("#", "type", "output shape", "params", "MACs", "FLOPs", "other ops")
    lines = [header]
    for row in report.rows_with_parts():
        name = f"  {row.name}" if row.is_part else row.name
        lines.append((name, row.kind, "x".join(map(str, row.output_shape)), exact(row.params), exact(row.macs),
                      exact(row.flops), exact(row.other_ops)))
    lines.append(("", "total", "x".join(map(str, report.output_shape)), exact(report.params), exact(report.macs),
                  exact(report.flops), exact(report.other_ops)))
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    aligned = ["  ".join(cell.ljust(w) if i < 3 else cell.rjust(w) for i, (cell, w) in enumerate(zip(line, widths)))
               for line in lines]
    aligned.insert(1, "-" * len(aligned[0]))
    aligned.insert(len(aligned) - 1, "-" * len(aligned[0]))
    units = (f"batch {report.batch}, {report.dtype}; MACs exclude bias adds; FLOPs = 2 x MACs; "
             "other ops = bias, norm, activation, pooling, softmax")
    return "\n".join(aligned + [units])


# What a path is when it is not a regular file, for the refusal: reading /dev/zero or
# /dev/urandom never ends, and opening a named pipe waits for a writer.
_NOT_REGULAR = ((stat.S_ISDIR, "a directory"), (stat.S_ISCHR, "a character device"),
                (stat.S_ISBLK, "a block device"), (stat.S_ISFIFO, "a named pipe"), (stat.S_ISSOCK, "a socket"))


def read_limited(path: str, limit: int) -> bytes:
    """The bytes of the regular file at ``path``, refused when it holds more than ``limit``.

    The file's kind and size are checked before anything is read, and at most
    ``limit + 1`` bytes are read, so a file that grows meanwhile is refused too.
    Opened non-blocking: a named pipe is refused instead of waited on.
    """
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as error:
        raise SpecError(f"cannot read {path}: {error.strerror}") from None
    try:
        status = os.fstat(descriptor)
        if not stat.S_ISREG(status.st_mode):
            kind = next((name for is_kind, name in _NOT_REGULAR if is_kind(status.st_mode)), "not a regular file")
            raise SpecError(f"cannot read {path}: it is {kind}; give a stack JSON file")
        if status.st_size > limit:
            raise SpecError(f"{path} is {status.st_size:,} bytes, beyond the limit of {limit:,}")
        with os.fdopen(descriptor, "rb", closefd=False) as handle:
            data = handle.read(limit + 1)
    except OSError as error:
        raise SpecError(f"cannot read {path}: {error.strerror}") from None
    finally:
        os.close(descriptor)
    if len(data) > limit:
        raise SpecError(f"{path} holds more than {limit:,} bytes, beyond the limit")
    return data


def read_stack(path: str) -> Stack:
    """The stack in the JSON file at ``path`` (the one reader of stack files: stack, whatif, latency)."""
    data = read_limited(path, MAX_JSON_BYTES)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise SpecError(f"{path} is not UTF-8 text") from None
    return load_stack(text)


def read_model(model: str, resolution: int | None = None) -> tuple[str, Stack | None]:
    """MODEL on the command line: a stack JSON file (its input at ``resolution`` when it takes
    images) or a zoo name; returns the name and the stack (None for a zoo model)."""
    if os.path.exists(model) or model.endswith(".json"):
        stack = read_stack(model)
        if resolution is not None and len(stack.input_shape) == 3:
            stack = parse_stack(dict(stack_to_json(stack), input=[stack.input_shape[0], resolution, resolution]))
        return model, stack
    from calc import zoo

    try:
        return zoo.model_info(model).name, None
    except KeyError:
        raise SpecError(f"no zoo model or stack JSON file named {model!r}; `python -m calc zoo` lists the zoo",
                        field="MODEL") from None


def _stack(args: argparse.Namespace) -> int:
    report = analyze(read_stack(args.file))
    print(json.dumps(report_to_json(report), indent=2) if args.json else format_table(report))
    return 0


def check_batch_and_resolution(batch: int | None, resolution: int | None) -> None:
    if resolution is not None and not 16 <= resolution <= 4096:
        raise SpecError(f"must be from 16 to 4096 pixels, got {resolution}", field="--resolution")
    if batch is not None and not 1 <= batch <= 65536:
        raise SpecError(f"must be from 1 to 65,536, got {batch}", field="--batch")


def _count(args: argparse.Namespace) -> int:
    from calc import zoo

    if args.device == "cuda":
        import torch

        if not torch.cuda.is_available():
            raise SpecError("no CUDA device is available on this machine; use --device meta or cpu",
                            field="--device")
    results = []
    for name in args.models:
        try:
            info = zoo.model_info(name)
        except KeyError as error:
            raise SpecError(error.args[0], field="MODEL") from None
        check_batch_and_resolution(args.batch, args.resolution)
        if args.device != "meta":   # a real forward allocates what it computes: the measurement's budget
            from calc import torch_memory

            try:
                torch_memory.check_forward_memory(zoo.module(info.name, args.resolution),
                                                  zoo.input_shape(info.name, args.resolution), args.batch, "fp32",
                                                  torch_memory.memory_budget_bytes(args.device))
            except SpecError as error:
                raise SpecError(f"{info.name}: {error.reason}, or count on --device meta (nothing is allocated)",
                                field=error.field) from None
        report = zoo.count(name, args.resolution, args.batch, device=args.device)
        results.append((info, report))
    if args.json:
        print(json.dumps([{"model": info.name, **report_to_json(report)} for info, report in results], indent=2))
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
        print(json.dumps([{"model": m.name, "family": m.family, "source": m.source, "input_shape": list(m.input_shape),
                           "acc1": m.acc1, "acc5": m.acc5, "num_params": m.num_params, "gmacs": m.gmacs,
                           "file_size_mb": m.file_size_mb} for m in models], indent=2))
        return 0
    width = max(len(m.name) for m in models)
    print(f"{'model'.ljust(width)}  {'input':>11}  {'acc@1':>6}  {'params':>13}  {'GMACs':>8}")
    for m in models:
        acc = f"{m.acc1:.2f}" if m.acc1 is not None else "-"
        gmacs = f"{m.gmacs:.3f}" if m.gmacs is not None else "-"
        print(f"{m.name.ljust(width)}  {'x'.join(map(str, m.input_shape)):>11}  {acc:>6}  {m.num_params:>13,}  "
              f"{gmacs:>8}")
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
    count.add_argument("--device", choices=("meta", "cpu", "cuda"), default="meta",
                       help="where the model runs while counted; the count is the same on each")
    count.add_argument("--json", action="store_true", help="print JSON instead of tables")
    count.set_defaults(run=_count)
    zoo_parser = commands.add_parser("zoo", help="list the zoo with torchvision's metadata")
    zoo_parser.add_argument("--json", action="store_true")
    zoo_parser.set_defaults(run=_zoo)
