"""The Latency page's long work: probing this machine, measuring a model, sweeping batch
sizes. Each shows a progress bar and keeps its result in the session, so moving to
another tab or widget never measures again; a button re-runs it."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Callable

import streamlit as st

from calc import analyze, parse_stack, zoo
from calc.analyze import Report
from calc.errors import SpecError

PROBES = "latency_probes"              # device -> Probe
RESULTS = "latency_results"            # subject key -> MeasuredRun
SWEEPS = "latency_sweeps"              # subject key without batch -> {batch: Measurement}

MIN_RUN_SECONDS = 1.0                  # blocked_autorange's minimum timing per measurement
MAX_SECONDS = 30.0                     # refuse a forward pass too slow to time within this
SWEEP_MIN_RUN_SECONDS = 0.3


@dataclass(frozen=True)
class Subject:
    """What is timed: a zoo model or the Builder's stack, at a resolution, batch and dtype."""
    label: str
    name: str | None                   # zoo name, or None for the Builder stack
    stack: dict | None                 # the Builder's stack JSON (storage dtype and batch applied)
    resolution: int | None
    input_shape: tuple[int, ...]

    def key(self, batch: int | None, dtype: str, device: str) -> str:
        identity = self.name or "builder:" + hashlib.sha1(json.dumps(self.stack, sort_keys=True,
                                                                     default=str).encode()).hexdigest()[:12]
        return f"{identity}|{self.resolution}|{batch}|{dtype}|{device}"

    def report(self, batch: int, storage_dtype: str) -> Report:
        if self.name is not None:
            return zoo.count(self.name, self.resolution, batch, storage_dtype)
        return analyze(parse_stack(dict(self.stack, batch=batch, dtype=storage_dtype)))

    def module(self):
        if self.name is not None:
            return zoo.module(self.name, self.resolution)
        from calc.torch_build import build_stack

        return build_stack(parse_stack(self.stack))


@dataclass(frozen=True)
class MeasuredRun:
    measurement: Any                   # calc.torch_measure.Measurement
    profile: Any                       # calc.torch_measure.LayerProfile
    memory_estimate_bytes: int


def _bar(text: str) -> tuple[Any, Callable[[float, str], None]]:
    bar = st.progress(0.0, text=text)
    return bar, lambda fraction, message: bar.progress(min(max(fraction, 0.0), 1.0), text=message)


def probe(device: str, rerun: bool = False):
    """This machine's measured roofs on ``device`` (kept in the session)."""
    from calc import torch_probe

    probes = st.session_state.setdefault(PROBES, {})
    if rerun or device not in probes:
        bar, progress = _bar(f"Probing {device}: matmul sweep and memory bandwidth…")
        probes[device] = torch_probe.probe(device, budget_seconds_per_dtype=1.5, progress=progress)
        bar.empty()
    return probes[device]


def measure(subject: Subject, report: Report, batch: int, dtype: str, device: str) -> MeasuredRun:
    """Whole-model latency and per-layer times of ``subject`` here; SpecError when refused."""
    from calc import torch_measure

    needed = torch_measure.check_memory(report, dtype, torch_measure.memory_budget_bytes(device))
    bar, progress = _bar("Building the model…")
    model = torch_measure.prepare(subject.module(), device, dtype)
    measurement = torch_measure.measure(model, subject.input_shape, batch, dtype, device,
                                        min_run_time=MIN_RUN_SECONDS, max_seconds=MAX_SECONDS, progress=progress)
    progress(1.0, "Profiling each layer…")
    forwards = int(min(max(2.0 / measurement.median_s, 2), 10))  # about 2 s, at least 2 forwards
    profile = torch_measure.profile_layers(model, report, subject.input_shape, batch, dtype, device, forwards)
    bar.empty()
    run = MeasuredRun(measurement, profile, needed)
    st.session_state.setdefault(RESULTS, {})[subject.key(batch, dtype, device)] = run
    return run


def sweep(subject: Subject, batches: list[int], report_at: Callable[[int], Report], dtype: str,
          device: str) -> list[str]:
    """Measure each batch size (kept in the session); returns why any batch was skipped.
    ``report_at(batch)`` is the subject's report at that batch, for the memory check."""
    from calc import torch_measure

    results = st.session_state.setdefault(SWEEPS, {}).setdefault(subject.key(None, dtype, device), {})
    bar, progress = _bar("Building the model…")
    model = torch_measure.prepare(subject.module(), device, dtype)
    skipped = []
    for step, batch in enumerate(batches):
        progress(step / len(batches), f"batch {batch} ({step + 1} of {len(batches)})…")
        try:
            torch_measure.check_memory(report_at(batch), dtype,
                                       torch_measure.memory_budget_bytes(device))
            results[batch] = torch_measure.measure(model, subject.input_shape, batch, dtype, device,
                                                   min_run_time=SWEEP_MIN_RUN_SECONDS, max_seconds=MAX_SECONDS / 2)
        except SpecError as error:
            skipped.append(f"batch {batch}: {error.reason}")
    bar.empty()
    return skipped


def result(subject: Subject, batch: int, dtype: str, device: str) -> MeasuredRun | None:
    return st.session_state.get(RESULTS, {}).get(subject.key(batch, dtype, device))


def swept(subject: Subject, dtype: str, device: str) -> dict:
    return st.session_state.get(SWEEPS, {}).get(subject.key(None, dtype, device), {})


REQUEST = "latency_request"


def request(action: str) -> None:
    """Button callback: remember that ``action`` was asked for. A callback runs before the
    script, so the request survives the rerun that ui.shell may make before the page draws
    (a button's own True would not)."""
    st.session_state[REQUEST] = action


def requested(action: str) -> bool:
    if st.session_state.get(REQUEST) == action:
        del st.session_state[REQUEST]
        return True
    return False
