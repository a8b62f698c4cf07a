"""The command line's latency commands: hardware, peak, latency."""

from __future__ import annotations

import argparse
import json
import logging

from calc import calibration_file
from calc.cli.arguments import check_batch_and_resolution, check_seq_len, read_source
from calc.cli.calibrate import CALIBRATED_DTYPES, calibrated_hardware, prediction_fields, read_calibration
from calc.errors import SpecError
from calc.hardware import COMPUTE_DTYPES, PRESETS, STORAGE_DTYPE, Hardware, hardware
from calc.machine_load import disturbance_text
from calc.roofline import efficiency, estimate
from calc.time_bound import TimeBound
from calc.units import duration, si, si_bytes


def _hardware(args: argparse.Namespace) -> int:
    if args.json:
        print(
            json.dumps(
                [
                    {
                        "name": entry.name,
                        "kind": entry.kind,
                        "peak_flops": entry.peak_flops_per_s,
                        "bandwidth_bytes_per_s": entry.bandwidth_bytes_per_s,
                        "source": entry.source,
                        "derived": list(entry.derived),
                        "estimate": entry.estimate,
                        "note": entry.note,
                    }
                    for entry in PRESETS
                ],
                indent=2,
            )
        )
        return 0
    header = (
        "name",
        "kind",
        *(f"{dtype} {'OP/s' if dtype == 'int8' else 'FLOP/s'}" for dtype in COMPUTE_DTYPES),
        "bandwidth",
    )
    lines = [header]
    for entry in PRESETS:
        peaks = entry.peak_flops_per_s
        cells = [
            ("≈" if dtype in entry.derived else "") + si(peaks[dtype]) if dtype in peaks else "-"
            for dtype in COMPUTE_DTYPES
        ]
        bandwidth = (
            ("≈" if "bandwidth" in entry.derived else "") + si_bytes(entry.bandwidth_bytes_per_s) + "/s"
        )
        lines.append((entry.name + (" *" if entry.estimate else ""), entry.kind, *cells, bandwidth))
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    for line in lines:
        print(
            "  ".join(
                cell.ljust(w) if i < 2 else cell.rjust(w)
                for i, (cell, w) in enumerate(zip(line, widths, strict=True))
            )
        )
    print(
        "Peaks are dense (no structured sparsity); int8 peaks are integer OP/s, the others FLOP/s; "
        "G, T, P = 1e9, 1e12, 1e15."
    )
    print(
        "≈ derived by us (cores × clock × lanes, a sparsity figure halved, memory rate × bus width), not "
        "quoted; * a rough estimate, not a specification. Sources: --json."
    )
    return 0


def quiet_torch_benchmark() -> None:
    """torch.utils.benchmark imports cpp_extension, which warns on stderr where a CUDA toolkit has no GPU;
    nothing is compiled here, and stderr is kept for our one-line errors."""
    logging.getLogger("torch.utils.cpp_extension").setLevel(logging.ERROR)


def _peak(args: argparse.Namespace) -> int:
    quiet_torch_benchmark()
    from calc.torch_probe import probe

    measured = probe(args.device, dtypes=(args.dtype,))
    out = {
        "device": measured.device,
        "label": measured.label,
        "threads": measured.threads,
        "dtype": args.dtype,
        "flops_per_s": measured.peak_flops_per_s[args.dtype],
        "bandwidth_bytes_per_s": measured.bandwidth_bytes_per_s,
        "gemm": [[n, rate] for dtype, n, rate in measured.gemm if dtype == args.dtype],
        "copy_bytes": measured.copy_bytes,
        "seconds": measured.seconds,
    }
    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    print(f"device     {out['device']}: {out['label']}, {out['threads']} threads")
    print(
        f"{args.dtype:<10} {si(out['flops_per_s'], 'FLOP/s')}, the best of n×n matmuls: "
        + ", ".join(f"n={n} {si(rate, 'FLOP/s')}" for n, rate in out["gemm"])
    )
    print(
        f"bandwidth  {si_bytes(out['bandwidth_bytes_per_s'])}/s, a {out['copy_bytes'] // 2**20} MiB copy "
        "(bytes read + written)"
    )
    return 0


MEASURE_SECONDS = 60  # the whole of `latency --device`: probe, build, warm-up and timing


def _latency(args: argparse.Namespace) -> int:
    bound = TimeBound.starting_now(MEASURE_SECONDS)
    check_batch_and_resolution(args.batch, args.resolution)
    if args.runtime == "onnxruntime" and args.device:
        from calc.onnx_measure import execution_provider

        execution_provider(args.device)  # this onnxruntime's providers: said before anything is counted
    if args.device == "cuda":
        import torch

        if not torch.cuda.is_available():
            raise SpecError(
                "no CUDA device is available on this machine; use --device cpu or --hardware NAME",
                field="--device",
            )
    check_seq_len(args.seq_len)
    source = read_source(args.model, "MODEL")
    stack = source.stack
    calibration = read_calibration(args.calibration) if args.calibration else None
    batch = args.batch or (stack.batch if stack else 1)  # a stack file's own batch and dtype unless given
    dtype = (
        args.dtype
        or (calibration.fingerprint.dtype if calibration else None)
        or (stack.dtype if stack else "fp32")
    )
    device_hardware: Hardware | None = None
    if args.hardware:
        device_hardware = hardware(args.hardware)
        device_hardware.roofs(dtype)  # refuse a dtype the preset has no peak for before counting
    if calibration is not None:
        device_hardware = calibrated_hardware(calibration)
        device_hardware.roofs(dtype)
    storage = STORAGE_DTYPE[dtype]  # tf32 is fp32 tensors with tensor-core math
    report = source.count(args.resolution, args.seq_len, batch, dtype=storage)
    input_shape = report.input_shape  # one sample, as counted (a text model's own default length)
    measurement, reference_s = None, 0.0
    if args.runtime == "onnxruntime":
        measured_here, measurement, exported = _onnxruntime_measurement(source, report, args, batch, bound)
        device_hardware = measured_here.as_hardware()
    elif args.device:
        quiet_torch_benchmark()
        from calc import torch_measure, torch_memory
        from calc.torch_precision import check_device
        from calc.torch_probe import probe

        check_device(args.device, (dtype,))  # int8 or tf32 on the CPU: refused before anything runs
        module = source.module(args.resolution)
        torch_memory.check_forward_memory(
            module, input_shape, batch, dtype, torch_memory.memory_budget_bytes(args.device)
        )
        measured_here = probe(args.device, dtypes=(dtype,), bound=bound)
        device_hardware = measured_here.as_hardware()
        model = torch_measure.prepare(module, measured_here.device, dtype)
        least = estimate(report, device_hardware.roofs(dtype)).roofline_seconds
        from calc.torch_calibrate import fingerprint, reference_around

        measurement, reference_s = reference_around(
            measured_here.device,
            dtype,
            lambda: torch_measure.measure(
                model,
                input_shape,
                batch,
                dtype,
                measured_here.device,
                min_run_time=1.0,
                bound=bound,
                least_forward_s=least,
            ),
        )
        here = fingerprint(args.device, dtype) if dtype in CALIBRATED_DTYPES else None
        calibration = here and (calibration_file.stored(here) or calibration_file.stored(here, quick=True))
    roofs = device_hardware.roofs(dtype)
    times = estimate(report, roofs)
    out = {
        "model": source.name,
        "source": source.kind,
        "input_shape": list(input_shape),
        "batch": batch,
        "dtype": dtype,
        "storage_dtype": storage,
        "macs": report.macs,
        "flops": report.flops,
        "memory_bytes": report.memory_bytes,
        "hardware": device_hardware.name,
        "roofs": {
            "peak_flops_per_s": roofs.peak_flops_per_s,
            "bandwidth_bytes_per_s": roofs.bandwidth_bytes_per_s,
        },
        "theoretical_s": times.peak_seconds,
        "roofline_s": times.roofline_seconds,
        "memory_bound_layers": len(times.memory_bound_layers),
        "layer_count": len(times.layers),
    }
    if args.runtime == "onnxruntime":  # ONNX Runtime's own precision; weights generated where absent
        out.update(
            runtime="onnxruntime", generated_weights=measurement.generated_weights, exported_to_onnx=exported
        )
    if measurement is not None:
        out.update(
            device=measurement.device,
            threads=measurement.threads,
            measured_median_s=measurement.median_s,
            measured_iqr_s=measurement.iqr_s,
            measured_min_s=measurement.min_s,
            measured_max_s=measurement.max_s,
            efficiency=efficiency(times.peak_seconds, measurement.median_s),
            roofline_efficiency=efficiency(times.roofline_seconds, measurement.median_s),
            measured_wall_s=measurement.wall_seconds,
            measured_blocks=len(measurement.times_s),
            other_programs_cores=measurement.other_cores,
            repeat_median_s=measurement.repeat_median_s,
            disturbed=measurement.disturbed,
        )
    if calibration is not None:
        out.update(
            prediction_fields(
                report,
                calibration,
                measurement and measurement.median_s,
                reference_s,
                bool(measurement and measurement.disturbed),
            )
        )
    elif args.device and args.runtime == "torch":
        # none stored for this machine: `calc calibrate`. A calibration fits torch's times, so ONNX
        # Runtime's measurement gets no predicted line at all.
        out.update(predicted_s=None, calibration=None)
    print(json.dumps(out, indent=2) if args.json else _format_latency(out))
    return 0


def _onnxruntime_measurement(source, report, args: argparse.Namespace, batch: int, bound: TimeBound):
    """This machine's roofs (probed with torch) and the model timed with ONNX Runtime; a torchvision
    or timm model (or a stack) is exported to ONNX first (calc.onnx_export: bounded on its own, and
    kept for the next time). Returns (probe, measurement, whether it was exported)."""
    from calc import onnx_export
    from calc.onnx_measure import check_memory, measure_source, memory_budget_bytes
    from calc.onnx_source import source_from_path
    from calc.torch_probe import probe

    if not args.device:
        raise SpecError("measures on this machine: give --device cpu (or cuda)", field="--runtime")
    exported = source.kind in onnx_export.EXPORTABLE_KINDS
    if exported:
        if (args.dtype or report.dtype) != "fp32":
            raise SpecError(
                f"the ONNX export is fp32: ONNX Runtime runs {source.name} in fp32, not "
                f"{args.dtype or report.dtype}",
                field="--dtype",
            )
        check_memory(report, memory_budget_bytes())  # before the export's tens of seconds
        source = source_from_path(str(onnx_export.export(source.name, args.resolution, batch)))
        bound = TimeBound.starting_now(MEASURE_SECONDS)  # the export had its own bound
    measured_here = probe(args.device, dtypes=(report.dtype,), bound=bound)
    measurement = measure_source(
        source,
        report,
        None if exported else args.resolution,  # an export's input is fixed at its resolution
        args.seq_len,
        batch if exported else args.batch,
        args.device,
        bound,
        None if exported else args.dtype,
    )
    return measured_here, measurement, exported


def _format_latency(out: dict) -> str:
    stored = f" (stored as {out['storage_dtype']})" if out["storage_dtype"] != out["dtype"] else ""
    roofs = out["roofs"]
    source = (
        "measured here"
        if "measured_median_s" in out
        else "calibration"
        if out.get("calibration")
        else "preset"
    )
    lines = [
        (
            "model",
            (
                f"{out['model']}: input {'x'.join(map(str, out['input_shape']))}, batch {out['batch']}, "
                f"{out['dtype']}{stored}"
            ),
        ),
        (
            "work",
            (
                f"{si(out['macs'])} MACs, {si(out['flops'])} FLOPs (FLOPs = 2 × MACs), "
                f"{si_bytes(out['memory_bytes'])} moved"
            ),
        ),
        (
            "roofs",
            (
                f"{out['hardware']} ({source}): peak {si(roofs['peak_flops_per_s'], 'FLOP/s')}, "
                f"bandwidth {si_bytes(roofs['bandwidth_bytes_per_s'])}/s"
            ),
        ),
        ("peak time", f"{duration(out['theoretical_s'])} = FLOPs / peak"),
        (
            "roofline",
            (
                f"{duration(out['roofline_s'])} = sum over layers of max(FLOPs / peak, bytes / bandwidth); "
                f"{out['memory_bound_layers']} of {out['layer_count']} layers memory-bound"
            ),
        ),
    ]
    if out.get("predicted_s") is not None:
        printed = out["calibration"]
        lines.append(
            (
                "predicted",
                f"{duration(out['predicted_s'])} = sum over layers of max(FLOPs / (e_c × peak), bytes / "
                f"(e_b × bandwidth)) + overhead, calibrated on {printed['label']}"
                + (" (quick)" if printed["quick"] else "")
                + ("; torch's time there, not ONNX Runtime's" if out["source"] == "onnx" else ""),
            )
        )
        if printed["warning"]:
            lines.append(("warning", printed["warning"]))
    elif "predicted_s" in out:
        lines.append(
            (
                "predicted",
                (
                    "no calibration stored for this machine: run "
                    f"`python -m calc calibrate --dtype {out['dtype']}` once"
                ),
            )
        )
    if "measured_median_s" in out:
        lines += [
            (
                "measured",
                (
                    f"{duration(out['measured_median_s'])} median, IQR {duration(out['measured_iqr_s'])}, "
                    f"min {duration(out['measured_min_s'])}, max {duration(out['measured_max_s'])} "
                    f"({out['device']}, {out['threads']} threads)"
                ),
            ),
            (
                "efficiency",
                (
                    f"{out['efficiency']:.1%} of peak time, {out['roofline_efficiency']:.1%} of roofline "
                    "(theoretical / measured median)"
                ),
            ),
        ]
        if out.get("exported_to_onnx"):
            lines.append(
                (
                    "export",
                    "torch.onnx.export (dynamo) with fresh weights, kept on disk for the next time",
                )
            )
        if out.get("generated_weights"):
            lines.append(("weights", "generated (its external weight files are absent), of the right shapes"))
        if out.get("prediction_error") is not None:
            lines.append(("error", f"predicted / measured − 1 = {out['prediction_error']:+.1%}"))
            if out.get("speed_note"):
                lines.append(("speed", out["speed_note"]))
        if out["disturbed"]:
            lines.append(
                (
                    "disturbed",
                    disturbance_text(
                        out["other_programs_cores"], out["repeat_median_s"], out["measured_median_s"]
                    ),
                )
            )
    width = max(len(label) for label, _ in lines)
    return "\n".join(f"{label.ljust(width)}  {text}" for label, text in lines)


def add_commands(commands) -> None:
    hardware_parser = commands.add_parser(
        "hardware", help="list the hardware presets: dense peaks and bandwidth"
    )
    hardware_parser.add_argument(
        "--json", action="store_true", help="print JSON (with sources) instead of a table"
    )
    hardware_parser.set_defaults(run=_hardware)
    peak = commands.add_parser(
        "peak", help="measure this machine's roofs: best matmul FLOP/s and copy bandwidth"
    )
    peak.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    peak.add_argument("--dtype", choices=COMPUTE_DTYPES, default="fp32")
    peak.add_argument("--json", action="store_true", help="print JSON instead of lines")
    peak.set_defaults(run=_peak)
    latency = commands.add_parser(
        "latency",
        help="theoretical latency of a model on a hardware preset, or measured here against this "
        "machine's roofs; give exactly one of --hardware, --device and --calibration",
        description="Peak time (FLOPs / peak) and roofline time of MODEL on a hardware preset (--hardware) "
        "or on this machine, probed and then measured (--device), and the calibrated prediction (--device "
        "with a stored `calc calibrate`, or --calibration FILE). Exactly one of --hardware, --device and "
        "--calibration is required.",
    )
    latency.add_argument(
        "model",
        metavar="MODEL",
        help="a SOURCE: a zoo name (see `python -m calc zoo`), timm:NAME, hf:NAME, a stack or "
        "config.json file, or an .onnx file",
    )
    where = latency.add_mutually_exclusive_group(required=True)
    where.add_argument("--hardware", metavar="NAME", help="a preset, see `python -m calc hardware`")
    where.add_argument(
        "--device", choices=("cpu", "cuda"), help="probe this machine's roofs and measure the model"
    )
    where.add_argument(
        "--calibration",
        metavar="FILE",
        help="predict on the machine of a calibration (`python -m calc calibrate --json > FILE`)",
    )
    latency.add_argument(
        "--dtype",
        choices=COMPUTE_DTYPES,
        help="compute dtype (default: the stack file's, else fp32); tf32 is stored as fp32",
    )
    latency.add_argument("--batch", type=int, help="default: the stack file's, else 1")
    latency.add_argument("--resolution", type=int, help="input height and width (default: the model's)")
    latency.add_argument("--seq-len", type=int, help="tokens of a text model's input (default 128)")
    latency.add_argument(
        "--runtime",
        choices=("torch", "onnxruntime"),
        default="torch",
        help="what runs the model with --device: torch, or ONNX Runtime (an .onnx MODEL, or a torchvision "
        "or timm model exported to ONNX first, once; its CPU provider, or CUDA where onnxruntime-gpu is "
        "installed). ONNX Runtime's time gets no calibrated prediction: a calibration fits torch's",
    )
    latency.add_argument("--json", action="store_true", help="print JSON instead of lines")
    latency.set_defaults(run=_latency)
