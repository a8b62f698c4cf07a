"""Hardware presets as data: their quoted figures, their sources, and a device the user enters.

The figures in the table are the ones quoted by each vendor's datasheet or whitepaper
(dense rates; T = 1e12, G = 1e9), written here independently of calc.hardware. The
ResNet-50 check at the end is the one from the issue: 4,089,184,256 MACs on an RTX 3090
in fp32 take 2 x 4089184256 / 35.6e12 s = 0.2297 ms at peak.
"""

from __future__ import annotations

import math

import pytest

from calc.errors import SpecError
from calc.hardware import (
    COMPUTE_DTYPES,
    KINDS,
    PRESETS,
    STORAGE_DTYPE,
    Hardware,
    custom_hardware,
    hardware,
    preset_for_device,
)
from calc.roofline import Roofs, estimate
from calc.units import DTYPE_BYTES

T, G = 1e12, 1e9


@pytest.mark.parametrize("entry", [pytest.param(entry, id=entry.name) for entry in PRESETS])
def test_every_preset_is_well_formed(entry):
    assert entry.source.strip()
    assert entry.kind in KINDS
    assert entry.peaks, "a preset without any peak cannot be estimated on"
    dtypes = [dtype for dtype, _ in entry.peaks]
    assert set(dtypes) <= set(COMPUTE_DTYPES) and len(dtypes) == len(set(dtypes))
    for dtype, peak in entry.peaks:
        assert math.isfinite(peak) and peak > 0, dtype
    assert math.isfinite(entry.bandwidth_bytes_per_s) and entry.bandwidth_bytes_per_s > 0
    assert set(entry.derived) <= set(dtypes) | {"bandwidth"}
    assert hardware(entry.name) is entry


def test_preset_names_are_unique():
    names = [entry.name for entry in PRESETS]
    assert len(names) == len(set(names))


@pytest.mark.parametrize(
    "name, dtype, peak_flops_per_s, bandwidth_bytes_per_s",
    [
        pytest.param("NVIDIA RTX 3090", "fp32", 35.6 * T, 936 * G, id="rtx3090-fp32"),
        pytest.param("NVIDIA A100 40GB SXM", "fp32", 19.5 * T, 1555 * G, id="a100-40gb-fp32"),
        pytest.param("NVIDIA A100 40GB SXM", "tf32", 156 * T, 1555 * G, id="a100-40gb-tf32"),
        pytest.param("NVIDIA A100 40GB SXM", "bf16", 312 * T, 1555 * G, id="a100-40gb-bf16"),
        pytest.param("NVIDIA A100 40GB SXM", "fp16", 312 * T, 1555 * G, id="a100-40gb-fp16"),
        pytest.param("NVIDIA A100 80GB SXM", "fp32", 19.5 * T, 2039 * G, id="a100-80gb-bandwidth"),
        pytest.param("Google TPU v4", "bf16", 275 * T, 1200 * G, id="tpu-v4-bf16"),
        pytest.param("Google TPU v4", "int8", 275 * T, 1200 * G, id="tpu-v4-int8"),
        pytest.param("NVIDIA H100 SXM", "fp32", 67 * T, 3.35 * T, id="h100-sxm-bandwidth"),
        pytest.param("NVIDIA H200 SXM", "fp32", 67 * T, 4.8 * T, id="h200-sxm-bandwidth"),
        pytest.param("NVIDIA T4", "fp32", 8.1 * T, 320 * G, id="t4-fp32"),
        pytest.param("iPhone 12 CPU (A14)", "fp32", 100 * G, 4266e6 * 8, id="iphone12-cpu-fp32"),
    ],
)
def test_quoted_figures(name, dtype, peak_flops_per_s, bandwidth_bytes_per_s):
    entry = hardware(name)
    assert entry.peak(dtype) == pytest.approx(peak_flops_per_s, rel=1e-12)
    assert entry.bandwidth_bytes_per_s == pytest.approx(bandwidth_bytes_per_s, rel=1e-12)
    roofs = entry.roofs(dtype)
    assert (roofs.peak_flops_per_s, roofs.bandwidth_bytes_per_s) == (
        entry.peak(dtype),
        entry.bandwidth_bytes_per_s,
    )
    assert name in roofs.label and dtype in roofs.label


@pytest.mark.parametrize(
    "name, estimate_flag",
    [
        pytest.param("iPhone 12 CPU (A14)", True, id="iphone-is-an-estimate"),
        pytest.param("NVIDIA RTX 3090", False, id="rtx3090-is-quoted"),
        pytest.param("NVIDIA A100 40GB SXM", False, id="a100-is-quoted"),
    ],
)
def test_estimate_flag(name, estimate_flag):
    assert hardware(name).estimate is estimate_flag


@pytest.mark.parametrize(
    "name, missing",
    [
        pytest.param("Google TPU v4", "fp32", id="tpu-v4-no-fp32"),
        pytest.param("NVIDIA T4", "tf32", id="t4-no-tf32"),
        pytest.param("NVIDIA T4", "bf16", id="t4-no-bf16"),
        pytest.param("NVIDIA V100 SXM2", "int8", id="v100-no-int8"),
        pytest.param("Apple M2 GPU (10-core)", "fp16", id="m2-fp32-only"),
    ],
)
def test_dtypes_without_a_published_peak_are_absent(name, missing):
    assert missing not in hardware(name).peak_flops_per_s
    with pytest.raises(SpecError) as raised:
        hardware(name).roofs(missing)
    assert raised.value.field == "dtype"


def test_tpu_v4_fp32_names_bf16_and_the_fp32_mislabelling():
    with pytest.raises(SpecError) as raised:
        hardware("Google TPU v4").roofs("fp32")
    message = str(raised.value)
    assert raised.value.field == "dtype"
    assert "bf16" in message and "mislabelled FP32" in message and "no fp32 peak" in message


def test_unknown_preset_is_a_spec_error():
    with pytest.raises(SpecError) as raised:
        hardware("NVIDIA RTX 9999")
    assert raised.value.field == "hardware" and "'NVIDIA RTX 9999'" in str(raised.value)


@pytest.mark.parametrize(
    "compute, storage, bytes_per_element",
    [
        pytest.param("fp32", "fp32", 4, id="fp32"),
        pytest.param("tf32", "fp32", 4, id="tf32-stored-as-fp32"),
        pytest.param("fp16", "fp16", 2, id="fp16"),
        pytest.param("bf16", "bf16", 2, id="bf16"),
        pytest.param("int8", "int8", 1, id="int8"),
    ],
)
def test_storage_dtype(compute, storage, bytes_per_element):
    assert STORAGE_DTYPE[compute] == storage
    assert DTYPE_BYTES[STORAGE_DTYPE[compute]] == bytes_per_element


def test_every_compute_dtype_has_a_storage_dtype():
    assert set(STORAGE_DTYPE) == set(COMPUTE_DTYPES)


# --- the check -----------------------------------------------------------------------------


def test_resnet50_at_peak_on_the_3090():
    pytest.importorskip(
        "torchvision"
    )  # counting a torchvision model needs torch; the rest of this file does not
    from calc import zoo

    report = zoo.count("resnet50")
    assert report.macs == 4089184256
    seconds = estimate(report, hardware("NVIDIA RTX 3090").roofs("fp32")).peak_seconds
    assert seconds == 2 * 4089184256 / 35.6e12
    assert round(seconds * 1e3, 4) == 0.2297


# --- a device the user enters --------------------------------------------------------------------------

VALID = {
    "name": "My accelerator",
    "peaks": {"fp32": 10 * T, "bf16": 40 * T},
    "bandwidth_bytes_per_s": 500 * G,
}


@pytest.mark.parametrize(
    "changes, field",
    [
        pytest.param({"name": ""}, "name", id="empty-name"),
        pytest.param({"name": "   "}, "name", id="blank-name"),
        pytest.param({"name": "x" * 61}, "name", id="name-too-long"),
        pytest.param({"name": "NVIDIA RTX 3090"}, "name", id="preset-name"),
        pytest.param({"name": "  NVIDIA RTX 3090 "}, "name", id="preset-name-padded"),
        pytest.param({"kind": "FPGA"}, "kind", id="unknown-kind"),
        pytest.param({"peaks": {"fp64": 1 * T}}, "peaks", id="unknown-dtype"),
        pytest.param({"peaks": {"fp32": -1 * T}}, "fp32", id="negative-peak"),
        pytest.param({"peaks": {"fp32": 10 * T, "bf16": math.nan}}, "bf16", id="nan-peak"),
        pytest.param({"peaks": {"fp16": math.inf}}, "fp16", id="inf-peak"),
        pytest.param({"peaks": {"int8": 2e19}}, "int8", id="peak-beyond-10-eflops"),
        pytest.param({"peaks": {}}, "peaks", id="no-peaks"),
        pytest.param({"peaks": {"fp32": 0, "bf16": None}}, "peaks", id="only-zero-or-empty-peaks"),
        pytest.param({"bandwidth_bytes_per_s": 0}, "bandwidth", id="zero-bandwidth"),
        pytest.param({"bandwidth_bytes_per_s": -1 * G}, "bandwidth", id="negative-bandwidth"),
        pytest.param({"bandwidth_bytes_per_s": math.nan}, "bandwidth", id="nan-bandwidth"),
        pytest.param({"bandwidth_bytes_per_s": math.inf}, "bandwidth", id="inf-bandwidth"),
        pytest.param({"bandwidth_bytes_per_s": 2e15}, "bandwidth", id="bandwidth-beyond-1-pbs"),
        # what a link's JSON can carry
        pytest.param({"peaks": {"fp32": 10**400}}, "fp32", id="peak-an-int-beyond-float"),
        pytest.param({"bandwidth_bytes_per_s": 10**400}, "bandwidth", id="bandwidth-an-int-beyond-float"),
        pytest.param({"peaks": {"fp32": "1e13"}}, "fp32", id="peak-a-string"),
        pytest.param({"peaks": {"fp32": True}}, "fp32", id="peak-a-bool"),
        pytest.param({"bandwidth_bytes_per_s": None}, "bandwidth", id="bandwidth-null"),
        pytest.param({"name": "![](http://127.0.0.1:8699/x.png)"}, "name", id="name-a-markdown-image"),
        pytest.param({"name": "$\\huge\\color{red}{HACKED}$"}, "name", id="name-latex"),
        pytest.param({"name": "<a href=//x>GPU</a>"}, "name", id="name-html"),
        pytest.param({"name": ["GPU"]}, "name", id="name-a-list"),
        pytest.param({"kind": "x" * 10_000}, "kind", id="long-kind"),
        pytest.param({"peaks": {"😀" * 10_000: 1 * T}}, "peaks", id="long-unknown-dtype"),
    ],
)
def test_custom_hardware_refuses_with_the_field(changes, field):
    with pytest.raises(SpecError) as raised:
        custom_hardware(**{**VALID, **changes})
    assert raised.value.field == field
    assert f"field '{field}'" in str(raised.value)
    assert len(str(raised.value)) < 200, "the message quotes a short cut of the value"


def test_custom_hardware_that_is_valid():
    entry = custom_hardware(
        "  My accelerator ", {"fp32": 10 * T, "tf32": 0, "bf16": 40 * T, "int8": None}, 500 * G, kind="TPU"
    )
    assert isinstance(entry, Hardware)
    assert entry.name == "My accelerator" and entry.kind == "TPU" and entry.source.startswith("custom")
    assert entry.peak_flops_per_s == {"fp32": 10 * T, "bf16": 40 * T}  # zero and empty peaks are left out
    roofs = entry.roofs("bf16")
    assert roofs == Roofs(40 * T, 500 * G, "My accelerator, bf16")
    assert roofs.ridge_flops_per_byte == 40 * T / (500 * G)
    with pytest.raises(SpecError) as raised:
        entry.roofs("tf32")
    assert raised.value.field == "dtype" and "fp32, bf16" in str(raised.value)


def test_custom_hardware_peaks_keep_the_compute_dtype_order():
    entry = custom_hardware("Ordered", {"int8": 4 * T, "fp16": 2 * T, "fp32": 1 * T}, 1 * T)
    assert [dtype for dtype, _ in entry.peaks] == ["fp32", "fp16", "int8"]


# Names as the CUDA driver reports them (torch.cuda.get_device_properties(i).name, nvidia-smi).
# The look-alikes get no preset: an H100 PCIe (51 TFLOP/s fp32, 2 TB/s) is not an H100 SXM
# (67 TFLOP/s, 3.35 TB/s), and their pages then use the probe's measured roofs.
@pytest.mark.parametrize(
    "device_name, preset",
    [
        pytest.param("NVIDIA H200", "NVIDIA H200 SXM", id="h200"),
        pytest.param("NVIDIA H100 80GB HBM3", "NVIDIA H100 SXM", id="h100-sxm"),
        pytest.param("NVIDIA A100-SXM4-40GB", "NVIDIA A100 40GB SXM", id="a100-40gb"),
        pytest.param("NVIDIA A100-SXM4-80GB", "NVIDIA A100 80GB SXM", id="a100-80gb"),
        pytest.param("NVIDIA GeForce RTX 3090", "NVIDIA RTX 3090", id="rtx3090"),
        pytest.param("nvidia  geforce rtx 4090", "NVIDIA RTX 4090", id="case-and-spacing-aside"),
        pytest.param("Tesla T4", "NVIDIA T4", id="t4"),
        pytest.param("Tesla V100-SXM2-32GB", "NVIDIA V100 SXM2", id="v100-sxm2-32gb"),
        pytest.param("NVIDIA H100 PCIe", None, id="h100-pcie-is-not-sxm"),
        pytest.param("NVIDIA H100 NVL", None, id="h100-nvl-is-not-sxm"),
        pytest.param("NVIDIA H200 NVL", None, id="h200-nvl-is-not-sxm"),
        pytest.param("NVIDIA GeForce RTX 3090 Ti", None, id="rtx3090-ti-is-not-3090"),
        pytest.param("Tesla V100-PCIE-32GB", None, id="v100-pcie-is-not-sxm2"),
        pytest.param("NVIDIA A100-PCIE-40GB", None, id="a100-pcie-is-not-sxm"),
        pytest.param("NVIDIA L4", None, id="unknown-l4"),
        pytest.param("", None, id="empty"),
    ],
)
def test_a_gpu_gets_a_preset_only_by_its_exact_device_name(device_name, preset):
    assert preset_for_device(device_name) is (hardware(preset) if preset else None)


def test_no_device_name_is_listed_by_two_presets():
    listed = [" ".join(name.upper().split()) for entry in PRESETS for name in entry.device_names]
    assert len(listed) == len(set(listed))
