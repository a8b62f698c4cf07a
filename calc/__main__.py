"""The command line: ``python -m calc stack|count|zoo|hardware|peak|latency|separable|whatif ... [--json]``.
Thin; JSON out."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys

from calc.analyze import Report, analyze
from calc.cost import Cost
from calc.errors import SpecError
from calc.hardware import COMPUTE_DTYPES, PRESETS, STORAGE_DTYPE, Hardware, hardware
from calc.roofline import efficiency, estimate
from calc.separable import Comparison, WhatIf, compare, what_if_stack
from calc.spec import Stack, load_stack, parse_stack, stack_to_json
from calc.units import duration, exact, si, si_bytes


def report_to_json(report: Report) -> dict:
    return {
        "input_shape": list(report.input_shape), "batch": report.batch, "dtype": report.dtype,
        "macs": report.macs, "flops": report.flops, "params": report.params, "other_ops": report.other_ops,
        "other_ops_by_label": report.other_ops_by_label(),
        "weight_bytes": report.weight_bytes, "activation_bytes": report.activation_bytes,
        "unsupported": list(report.unsupported),
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


def _read_stack(path: str) -> Stack:
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except OSError as error:
        raise SpecError(f"cannot read {path}: {error.strerror}") from None
    except UnicodeDecodeError:
        raise SpecError(f"{path} is not UTF-8 text") from None
    return load_stack(text)


def _stack(args: argparse.Namespace) -> int:
    report = analyze(_read_stack(args.file))
    print(json.dumps(report_to_json(report), indent=2) if args.json else format_table(report))
    return 0


def _check_batch_and_resolution(batch: int | None, resolution: int | None) -> None:
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
        _check_batch_and_resolution(args.batch, args.resolution)
        report = zoo.count(name, args.resolution, args.batch, device=args.device)
        results.append((info, report))
    if args.json:
        print(json.dumps([{"model": info.name, **report_to_json(report)} for info, report in results], indent=2))
        return 0
    for info, report in results:
        print(f"{info.name}: input {'x'.join(map(str, report.input_shape))}, batch {report.batch}")
        print(format_table(report))
        if report.unsupported:
            print("ops without a formula (not counted): " + ", ".join(report.unsupported))
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


def _hardware(args: argparse.Namespace) -> int:
    if args.json:
        print(json.dumps([{"name": entry.name, "kind": entry.kind, "peak_flops": entry.peak_flops_per_s,
                           "bandwidth_bytes_per_s": entry.bandwidth_bytes_per_s, "source": entry.source,
                           "derived": list(entry.derived), "estimate": entry.estimate, "note": entry.note}
                          for entry in PRESETS], indent=2))
        return 0
    header = ("name", "kind", *(f"{dtype} {'OP/s' if dtype == 'int8' else 'FLOP/s'}" for dtype in COMPUTE_DTYPES),
              "bandwidth")
    lines = [header]
    for entry in PRESETS:
        peaks = entry.peak_flops_per_s
        cells = [("≈" if dtype in entry.derived else "") + si(peaks[dtype]) if dtype in peaks else "-"
                 for dtype in COMPUTE_DTYPES]
        bandwidth = ("≈" if "bandwidth" in entry.derived else "") + si_bytes(entry.bandwidth_bytes_per_s) + "/s"
        lines.append((entry.name + (" *" if entry.estimate else ""), entry.kind, *cells, bandwidth))
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    for line in lines:
        print("  ".join(cell.ljust(w) if i < 2 else cell.rjust(w) for i, (cell, w) in enumerate(zip(line, widths))))
    print("Peaks are dense (no structured sparsity); int8 peaks are integer OP/s, the others FLOP/s; "
          "G, T, P = 1e9, 1e12, 1e15.")
    print("≈ derived by us (cores × clock × lanes, a sparsity figure halved, memory rate × bus width), not quoted; "
          "* a rough estimate, not a specification. Sources: --json.")
    return 0


def _quiet_torch_benchmark() -> None:
    """torch.utils.benchmark imports cpp_extension, which warns on stderr where a CUDA toolkit has no GPU;
    nothing is compiled here, and stderr is kept for our one-line errors."""
    logging.getLogger("torch.utils.cpp_extension").setLevel(logging.ERROR)


def _peak(args: argparse.Namespace) -> int:
    _quiet_torch_benchmark()
    from calc.torch_probe import probe

    measured = probe(args.device, dtypes=(args.dtype,))
    out = {"device": measured.device, "label": measured.label, "threads": measured.threads, "dtype": args.dtype,
           "flops_per_s": dict(measured.peaks)[args.dtype], "bandwidth_bytes_per_s": measured.bandwidth_bytes_per_s,
           "gemm": [[n, rate] for dtype, n, rate in measured.gemm if dtype == args.dtype],
           "copy_bytes": measured.copy_bytes, "seconds": measured.seconds}
    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    print(f"device     {out['device']}: {out['label']}, {out['threads']} threads")
    print(f"{args.dtype:<10} {si(out['flops_per_s'], 'FLOP/s')}, the best of n×n matmuls: "
          + ", ".join(f"n={n} {si(rate, 'FLOP/s')}" for n, rate in out["gemm"]))
    print(f"bandwidth  {si_bytes(out['bandwidth_bytes_per_s'])}/s, a {out['copy_bytes'] // 2**20} MiB copy "
          "(bytes read + written)")
    return 0


def _ms(seconds: float) -> str:
    return duration(seconds)


def _latency_model(args: argparse.Namespace) -> tuple[str, Stack | None, int, str]:
    """The model: a stack file (its batch and dtype unless given) or a zoo name; with the batch and dtype to use."""
    if os.path.exists(args.model) or args.model.endswith(".json"):
        stack = _read_stack(args.model)
        return args.model, stack, args.batch or stack.batch, args.dtype or stack.dtype
    from calc import zoo

    try:
        info = zoo.model_info(args.model)
    except KeyError:
        raise SpecError(f"no zoo model or stack JSON file named {args.model!r}; `python -m calc zoo` lists the zoo",
                        field="MODEL") from None
    return info.name, None, args.batch or 1, args.dtype or "fp32"


def _latency(args: argparse.Namespace) -> int:
    _check_batch_and_resolution(args.batch, args.resolution)
    if args.device == "cuda":
        import torch

        if not torch.cuda.is_available():
            raise SpecError("no CUDA device is available on this machine; use --device cpu or --hardware NAME",
                            field="--device")
    name, stack, batch, dtype = _latency_model(args)
    device_hardware: Hardware | None = None
    if args.hardware:
        device_hardware = hardware(args.hardware)
        device_hardware.roofs(dtype)  # refuse a dtype the preset has no peak for before counting
    storage = STORAGE_DTYPE[dtype]  # tf32 is fp32 tensors with tensor-core math
    if stack is not None:
        raw = dict(stack_to_json(stack), batch=batch, dtype=storage)
        if args.resolution is not None and len(stack.input_shape) == 3:
            raw["input"] = [stack.input_shape[0], args.resolution, args.resolution]
        stack = parse_stack(raw)
        report = analyze(stack)
        input_shape = stack.input_shape
    else:
        from calc import zoo

        report = zoo.count(name, args.resolution, batch, dtype=storage)
        input_shape = zoo.input_shape(name, args.resolution)
    measurement = None
    if args.device:
        _quiet_torch_benchmark()
        from calc import torch_measure
        from calc.torch_probe import probe

        torch_measure.check_memory(report, dtype, torch_measure.memory_budget_bytes(args.device))
        measured_here = probe(args.device, dtypes=(dtype,))
        device_hardware = measured_here.as_hardware()
        if stack is not None:
            from calc.torch_build import build_stack

            module = build_stack(stack)
        else:
            module = zoo.module(name, args.resolution)
        model = torch_measure.prepare(module, measured_here.device, dtype)
        measurement = torch_measure.measure(model, input_shape, batch, dtype, measured_here.device,
                                            min_run_time=1.0, max_seconds=60)
    roofs = device_hardware.roofs(dtype)
    times = estimate(report, roofs)
    out = {"model": name, "input_shape": list(input_shape), "batch": batch, "dtype": dtype, "storage_dtype": storage,
           "macs": report.macs, "flops": report.flops, "memory_bytes": report.memory_bytes,
           "hardware": device_hardware.name,
           "roofs": {"peak_flops_per_s": roofs.peak_flops_per_s, "bandwidth_bytes_per_s": roofs.bandwidth_bytes_per_s},
           "theoretical_s": times.peak_seconds, "roofline_s": times.roofline_seconds,
           "memory_bound_layers": len(times.memory_bound_layers), "layer_count": len(times.layers)}
    if measurement is not None:
        out.update(device=measurement.device, threads=measurement.threads, measured_median_s=measurement.median_s,
                   measured_iqr_s=measurement.iqr_s, measured_min_s=measurement.min_s,
                   measured_max_s=measurement.max_s, efficiency=efficiency(times.peak_seconds, measurement.median_s),
                   roofline_efficiency=efficiency(times.roofline_seconds, measurement.median_s))
    print(json.dumps(out, indent=2) if args.json else _format_latency(out))
    return 0


def _format_latency(out: dict) -> str:
    stored = f" (stored as {out['storage_dtype']})" if out["storage_dtype"] != out["dtype"] else ""
    roofs = out["roofs"]
    source = "measured here" if "measured_median_s" in out else "preset"
    lines = [
        ("model", f"{out['model']}: input {'x'.join(map(str, out['input_shape']))}, batch {out['batch']}, "
                  f"{out['dtype']}{stored}"),
        ("work", f"{si(out['macs'])} MACs, {si(out['flops'])} FLOPs (FLOPs = 2 × MACs), "
                 f"{si_bytes(out['memory_bytes'])} moved"),
        ("roofs", f"{out['hardware']} ({source}): peak {si(roofs['peak_flops_per_s'], 'FLOP/s')}, "
                  f"bandwidth {si_bytes(roofs['bandwidth_bytes_per_s'])}/s"),
        ("peak time", f"{_ms(out['theoretical_s'])} = FLOPs / peak"),
        ("roofline", f"{_ms(out['roofline_s'])} = sum over layers of max(FLOPs / peak, bytes / bandwidth); "
                     f"{out['memory_bound_layers']} of {out['layer_count']} layers memory-bound"),
    ]
    if "measured_median_s" in out:
        lines += [
            ("measured", f"{_ms(out['measured_median_s'])} median, IQR {_ms(out['measured_iqr_s'])}, "
                         f"min {_ms(out['measured_min_s'])}, max {_ms(out['measured_max_s'])} "
                         f"({out['device']}, {out['threads']} threads)"),
            ("efficiency", f"{out['efficiency']:.1%} of peak time, {out['roofline_efficiency']:.1%} of roofline "
                           "(theoretical / measured median)"),
        ]
    width = max(len(label) for label, _ in lines)
    return "\n".join(f"{label.ljust(width)}  {text}" for label, text in lines)


def _term_text(cost: Cost) -> str:
    """A layer's MAC formula from its terms: symbols = numbers."""
    terms = cost.terms
    symbols = " + ".join("·".join(symbol.replace("{", "").replace("}", "") for symbol, _ in term.factors)
                         for term in terms)
    numbers = " + ".join("·".join(str(value) for _, value in term.factors) for term in terms)
    return f"{symbols} = {numbers}"


def _separable(args: argparse.Namespace) -> int:
    size = _size_argument(args.size)
    comparison = compare(args.in_channels, args.out_channels, args.kernel_size, size, args.stride, args.padding)
    out = {"input": list(comparison.input_shape), "output_shape": list(comparison.output_shape),
           "kernel_size": comparison.kernel_size, "stride": comparison.stride, "padding": comparison.padding,
           **{f"{part}_{count}": getattr(comparison, f"{part}_{count}")
              for count in ("macs", "params") for part in ("standard", "depthwise", "pointwise", "separable")},
           "savings": comparison.savings, "params_savings": comparison.params_savings,
           "approximate_savings": comparison.approximate_savings}
    print(json.dumps(out, indent=2) if args.json else _format_separable(comparison))
    return 0


def _size_argument(text: str) -> int | tuple[int, int]:
    """--size 224 or --size 224x112 (height x width)."""
    parts = text.lower().split("x")
    if len(parts) > 2 or not all(part.strip().isdigit() for part in parts):
        raise SpecError(f"must be a whole number, or HEIGHTxWIDTH like 224x112, got {text!r}", field="--size")
    sizes = [int(part) for part in parts]
    return sizes[0] if len(sizes) == 1 else (sizes[0], sizes[1])


def _format_separable(c: Comparison) -> str:
    shape = lambda dims: "x".join(map(str, dims))  # noqa: E731
    k = c.kernel_size
    depthwise, pointwise = (part for _, part in c.separable.rows[0].cost.parts)
    lines = [
        ("input", f"{shape(c.input_shape)}, kernel {k}x{k}, stride {c.stride}, padding {c.padding}, no bias "
                  f"-> output {shape(c.output_shape)}"),
        ("standard", exact(c.standard_macs), exact(c.standard_params), _term_text(c.standard.rows[0].cost)),
        ("depthwise", exact(c.depthwise_macs), exact(c.depthwise_params), _term_text(depthwise)),
        ("pointwise", exact(c.pointwise_macs), exact(c.pointwise_params), _term_text(pointwise)),
        ("separable", exact(c.separable_macs), exact(c.separable_params), "depthwise + pointwise"),
    ]
    macs_width = max(len(line[1]) for line in lines[1:])
    params_width = max(len(line[2]) for line in lines[1:])
    text = [(label, f"{macs.rjust(macs_width)} MACs  {params.rjust(params_width)} params  {formula}")
            for label, macs, params, formula in lines[1:]]
    text.insert(0, lines[0])
    text += [
        ("savings", f"{c.savings:.4f} ({c.savings:.2%}) = 1 - {exact(c.separable_macs)} / {exact(c.standard_macs)} "
                    f"(params: {c.params_savings:.4f})"),
        ("approximate", f"{c.approximate_savings:.4f} = 1 - (1/C_out + 1/K²) = 1 - (1/{c.out_channels} + 1/{k * k}), "
                        "exact whenever both convs have the same output extent"),
    ]
    width = max(len(label) for label, _ in text)
    return "\n".join(f"{label.ljust(width)}  {line}" for label, line in text)


def _whatif(args: argparse.Namespace) -> int:
    _check_batch_and_resolution(None, args.resolution)
    if os.path.exists(args.model) or args.model.endswith(".json"):
        name, stack = args.model, _read_stack(args.model)
        if args.resolution is not None and len(stack.input_shape) == 3:
            stack = parse_stack(dict(stack_to_json(stack), input=[stack.input_shape[0], args.resolution,
                                                                 args.resolution]))
        what_if = what_if_stack(stack)
    else:
        from calc import zoo
        from calc.torch_separable import what_if_model

        try:
            name = zoo.model_info(args.model).name
        except KeyError:
            raise SpecError(f"no zoo model or stack JSON file named {args.model!r}; `python -m calc zoo` lists "
                            "the zoo", field="MODEL") from None
        what_if = what_if_model(name, args.resolution)
    out = {"model": name, "input_shape": list(what_if.before.input_shape), "batch": what_if.before.batch,
           "macs_before": what_if.macs_before, "macs_after": what_if.macs_after,
           "params_before": what_if.params_before, "params_after": what_if.params_after,
           "savings": what_if.savings, "params_savings": what_if.params_savings,
           "changes": [{"name": c.name, "kind_before": c.kind_before, "kind_after": c.kind_after,
                        "macs_before": c.macs_before, "macs_after": c.macs_after,
                        "params_before": c.params_before, "params_after": c.params_after, "savings": c.savings}
                       for c in what_if.changes],
           "skipped": list(what_if.skipped)}
    print(json.dumps(out, indent=2) if args.json else _format_whatif(out, what_if))
    return 0


def _format_whatif(out: dict, what_if: WhatIf) -> str:
    lines = [f"{out['model']}: input {'x'.join(map(str, out['input_shape']))}, batch {out['batch']}",
             f"MACs    {exact(out['macs_before'])} -> {exact(out['macs_after'])}, savings {out['savings']:.4f}",
             f"params  {exact(out['params_before'])} -> {exact(out['params_after'])}, "
             f"savings {out['params_savings']:.4f}"]
    if not what_if.changes:
        lines.append("no standard conv (groups 1, kernel over 1x1) to replace: nothing changes")
    else:
        count = len(what_if.changes)
        lines.append(f"{count} standard conv{'s' if count > 1 else ''} (groups 1, kernel over 1x1) made depthwise "
                     "kxk + pointwise 1x1, keeping out_channels, stride, padding, dilation and bias:")
        header = ("layer", "before", "after", "MACs before", "MACs after", "params before", "params after", "savings")
        table = [header] + [(c.name, c.kind_before, c.kind_after, exact(c.macs_before), exact(c.macs_after),
                             exact(c.params_before), exact(c.params_after), f"{c.savings:.4f}")
                            for c in what_if.changes]
        widths = [max(len(row[i]) for row in table) for i in range(len(header))]
        lines += ["  ".join(cell.ljust(w) if i < 3 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths)))
                  for row in table]
    lines += [f"left alone: {reason}" for reason in what_if.skipped]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m calc", description="MACscope: MACs, FLOPs and params.")
    commands = parser.add_subparsers(dest="command", required=True)
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
    hardware_parser = commands.add_parser("hardware", help="list the hardware presets: dense peaks and bandwidth")
    hardware_parser.add_argument("--json", action="store_true", help="print JSON (with sources) instead of a table")
    hardware_parser.set_defaults(run=_hardware)
    peak = commands.add_parser("peak", help="measure this machine's roofs: best matmul FLOP/s and copy bandwidth")
    peak.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    peak.add_argument("--dtype", choices=COMPUTE_DTYPES, default="fp32")
    peak.add_argument("--json", action="store_true", help="print JSON instead of lines")
    peak.set_defaults(run=_peak)
    latency = commands.add_parser(
        "latency", help="theoretical latency of a model on a hardware preset, or measured here against this "
        "machine's roofs; give exactly one of --hardware and --device",
        description="Peak time (FLOPs / peak) and roofline time of MODEL on a hardware preset (--hardware) or on "
        "this machine, probed and then measured (--device). Exactly one of --hardware and --device is required.")
    latency.add_argument("model", metavar="MODEL", help="a zoo name (see `python -m calc zoo`) or a stack JSON file")
    where = latency.add_mutually_exclusive_group(required=True)
    where.add_argument("--hardware", metavar="NAME", help="a preset, see `python -m calc hardware`")
    where.add_argument("--device", choices=("cpu", "cuda"), help="probe this machine's roofs and measure the model")
    latency.add_argument("--dtype", choices=COMPUTE_DTYPES,
                         help="compute dtype (default: the stack file's, else fp32); tf32 is stored as fp32")
    latency.add_argument("--batch", type=int, help="default: the stack file's, else 1")
    latency.add_argument("--resolution", type=int, help="input height and width (default: the model's)")
    latency.add_argument("--json", action="store_true", help="print JSON instead of lines")
    latency.set_defaults(run=_latency)
    separable = commands.add_parser(
        "separable", help="a standard kxk conv against depthwise kxk + pointwise 1x1 (no bias): MACs, params, savings")
    separable.add_argument("--in-channels", type=int, required=True)
    separable.add_argument("--out-channels", type=int, required=True)
    separable.add_argument("--kernel-size", type=int, required=True)
    separable.add_argument("--size", required=True, help="input height and width: 224, or 224x112 (H x W)")
    separable.add_argument("--stride", type=int, default=1)
    separable.add_argument("--padding", type=int, help="default: kernel size // 2")
    separable.add_argument("--json", action="store_true", help="print JSON instead of lines")
    separable.set_defaults(run=_separable)
    whatif = commands.add_parser(
        "whatif", help="a model with every standard kxk conv (groups 1) made depthwise-separable: before and after")
    whatif.add_argument("model", metavar="MODEL", help="a zoo name (see `python -m calc zoo`) or a stack JSON file")
    whatif.add_argument("--resolution", type=int, help="input height and width (default: the model's)")
    whatif.add_argument("--json", action="store_true", help="print JSON instead of lines")
    whatif.set_defaults(run=_whatif)
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except SpecError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
