"""Units: SI formatting and the one place where FLOPs are derived from MACs.

K, M, G, T, P are powers of 1000. FLOPs is a count; FLOPS (FLOP/s) is a rate.

One notation on every page: in text the prefix joins its unit, ``si(x, "MACs")`` ->
"86.70 MMACs", "8.178 GFLOPs", "35.58 TFLOP/s" (never ``f"{si(x)}MACs"``, which gives
"512MACs" below 1000); a metric or a column whose label names the unit shows the number
with its prefix only ("MACs: 86.70 M"). Shapes are joined with "×" and changes with "→".
"""

from __future__ import annotations

from collections.abc import Iterable

FLOPS_PER_MAC = 2  # one multiply and one add

SI_PREFIXES = (("P", 10**15), ("T", 10**12), ("G", 10**9), ("M", 10**6), ("K", 10**3))

DTYPE_BYTES = {"fp32": 4, "fp16": 2, "bf16": 2, "int8": 1}


def flops_from_macs(macs: int) -> int:
    """FLOPs = 2 x MACs: the only place this conversion is made."""
    return FLOPS_PER_MAC * macs


def _rounded(scaled: float, significant: int) -> str:
    whole_digits = len(str(int(abs(scaled))))
    return f"{scaled:.{max(significant - whole_digits, 0)}f}"


def si(value: float, unit: str = "", significant: int = 4) -> str:
    """``86704128 -> '86.70 M'``, ``217098 -> '217.1 K'``; exact below 1000 (``'512'``)."""
    magnitude = abs(value)
    chosen = None
    for prefix, scale in reversed(SI_PREFIXES):  # K first, so the largest fitting prefix wins
        if magnitude >= scale or (chosen and abs(float(_rounded(value / chosen[1], significant))) >= 1000):
            chosen = (prefix, scale)
    if chosen:
        return f"{_rounded(value / chosen[1], significant)} {chosen[0]}{unit}".rstrip()
    if float(value).is_integer():
        return f"{int(value)} {unit}".rstrip()
    return f"{value:.{significant}g} {unit}".rstrip()


def si_bytes(n_bytes: int, significant: int = 4) -> str:
    """Bytes in SI units (kB = 1000 B), as memory bandwidths are quoted."""
    text = si(n_bytes, "B", significant)
    return text.replace(" KB", " kB")


def exact(value: int) -> str:
    """Thousands separators: ``86,704,128``."""
    return f"{value:,}"


def duration(seconds: float, significant: int = 4) -> str:
    """Latency as read aloud: ``2.297e-4 -> '0.2297 ms'``, ``0.0361 -> '36.10 ms'``,
    ``1.25 -> '1.250 s'``, ``1.2e-5 -> '12.00 µs'``; milliseconds from 0.1 ms up."""
    if seconds != seconds or seconds in (float("inf"), float("-inf")):
        return "—"
    if seconds == 0:
        return "0 s"
    magnitude = abs(seconds)
    if magnitude >= 1:
        scaled, unit = seconds, "s"
    elif magnitude >= 1e-4:
        scaled, unit = seconds * 1e3, "ms"
    elif magnitude >= 1e-7:
        scaled, unit = seconds * 1e6, "µs"
    else:
        scaled, unit = seconds * 1e9, "ns"
    if abs(scaled) < 1:
        return f"{scaled:.{significant}f} {unit}"
    return f"{_rounded(scaled, significant)} {unit}"


def op_counts(counts: Iterable[tuple[str, int]]) -> str:
    """Ops and how often each ran, for a line of text: "aten.cumprod ×1, aten.foo ×3"."""
    return ", ".join(f"{op} ×{count}" for op, count in counts)
