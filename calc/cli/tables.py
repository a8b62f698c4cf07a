"""A Report as a text table: a row per layer and per part, then the totals and the units."""

from __future__ import annotations

from calc.analyze import Report
from calc.units import exact


def format_table(report: Report) -> str:
    header = ("#", "type", "output shape", "params", "MACs", "FLOPs", "other ops")
    lines = [header]
    for row in report.rows_with_parts():
        name = f"  {row.name}" if row.is_part else row.name
        lines.append(
            (
                name,
                row.kind,
                "x".join(map(str, row.output_shape)),
                exact(row.params),
                exact(row.macs),
                exact(row.flops),
                exact(row.other_ops),
            )
        )
    lines.append(
        (
            "",
            "total",
            "x".join(map(str, report.output_shape)),
            exact(report.params),
            exact(report.macs),
            exact(report.flops),
            exact(report.other_ops),
        )
    )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    aligned = [
        "  ".join(
            cell.ljust(w) if i < 3 else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(line, widths, strict=True))
        )
        for line in lines
    ]
    aligned.insert(1, "-" * len(aligned[0]))
    aligned.insert(len(aligned) - 1, "-" * len(aligned[0]))
    units = (
        f"batch {report.batch}, {report.dtype}; MACs exclude bias adds; FLOPs = 2 x MACs; "
        "other ops = bias, norm, activation, pooling, softmax"
    )
    return "\n".join([*aligned, units])
