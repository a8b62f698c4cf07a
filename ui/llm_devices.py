"""The LLM page's devices: a preset with a memory figure, a custom device (the peak for the
activation dtype, the memory bandwidth and the memory, in the units each input states), or this
machine (its CPU's roofs as the Latency page probes them, kept in the session for both pages, and
its RAM). The choice and a custom device's figures travel in the share link."""

from __future__ import annotations

import dataclasses

import streamlit as st

from calc import hardware as hw
from calc.errors import SpecError
from calc.units import si_bytes
from ui import latency_runs as runs
from ui import links
from ui.devices import BANDWIDTH_UNIT, PEAK_UNIT

CUSTOM, MACHINE = "Custom device", "This machine (CPU)"
DEFAULT = "NVIDIA A100 80GB SXM"
MEMORY_UNIT = 1e9  # GB: powers of 1000, as every byte count here
PEAK = links.Real(hw.MAX_PEAK_FLOPS_PER_S / PEAK_UNIT, 10.0, "TFLOP/s")
BANDWIDTH = links.Real(hw.MAX_BANDWIDTH_BYTES_PER_S / BANDWIDTH_UNIT, 100.0, "GB/s")
MEMORY = links.Real(hw.MAX_MEMORY_BYTES / MEMORY_UNIT, 8.0, "GB")
PROBED_FOR = "llm_probed_for"  # the dtypes this session's LLM page has had this CPU probed for
KEYS = {"peak": "llm_custom_peak", "bandwidth": "llm_custom_bandwidth", "memory": "llm_custom_memory"}


def presets() -> dict[str, hw.Hardware]:
    """The presets with a memory figure (what fits is the point), by name."""
    return {entry.name: entry for entry in hw.PRESETS if entry.memory_bytes is not None}


def choices() -> tuple[str, ...]:
    return (*presets(), CUSTOM, MACHINE)


def peak_label(dtype: str) -> str:
    return f"Peak {dtype} ({PEAK.unit})"


LABELS = {"bandwidth": f"Memory bandwidth ({BANDWIDTH.unit})", "memory": f"Memory ({MEMORY.unit})"}


def link_values(choice: str) -> dict[str, None]:
    """A custom device's figures stay out of the link unless it is the one chosen."""
    return {} if choice == CUSTOM else {"peak": None, "bw": None, "mem": None}


def set_defaults() -> None:
    """The default device, and the custom form's first figures: the default preset's, in bf16."""
    start = presets()[DEFAULT]
    st.session_state.setdefault("llm_hardware", DEFAULT)
    st.session_state.setdefault(KEYS["peak"], start.peak("bf16") / PEAK_UNIT)
    st.session_state.setdefault(KEYS["bandwidth"], start.bandwidth_bytes_per_s / BANDWIDTH_UNIT)
    st.session_state.setdefault(KEYS["memory"], start.memory_bytes / MEMORY_UNIT)


def custom_inputs(dtype: str) -> None:
    """The custom device's three figures (drawn only when it is chosen)."""
    st.number_input(
        peak_label(dtype),
        **PEAK.widget(KEYS["peak"]),
        format="%.3f",
        help=f"Dense peak for {dtype}, the activation dtype: 1 TFLOP/s = 10¹² FLOP/s",
    )
    st.number_input(
        LABELS["bandwidth"],
        **BANDWIDTH.widget(KEYS["bandwidth"]),
        help="1 GB/s = 10⁹ bytes/s",
    )
    st.number_input(
        LABELS["memory"],
        **MEMORY.widget(KEYS["memory"]),
        help="Memory for weights, KV cache and activations: 1 GB = 10⁹ bytes (80 GiB = 85.9 GB)",
    )


def custom_device(dtype: str) -> hw.Hardware:
    """The custom form's device; SpecError whose field is the input's label."""
    values = {name: float(st.session_state[key]) for name, key in KEYS.items()}
    if values["peak"] <= 0:  # calc reads a peak of 0 as "none for this dtype"
        raise SpecError("must be above 0", field=peak_label(dtype))
    try:
        return hw.custom_hardware(
            CUSTOM,
            {dtype: values["peak"] * PEAK_UNIT},
            values["bandwidth"] * BANDWIDTH_UNIT,
            memory_bytes=values["memory"] * MEMORY_UNIT,
        )
    except SpecError as error:
        label = LABELS.get(error.field, peak_label(dtype))
        raise SpecError(error.reason, field=label) from None


def this_machine(dtype: str) -> hw.Hardware:
    """This CPU's probed roofs (probing now, with a progress bar, if this session has not yet, or
    has only for other dtypes, as a Latency measurement does) and this machine's RAM as its memory."""
    known = st.session_state.get(runs.PROBES, {}).get("cpu")
    asked = st.session_state.setdefault(PROBED_FOR, set())
    # Once per dtype: a dtype this CPU cannot run stays missing, and is said, not probed again each run.
    missing = known is not None and dtype not in known.peak_flops_per_s and dtype not in asked
    asked.add(dtype)
    probed = runs.probe("cpu", rerun=missing).as_hardware()
    return dataclasses.replace(probed, memory_bytes=hw.machine_memory_bytes())


def provenance(choice: str, device: hw.Hardware) -> str | None:
    """Where this machine's figures come from (a preset's and a custom device's are known)."""
    if choice != MACHINE:
        return None
    memory = si_bytes(device.memory_bytes) if device.memory_bytes is not None else "unknown (not reported)"
    return f"Roofs {device.source}. Memory: this machine's RAM, {memory}."


def device(choice: str, dtype: str) -> hw.Hardware:
    """The chosen device; SpecError naming what is wrong with a custom one or the probe."""
    if choice == CUSTOM:
        return custom_device(dtype)
    if choice == MACHINE:
        return this_machine(dtype)
    return presets()[choice]


__all__ = [
    "CUSTOM",
    "MACHINE",
    "choices",
    "custom_inputs",
    "device",
    "link_values",
    "presets",
    "provenance",
    "set_defaults",
]
