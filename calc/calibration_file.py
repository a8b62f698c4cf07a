"""A calibration (calc.calibration) as JSON, and this machine's calibrations in the user's cache folder.

The JSON is what ``calc calibrate --json`` prints and ``calc latency --calibration FILE``
reads: a user's file, so it is read with calc.jsontext's limits and every field's type is
checked; anything else raises ValueError saying what is wrong. In the cache folder
(calc.disk_cache) a calibration is keyed by its machine's fingerprint (device, CPU model
or GPU name, threads, torch version, dtype), whether it is quick, and FORMAT: a file that
is absent, corrupt, of another format or of another machine is no calibration, and the
caller calibrates again.
"""

from __future__ import annotations

import json
import math

from calc import disk_cache
from calc.calibration import (
    Calibration,
    Disturbance,
    EfficiencyTable,
    Fingerprint,
    KindFit,
    kind_of,
)
from calc.cost import checked_int, checked_str
from calc.errors import SpecError
from calc.hardware import STORAGE_DTYPE
from calc.jsontext import read_json

# of a calibration's JSON: a new model, grid or timing gets a new number; old files are stale (rebuilt,
# or refused with "calibrate again" when imported). 3: global pooling a kind apart, the disturbance;
# 4: convolutions refined by the kernel torch runs them on (calc.conv_path), the channel block
FORMAT = 5
MAX_JSON_CHARS = 200_000  # a calibration is a few kB


def _number(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"expected a finite number, got {value!r:.40}")
    return float(value)


def _numbers(value: object) -> tuple[float, ...]:
    if not isinstance(value, list):
        raise ValueError(f"expected a list of numbers, got {value!r:.40}")
    return tuple(_number(item) for item in value)


def _object(value: object, keys: set[str]) -> dict:
    if not isinstance(value, dict):
        raise ValueError(f"expected an object, got {value!r:.40}")
    if set(value) != keys:
        missing, extra = sorted(keys - set(value)), sorted(set(value) - keys)
        raise ValueError(f"expected the keys {sorted(keys)}; missing {missing}, unexpected {extra}")
    return value


def _table_to_data(table: EfficiencyTable | None) -> dict | None:
    if table is None:
        return None
    return {"log10_sizes": list(table.log10_sizes), "efficiencies": list(table.efficiencies)}


def _table_from_data(value: object) -> EfficiencyTable:
    data = _object(value, {"log10_sizes", "efficiencies"})
    return EfficiencyTable(_numbers(data["log10_sizes"]), _numbers(data["efficiencies"]))


def calibration_to_data(calibration: Calibration) -> dict:
    """The JSON of a calibration (what ``calc calibrate --json`` prints and ``--calibration`` reads)."""
    return {
        "format": FORMAT,
        "fingerprint": calibration.fingerprint.as_data(),
        "peak_flops_per_s": calibration.peak_flops_per_s,
        "bandwidth_bytes_per_s": calibration.bandwidth_bytes_per_s,
        "op_overhead_s": calibration.op_overhead_s,
        "call_overhead_s": calibration.call_overhead_s,
        "quick": calibration.quick,
        "seconds": calibration.seconds,
        "channel_block": calibration.channel_block,
        "reference_s": calibration.reference_s,
        "disturbance": {
            "other_cores": calibration.disturbance.other_cores,
            "benchmarks": calibration.disturbance.benchmarks,
            "disturbed": calibration.disturbance.disturbed,
            "noisy": calibration.disturbance.noisy,
        },
        "fits": [
            {
                "kind": fit.kind.value,
                "compute": _table_to_data(fit.compute),
                "memory": _table_to_data(fit.memory),
                "samples": fit.samples,
            }
            for fit in calibration.fits
        ],
    }


CALIBRATION_KEYS = {
    "format",
    "fingerprint",
    "peak_flops_per_s",
    "bandwidth_bytes_per_s",
    "op_overhead_s",
    "call_overhead_s",
    "quick",
    "seconds",
    "disturbance",
    "channel_block",
    "reference_s",
    "fits",
}


def calibration_from_data(value: object) -> Calibration:
    """The inverse of calibration_to_data, every field's type checked; ValueError on anything else
    (another format's file included: it is stale)."""
    # the format first: another format's file has other keys, and "calibrate again" is what helps
    if (
        isinstance(value, dict)
        and "format" in value
        and (value["format"] != FORMAT or isinstance(value["format"], bool))
    ):
        raise ValueError(f"a calibration of format {value['format']!r:.20}, not {FORMAT}: calibrate again")
    data = _object(value, CALIBRATION_KEYS)
    print_ = _object(data["fingerprint"], {"device", "label", "threads", "torch_version", "dtype"})
    fingerprint = Fingerprint(
        checked_str(print_["device"]),
        checked_str(print_["label"]),
        checked_int(print_["threads"]),
        checked_str(print_["torch_version"]),
        checked_str(print_["dtype"]),
    )
    if fingerprint.dtype not in STORAGE_DTYPE:
        raise ValueError(f"unknown dtype {fingerprint.dtype!r:.20}")
    if not isinstance(data["quick"], bool):
        raise ValueError("quick must be true or false")
    if not isinstance(data["fits"], list):
        raise ValueError("fits must be a list")
    fits = []
    for item in data["fits"]:
        fit = _object(item, {"kind", "compute", "memory", "samples"})
        fits.append(
            KindFit(
                kind_of(checked_str(fit["kind"])),
                None if fit["compute"] is None else _table_from_data(fit["compute"]),
                _table_from_data(fit["memory"]),
                checked_int(fit["samples"]),
            )
        )
    disturbance = _object(data["disturbance"], {"other_cores", "benchmarks", "disturbed", "noisy"})
    return Calibration(
        fingerprint,
        _number(data["peak_flops_per_s"]),
        _number(data["bandwidth_bytes_per_s"]),
        _number(data["op_overhead_s"]),
        _number(data["call_overhead_s"]),
        tuple(fits),
        data["quick"],
        _number(data["seconds"]),
        Disturbance(
            None if disturbance["other_cores"] is None else _number(disturbance["other_cores"]),
            checked_int(disturbance["benchmarks"]),
            checked_int(disturbance["disturbed"]),
            checked_int(disturbance["noisy"]),
        ),
        checked_int(data["channel_block"]),
        _number(data["reference_s"]),
    )


def calibration_to_json(calibration: Calibration) -> str:
    return json.dumps(calibration_to_data(calibration), indent=2)


def calibration_from_json(text: str) -> Calibration:
    """A calibration from JSON text (a file a user gives), read with calc.jsontext's limits;
    ValueError (a SpecError for text that is not JSON) saying what is wrong."""
    try:
        return calibration_from_data(read_json(text, MAX_JSON_CHARS))
    except SpecError:
        raise
    except (ValueError, TypeError, KeyError) as error:
        raise ValueError(f"not a MACscope calibration: {error}") from None


# ------------------------------------------------------------------ this machine's, on disk

CACHE_KIND = "calibration"


def cache_key(fingerprint: Fingerprint, quick: bool = False) -> dict:
    return {**fingerprint.as_data(), "quick": quick, "calibration_format": FORMAT}


def stored(fingerprint: Fingerprint, quick: bool = False) -> Calibration | None:
    """The calibration stored for ``fingerprint`` in the user's cache folder (calc.disk_cache), or
    None: absent, corrupt, of another format or for another fingerprint are all "none"."""
    value = disk_cache.read(CACHE_KIND, cache_key(fingerprint, quick))
    if value is None:
        return None
    try:
        calibration = calibration_from_data(value)
    except (ValueError, TypeError, KeyError):
        return None
    return calibration if calibration.fingerprint == fingerprint else None


def store(calibration: Calibration) -> None:
    disk_cache.write(
        CACHE_KIND,
        cache_key(calibration.fingerprint, calibration.quick),
        calibration_to_data(calibration),
    )


__all__ = [
    "calibration_from_data",
    "calibration_from_json",
    "calibration_to_data",
    "calibration_to_json",
    "store",
    "stored",
]
