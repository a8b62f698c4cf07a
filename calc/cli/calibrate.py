"""The command line's calibrate command: time this machine's kinds of work once, fit, store, print.

``python -m calc calibrate [--device cpu|cuda] [--dtype fp32|bf16|fp16] [--json] [--quick]``
prints the calibration (JSON with --json: the file ``latency --calibration FILE`` reads,
so a GPU box's calibration predicts that box on a laptop) and stores it in the user's
cache folder, where ``latency --device`` finds it.
"""

from __future__ import annotations

import argparse
import logging
import sys

from calc import calibration as model
from calc import calibration_file
from calc.cli.files import read_limited
from calc.errors import SpecError
from calc.hardware import Hardware, peaks_of
from calc.units import duration, si, si_bytes

CALIBRATED_DTYPES = ("fp32", "bf16", "fp16")


def _calibrate(args: argparse.Namespace) -> int:
    # torch.utils.benchmark imports cpp_extension, which warns on stderr where a CUDA toolkit has no GPU
    logging.getLogger("torch.utils.cpp_extension").setLevel(logging.ERROR)
    from calc.torch_calibrate import calibrate

    def progress(share: float, text: str) -> None:
        if not args.json:
            print(f"\r{share:4.0%} {text[:70]:<70}", end="", file=sys.stderr, flush=True)

    run = calibrate(args.device, args.dtype, quick=args.quick, progress=progress)
    if not args.json:
        print(file=sys.stderr)
    calibration_file.store(run.calibration)
    if run.calibration.disturbance.busy_machine:  # on stderr: --json's stdout stays the file
        print(f"warning: {run.calibration.disturbance.warning()}", file=sys.stderr)
    if args.json:
        print(calibration_file.calibration_to_json(run.calibration))
        return 0
    print(format_calibration(run.calibration))
    if run.skipped:
        print(f"skipped (no time left for them): {', '.join(run.skipped)}")
    return 0


def read_calibration(path: str) -> model.Calibration:
    """The calibration in the JSON file at ``path`` (``calibrate --json``'s output); SpecError naming
    --calibration and what is wrong."""
    data = read_limited(path, calibration_file.MAX_JSON_CHARS)
    try:
        return calibration_file.calibration_from_json(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise SpecError(f"{path} is not UTF-8 text", field="--calibration") from None
    except ValueError as error:
        raise SpecError(f"{path}: {error}", field="--calibration") from None


def calibrated_hardware(calibration: model.Calibration) -> Hardware:
    """The calibrated machine's probed roofs, as the hardware a latency is reported on."""
    printed = calibration.fingerprint
    return Hardware(
        f"Calibrated: {printed.label}",
        "GPU" if printed.device == "cuda" else "CPU",
        peaks_of(**{printed.dtype: calibration.peak_flops_per_s}),
        calibration.bandwidth_bytes_per_s,
        f"probed by `calc calibrate` ({printed.device}, {printed.threads} threads, "
        f"torch {printed.torch_version})",
    )


def prediction_fields(
    report,
    calibration: model.Calibration,
    measured_s: float | None,
    reference_s: float = 0.0,
    disturbed: bool = False,
) -> dict:
    """What ``latency`` adds for a calibration: predicted_s, the per-layer times and, after a
    measurement, speed_factor (calc.calibration.speed_factor, from ``reference_s``, the speed
    reference timed around it) and prediction_error = predicted × speed_factor / measured − 1."""
    prediction = model.predict(report, calibration)
    out = {
        "predicted_s": prediction.seconds,
        "calibration": {
            **calibration.fingerprint.as_data(),
            "quick": calibration.quick,
            "busy_machine": calibration.disturbance.busy_machine,
            "warning": calibration.disturbance.warning() or None,  # on a busy machine: recalibrate
        },
        "layers": [
            {
                "name": layer.row.name,
                "type": layer.row.kind,
                "work": layer.work,
                "bound": layer.bound,
                "predicted_s": layer.seconds,
            }
            for layer in prediction.layers
        ],
    }
    if measured_s is not None:
        speed = model.speed_factor(reference_s, calibration, disturbed)
        out["speed_factor"] = speed
        out["speed_note"] = model.speed_note(speed) or None
        out["prediction_error"] = model.prediction_error(prediction.seconds * speed, measured_s)
    return out


def _range(table: model.EfficiencyTable | None) -> str:
    if table is None:
        return "-"
    low, high = min(table.efficiencies), max(table.efficiencies)
    return f"{low:.0%}" if round(low, 2) == round(high, 2) else f"{low:.0%} to {high:.0%}"


def _timing(disturbance: model.Disturbance) -> str:
    load = (
        "machine load unknown"
        if disturbance.other_cores is None
        else f"other programs used {disturbance.other_cores:.1f} CPU cores on average"
    )
    return (
        f"{load}; {disturbance.disturbed} of {disturbance.benchmarks} benchmarks timed on a busy machine, "
        f"{disturbance.noisy} noisy"
        + (" — BUSY: recalibrate on a quiet machine" if disturbance.busy_machine else "")
    )


def format_calibration(calibration: model.Calibration) -> str:
    printed = calibration.fingerprint
    lines = [
        (
            f"machine    {printed.label} ({printed.device}, {printed.threads} threads), torch "
            f"{printed.torch_version}, {printed.dtype}{', quick' if calibration.quick else ''}"
        ),
        (
            f"roofs      {si(calibration.peak_flops_per_s, 'FLOP/s')}, "
            f"{si_bytes(calibration.bandwidth_bytes_per_s)}/s (probed)"
        ),
        (
            f"overheads  {duration(calibration.op_overhead_s)} per op, "
            f"{duration(calibration.call_overhead_s)} per model call"
        ),
        f"took       {calibration.seconds:.1f} s",
        f"timing     {_timing(calibration.disturbance)}",
        "",
    ]
    header = ("kind of work", "benchmarks", "of compute roof", "of bandwidth roof")
    rows = [header] + [
        (fit.kind.value, str(fit.samples), _range(fit.compute), _range(fit.memory))
        for fit in calibration.fits
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines += ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)) for row in rows]
    lines.append(
        "Attained fractions of the probed roofs over the sizes benchmarked (above 100 % of the bandwidth "
        "roof: from cache). A layer is predicted as max(FLOPs / (e_c × peak), bytes / (e_b × bandwidth)) "
        "+ the op overhead."
    )
    return "\n".join(lines)


def add_commands(commands) -> None:
    parser = commands.add_parser(
        "calibrate",
        help="time this machine's kinds of work once and fit a latency model (stored for latency)",
        description="Times micro-benchmarks per kind of work (convolutions, linear, attention, norms, "
        "activations, elementwise, pooling, reductions) and the per-op overhead on this device, fits the "
        "attained fraction of the probed compute and bandwidth roofs by size (linear and attention: by "
        "FLOPs per byte), and stores it for `latency --device`. "
        "At most a minute (--quick: ten seconds, less accurate).",
    )
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--dtype", choices=CALIBRATED_DTYPES, default="fp32")
    parser.add_argument("--quick", action="store_true", help="a short grid, about ten seconds; less accurate")
    parser.add_argument(
        "--json", action="store_true", help="print the calibration as JSON (for latency --calibration FILE)"
    )
    parser.set_defaults(run=_calibrate)
