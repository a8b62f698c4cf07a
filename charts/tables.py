"""Report -> pandas DataFrame for the per-layer table and its CSV download."""

from __future__ import annotations

import pandas as pd

from calc.analyze import Report


def _shape(shape: tuple[int, ...]) -> str:
    return "×".join(map(str, shape))


def layer_table(report: Report, pending: list[tuple[int, str]] = ()) -> pd.DataFrame:
    """One row per layer and per part (indented); ``pending`` lists layers not analysed
    (index, kind) because an earlier layer does not fit its input."""
    total = report.macs or 1
    records = []
    for row in report.rows_with_parts():
        records.append({
            "#": row.name, "layer": ("  └ " if row.is_part else "") + row.kind,
            "output shape": _shape(row.output_shape), "params": row.params, "MACs": row.macs,
            "FLOPs": row.flops, "other ops": row.other_ops,
            "share of MACs": row.macs / total,
            "weights (bytes)": row.weight_bytes, "activations (bytes)": row.input_bytes + row.output_bytes,
            "FLOPs per byte": round(row.intensity, 2),
        })
    for position, (index, kind) in enumerate(pending):
        records.append({"#": str(index), "layer": kind,
                        "output shape": "⚠ does not fit its input" if position == 0 else "not analysed"})
    return pd.DataFrame.from_records(records, columns=[
        "#", "layer", "output shape", "params", "MACs", "FLOPs", "other ops", "share of MACs", "weights (bytes)",
        "activations (bytes)", "FLOPs per byte"])
