"""Report -> pandas DataFrame for the per-layer table and its CSV download."""

from __future__ import annotations

import pandas as pd

from calc.analyze import Report


def _shape(shape: tuple[int, ...]) -> str:
    return "×".join(map(str, shape))


SCREEN_COLUMNS = [
    "#",
    "layer",
    "output shape",
    "params",
    "MACs",
    "FLOPs",
    "share of MACs",
    "other ops",
    "bytes moved",
    "FLOPs per byte",
]
COUNT_COLUMNS = [
    "params",
    "MACs",
    "FLOPs",
    "other ops",
    "bytes moved",
    "weight bytes",
    "input bytes",
    "output bytes",
]
INT64_MAX = 2**63 - 1  # Arrow's widest integer, which st.dataframe converts every column to


def exact_text(table: pd.DataFrame) -> pd.DataFrame:
    """Count columns holding a value beyond int64 (an attention over a very long sequence
    reaches one) as exact text with thousands separators; every other column, and every
    column of a normal-sized table, stays numeric and sortable."""
    for column in COUNT_COLUMNS:
        if column in table and any(value > INT64_MAX for value in table[column]):
            table[column] = [f"{value:,}" for value in table[column]]
    return table


def text_columns(table: pd.DataFrame) -> set[str]:
    """The count columns ``exact_text`` turned into text: a page formats the others as numbers."""
    return {
        column
        for column in COUNT_COLUMNS
        if column in table and not pd.api.types.is_numeric_dtype(table[column])
    }


def layer_table(report: Report) -> pd.DataFrame:
    """One row per analysed layer and per part of a composite layer (indented).

    Every column goes into the CSV download; SCREEN_COLUMNS fit a 1280-pixel screen."""
    total = report.macs or 1
    records = [
        {
            "#": row.name,
            "layer": ("  └ " if row.is_part else "") + row.kind,
            "output shape": _shape(row.output_shape),
            "params": row.params,
            "MACs": row.macs,
            "FLOPs": row.flops,
            "share of MACs": row.macs / total,
            "other ops": row.other_ops,
            "bytes moved": row.memory_bytes,
            "FLOPs per byte": round(row.intensity, 2),
            "weight bytes": row.weight_bytes,
            "input bytes": row.input_bytes,
            "output bytes": row.output_bytes,
            "input shape": _shape(row.input_shape),
        }
        for row in report.rows_with_parts()
    ]
    return exact_text(
        pd.DataFrame.from_records(
            records, columns=[*SCREEN_COLUMNS, "weight bytes", "input bytes", "output bytes", "input shape"]
        )
    )


def layer_totals(report: Report) -> dict:
    """The totals row of a layer table: the report's own totals (parts are not added twice)."""
    return {
        "#": "total",
        "layer": f"{len(report.rows)} layer" + ("" if len(report.rows) == 1 else "s"),
        "output shape": _shape(report.output_shape),
        "params": report.params,
        "MACs": report.macs,
        "FLOPs": report.flops,
        "share of MACs": 1.0 if report.macs else 0.0,
        "other ops": report.other_ops,
        "bytes moved": report.memory_bytes,
        "FLOPs per byte": round(report.intensity, 2),
        "weight bytes": report.weight_bytes,
        "input bytes": sum(row.input_bytes for row in report.rows),
        "output bytes": sum(row.output_bytes for row in report.rows),
        "input shape": _shape(report.input_shape),
    }


# A torch model's rows are its modules: "#" is a module's path, "layer" its type.
MODULE_COLUMNS = {"#": "module path", "layer": "type"}


def module_table(report: Report, query: str = "") -> pd.DataFrame:
    """layer_table with a torch model's column names, keeping the rows whose module path or type
    contains ``query`` (any case, as typed: no pattern)."""
    table = layer_table(report).rename(columns=MODULE_COLUMNS)
    if not query:
        return table
    return table[
        table["module path"].str.contains(query, case=False, regex=False)
        | table["type"].str.contains(query, case=False, regex=False)
    ]


def module_totals(report: Report) -> dict:
    """layer_totals with module_table's column names."""
    return {MODULE_COLUMNS.get(key, key): value for key, value in layer_totals(report).items()}


def csv_bytes(table: pd.DataFrame, about: str, totals: dict | None = None) -> bytes:
    """A table as a spreadsheet should open it: a first line "# about" (what was counted: input,
    batch, dtype), the header and rows, then ``totals`` as a last row if given. UTF-8 with a
    byte-order mark: without one, Excel reads UTF-8 as a legacy code page and "197×768" comes
    out as "197Ã—768"."""
    if totals is not None:
        table = pd.concat([table, pd.DataFrame([totals], columns=table.columns)], ignore_index=True)
    return ("\ufeff# " + about.replace("\n", " ") + "\n" + table.to_csv(index=False)).encode("utf-8")
