"""The long work of the Latency and Separable pages: probing this machine, measuring a model
or a pair of models, sweeping batch sizes. Each waits for its turn on the device (one
measurement at a time across sessions: ui.device_queue), runs within MAX_SECONDS wall
clock, shows a progress bar and keeps its result in the session, so moving to another tab
or widget never measures again; a button re-runs it. The memory of a forward is checked
on the meta device before waiting or allocating."""

from __future__ import annotations

import functools
import hashlib
import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import streamlit as st

from calc import analyze, parse_stack, roofline
from calc.analyze import Report
from calc.errors import SpecError
from ui.device_queue import QUEUE, ordinal
from ui.source_text import source_of

PROBES = "latency_probes"  # device -> Probe
RESULTS = "latency_results"  # subject key -> MeasuredRun
SWEEPS = "latency_sweeps"  # subject key without batch -> {batch: Measurement}
PAIRS = "latency_pairs"  # (first key, second key) -> MeasuredPair

MIN_RUN_SECONDS = 1.0  # the least timing per measurement, when the bound allows
MAX_SECONDS = 30.0  # the whole of one press of a button: probe, build, warm-up, timing, profile
SWEEP_MIN_RUN_SECONDS = 0.3
PROBE_SECONDS_PER_DTYPE = 1.5
PROFILE_SECONDS = 2.0  # the per-layer profile's forwards, at most 10 and at least 2
PROFILE_MIN_FORWARDS = 2
DURATION_HELP = (
    f"Probes this machine's roofs the first time, then times the model and profiles its layers: at "
    f"most {MAX_SECONDS:.0f} s in all, whatever the model (a slow one is timed less, or refused), plus "
    "any wait behind another session's measurement: one runs at a time on this machine."
)


@dataclass(frozen=True)
class Subject:
    """What is timed: any source (ui.source_text: a zoo name, timm:NAME, a Hugging Face model, an
    uploaded config.json) or the Builder's stack, at a resolution (or sequence length), batch and dtype."""

    label: str
    name: str | None  # the source's text (a zoo name, "timm:…", "hf:…"), or None for the Builder stack
    stack: dict | None  # the Builder's stack JSON (storage dtype and batch applied)
    resolution: int | None
    input_shape: tuple[int, ...]
    payload: str | None = None  # an uploaded config.json's JSON text, for name "config.json"
    seq_len: int | None = None  # a text model's tokens
    # A Source that no text names (an uploaded .onnx file: the picker hands its Source over), or None
    source: Any = field(default=None, compare=False)

    def key(self, batch: int | None, dtype: str, device: str) -> str:
        if self.source is not None:
            identity = f"{self.source.kind}:{_source_digest(self.source)}"
        else:
            identity = self.name or "builder:" + _digest(self.stack)
        if self.payload is not None:
            identity += ":" + _digest(self.payload)
        if self.seq_len is not None:
            identity += f"|{self.seq_len} tokens"
        return f"{identity}|{self.resolution}|{batch}|{dtype}|{device}"

    def report(self, batch: int, storage_dtype: str) -> Report:
        if self.source is not None:
            return self.source.count(self.resolution, self.seq_len, batch, storage_dtype)
        if self.name is not None:
            return source_of(self.name, self.payload).count(
                self.resolution, self.seq_len, batch, storage_dtype
            )
        return analyze(parse_stack(dict(self.stack, batch=batch, dtype=storage_dtype)))

    def module(self):
        """The model on the meta device; a SpecError says so where a source cannot be built for
        measurement yet (Hugging Face models, ONNX files)."""
        if self.source is not None:
            return self.source.module(self.resolution)
        if self.name is not None:
            return source_of(self.name, self.payload).module(self.resolution)
        from calc.torch_build import build_stack

        return build_stack(parse_stack(self.stack))


def _digest(value: Any) -> str:
    return hashlib.sha1(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:12]


def _source_digest(source) -> str:
    """A Source's identity: its file's bytes where it has them (an ONNX model), else its name."""
    data = source.metadata.get("model_bytes")
    return hashlib.sha1(data).hexdigest()[:12] if data is not None else _digest(source.name)


@dataclass(frozen=True)
class MeasuredRun:
    measurement: Any  # calc.torch_measure.Measurement
    profile: Any  # calc.torch_measure.LayerProfile
    memory_estimate_bytes: int
    waited_seconds: float = 0.0  # in line behind other sessions' measurements
    wall_seconds: float = 0.0  # from the start of its turn to the end, probe included
    # the calibration's speed reference timed around the measurement (geometric mean of before and
    # after; calc.calibration.speed_factor); 0.0: not timed
    reference_s: float = 0.0


@dataclass(frozen=True)
class MeasuredPair:
    pair: Any  # calc.torch_measure.PairedMeasurement
    profile: Any  # the second's LayerProfile
    waited_seconds: float
    wall_seconds: float


def progress_bar(text: str) -> tuple[Any, Callable[[float, str], None]]:
    """A progress bar showing ``text``, and the callback a run reports its progress through."""
    bar = st.progress(0.0, text=text)
    return bar, lambda fraction, message: bar.progress(min(max(fraction, 0.0), 1.0), text=message)


@contextmanager
def _turn(device: str, progress: Callable[[float, str], None]) -> Iterator[tuple[float, Any]]:
    """This session's turn on ``device`` (waiting in line, its place shown), and the time bound
    of what it then does; yields (seconds waited, bound)."""
    from calc.time_bound import TimeBound

    def on_wait(ahead: int) -> None:
        progress(
            0.0,
            f"Waiting: {ordinal(ahead + 1)} in line for {device} (another session is measuring; one "
            "measurement at a time keeps them from disturbing each other)…",
        )

    with QUEUE.turn(device, on_wait) as waited:
        yield waited, TimeBound.starting_now(MAX_SECONDS, QUEUE.stop)


def _probe_in_turn(device: str, dtype: str | None, bound, progress, rerun: bool = False):
    """The session's probe of ``device``, probing now (inside a turn) when it lacks ``dtype``."""
    from calc import torch_probe

    probes = st.session_state.setdefault(PROBES, {})
    known = probes.get(device)
    if rerun or known is None or (dtype is not None and dtype not in known.peak_flops_per_s):
        dtypes = None if dtype is None else (dtype,)
        fresh = torch_probe.probe(
            device,
            dtypes,
            budget_seconds_per_dtype=PROBE_SECONDS_PER_DTYPE,
            progress=lambda fraction, text: progress(fraction, f"Probing {device}: {text}"),
            bound=bound,
        )
        probes[device] = fresh if rerun or known is None else torch_probe.merged(known, fresh)
    return probes[device]


def probe_in_turn(device: str, dtype: str | None, bound, progress):
    """The session's probe of ``device`` with ``dtype``'s peak, probing now when it lacks it: for
    work already in its turn on the device (ui.onnx_runs)."""
    return _probe_in_turn(device, dtype, bound, progress)


def probe(device: str, rerun: bool = False):
    """This machine's measured roofs on ``device``, every dtype (kept in the session)."""
    probes = st.session_state.setdefault(PROBES, {})
    if rerun or device not in probes:
        bar, progress = progress_bar(f"Probing {device}: matmul sweep and memory bandwidth…")
        with _turn(device, progress) as (_, bound):
            _probe_in_turn(device, None, bound, progress, rerun=True)
        bar.empty()
    return probes[device]


def _checked_memory(module, subject: Subject, batch: int, dtype: str, device: str) -> int:
    from calc import torch_memory
    from calc.torch_precision import check_device

    check_device(device, (dtype,))
    return torch_memory.check_forward_memory(
        module, subject.input_shape, batch, dtype, torch_memory.memory_budget_bytes(device)
    ).peak_bytes


def checked_memory(module, subject: Subject, batch: int, dtype: str, device: str) -> int:
    """The peak bytes of a forward of ``module`` on ``device``, counted on the meta device before
    anything is allocated; SpecError beyond the device's memory budget."""
    return _checked_memory(module, subject, batch, dtype, device)


def _profile(
    model, report: Report, subject: Subject, batch: int, dtype: str, device: str, median_s: float, bound
):
    from calc import torch_measure

    fits = int(bound.left() / median_s) - 1  # one warm-up forward
    forwards = int(min(max(PROFILE_SECONDS / median_s, PROFILE_MIN_FORWARDS), 10, max(fits, 1)))
    return torch_measure.profile_layers(
        model, report, subject.input_shape, batch, dtype, device, forwards, warmup=1, bound=bound
    )


def measure(subject: Subject, report: Report, batch: int, dtype: str, device: str) -> MeasuredRun:
    """Probe (once), whole-model latency and per-layer times of ``subject`` here, in this
    session's turn and within MAX_SECONDS; SpecError when refused."""
    from calc import torch_calibrate, torch_measure

    module = subject.module()
    needed = _checked_memory(module, subject, batch, dtype, device)  # before waiting or allocating
    bar, progress = progress_bar("Measuring…")
    with _turn(device, progress) as (waited, bound):
        started = time.perf_counter()
        roofs = _probe_in_turn(device, dtype, bound, progress).as_hardware().roofs(dtype)
        progress(0.0, "Building the model…")
        model = torch_measure.prepare(module, device, dtype)
        measurement, reference_s = torch_calibrate.reference_around(
            device,
            dtype,
            functools.partial(
                torch_measure.measure,
                model,
                subject.input_shape,
                batch,
                dtype,
                device,
                min_run_time=MIN_RUN_SECONDS,
                bound=bound,
                reserve_forwards=PROFILE_MIN_FORWARDS + 1,
                least_forward_s=roofline.estimate(report, roofs).roofline_seconds,
                progress=progress,
            ),
        )
        progress(1.0, "Profiling each layer…")
        profile = _profile(model, report, subject, batch, dtype, device, measurement.median_s, bound)
        run = MeasuredRun(measurement, profile, needed, waited, time.perf_counter() - started, reference_s)
    bar.empty()
    st.session_state.setdefault(RESULTS, {})[subject.key(batch, dtype, device)] = run
    return run


def measure_pair(
    first: Subject, second: Subject, second_report: Report, batch: int, dtype: str, device: str
) -> MeasuredPair:
    """``first`` and ``second`` timed interleaved (their ratio with its spread) and ``second``'s
    layers profiled, in one turn within MAX_SECONDS; SpecError when refused."""
    from calc import torch_measure

    modules = [first.module(), second.module()]
    for module, subject in zip(modules, (first, second), strict=True):
        _checked_memory(module, subject, batch, dtype, device)
    bar, progress = progress_bar("Measuring…")
    with _turn(device, progress) as (waited, bound):
        started = time.perf_counter()
        _probe_in_turn(device, dtype, bound, progress)
        progress(0.0, "Building both…")
        models = [torch_measure.prepare(module, device, dtype) for module in modules]
        pair = torch_measure.measure_pair(
            *models,
            first.input_shape,
            batch,
            dtype,
            device,
            min_run_time=2 * MIN_RUN_SECONDS,
            bound=bound,
            reserve_forwards=PROFILE_MIN_FORWARDS + 1,
            progress=progress,
        )
        progress(1.0, "Profiling the parts…")
        profile = _profile(
            models[1], second_report, second, batch, dtype, device, pair.second.median_s, bound
        )
        measured = MeasuredPair(pair, profile, waited, time.perf_counter() - started)
    bar.empty()
    st.session_state.setdefault(PAIRS, {})[
        (first.key(batch, dtype, device), second.key(batch, dtype, device))
    ] = measured
    return measured


def paired(first: Subject, second: Subject, batch: int, dtype: str, device: str) -> MeasuredPair | None:
    return st.session_state.get(PAIRS, {}).get(
        (first.key(batch, dtype, device), second.key(batch, dtype, device))
    )


def sweep(subject: Subject, batches: list[int], dtype: str, device: str) -> list[str]:
    """Measure each batch size (kept in the session), in one turn within MAX_SECONDS; returns
    why any batch was skipped (beyond the memory budget, or no time left in the bound)."""
    from calc import torch_measure
    from calc.time_bound import Stopped

    results = st.session_state.setdefault(SWEEPS, {}).setdefault(subject.key(None, dtype, device), {})
    module = subject.module()
    skipped, fitting = [], []
    for batch in batches:
        try:
            _checked_memory(module, subject, batch, dtype, device)
            fitting.append(batch)
        except SpecError as error:
            skipped.append(f"batch {batch}: {error.reason}")
    bar, progress = progress_bar("Measuring…")
    with _turn(device, progress) as (_, bound):
        _probe_in_turn(device, dtype, bound, progress)
        progress(0.0, "Building the model…")
        model = torch_measure.prepare(module, device, dtype)
        for step, batch in enumerate(fitting):
            progress(step / len(fitting), f"batch {batch} ({step + 1} of {len(fitting)})…")
            try:
                results[batch] = torch_measure.measure(
                    model,
                    subject.input_shape,
                    batch,
                    dtype,
                    device,
                    min_run_time=SWEEP_MIN_RUN_SECONDS,
                    bound=bound,
                )
            except Stopped:
                raise
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
