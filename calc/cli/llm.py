"""The command line's ``llm``: a causal LM served on a device, prefill and decode by the roofline,
its memory against the device's, and (with --device) a reduced copy measured here."""

from __future__ import annotations

import argparse
import json
import math
import os

from calc.errors import SpecError
from calc.hardware import hardware
from calc.kv_cache import KV_DTYPE_BYTES
from calc.llm_phases import Forms, Setting, largest_batch, longest_context, memory, serve
from calc.llm_store import count_source
from calc.llm_weights import ACTIVATION_DTYPES, WEIGHT_FORMATS
from calc.time_bound import TimeBound
from calc.units import duration, exact, si, si_bytes

MEASURE_SECONDS = 60  # the whole of `llm --device`: probe, build, timing

FLAGS = {  # a calc field -> the option that sets it
    "prompt": "--prompt",
    "generate": "--generate",
    "batch": "--batch",
    "dtype": "--dtype",
    "weights": "--weights",
    "kv_dtype": "--kv-dtype",
}


def _as_option(error: SpecError) -> SpecError:
    return SpecError(error.reason, field=FLAGS.get(error.field, error.field))


def llm_counts(text: str):
    """The counted forms of SOURCE, refused unless it is a Hugging Face model."""
    return count_source(text)[0]


def _machine_memory_bytes(device: str) -> float:
    """The memory a model would live in here: the CUDA device's, or this machine's RAM."""
    if device == "cuda":
        import torch

        return float(torch.cuda.get_device_properties(0).total_memory)
    return float(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))


def _check_device(args: argparse.Namespace) -> None:
    """Refuse a device or dtype this machine or the preset has not, before counting."""
    if args.hardware:
        hardware(args.hardware).roofs(args.dtype)
        return
    import torch

    if args.device == "cuda" and not torch.cuda.is_available():
        raise SpecError("no CUDA device is available on this machine; use --device cpu", field="--device")
    from calc.torch_precision import check_device

    check_device(args.device, (args.dtype,))


def _device(args: argparse.Namespace, bound: TimeBound):
    """(hardware, memory capacity in bytes or None) of --hardware or of this machine, probed."""
    if args.hardware:
        preset = hardware(args.hardware)
        return preset, preset.memory_bytes
    from calc.torch_probe import probe

    measured = probe(args.device, dtypes=(args.dtype,), bound=bound)
    return measured.as_hardware(), _machine_memory_bytes(args.device)


def _llm(args: argparse.Namespace) -> int:
    setting = Setting(args.prompt, args.generate, args.batch, args.dtype, args.weights, args.kv_dtype)
    try:
        setting.check()
    except SpecError as error:
        raise _as_option(error) from None
    bound = TimeBound.starting_now(MEASURE_SECONDS)
    if args.device:
        from calc.cli.latency import quiet_torch_benchmark

        quiet_torch_benchmark()
    _check_device(args)
    counts, target = count_source(args.model)
    try:
        setting.check(counts.max_positions)
    except SpecError as error:
        raise _as_option(error) from None
    device, capacity = _device(args, bound)
    forms = Forms(counts)
    held = memory(forms, setting, capacity)
    if held.fits is False:
        most = largest_batch(forms, setting, capacity)
        need = f"{si_bytes(held.total_bytes)} (weights {si_bytes(held.weight_bytes)}, KV cache "
        need += f"{si_bytes(held.kv_cache_bytes)}, activations {si_bytes(held.activation_bytes)})"
        if most >= 1:
            raise SpecError(
                f"{setting.batch:,} sequences of {setting.prompt + setting.generate:,} tokens need {need}, "
                f"beyond {device.name}'s {si_bytes(capacity)}; at most {most:,} fit",
                field="--batch",
            )
        raise SpecError(
            f"one sequence needs {need}, beyond {device.name}'s {si_bytes(capacity)}; quantize the weights "
            "(--weights int8 or int4) or choose a larger device",
            field="--weights",
        )
    served = serve(forms, setting, device.roofs(args.dtype))
    out = {
        "model": counts.model,
        "params": counts.params,
        "active_params": counts.active_params if counts.active_params is not None else counts.params,
        "weight_bytes": math.ceil(held.weight_bytes),  # int4's group scales can end mid-byte
        "kv_cache_bytes": held.kv_cache_bytes,
        "kv_bytes_per_token": counts.cache.bytes_per_token(setting.cache_dtype),
        "memory_bytes": math.ceil(held.total_bytes),
        "fits": held.fits,
        "prefill": {
            "flops": served.prefill.flops,
            "bytes": math.ceil(served.prefill.bytes),
            "theoretical_s": served.prefill.theoretical_s,
            "roofline_s": served.prefill.roofline_s,
        },
        "decode": {
            "flops_per_token": served.decode.flops,
            "bytes_per_token": served.decode.bytes,
            "theoretical_s": served.decode.theoretical_s,
            "roofline_s": served.decode.roofline_s,
        },
        "time_to_first_token_s": served.time_to_first_token_s,
        "time_per_output_token_s": served.time_per_output_token_s,
        "tokens_per_s": served.tokens_per_s,
    }
    if args.device:
        out["measured"] = _measured(args, target, counts, setting, device, bound)
    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    limits = None
    if capacity is not None:
        limits = (largest_batch(forms, setting, capacity), longest_context(forms, setting, capacity))
    print(_format(out, setting, device, capacity, counts, limits))
    return 0


def _measured(args: argparse.Namespace, target, counts, setting: Setting, device, bound: TimeBound) -> dict:
    """A reduced copy timed here (calc.torch_llm_measure), against its own theory on the probed roofs."""
    from calc.torch_hf import config_for
    from calc.torch_llm_measure import measure_llm
    from calc.torch_memory import memory_budget_bytes

    config = config_for(target)
    run = measure_llm(
        config,
        counts,
        setting,
        args.device,
        device.roofs(args.dtype),
        memory_budget_bytes(args.device),
        bound,
    )
    return {
        "device": run.device,
        "dtype": run.dtype,
        "layers_kept": run.layers_kept,
        "layers": run.layers,
        "params": run.params,
        "prefill_s": run.prefill_s,
        "prefills": run.prefills,
        "decode_s_per_token": run.decode_s,
        "decode_steps": run.decode_steps,
        "theory_prefill_s": run.theory_prefill_s,
        "theory_decode_s_per_token": run.theory_decode_s,
        "prefill_theory_over_measured": run.prefill_efficiency,
        "decode_theory_over_measured": run.decode_efficiency,
    }


def _format(out: dict, setting: Setting, device, capacity, counts, limits) -> str:
    prefill, decode = out["prefill"], out["decode"]
    bound = lambda phase: (  # noqa: E731
        "memory-bound"
        if phase.get("bytes", phase.get("bytes_per_token")) / device.bandwidth_bytes_per_s
        > phase["theoretical_s"]
        else "compute-bound"
    )
    active = f" ({si(out['active_params'])} active per token)" if counts.active_params is not None else ""
    lines = [
        ("model", f"{out['model']}: {si(out['params'])} params{active}"),
        (
            "setting",
            (
                f"prompt {setting.prompt:,}, generate {setting.generate:,}, batch {setting.batch:,}; "
                f"{setting.dtype} activations, {setting.weight_format} weights, "
                f"{setting.cache_dtype} KV cache"
            ),
        ),
        (
            "device",
            (
                f"{device.name}: {si(device.roofs(setting.dtype).peak_flops_per_s, 'FLOP/s')}, "
                f"{si_bytes(device.bandwidth_bytes_per_s)}/s"
            ),
        ),
        ("weights", f"{si_bytes(out['weight_bytes'])} ({exact(round(out['weight_bytes']))} bytes)"),
        (
            "KV cache",
            (
                f"{si_bytes(out['kv_cache_bytes'])} at {setting.prompt + setting.generate:,} tokens "
                f"({exact(out['kv_bytes_per_token'])} bytes per token)"
            ),
        ),
        (
            "memory",
            f"{si_bytes(out['memory_bytes'])}"
            + (
                ""
                if capacity is None
                else f" of {si_bytes(capacity)}: {'fits' if out['fits'] else 'does not fit'}"
            ),
        ),
    ]
    if limits is not None:
        lines.append(
            (
                "limits",
                (
                    f"at most {limits[0]:,} sequences of this length; at most {limits[1]:,} tokens "
                    f"of context at batch {setting.batch:,}"
                ),
            )
        )
    lines += [
        (
            "prefill",
            (
                f"{si(prefill['flops'], 'FLOPs')}, {si_bytes(prefill['bytes'])} moved: "
                f"TTFT {duration(out['time_to_first_token_s'])} ({bound(prefill)})"
            ),
        ),
        (
            "decode",
            (
                f"{si(decode['flops_per_token'], 'FLOPs')}, "
                f"{si_bytes(decode['bytes_per_token'])} moved per step: "
                f"TPOT {duration(out['time_per_output_token_s'])} ({bound(decode)}), "
                f"{out['tokens_per_s']:,.1f} tokens/s"
            ),
        ),
    ]
    run = out.get("measured")
    if run is not None:
        lines += [
            (
                "measured",
                (
                    f"{run['layers_kept']} of {run['layers']} layers ({si(run['params'])} params, random "
                    f"weights, {run['dtype']}) on {run['device']}: prefill {duration(run['prefill_s'])} "
                    f"(median of {run['prefills']}), decode {duration(run['decode_s_per_token'])} per step "
                    f"(median of {run['decode_steps']})"
                ),
            ),
            (
                "vs theory",
                (
                    f"the copy's roofline here: prefill {duration(run['theory_prefill_s'])} "
                    f"({run['prefill_theory_over_measured']:.0%} of measured), decode "
                    f"{duration(run['theory_decode_s_per_token'])} "
                    f"({run['decode_theory_over_measured']:.0%})"
                ),
            ),
        ]
    width = max(len(label) for label, _ in lines)
    return "\n".join(f"{label.ljust(width)}  {text}" for label, text in lines)


def add_commands(commands) -> None:
    llm = commands.add_parser(
        "llm",
        help="an LLM served on a device: prefill and decode by the roofline, KV cache, memory",
        description="Time to first token (prefill roofline), time per output token (decode roofline, mean "
        "over the generated tokens), tokens/s, KV cache and memory of a Hugging Face causal LM on a "
        "hardware preset (--hardware) or on this machine (--device). Counted once on meta, no weights. "
        "Decode figures are per step: one token for each of the B sequences, the mean over the G steps.",
    )
    llm.add_argument("model", metavar="SOURCE", help="hf:NAME, a curated checkpoint, or a config.json")
    llm.add_argument("--prompt", type=int, default=512, help="prompt tokens P (default 512)")
    llm.add_argument("--generate", type=int, default=128, help="generated tokens G (default 128)")
    llm.add_argument("--batch", type=int, default=1, help="sequences B (default 1)")
    llm.add_argument("--dtype", choices=ACTIVATION_DTYPES, default="bf16", help="activations (default bf16)")
    llm.add_argument("--weights", choices=tuple(WEIGHT_FORMATS), help="weight storage (default: --dtype)")
    kv_choices = tuple(name for name in KV_DTYPE_BYTES if name != "fp32")
    llm.add_argument("--kv-dtype", choices=kv_choices, help="KV cache storage (default: --dtype)")
    where = llm.add_mutually_exclusive_group(required=True)
    where.add_argument("--hardware", metavar="NAME", help="a preset, see `python -m calc hardware`")
    where.add_argument("--device", choices=("cpu", "cuda"), help="this machine's probed roofs and memory")
    llm.add_argument("--json", action="store_true", help="print JSON instead of lines")
    llm.set_defaults(run=_llm)
