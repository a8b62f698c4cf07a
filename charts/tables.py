"""Report -> pandas DataFrame for the per-layer table and its CSV download."""

from __future__ import annotations

import pandas as pd

from calc.analyze import Report


def _shape(shape: tuple[int, ...]) -> str:
    return "×".join(map(str, shape))


SCREEN_COLUMNS = ["#", "layer", "output shape", "params", "MACs", "FLOPs", "share of MACs", "other ops",
                  "bytes moved", "FLOPs per byte"]


def layer_table(report: Report) -> pd.DataFrame:
    """One row per analysed layer and per part of a composite layer (indented).

    Every column goes into the CSV download; SCREEN_COLUMNS fit a 1280-pixel screen."""
    total = report.macs or 1
    records = []
    for row in report.rows_with_parts():
        records.append({
            "#": row.name, "layer": ("  └ " if row.is_part else "") + row.kind,
            "output shape": _shape(row.output_shape), "params": row.params, "MACs": row.macs,
            "FLOPs": row.flops, "share of MACs": row.macs / total, "other ops": row.other_ops,
            "bytes moved": row.memory_bytes, "FLOPs per byte": round(row.intensity, 2),
            "weight bytes": row.weight_bytes, "input bytes": row.input_bytes, "output bytes": row.output_bytes,
            "input shape": _shape(row.input_shape),
        })
    return pd.DataFrame.from_records(records, columns=SCREEN_COLUMNS + [
        "weight bytes", "input bytes", "output bytes", "input shape"])
