"""An ONNX model measured with ONNX Runtime, the runtime people deploy it with: median and spread
of forward times on the CPU provider (the CUDA provider where onnxruntime-gpu is installed: its
times then include copying the inputs to the GPU and the outputs back, as a caller's would),
bounded in time and memory.

Only ONNX Runtime's own kernels run: no custom-op library is ever registered, so nothing from the
file is executed beyond its graph of standard ops. Weights stored as external data are loaded from
the model's folder (their locations checked by calc.onnx_graph) when the files are there; an upload
without them is measured with generated weights of the right shapes and types, and says so
(``generated_weights``): the time of a dense network does not depend on its weights' values.
Inputs are zeros for token ids and random normals for floats, at the shapes the count fixed.
onnxruntime and onnx are imported inside functions only.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

from calc import machine_load
from calc.analyze import Report
from calc.errors import SpecError, cut
from calc.onnx_graph import PROTOBUF_LIMIT_BYTES
from calc.time_bound import TimeBound
from calc.timings import Timings

MEMORY_BUDGET_BYTES = 4 * 1024**3  # the torch measurement's (calc.torch_memory): a quarter of RAM at most
MIN_RUNS = 5
MAX_RUNS = 10_000
PROVIDERS = {"cpu": "CPUExecutionProvider", "cuda": "CUDAExecutionProvider"}


@dataclass(frozen=True)
class RuntimeMeasurement(Timings):
    device: str  # "cpu (onnxruntime)", "cuda:0 (onnxruntime)"
    threads: int
    times_s: tuple[float, ...]  # seconds per forward, one per run
    wall_seconds: float  # session creation, warm-up and timing
    generated_weights: bool  # the external weights were absent: generated ones of the same shapes
    other_cores: float | None = None  # other programs' average CPU use while timed, in cores
    repeat_median_s: float | None = None  # no quick repeat here (the torch measurement makes one)

    @property
    def disturbed(self) -> bool:
        """Other programs were busy, or the runs disagree by more than calc.timings.NOISY_SPREAD."""
        return self.busy_machine or self.noisy


def memory_budget_bytes() -> int:
    try:
        physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError):
        physical = 4 * MEMORY_BUDGET_BYTES
    return min(MEMORY_BUDGET_BYTES, physical // 4)


def check_memory(report: Report, budget_bytes: int) -> None:
    """Weights plus every activation at once (an upper bound: the runtime reuses buffers)."""
    needed = report.weight_bytes + report.activation_bytes
    if needed > budget_bytes:
        raise SpecError(
            f"running it needs up to {needed:,} bytes (weights and activations), beyond this "
            f"machine's measurement budget of {budget_bytes:,}; use a smaller batch or --hardware",
            field="--batch",
        )
    if report.weight_bytes > PROTOBUF_LIMIT_BYTES:
        raise SpecError("its weights pass 2 GB: ONNX Runtime is given one message here", field="MODEL")


def runnable_model(data: bytes, folder: str | None):
    """The ModelProto with every weight inline: read from the model's folder where the external
    files are there, else generated. Returns (model, generated)."""
    import numpy as np
    import onnx
    from onnx.external_data_helper import load_external_data_for_tensor

    from calc.onnx_graph import all_tensors, check_external_locations, parse_model

    model = parse_model(data, "model")
    check_external_locations(model, folder)
    external = [tensor for tensor in all_tensors(model) if tensor.data_location == onnx.TensorProto.EXTERNAL]
    rng = np.random.default_rng(0)
    generated = False
    for tensor in external:
        location = next(entry.value for entry in tensor.external_data if entry.key == "location")
        if folder is not None and os.path.isfile(os.path.join(folder, location)):
            load_external_data_for_tensor(tensor, folder)
        else:
            dtype = onnx.helper.tensor_dtype_to_np_dtype(tensor.data_type)
            values = (rng.standard_normal(tuple(tensor.dims)) * 0.02).astype(dtype)
            tensor.raw_data = values.tobytes()
            generated = True
        tensor.data_location = onnx.TensorProto.DEFAULT
        del tensor.external_data[:]
    return model, generated


def _inputs(graph) -> dict:
    import numpy as np
    import onnx

    rng = np.random.default_rng(0)
    feeds = {}
    for graph_input in graph.inputs:
        shape = graph.shapes[graph_input.name]
        dtype = onnx.helper.tensor_dtype_to_np_dtype(graph_input.elem_type)
        floating = np.issubdtype(dtype, np.floating)
        feeds[graph_input.name] = (
            rng.standard_normal(shape).astype(dtype) if floating else np.zeros(shape, dtype)
        )
    return feeds


def measure(
    data: bytes,
    folder: str | None,
    graph,
    report: Report,
    device: str = "cpu",
    bound: TimeBound | None = None,
    min_run_time: float = 1.0,
) -> RuntimeMeasurement:
    """Time ``data`` (checked ONNX bytes; ``graph`` its calc.onnx_shapes graph, giving the input
    shapes; ``report`` its count, for the memory check) with ONNX Runtime on ``device``."""
    import onnxruntime

    started = time.perf_counter()
    bound = bound or TimeBound.starting_now(60)
    provider, provider_options = execution_provider(device)
    check_memory(report, memory_budget_bytes())
    model, generated = runnable_model(data, folder)
    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3  # errors only: a page shows our message, not the runtime's log
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    try:
        session = onnxruntime.InferenceSession(
            model.SerializeToString(), options, providers=[(provider, provider_options)]
        )
    except Exception as error:  # the runtime's errors arrive as several types
        raise SpecError(f"ONNX Runtime cannot load it: {cut(str(error), 200)}", field="MODEL") from None
    del model
    if session.get_providers()[0] != provider:  # a CUDA provider whose libraries fail to load falls back
        raise SpecError(
            f"ONNX Runtime could not start its {provider} here (its CUDA libraries did not load) and "
            "would have run on the CPU instead; measure it on the CPU",
            field="--device",
        )
    feeds = _inputs(graph)
    try:
        first = _timed(session, feeds)  # warm-up: allocations, kernel choices
    except Exception as error:
        raise SpecError(f"ONNX Runtime cannot run it: {cut(str(error), 200)}", field="MODEL") from None
    times: list[float] = []
    before = machine_load.sample()
    last = first
    while len(times) < MAX_RUNS and bound.fits(1.5 * last):
        last = _timed(session, feeds)
        times.append(last)
        if len(times) >= MIN_RUNS and sum(times) >= min_run_time:
            break
    if not times:
        raise SpecError(
            f"one forward takes {first:.3g} s: it does not fit in the measurement's bound of "
            f"{bound.seconds:g} s",
            field="--batch",
        )
    threads = options.intra_op_num_threads or os.cpu_count() or 1
    return RuntimeMeasurement(
        f"{device} (onnxruntime)",
        threads,
        tuple(times),
        time.perf_counter() - started,
        generated,
        machine_load.other_cores(before, machine_load.sample()),
    )


def execution_provider(device: str) -> tuple[str, dict]:
    """ONNX Runtime's provider for ``device`` ("cpu", "cuda", "cuda:1") and its options; SpecError
    naming what is installed when this onnxruntime lacks it (the PyPI "onnxruntime" package is
    CPU-only: the CUDA provider comes with "onnxruntime-gpu")."""
    import onnxruntime

    kind, _, index = device.partition(":")
    if kind not in PROVIDERS or (index and not index.isdigit()):
        raise SpecError(f"{cut(device)!r} is not a device here: give cpu or cuda", field="--device")
    provider = PROVIDERS[kind]
    available = onnxruntime.get_available_providers()
    if provider not in available:
        raise SpecError(
            f"this onnxruntime ({onnxruntime.__version__}) has no {provider}, only "
            f"{', '.join(available)}: the onnxruntime package runs on the CPU; ONNX Runtime on CUDA needs "
            "onnxruntime-gpu instead. Measure it on the CPU, or with torch on CUDA",
            field="--device",
        )
    return provider, ({"device_id": int(index or 0)} if kind == "cuda" else {})


def _timed(session, feeds: dict) -> float:
    start = time.perf_counter()
    session.run(None, feeds)
    return time.perf_counter() - start


def measure_source(
    source,
    report: Report,
    resolution: int | None = None,
    seq_len: int | None = None,
    batch: int | None = None,
    device: str = "cpu",
    bound: TimeBound | None = None,
    dtype: str | None = None,
) -> RuntimeMeasurement:
    """Measure an "onnx" Source (calc.onnx_source) at the inputs ``report`` was counted on; a
    ``dtype`` other than the model's own is refused (the runtime runs what the file stores)."""
    from calc.onnx_shapes import load_graph

    if source.kind != "onnx":
        raise SpecError(
            f"{cut(source.name)}: --runtime onnxruntime measures ONNX files (export the model first)",
            field="--runtime",
        )
    data, folder = source.metadata["model_bytes"], source.metadata["folder"]
    fixed_seq_len = seq_len or (source.default_input[0] if source.takes.value == "tokens" else None)
    graph = load_graph(data, source.name, folder, batch, fixed_seq_len, resolution)
    if dtype is not None and dtype != graph.dtype:
        raise SpecError(
            f"ONNX Runtime runs the model at its own precision ({graph.dtype}), not {dtype}", field="--dtype"
        )
    return measure(data, folder, graph, report, device, bound)


__all__ = [
    "RuntimeMeasurement",
    "check_memory",
    "execution_provider",
    "measure",
    "measure_source",
    "runnable_model",
]
