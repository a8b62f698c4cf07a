"""The command line's depthwise-separable commands: separable, whatif."""

from __future__ import annotations

import argparse
import json

from calc.cli.arguments import check_batch_and_resolution, check_seq_len, read_source
from calc.cost import Cost
from calc.errors import SpecError
from calc.separable import Comparison, WhatIf, compare, what_if_stack
from calc.sources import Takes, stack_at
from calc.units import exact


def _term_text(cost: Cost) -> str:
    """A layer's MAC formula from its terms: symbols = numbers."""
    terms = cost.terms
    symbols = " + ".join(
        "·".join(symbol.replace("{", "").replace("}", "") for symbol, _ in term.factors) for term in terms
    )
    numbers = " + ".join("·".join(str(value) for _, value in term.factors) for term in terms)
    return f"{symbols} = {numbers}"


def _separable(args: argparse.Namespace) -> int:
    size = _size_argument(args.size)
    comparison = compare(
        args.in_channels, args.out_channels, args.kernel_size, size, args.stride, args.padding
    )
    out = {
        "input": list(comparison.input_shape),
        "output_shape": list(comparison.output_shape),
        "kernel_size": comparison.kernel_size,
        "stride": comparison.stride,
        "padding": comparison.padding,
        **{
            f"{part}_{count}": getattr(comparison, f"{part}_{count}")
            for count in ("macs", "params")
            for part in ("standard", "depthwise", "pointwise", "separable")
        },
        "savings": comparison.savings,
        "params_savings": comparison.params_savings,
        "approximate_savings": comparison.approximate_savings,
    }
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
        (
            "input",
            (
                f"{shape(c.input_shape)}, kernel {k}x{k}, stride {c.stride}, padding {c.padding}, no bias "
                f"-> output {shape(c.output_shape)}"
            ),
        ),
        ("standard", exact(c.standard_macs), exact(c.standard_params), _term_text(c.standard.rows[0].cost)),
        ("depthwise", exact(c.depthwise_macs), exact(c.depthwise_params), _term_text(depthwise)),
        ("pointwise", exact(c.pointwise_macs), exact(c.pointwise_params), _term_text(pointwise)),
        ("separable", exact(c.separable_macs), exact(c.separable_params), "depthwise + pointwise"),
    ]
    macs_width = max(len(line[1]) for line in lines[1:])
    params_width = max(len(line[2]) for line in lines[1:])
    text = [
        (label, f"{macs.rjust(macs_width)} MACs  {params.rjust(params_width)} params  {formula}")
        for label, macs, params, formula in lines[1:]
    ]
    text.insert(0, lines[0])
    text += [
        (
            "savings",
            (
                f"{c.savings:.4f} ({c.savings:.2%}) = 1 - {exact(c.separable_macs)} / "
                f"{exact(c.standard_macs)} (params: {c.params_savings:.4f})"
            ),
        ),
        (
            "approximate",
            (
                f"{c.approximate_savings:.4f} = 1 - (1/C_out + 1/K²) = 1 - (1/{c.out_channels} + 1/{k * k}), "
                "exact whenever both convs have the same output extent"
            ),
        ),
    ]
    width = max(len(label) for label, _ in text)
    return "\n".join(f"{label.ljust(width)}  {line}" for label, line in text)


def _whatif(args: argparse.Namespace) -> int:
    check_batch_and_resolution(None, args.resolution)
    check_seq_len(args.seq_len)
    source = read_source(args.model, "MODEL")
    if source.stack is not None:  # torch-free: a stack's own layers
        what_if = what_if_stack(stack_at(source.stack, args.resolution, None, None))
    else:
        from calc.torch_separable import what_if_source

        what_if = what_if_source(source, args.resolution, args.seq_len)
    out = {
        "model": source.name,
        "input_shape": list(what_if.before.input_shape),
        "batch": what_if.before.batch,
        "macs_before": what_if.macs_before,
        "macs_after": what_if.macs_after,
        "params_before": what_if.params_before,
        "params_after": what_if.params_after,
        "savings": what_if.savings,
        "params_savings": what_if.params_savings,
        "changes": [
            {
                "name": c.name,
                "kind_before": c.kind_before,
                "kind_after": c.kind_after,
                "macs_before": c.macs_before,
                "macs_after": c.macs_after,
                "params_before": c.params_before,
                "params_after": c.params_after,
                "savings": c.savings,
            }
            for c in what_if.changes
        ],
        "skipped": list(what_if.skipped),
    }
    text_model = source.takes is Takes.TOKENS
    print(json.dumps(out, indent=2) if args.json else _format_whatif(out, what_if, text_model))
    return 0


def _format_whatif(out: dict, what_if: WhatIf, text_model: bool = False) -> str:
    lines = [
        f"{out['model']}: input {'x'.join(map(str, out['input_shape']))}, batch {out['batch']}",
        f"MACs    {exact(out['macs_before'])} -> {exact(out['macs_after'])}, savings {out['savings']:.4f}",
        (
            f"params  {exact(out['params_before'])} -> {exact(out['params_after'])}, "
            f"savings {out['params_savings']:.4f}"
        ),
    ]
    if not what_if.changes and text_model:
        lines.append(
            "a text model: its work is in linear layers and attention, and it has no standard conv "
            "(groups 1, kernel over 1x1) to replace: the separable what-if does not apply, nothing changes"
        )
    elif not what_if.changes:
        lines.append("no standard conv (groups 1, kernel over 1x1) to replace: nothing changes")
    else:
        count = len(what_if.changes)
        lines.append(
            f"{count} standard conv{'s' if count > 1 else ''} (groups 1, kernel over 1x1) made depthwise "
            "kxk + pointwise 1x1, keeping out_channels, stride, padding, dilation and bias:"
        )
        header = (
            "layer",
            "before",
            "after",
            "MACs before",
            "MACs after",
            "params before",
            "params after",
            "savings",
        )
        table = [header] + [
            (
                c.name,
                c.kind_before,
                c.kind_after,
                exact(c.macs_before),
                exact(c.macs_after),
                exact(c.params_before),
                exact(c.params_after),
                f"{c.savings:.4f}",
            )
            for c in what_if.changes
        ]
        widths = [max(len(row[i]) for row in table) for i in range(len(header))]
        lines += [
            "  ".join(
                cell.ljust(w) if i < 3 else cell.rjust(w)
                for i, (cell, w) in enumerate(zip(row, widths, strict=True))
            )
            for row in table
        ]
    lines += [f"left alone: {reason}" for reason in what_if.skipped]
    return "\n".join(lines)


def add_commands(commands) -> None:
    separable = commands.add_parser(
        "separable",
        help="a standard kxk conv against depthwise kxk + pointwise 1x1 (no bias): MACs, params, savings",
    )
    separable.add_argument("--in-channels", type=int, required=True)
    separable.add_argument("--out-channels", type=int, required=True)
    separable.add_argument("--kernel-size", type=int, required=True)
    separable.add_argument("--size", required=True, help="input height and width: 224, or 224x112 (H x W)")
    separable.add_argument("--stride", type=int, default=1)
    separable.add_argument("--padding", type=int, help="default: kernel size // 2")
    separable.add_argument("--json", action="store_true", help="print JSON instead of lines")
    separable.set_defaults(run=_separable)
    whatif = commands.add_parser(
        "whatif",
        help="a model with every standard kxk conv (groups 1) made depthwise-separable: before and after",
    )
    whatif.add_argument(
        "model",
        metavar="MODEL",
        help="a SOURCE: a zoo name (see `python -m calc zoo`), timm:NAME, hf:NAME, or a stack or "
        "config.json file",
    )
    whatif.add_argument("--resolution", type=int, help="input height and width (default: the model's)")
    whatif.add_argument("--seq-len", type=int, help="tokens of a text model's input (default 128)")
    whatif.add_argument("--json", action="store_true", help="print JSON instead of lines")
    whatif.set_defaults(run=_whatif)
