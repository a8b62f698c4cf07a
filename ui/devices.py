"""The Latency page's devices: presets, this machine's probed roofs and the custom devices
of this session, and a custom device's form callback and link text."""

from __future__ import annotations

import json

import streamlit as st

from calc import hardware as hw
from calc.errors import SpecError
from ui import latency_runs as runs

CUSTOM = "latency_custom_devices"    # name -> Hardware, added in this session


def add_custom_device() -> None:
    values = st.session_state
    peaks = {dtype: values[f"latency_custom_{dtype}"] * 1e12 for dtype in hw.COMPUTE_DTYPES}
    try:
        device = hw.custom_hardware(values["latency_custom_name"], peaks, values["latency_custom_bandwidth"] * 1e9,
                                    values["latency_custom_kind"])
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
    """A custom device from its link text (JSON, validated like the form's)."""
    try:
        entry = json.loads(text)
        return hw.custom_hardware(str(entry["name"]), dict(entry["peaks"]), float(entry["bandwidth"]),
                                  str(entry.get("kind", "GPU")))
    except (ValueError, KeyError, TypeError, AttributeError):
        raise ValueError("is not a device description") from None


def write_device(entry: hw.Hardware) -> str:
    return json.dumps({"name": entry.name, "kind": entry.kind, "peaks": entry.peak_flops_per_s,
                       "bandwidth": entry.bandwidth_bytes_per_s}, separators=(",", ":"))
