"""Hardware presets: peak arithmetic rates per dtype and memory bandwidth, as data.

One frozen entry per device, each with its source. Peaks are dense (no structured
sparsity) and in FLOP/s; int8 peaks are integer OP/s. A figure worked out by us rather
than quoted (a dense rate from a sparsity figure, a CPU's cores x clock x FLOPs per
cycle, a bandwidth from the memory type and bus width) is listed in ``derived``; a
figure that is itself a guess sets ``estimate``.

Compute dtypes: fp32, tf32 (fp32 storage, tensor-core math), fp16, bf16, int8.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass

from calc.errors import SpecError, cut, echo
from calc.roofline import Roofs

COMPUTE_DTYPES = ("fp32", "tf32", "fp16", "bf16", "int8")
STORAGE_DTYPE = {"fp32": "fp32", "tf32": "fp32", "fp16": "fp16", "bf16": "bf16", "int8": "int8"}
KINDS = ("GPU", "CPU", "TPU", "SoC GPU")

T, G = 1e12, 1e9
GiB = 2**30


@dataclass(frozen=True)
class Hardware:
    name: str
    kind: str
    peaks: tuple[tuple[str, float], ...]  # (compute dtype, dense peak FLOP/s; OP/s for int8)
    bandwidth_bytes_per_s: float
    source: str
    derived: tuple[str, ...] = ()  # dtypes and/or "bandwidth" worked out rather than quoted
    estimate: bool = False  # the figures are a rough estimate, not a specification
    note: str = ""
    # The exact names the CUDA driver reports for this device (torch.cuda.get_device_properties,
    # nvidia-smi): a GPU gets this preset's spec sheet only by one of these, never by a look-alike
    # (an H100 PCIe is not an H100 SXM, a 3090 Ti is not a 3090).
    device_names: tuple[str, ...] = ()
    # Memory on the device, for what fits (LLM weights and KV cache); None where not given. Spec
    # sheets' "80GB" of HBM or GDDR are binary (80 GiB: nvidia-smi shows 81920 MiB), so GiB here.
    memory_bytes: float | None = None

    @property
    def peak_flops_per_s(self) -> dict[str, float]:
        return dict(self.peaks)

    def peak(self, dtype: str) -> float:
        """The dense peak for ``dtype``; SpecError naming the dtypes it has when it has none."""
        peaks = self.peak_flops_per_s
        if dtype not in peaks:
            have = ", ".join(peaks)
            hint = f" ({self.note})" if self.note else ""
            raise SpecError(f"{self.name} has no {dtype} peak; it has {have}{hint}", field="dtype")
        return peaks[dtype]

    def roofs(self, dtype: str) -> Roofs:
        return Roofs(self.peak(dtype), self.bandwidth_bytes_per_s, f"{self.name}, {dtype}")


def peaks_of(**by_dtype: float) -> tuple[tuple[str, float], ...]:
    """Peaks as a tuple in COMPUTE_DTYPES order (what Hardware.peaks holds)."""
    return tuple((dtype, by_dtype[dtype]) for dtype in COMPUTE_DTYPES if dtype in by_dtype)


_NVIDIA_DENSE = "dense tensor-core rates; structured sparsity doubles them"

PRESETS: tuple[Hardware, ...] = (
    Hardware(
        "iPhone 12 CPU (A14)",
        "CPU",
        peaks_of(fp32=100 * G),
        4266e6 * 8,
        "Commonly quoted estimate of about 100 GFLOPS; Apple publishes no CPU FLOPS figure. "
        "Bandwidth: LPDDR4X-4266 on a 64-bit bus",
        derived=("bandwidth",),
        estimate=True,
    ),
    Hardware(
        "NVIDIA RTX 3090",
        "GPU",
        peaks_of(fp32=35.6 * T, tf32=35.6 * T, fp16=71 * T, bf16=71 * T, int8=284 * T),
        936 * G,
        "NVIDIA Ampere GA102 GPU architecture whitepaper (2020), RTX 3090 column; "
        f"{_NVIDIA_DENSE}, fp16/bf16 with fp32 accumulate",
        device_names=("NVIDIA GeForce RTX 3090",),
        memory_bytes=24 * GiB,  # the same whitepaper: 24 GB GDDR6X
    ),
    Hardware(
        "NVIDIA A100 40GB SXM",
        "GPU",
        peaks_of(fp32=19.5 * T, tf32=156 * T, fp16=312 * T, bf16=312 * T, int8=624 * T),
        1555 * G,
        f"NVIDIA A100 Tensor Core GPU datasheet (2021); {_NVIDIA_DENSE}",
        device_names=("NVIDIA A100-SXM4-40GB",),
        memory_bytes=40 * GiB,  # the datasheet: 40GB HBM2
    ),
    Hardware(
        "NVIDIA A100 80GB SXM",
        "GPU",
        peaks_of(fp32=19.5 * T, tf32=156 * T, fp16=312 * T, bf16=312 * T, int8=624 * T),
        2039 * G,
        f"NVIDIA A100 Tensor Core GPU datasheet (2021); {_NVIDIA_DENSE}",
        device_names=("NVIDIA A100-SXM4-80GB",),
        memory_bytes=80 * GiB,  # the datasheet: 80GB HBM2e
    ),
    Hardware(
        "Google TPU v4",
        "TPU",
        peaks_of(bf16=275 * T, int8=275 * T),
        1200 * G,
        "Google Cloud TPU v4 documentation: 275 peak TFLOPS (bf16 or int8), 1200 GB/s HBM; "
        "Jouppi et al., ISCA 2023",
        note="its 275 TFLOPS are bf16 and int8, often mislabelled FP32; no fp32 peak is published",
    ),
    Hardware(
        "NVIDIA T4",
        "GPU",
        peaks_of(fp32=8.1 * T, fp16=65 * T, int8=130 * T),
        320 * G,
        "NVIDIA T4 Tensor Core GPU datasheet; fp16 mixed precision on tensor cores",
        note="Turing has no tf32 or bf16 tensor cores",
        device_names=("Tesla T4", "NVIDIA T4"),
        memory_bytes=16 * GiB,  # the datasheet: 16 GB GDDR6
    ),
    Hardware(
        "NVIDIA V100 SXM2",
        "GPU",
        peaks_of(fp32=15.7 * T, fp16=125 * T),
        900 * G,
        "NVIDIA V100 Tensor Core GPU datasheet (SXM2); fp16 on tensor cores",
        note="Volta has no tf32, bf16 or int8 tensor cores",
        device_names=("Tesla V100-SXM2-16GB", "Tesla V100-SXM2-32GB"),
        memory_bytes=16 * GiB,  # the datasheet's 16 GB HBM2 (its 32 GB model: the next preset)
    ),
    Hardware(
        "NVIDIA V100 SXM2 32GB",
        "GPU",
        peaks_of(fp32=15.7 * T, fp16=125 * T),
        900 * G,
        "NVIDIA V100 Tensor Core GPU datasheet (SXM2, 32 GB HBM2); fp16 on tensor cores",
        note="Volta has no tf32, bf16 or int8 tensor cores",
        memory_bytes=32 * GiB,  # its driver name is matched by the preset above (same roofs)
    ),
    Hardware(
        "NVIDIA RTX 4090",
        "GPU",
        peaks_of(fp32=82.6 * T, tf32=82.6 * T, fp16=165.2 * T, bf16=165.2 * T, int8=660.6 * T),
        1008 * G,
        "NVIDIA Ada Lovelace GPU architecture whitepaper, RTX 4090 column; "
        f"{_NVIDIA_DENSE}, fp16/bf16 with fp32 accumulate",
        device_names=("NVIDIA GeForce RTX 4090",),
        memory_bytes=24 * GiB,  # the whitepaper: 24 GB GDDR6X
    ),
    Hardware(
        "NVIDIA H100 SXM",
        "GPU",
        peaks_of(fp32=67 * T, tf32=494.7 * T, fp16=989.4 * T, bf16=989.4 * T, int8=1978.9 * T),
        3350 * G,
        "NVIDIA H100 Tensor Core GPU datasheet (SXM); tensor-core rates are the datasheet's "
        "with-sparsity figures halved",
        derived=("tf32", "fp16", "bf16", "int8"),
        device_names=("NVIDIA H100 80GB HBM3",),
        memory_bytes=80 * GiB,  # the datasheet: 80GB HBM3
    ),
    Hardware(
        "NVIDIA H200 SXM",
        "GPU",
        peaks_of(fp32=67 * T, tf32=494.7 * T, fp16=989.4 * T, bf16=989.4 * T, int8=1978.9 * T),
        4800 * G,
        "NVIDIA H200 Tensor Core GPU datasheet (SXM, 141 GB HBM3e); tensor-core rates are the "
        "datasheet's with-sparsity figures halved",
        derived=("tf32", "fp16", "bf16", "int8"),
        device_names=("NVIDIA H200",),
        memory_bytes=141 * GiB,  # the datasheet: 141GB HBM3e
    ),
    Hardware(
        "Apple M2 GPU (10-core)",
        "SoC GPU",
        peaks_of(fp32=3.6 * T),
        100 * G,
        "Apple M2 announcement (June 2022): up to 3.6 TFLOPS GPU, 100 GB/s unified memory",
    ),
    Hardware(
        "Raspberry Pi 5 CPU",
        "CPU",
        peaks_of(fp32=4 * 2.4 * G * 16, fp16=4 * 2.4 * G * 32),
        4267e6 * 4,
        "Raspberry Pi 5 product brief: 4 Cortex-A76 cores at 2.4 GHz, LPDDR4X-4267 (32-bit). Peaks: "
        "cores x clock x 2 NEON FMA pipes x 4 fp32 lanes (8 fp16) x 2 FLOPs",
        derived=("fp32", "fp16", "bandwidth"),
    ),
    Hardware(
        "Desktop CPU (AMD Ryzen 9 7950X)",
        "CPU",
        peaks_of(fp32=16 * 4.5 * G * 32, bf16=16 * 4.5 * G * 64),
        5200e6 * 16,
        "AMD Ryzen 9 7950X specifications: 16 cores, 4.5 GHz base, dual-channel DDR5-5200. "
        "Peaks: cores x base clock x 2 256-bit FMA pipes x 8 fp32 lanes x 2 FLOPs; bf16 dot products "
        "(AVX512_BF16) double it",
        derived=("fp32", "bf16", "bandwidth"),
    ),
)

_BY_NAME = {entry.name: entry for entry in PRESETS}


def _device_key(device_name: str) -> str:
    return " ".join(device_name.upper().split())


_BY_DEVICE_NAME = {_device_key(name): entry for entry in PRESETS for name in entry.device_names}

MAX_PEAK_FLOPS_PER_S = 1e19  # ten exaFLOP/s: beyond any single device
MAX_BANDWIDTH_BYTES_PER_S = 1e15
MAX_MEMORY_BYTES = 1e15  # a petabyte: beyond any single device's memory or a machine's RAM


def hardware(name: str) -> Hardware:
    if name not in _BY_NAME:
        raise SpecError(
            f"no hardware preset named {name!r}; `python -m calc hardware` lists them", field="hardware"
        )
    return _BY_NAME[name]


def preset_for_device(device_name: str) -> Hardware | None:
    """The preset whose listed device names include ``device_name`` (case and spacing aside);
    None for a device no preset lists: its roofs then come from the probe alone."""
    return _BY_DEVICE_NAME.get(_device_key(device_name))


# A custom device's name travels in links and is shown in captions, chart titles and
# legends: words, digits and a little punctuation, nothing that Markdown, LaTeX or
# plotly's HTML labels would act on.
_DEVICE_NAME = re.compile(r"[\w .,+/()'-]+")


def _rate(value: object, field: str) -> float | None:
    """A peak or bandwidth as given (a JSON number: int or float), as a float; None or 0 for none."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SpecError(f"must be a number, got {echo(value)}", field=field)
    try:
        return float(value)
    except OverflowError:  # an int with hundreds of digits
        raise SpecError(f"{cut(str(value), 20)} is beyond any device", field=field) from None


def custom_hardware(
    name: str,
    peaks: dict[str, float],
    bandwidth_bytes_per_s: float,
    kind: str = "GPU",
    memory_bytes: float | None = None,
) -> Hardware:
    """A device the user describes (its memory optional); SpecError naming the field that is wrong."""
    name = name.strip() if isinstance(name, str) else ""
    if not name or len(name) > 60:
        raise SpecError("give the device a name of 1 to 60 characters", field="name")
    if not _DEVICE_NAME.fullmatch(name):
        raise SpecError(
            f"a device name may hold letters, digits, spaces and . , + / ( ) ' - only, got {echo(name)}",
            field="name",
        )
    if name in _BY_NAME:
        raise SpecError(f"{name!r} is a preset's name; choose another", field="name")
    if kind not in KINDS:
        raise SpecError(f"must be one of {', '.join(KINDS)}, got {echo(kind)}", field="kind")
    chosen = {}
    for dtype, given in peaks.items():
        if dtype not in COMPUTE_DTYPES:
            raise SpecError(f"unknown dtype {echo(dtype)}; use {', '.join(COMPUTE_DTYPES)}", field="peaks")
        value = _rate(given, dtype)
        if value is None or value == 0:
            continue
        if not math.isfinite(value) or not 0 < value <= MAX_PEAK_FLOPS_PER_S:
            raise SpecError(f"{dtype} peak must be above 0 and at most 10 EFLOP/s, got {value}", field=dtype)
        chosen[dtype] = float(value)
    if not chosen:
        raise SpecError("give a peak for at least one dtype", field="peaks")
    bandwidth_bytes_per_s = _rate(bandwidth_bytes_per_s, "bandwidth")
    if (
        bandwidth_bytes_per_s is None
        or not math.isfinite(bandwidth_bytes_per_s)
        or not 0 < bandwidth_bytes_per_s <= MAX_BANDWIDTH_BYTES_PER_S
    ):
        raise SpecError(f"must be above 0 and at most 1 PB/s, got {bandwidth_bytes_per_s}", field="bandwidth")
    if memory_bytes is not None:
        memory_bytes = _rate(memory_bytes, "memory")
        if not math.isfinite(memory_bytes) or not 0 < memory_bytes <= MAX_MEMORY_BYTES:
            raise SpecError(f"must be above 0 and at most 1 PB, got {memory_bytes}", field="memory")
    return Hardware(
        name,
        kind,
        peaks_of(**chosen),
        float(bandwidth_bytes_per_s),
        "custom: entered in this session",
        memory_bytes=memory_bytes,
    )


def machine_memory_bytes() -> float | None:
    """This machine's RAM (what a model served on its CPU lives in); None where the OS does not say."""
    try:
        return float(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):  # a name this OS lacks; no sysconf at all (Windows)
        return None
