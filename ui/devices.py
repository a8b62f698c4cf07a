"""The Latency page's devices: presets, this machine's probed roofs and the custom devices
of this session, and a custom device's form callback and link text."""

from __future__ import annotations

import json

import streamlit as st

from calc import hardware as hw
from calc.errors import SpecError, echo
from calc.jsontext import read_json
from ui import latency_runs as runs
from ui.links import MAX_VALUE_CHARS

CUSTOM = "latency_custom_devices"  # name -> Hardware, added in this session
# The form's units, T(FL)OP/s and GB/s, and its limits: calc.hardware's, which a link's device meets too.
PEAK_UNIT, BANDWIDTH_UNIT = 1e12, 1e9
MAX_PEAK = hw.MAX_PEAK_FLOPS_PER_S / PEAK_UNIT
MAX_BANDWIDTH = hw.MAX_BANDWIDTH_BYTES_PER_S / BANDWIDTH_UNIT


def add_custom_device() -> None:
    values = st.session_state
    peaks = {dtype: values[f"latency_custom_{dtype}"] * PEAK_UNIT for dtype in hw.COMPUTE_DTYPES}
    bandwidth_bytes_per_s = values["latency_custom_bandwidth"] * BANDWIDTH_UNIT
    try:
        device = hw.custom_hardware(
            values["latency_custom_name"], peaks, bandwidth_bytes_per_s, values["latency_custom_kind"]
        )
    except SpecError as error:
        values["latency_custom_message"] = ("error", str(error))
        return
    values.setdefault(CUSTOM, {})[device.name] = device
    values["latency_hardware"] = device.name
    values["latency_custom_message"] = ("success", f"Added {device.name}; it is selected above.")


def devices() -> dict[str, hw.Hardware]:
    """Presets, then this machine's measured roofs (once probed), then custom devices."""
    choices = {entry.name: entry for entry in hw.PRESETS}
    for probe in st.session_state.get(runs.PROBES, {}).values():
        measured = probe.as_hardware()
        choices[measured.name] = measured
    return {**choices, **st.session_state.get(CUSTOM, {})}


def read_device(text: str) -> hw.Hardware:
    """A custom device from its link text (JSON, validated like the form's); SpecError naming the field."""
    entry = read_json(text, MAX_VALUE_CHARS)
    if not isinstance(entry, dict):
        raise SpecError('must be a JSON object with "name", "peaks" and "bandwidth"')
    unknown = sorted(set(entry) - {"name", "kind", "peaks", "bandwidth"})
    if unknown:
        raise SpecError("unknown key (allowed: name, kind, peaks, bandwidth)", field=unknown[0])
    for key in ("name", "peaks", "bandwidth"):
        if key not in entry:
            raise SpecError("is missing", field=key)
    if not isinstance(entry["name"], str):
        raise SpecError(f"must be text, got {echo(entry['name'])}", field="name")
    if not isinstance(entry["peaks"], dict):
        raise SpecError(f'must be an object like {{"fp32": 1e13}}, got {echo(entry["peaks"])}', field="peaks")
    return hw.custom_hardware(entry["name"], entry["peaks"], entry["bandwidth"], entry.get("kind", "GPU"))


def write_device(entry: hw.Hardware) -> str:
    return json.dumps(
        {
            "name": entry.name,
            "kind": entry.kind,
            "peaks": entry.peak_flops_per_s,
            "bandwidth": entry.bandwidth_bytes_per_s,
        },
        separators=(",", ":"),
    )
