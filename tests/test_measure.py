"""Latency here: calc.torch_measure (whole model and per layer) and calc.torch_probe (this machine's roofs).

Timings are never compared with fixed numbers: a measurement is checked for being a
distribution (min <= median <= max, IQR >= 0), against the roofline of the same model on
the roofs probed here (a lower bound: the model cannot beat the best matmul and the copy
bandwidth by much, and framework overhead only adds), and per-layer totals against the
whole-model median within a loose factor. Short run times keep the file fast on two cores.
CUDA tests skip without a GPU.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

import calc
from calc import zoo
from calc.analyze import ROOT_NAME
from calc.errors import SpecError
from calc.hardware import hardware
from calc.roofline import estimate
from calc.torch_build import build_stack
from calc.torch_count import count_module
from calc.torch_measure import Measurement, measure, outermost_rows_below, prepare, profile_layers
from calc.torch_probe import CudaDevice, MachineInfo, detect, probe

SMALL_CNN = zoo.PRESET_PREFIX + "Small CNN (CIFAR-10)"
RUN_SECONDS = 0.15
CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")


@pytest.fixture(scope="module")
def cpu_probe():
    progress = []
    result = probe(
        "cpu",
        dtypes=("fp32",),
        budget_seconds_per_dtype=1.0,
        progress=lambda fraction, text: progress.append(fraction),
    )
    return result, progress


@pytest.fixture
def one_thread():
    """Tests that compare two timings run on one thread: with two threads on a busy two-core
    machine, a descheduled thread stalls every OpenMP barrier and a 1 ms forward takes 30 ms
    at random, while one thread only slows by the machine's load."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def small_cnn():
    report = zoo.count(SMALL_CNN)
    model = prepare(zoo.module(SMALL_CNN), "cpu", "fp32")
    return report, model, measure(model, report.input_shape, 1, "fp32", min_run_time=RUN_SECONDS)


def assert_sane(measurement: Measurement, device: str, dtype: str, batch: int) -> None:
    assert (measurement.device, measurement.dtype, measurement.batch) == (device, dtype, batch)
    assert len(measurement.times_s) >= 1 and measurement.number_per_run >= 1
    assert 0 < measurement.min_s <= measurement.median_s <= measurement.max_s
    assert measurement.iqr_s >= 0
    assert measurement.warmup_runs >= 3
    assert measurement.threads == torch.get_num_threads()
    assert measurement.wall_seconds >= sum(measurement.times_s) * measurement.number_per_run
    assert measurement.samples_per_s == batch / measurement.median_s


# --- the Measurement record ---------------------------------------------------------------------------------


# Quartiles interpolate linearly between the sorted times at position (n - 1) x p, as
# torch.quantile does by default; a single block has no spread.
@pytest.mark.parametrize(
    "times, median, iqr",
    [
        pytest.param((2.0,), 2.0, 0.0, id="one-block"),
        pytest.param(
            (1.0, 3.0), 2.0, (1.0 + 0.75 * (3.0 - 1.0)) - (1.0 + 0.25 * (3.0 - 1.0)), id="two-blocks"
        ),
        pytest.param((1.0, 2.0, 3.0, 4.0, 5.0), 3.0, 4.0 - 2.0, id="five-blocks"),  # positions 1 and 3
        pytest.param((5.0, 1.0, 4.0, 2.0, 3.0), 3.0, 4.0 - 2.0, id="unsorted"),
        pytest.param(
            (1.0, 1.0, 1.0, 9.0), 1.0, (1.0 + 0.25 * (9.0 - 1.0)) - 1.0, id="one-outlier"
        ),  # 0.75 and 2.25
    ],
)
def test_measurement_median_and_iqr(times, median, iqr):
    measurement = Measurement("cpu", "fp32", 4, 2, times, 10, 3, 1.0)
    assert measurement.median_s == median and measurement.iqr_s == iqr
    if len(times) > 1:
        quartiles = torch.quantile(
            torch.tensor(times, dtype=torch.float64), torch.tensor([0.25, 0.75], dtype=torch.float64)
        )
        assert measurement.iqr_s == pytest.approx(float(quartiles[1] - quartiles[0]), rel=1e-12)
    assert measurement.min_s == min(times) and measurement.max_s == max(times)
    assert measurement.samples_per_s == 4 / median


# --- whole-model measurement on the CPU ---------------------------------------------------------------------


def test_measure_small_cnn(small_cnn):
    _, _, measurement = small_cnn
    assert_sane(measurement, "cpu", "fp32", 1)


@pytest.mark.parametrize("batch", [pytest.param(1, id="batch1"), pytest.param(4, id="batch4")])
def test_measure_a_linear_layer(batch):
    model = prepare(nn.Linear(64, 32), "cpu", "fp32")
    assert_sane(measure(model, (64,), batch, "fp32", min_run_time=RUN_SECONDS / 2), "cpu", "fp32", batch)


def test_measure_a_built_stack_and_report_progress():
    stack = calc.parse_stack(
        {
            "input": [16, 8, 8],
            "layers": [
                {"type": "conv2d", "out_channels": 16, "kernel_size": 3, "padding": 1},
                {"type": "relu"},
            ],
        }
    )
    fractions = []
    measurement = measure(
        prepare(build_stack(stack), "cpu", "fp32"),
        stack.input_shape,
        2,
        "fp32",
        min_run_time=RUN_SECONDS / 2,
        progress=lambda fraction, text: fractions.append(fraction),
    )
    assert_sane(measurement, "cpu", "fp32", 2)
    assert fractions[0] == 0.0 and all(0.0 <= f <= 1.0 for f in fractions) and len(fractions) >= 2


def test_measured_time_is_above_the_roofline_on_the_probed_roofs(small_cnn, cpu_probe):
    report, _, measurement = small_cnn
    roofs = cpu_probe[0].as_hardware().roofs("fp32")
    result = estimate(report, roofs)
    assert 0 < result.peak_seconds <= result.roofline_seconds <= measurement.median_s


def test_bf16_on_the_cpu():
    report = zoo.count(SMALL_CNN)
    model = prepare(zoo.module(SMALL_CNN), "cpu", "bf16")
    assert all(parameter.dtype == torch.bfloat16 for parameter in model.parameters())
    assert_sane(measure(model, report.input_shape, 1, "bf16", min_run_time=RUN_SECONDS), "cpu", "bf16", 1)


@pytest.mark.parametrize(
    "device, dtype, field, needle",
    [
        pytest.param("cpu", "tf32", "dtype", "tf32 is not measured on cpu", id="tf32-on-cpu"),
        pytest.param("cpu", "int8", "dtype", "int8 needs a quantized model", id="int8-on-cpu"),
        pytest.param("tpu", "fp32", "device", "must be cpu or cuda", id="unknown-device"),
    ],
)
def test_measure_refuses_what_it_cannot_time(device, dtype, field, needle):
    model = nn.Linear(4, 4)
    for call in (
        lambda: measure(model, (4,), 1, dtype, device, min_run_time=0.01),
        lambda: profile_layers(model, calc.Report((4,), 1, "fp32", ()), (4,), 1, dtype, device),
    ):
        with pytest.raises(SpecError) as raised:
            call()
        assert raised.value.field == field and needle in str(raised.value)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_measure_on_cuda_without_cuda_is_a_spec_error():
    with pytest.raises(SpecError) as raised:
        measure(nn.Linear(4, 4), (4,), 1, "fp32", "cuda")
    assert raised.value.field == "device"


def test_a_forward_slower_than_the_time_bound_is_refused(small_cnn):
    report, model, _ = small_cnn
    with pytest.raises(SpecError) as raised:
        measure(model, report.input_shape, 1, "fp32", min_run_time=RUN_SECONDS, max_seconds=1e-6)
    assert raised.value.field == "batch"
    assert "1e-06 s bound" in str(raised.value) and "lower the batch" in str(raised.value)


# --- per-layer profile --------------------------------------------------------------------------------------


def test_profile_layers_of_a_stack(small_cnn, one_thread):
    report, model, _ = small_cnn
    measurement = measure(model, report.input_shape, 1, "fp32", min_run_time=RUN_SECONDS)
    assert measurement.threads == 1
    profile = profile_layers(model, report, report.input_shape, 1, "fp32", forwards=5)
    assert list(profile.seconds) == [row.name for row in report.rows]
    assert all(seconds > 0 for seconds in profile.seconds.values()), profile.seconds
    assert profile.forwards == 5 and "5 forwards" in profile.method and "CPU wall time" in profile.method
    # ranges add hook and profiler overhead; a broken range (zero or all forwards summed) is far outside
    assert 0.2 * measurement.median_s <= profile.total_s <= 20 * measurement.median_s


def test_profile_layers_of_a_torchvision_model(one_thread):
    report = zoo.count("resnet18", 64)
    model = prepare(zoo.module("resnet18"), "cpu", "fp32")
    profile = profile_layers(model, report, report.input_shape, 1, "fp32", forwards=3)
    assert set(profile.seconds) == {row.name for row in report.rows}
    assert all(seconds >= 0 for seconds in profile.seconds.values())
    convolutions = [row.name for row in report.rows if row.kind == "Conv2d"]
    assert len(convolutions) == 20 and all(profile.seconds[name] > 0 for name in convolutions)
    measurement = measure(model, report.input_shape, 1, "fp32", min_run_time=RUN_SECONDS)
    assert 0.2 * measurement.median_s <= profile.total_s <= 20 * measurement.median_s


def test_profile_layers_of_a_model_that_computes_in_its_root():
    class Residual(nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = nn.Linear(32, 32)

        def forward(self, x):
            return x + self.linear(x)  # the add is the root's own work

    model = prepare(Residual(), "cpu", "fp32")
    report = count_module(model, (32,), batch=2)
    assert [row.name for row in report.rows] == [ROOT_NAME, "linear"]
    profile = profile_layers(model, report, (32,), 2, "fp32", forwards=3)
    assert set(profile.seconds) == {ROOT_NAME, "linear"}
    assert profile.seconds["linear"] > 0 and profile.seconds[ROOT_NAME] >= 0


@pytest.mark.parametrize(
    "name, names, below",
    [
        pytest.param(
            ROOT_NAME, [ROOT_NAME, "conv", "block", "block.conv", "fc"], ["conv", "block", "fc"], id="root"
        ),
        pytest.param(ROOT_NAME, [ROOT_NAME], [], id="root-alone"),
        pytest.param(
            "layer1.0",
            [
                "layer1.0",
                "layer1.0.conv1",
                "layer1.0.downsample",
                "layer1.0.downsample.0",
                "layer1.1",
                "layer1.1.conv1",
            ],
            ["layer1.0.conv1", "layer1.0.downsample"],
            id="nested-block",
        ),
        pytest.param(
            "layer1",
            ["layer1", "layer1.0.conv1", "layer1.1.conv1", "layer10.conv"],
            ["layer1.0.conv1", "layer1.1.conv1"],
            id="intermediate-modules-not-rows",
        ),
        pytest.param(
            "layer1", ["layer1", "layer1.0", "layer1.0.conv1", "layer1.0.bn1"], ["layer1.0"], id="two-deep"
        ),
        pytest.param("3", ["0", "1", "2", "3", "30", "31"], [], id="stack-row"),
        pytest.param(
            "features.1",
            ["features.1", "features.1.0", "features.10", "features.10.0"],
            ["features.1.0"],
            id="prefix-is-not-a-parent",
        ),
    ],
)
def testoutermost_rows_below(name, names, below):
    assert outermost_rows_below(name, names) == below


# --- the probe ----------------------------------------------------------------------------------------------


def test_detect_this_machine():
    info = detect()
    assert info.logical_cores >= 1 and 1 <= info.physical_cores <= info.logical_cores
    assert info.torch_threads == torch.get_num_threads()
    assert info.torch_version == torch.__version__
    assert info.cpu_capability and info.cpu_model
    assert len(info.cuda) == (torch.cuda.device_count() if torch.cuda.is_available() else 0)


def test_probe_on_the_cpu(cpu_probe):
    result, progress = cpu_probe
    assert result.device == "cpu" and result.threads == torch.get_num_threads()
    assert [dtype for dtype, _ in result.peaks] == ["fp32"] and result.peaks[0][1] > 0
    sizes = [n for dtype, n, _ in result.gemm]
    assert len(sizes) >= 2 and sizes == sorted(sizes) and all(flops > 0 for _, _, flops in result.gemm)
    assert result.peaks[0][1] == max(flops for _, _, flops in result.gemm)
    assert result.bandwidth_bytes_per_s > 0 and result.copy_bytes == 256 * 2**20
    assert progress[0] == 0.0 and progress[-1] == 1.0 and progress == sorted(progress)
    entry = result.as_hardware()
    assert entry.kind == "CPU" and entry.name.startswith("This machine") and "measured here" in entry.source
    assert entry.roofs("fp32").peak_flops_per_s == result.peaks[0][1]
    with pytest.raises(SpecError):
        entry.roofs("bf16")  # not probed


@pytest.mark.parametrize(
    "device, dtypes, field",
    [
        pytest.param("tpu", None, "device", id="unknown-device"),
        pytest.param("cpu", ("int8",), "dtype", id="int8-on-cpu"),
        pytest.param("cpu", ("tf32",), "dtype", id="tf32-on-cpu"),
    ],
)
def test_probe_refuses_before_timing(device, dtypes, field):
    with pytest.raises(SpecError) as raised:
        probe(device, dtypes)
    assert raised.value.field == field


def machine(
    cores: int = 2,
    mhz: float | None = 2100.0,
    flags: tuple[str, ...] = ("avx512f",),
    gpus: tuple[str, ...] = (),
) -> MachineInfo:
    cuda = tuple(CudaDevice(i, name, (9, 0), 80 * 2**30, 132) for i, name in enumerate(gpus))
    return MachineInfo("Test CPU", cores, 2 * cores, cores, "AVX512", mhz, frozenset(flags), "2.x", cuda)


@pytest.mark.parametrize(
    "info, flops_per_s",
    [
        pytest.param(
            machine(2, 2100.0, ("avx512f", "avx2", "fma")), 2 * 2100e6 * 16 * 2 * 2, id="avx512-16-lanes"
        ),
        pytest.param(machine(8, 3000.0, ("avx2", "fma")), 8 * 3000e6 * 8 * 2 * 2, id="avx2-fma-8-lanes"),
        pytest.param(machine(4, 2400.0, ("avx2",)), 4 * 2400e6 * 4 * 2 * 2, id="avx2-without-fma-4-lanes"),
        pytest.param(machine(4, 2400.0, ("neon",)), 4 * 2400e6 * 4 * 2 * 2, id="no-x86-simd-4-lanes"),
    ],
)
def test_nominal_cpu_fp32_peak(info, flops_per_s):
    peak, how = info.nominal_cpu_fp32_flops_per_s()
    assert peak == flops_per_s
    assert how.startswith("derived") and f"{info.physical_cores} cores" in how


def test_nominal_cpu_peak_needs_a_clock():
    assert machine(mhz=None).nominal_cpu_fp32_flops_per_s() is None


@pytest.mark.parametrize(
    "gpu, preset",
    [
        pytest.param("NVIDIA H200", "NVIDIA H200 SXM", id="h200"),
        pytest.param("Tesla T4", "NVIDIA T4", id="t4"),
        pytest.param("NVIDIA H100 80GB HBM3", "NVIDIA H100 SXM", id="h100"),
        pytest.param("NVIDIA A100-SXM4-40GB", "NVIDIA A100 40GB SXM", id="a100-40gb"),
        pytest.param("NVIDIA A100-SXM4-80GB", "NVIDIA A100 80GB SXM", id="a100-80gb"),
        pytest.param("NVIDIA GeForce RTX 3090", "NVIDIA RTX 3090", id="rtx3090"),
        pytest.param("NVIDIA GeForce RTX 4090", "NVIDIA RTX 4090", id="rtx4090-is-not-a-3090"),
        pytest.param("Tesla V100-SXM2-16GB", "NVIDIA V100 SXM2", id="v100"),
        pytest.param("NVIDIA L4", None, id="unknown-l4"),
        pytest.param("NVIDIA GeForce RTX 2080 Ti", None, id="unknown-rtx"),
        pytest.param("AMD Instinct MI300X", None, id="unknown-amd"),
        pytest.param("NVIDIA H100 PCIe", None, id="h100-pcie-is-not-the-sxm"),
        pytest.param("NVIDIA GeForce RTX 3090 Ti", None, id="rtx3090-ti-is-not-the-3090"),
    ],
)
def test_nominal_cuda_hardware(gpu, preset):
    entry = machine(gpus=(gpu,)).nominal_cuda_hardware()
    assert entry is (hardware(preset) if preset else None)


def test_nominal_cuda_hardware_without_that_device():
    assert machine().nominal_cuda_hardware() is None
    assert machine(gpus=("NVIDIA H200",)).nominal_cuda_hardware(1) is None


@pytest.mark.parametrize(
    "info, device, dtype, flops_per_s",
    [
        pytest.param(machine(2, 2100.0), "cpu", "fp32", 2 * 2100e6 * 16 * 2 * 2, id="cpu-fp32-derived"),
        pytest.param(machine(2, 2100.0), "cpu", "bf16", None, id="cpu-bf16-none"),
        pytest.param(machine(gpus=("NVIDIA H200",)), "cuda:0", "bf16", 989.4e12, id="h200-bf16-preset"),
        pytest.param(machine(gpus=("NVIDIA H200",)), "cuda", "fp32", 67e12, id="h200-fp32-default-index"),
        pytest.param(machine(gpus=("Tesla T4",)), "cuda:0", "bf16", None, id="t4-has-no-bf16"),
        pytest.param(machine(gpus=("NVIDIA L4",)), "cuda:0", "fp32", None, id="unknown-gpu"),
    ],
)
def test_spec_peak(info, device, dtype, flops_per_s):
    spec = info.spec_peak(device, dtype)
    assert (spec[0] if spec else None) == flops_per_s


# --- CUDA (skipped without a GPU) ---------------------------------------------------------------------------


def cuda_dtypes() -> list[str]:
    from calc.torch_precision import supported_dtypes

    return [dtype for dtype in ("fp32", "tf32", "bf16") if dtype in supported_dtypes("cuda")]


@CUDA
@pytest.mark.parametrize("dtype", ["fp32", "tf32", "bf16"])
def test_measure_on_cuda(dtype):
    if dtype not in cuda_dtypes():
        pytest.skip(f"{dtype} is not supported on this GPU")
    report = zoo.count(SMALL_CNN)
    model = prepare(zoo.module(SMALL_CNN), "cuda", dtype)
    assert all(parameter.is_cuda for parameter in model.parameters())
    assert_sane(
        measure(model, report.input_shape, 1, dtype, "cuda", min_run_time=RUN_SECONDS), "cuda", dtype, 1
    )


@CUDA
def test_probe_on_cuda():
    dtypes = tuple(cuda_dtypes())
    result = probe("cuda", dtypes=dtypes, budget_seconds_per_dtype=1.0)
    assert result.device == "cuda:0" and result.label == torch.cuda.get_device_name(0)
    peaks = dict(result.peaks)
    assert tuple(peaks) == dtypes and all(peak > 0 for peak in peaks.values())
    assert result.bandwidth_bytes_per_s > 0 and result.copy_bytes == 1024 * 2**20
    if "tf32" in peaks:  # tensor-core math must actually be switched on, and off for fp32
        assert peaks["tf32"] > peaks["fp32"]
    assert result.as_hardware().kind == "GPU"


@CUDA
@pytest.mark.parametrize("dtype", ["fp32", "tf32", "bf16"])
def test_profile_layers_on_cuda(dtype):
    if dtype not in cuda_dtypes():
        pytest.skip(f"{dtype} is not supported on this GPU")
    report = zoo.count("resnet18", 64)
    model = prepare(zoo.module("resnet18"), "cuda", dtype)
    profile = profile_layers(model, report, report.input_shape, 1, dtype, "cuda", forwards=3)
    assert set(profile.seconds) == {row.name for row in report.rows}
    assert all(seconds >= 0 for seconds in profile.seconds.values())
    assert all(profile.seconds[row.name] > 0 for row in report.rows if row.kind == "Conv2d")
    assert "CUDA kernels" in profile.method
    # every kernel of resnet18 runs inside some row's module, each counted once: the rows add up to
    # the kernel time of a forward, timed by a bare profiler run (twice as much if counted twice)
    kernels = kernel_seconds_per_forward(model, (1, *report.input_shape), dtype, forwards=3)
    assert 0.5 * kernels <= profile.total_s <= 1.5 * kernels
    measurement = measure(model, report.input_shape, 1, dtype, "cuda", min_run_time=RUN_SECONDS)
    # kernel time only: a batch-1 forward on a GPU is mostly launch overhead, so the sum may be far below
    assert 0 < profile.total_s <= 20 * measurement.median_s


def kernel_seconds_per_forward(model: nn.Module, shape: tuple[int, ...], dtype: str, forwards: int) -> float:
    from calc.torch_precision import TORCH_DTYPE, compute_precision

    x = torch.randn(shape, device="cuda").to(TORCH_DTYPE[dtype])
    activities = [torch.profiler.ProfilerActivity.CPU, torch.profiler.ProfilerActivity.CUDA]
    with compute_precision(dtype), torch.inference_mode():
        model(x)
        torch.cuda.synchronize()
        with torch.profiler.profile(activities=activities) as profiler:
            for _ in range(forwards):
                model(x)
            torch.cuda.synchronize()
    return (
        sum(
            event.time_range.elapsed_us()
            for event in profiler.events()
            if event.device_type == torch.autograd.DeviceType.CUDA and not event.is_user_annotation
        )
        / 1e6
        / forwards
    )


@CUDA
def test_detect_sees_the_cuda_devices():
    info = detect()
    assert len(info.cuda) == torch.cuda.device_count()
    assert info.cuda[0].name == torch.cuda.get_device_name(0) and info.cuda[0].memory_bytes > 0
