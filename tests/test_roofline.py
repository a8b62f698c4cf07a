"""The roofline arithmetic of calc.roofline, against hand-written arithmetic (no torch).

  (a) peak time      t = FLOPs / P
  (b) roofline time  t = sum over layers of max(FLOPs_i / P, bytes_i / B)

Expected values are written as the arithmetic they stand for: FLOPs = 2 x MACs, a
layer's bytes are its weights and input read and its output written once (4 bytes per
fp32 element). P and B of the RTX 3090 are its whitepaper's 35.6 TFLOP/s and 936 GB/s.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import calc
from calc.hardware import hardware
from calc.roofline import Roofs, efficiency, estimate, peak_seconds, roofline_seconds

RTX_3090 = Roofs(35.6e12, 936e9, "NVIDIA RTX 3090, fp32")
TIDY = Roofs(64e12, 2e12)  # ridge exactly 32 FLOPs/byte, so the ridge case is exact in floats

# --- ridge point and the roof ----------------------------------------------------------------


@pytest.mark.parametrize(
    "roofs, ridge",
    [
        pytest.param(TIDY, 64e12 / 2e12, id="tidy-32"),
        pytest.param(RTX_3090, 35.6e12 / 936e9, id="rtx3090-fp32"),
        pytest.param(Roofs(312e12, 1555e9), 312e12 / 1555e9, id="a100-40gb-fp16"),
        pytest.param(Roofs(100e9, 4266e6 * 8), 100e9 / (4266e6 * 8), id="iphone12-cpu"),
    ],
)
def test_ridge_is_peak_over_bandwidth(roofs, ridge):
    assert roofs.ridge_flops_per_byte == ridge


@pytest.mark.parametrize(
    "roofs, intensity, attainable",
    [
        # left of the ridge the roof is the bandwidth slope I x B
        pytest.param(TIDY, 1.0, 1.0 * 2e12, id="tidy-left-I1"),
        pytest.param(TIDY, 16.0, 16.0 * 2e12, id="tidy-left-half-ridge"),
        pytest.param(TIDY, 0.0, 0.0, id="tidy-zero-intensity"),
        pytest.param(RTX_3090, 2.25, 2.25 * 936e9, id="rtx3090-left-depthwise"),
        # right of the ridge it is the compute ceiling P
        pytest.param(TIDY, 33.0, 64e12, id="tidy-right-just-past"),
        pytest.param(TIDY, 1e6, 64e12, id="tidy-right-far"),
        pytest.param(RTX_3090, 132.0, 35.6e12, id="rtx3090-right-conv"),
        # at the ridge both are the same number
        pytest.param(TIDY, 32.0, 64e12, id="tidy-at-ridge"),
        pytest.param(TIDY, 32.0, 32.0 * 2e12, id="tidy-at-ridge-as-slope"),
    ],
)
def test_attainable_is_min_of_slope_and_ceiling(roofs, intensity, attainable):
    assert roofs.attainable_flops_per_s(intensity) == attainable


def test_at_the_ridge_slope_and_ceiling_meet():
    for roofs in (TIDY, RTX_3090, hardware("Google TPU v4").roofs("bf16")):
        ridge = roofs.ridge_flops_per_byte
        assert roofs.attainable_flops_per_s(ridge) == pytest.approx(roofs.peak_flops_per_s, rel=1e-12)
        assert ridge * roofs.bandwidth_bytes_per_s == pytest.approx(roofs.peak_flops_per_s, rel=1e-12)
        assert roofs.attainable_flops_per_s(ridge / 2) == pytest.approx(roofs.peak_flops_per_s / 2, rel=1e-12)


# --- one layer: (a) and (b) ------------------------------------------------------------------

# 3x3 conv 64 -> 64 at 56x56, padding 1, no bias, fp32: intensity ~132 FLOPs/byte
CONV_FLOPS = 2 * 64 * 64 * 3 * 3 * 56 * 56
CONV_BYTES = 4 * (64 * 64 * 3 * 3 + 64 * 56 * 56 + 64 * 56 * 56)
# depthwise 3x3 on 64 x 56 x 56, no bias, fp32: intensity ~2.25 FLOPs/byte
DEPTHWISE_FLOPS = 2 * 64 * 3 * 3 * 56 * 56
DEPTHWISE_BYTES = 4 * (64 * 3 * 3 + 64 * 56 * 56 + 64 * 56 * 56)


@pytest.mark.parametrize(
    "flops, roofs, seconds",
    [
        pytest.param(CONV_FLOPS, RTX_3090, CONV_FLOPS / 35.6e12, id="conv-rtx3090"),
        pytest.param(2 * 4089184256, RTX_3090, 2 * 4089184256 / 35.6e12, id="resnet50-rtx3090"),
        pytest.param(0, RTX_3090, 0.0, id="no-flops"),
        pytest.param(64e12, TIDY, 1.0, id="one-second-of-peak"),
    ],
)
def test_peak_seconds(flops, roofs, seconds):
    assert peak_seconds(flops, roofs) == seconds


@pytest.mark.parametrize(
    "flops, memory_bytes, roofs, seconds",
    [
        pytest.param(CONV_FLOPS, CONV_BYTES, RTX_3090, CONV_FLOPS / 35.6e12, id="conv-compute-bound"),
        pytest.param(
            DEPTHWISE_FLOPS, DEPTHWISE_BYTES, RTX_3090, DEPTHWISE_BYTES / 936e9, id="depthwise-memory-bound"
        ),
        # relu on 64 x 56 x 56: no MACs, only its bytes
        pytest.param(
            0,
            4 * (64 * 56 * 56 + 64 * 56 * 56),
            RTX_3090,
            4 * (64 * 56 * 56 + 64 * 56 * 56) / 936e9,
            id="relu-bytes-only",
        ),
        # exactly at the ridge: 32 FLOPs per byte, both terms 1 s
        pytest.param(64 * 10**12, 2 * 10**12, TIDY, 1.0, id="at-ridge"),
    ],
)
def test_roofline_seconds_is_the_slower_of_compute_and_memory(flops, memory_bytes, roofs, seconds):
    assert roofline_seconds(flops, memory_bytes, roofs) == seconds
    assert roofline_seconds(flops, memory_bytes, roofs) >= peak_seconds(flops, roofs)


def test_conv_and_depthwise_sit_either_side_of_the_3090_ridge():
    ridge = 35.6e12 / 936e9  # ~38 FLOPs/byte
    assert CONV_FLOPS / CONV_BYTES > ridge > DEPTHWISE_FLOPS / DEPTHWISE_BYTES


# --- a whole stack ------------------------------------------------------------------------------

STACK = {
    "input": [64, 56, 56],
    "layers": [
        {
            "type": "conv2d",
            "out_channels": 64,
            "kernel_size": 3,
            "padding": 1,
            "bias": False,
        },  # 0 compute-bound
        {"type": "batchnorm2d"},  # 1 no MACs
        {"type": "relu"},  # 2 no MACs
        {"type": "depthwise_conv2d", "kernel_size": 3, "padding": 1, "bias": False},  # 3 memory-bound
        {
            "type": "conv2d",
            "out_channels": 256,
            "kernel_size": 3,
            "padding": 1,
            "bias": False,
        },  # 4 compute-bound
    ],
}
STACK_FLOPS = [CONV_FLOPS, 0, 0, DEPTHWISE_FLOPS, 2 * 256 * 64 * 3 * 3 * 56 * 56]
STACK_BYTES = [
    CONV_BYTES,
    4 * (2 * 64 + 64 * 56 * 56 + 64 * 56 * 56),  # batchnorm: gamma and beta, in, out
    4 * (64 * 56 * 56 + 64 * 56 * 56),  # relu: in, out
    DEPTHWISE_BYTES,
    4 * (256 * 64 * 3 * 3 + 64 * 56 * 56 + 256 * 56 * 56),
]


@pytest.fixture(scope="module")
def report():
    return calc.analyze(calc.parse_stack(STACK))


def test_stack_rows_carry_the_hand_written_flops_and_bytes(report):
    assert [row.flops for row in report.rows] == STACK_FLOPS
    assert [row.memory_bytes for row in report.rows] == STACK_BYTES
    assert report.flops == sum(STACK_FLOPS)


def test_estimate_of_a_stack_on_the_3090(report):
    result = estimate(report, hardware("NVIDIA RTX 3090").roofs("fp32"))
    assert result.flops == sum(STACK_FLOPS) and result.memory_bytes == sum(STACK_BYTES)
    assert result.peak_seconds == sum(STACK_FLOPS) / 35.6e12
    expected = [
        max(flops / 35.6e12, n_bytes / 936e9) for flops, n_bytes in zip(STACK_FLOPS, STACK_BYTES, strict=True)
    ]
    assert [layer.seconds for layer in result.layers] == expected
    assert result.roofline_seconds == pytest.approx(sum(expected), rel=1e-12)
    assert [layer.bound for layer in result.layers] == ["compute", "memory", "memory", "memory", "compute"]
    assert [layer.row.index for layer in result.memory_bound_layers] == [1, 2, 3]
    memory_seconds = sum(STACK_BYTES[i] / 936e9 for i in (1, 2, 3))
    assert result.memory_bound_share == pytest.approx(memory_seconds / sum(expected), rel=1e-12)


def test_memory_bound_layers_are_exactly_those_with_bytes_over_b_above_flops_over_p(report):
    for roofs in (RTX_3090, TIDY, Roofs(1e12, 1e12), Roofs(1e9, 1e15)):
        result = estimate(report, roofs)
        expected = [
            row.index
            for row in report.rows
            if row.memory_bytes / roofs.bandwidth_bytes_per_s > row.flops / roofs.peak_flops_per_s
        ]
        assert [layer.row.index for layer in result.memory_bound_layers] == expected


def test_a_layer_exactly_at_the_ridge_is_compute_bound(report):
    # P = the conv's FLOPs per second and B = its bytes per second: both terms are 1 s, a tie
    result = estimate(report, Roofs(CONV_FLOPS, CONV_BYTES))
    conv = result.layers[0]
    assert conv.compute_seconds == conv.memory_seconds == conv.seconds == 1.0
    assert not conv.memory_bound and conv.bound == "compute"


def test_layers_without_macs_cost_their_bytes_over_b(report):
    result = estimate(report, RTX_3090)
    for index in (1, 2):  # batchnorm, relu
        layer = result.layers[index]
        assert layer.row.macs == 0 and layer.compute_seconds == 0.0
        assert layer.memory_bound and layer.seconds == STACK_BYTES[index] / 936e9
    # with bandwidth so high that every layer is compute-bound they still are memory-bound
    assert [layer.row.index for layer in estimate(report, Roofs(1e9, 1e15)).memory_bound_layers] == [1, 2]


@pytest.mark.parametrize(
    "dtype, bytes_per_element",
    [
        pytest.param("fp32", 4, id="fp32"),
        pytest.param("fp16", 2, id="fp16"),
        pytest.param("int8", 1, id="int8"),
    ],
)
def test_stack_dtype_scales_the_memory_term(dtype, bytes_per_element):
    report = calc.analyze(calc.parse_stack(dict(STACK, dtype=dtype)))
    result = estimate(report, RTX_3090)
    assert result.memory_bytes == sum(STACK_BYTES) // 4 * bytes_per_element
    assert result.peak_seconds == sum(STACK_FLOPS) / 35.6e12  # FLOPs do not depend on the dtype


def test_empty_report_takes_no_time():
    result = estimate(calc.Report((3, 8, 8), 1, "fp32", ()), RTX_3090)
    assert result.peak_seconds == 0.0 and result.roofline_seconds == 0 and result.memory_bound_share == 0.0


@pytest.mark.parametrize(
    "theoretical, measured, expected",
    [
        pytest.param(1e-3, 4e-3, 1e-3 / 4e-3, id="quarter"),
        pytest.param(2e-3, 2e-3, 1.0, id="at-the-roof"),
        pytest.param(3e-3, 1e-3, 3.0, id="faster-than-roof"),
    ],
)
def test_efficiency_is_theoretical_over_measured(theoretical, measured, expected):
    assert efficiency(theoretical, measured) == expected


@pytest.mark.parametrize("measured", [pytest.param(0.0, id="zero"), pytest.param(-1.0, id="negative")])
def test_efficiency_without_a_measurement_is_nan(measured):
    assert math.isnan(efficiency(1e-3, measured))


# --- (b) >= (a), always ---------------------------------------------------------------------------

LAYER = st.one_of(
    st.builds(
        lambda c, k: {"type": "conv2d", "out_channels": c, "kernel_size": k, "padding": "same"},
        st.integers(1, 64),
        st.sampled_from([1, 3, 5]),
    ),
    st.builds(
        lambda k: {"type": "depthwise_conv2d", "kernel_size": k, "padding": "same"}, st.sampled_from([1, 3])
    ),
    st.just({"type": "batchnorm2d"}),
    st.just({"type": "relu"}),
    st.builds(lambda c: {"type": "pointwise_conv2d", "out_channels": c}, st.integers(1, 64)),
)


@settings(max_examples=60, deadline=None)
@given(
    channels=st.integers(1, 32),
    size=st.integers(1, 40),
    batch=st.integers(1, 4),
    dtype=st.sampled_from(["fp32", "fp16", "int8"]),
    layers=st.lists(LAYER, min_size=1, max_size=8),
    peak=st.floats(1e6, 1e18),
    bandwidth=st.floats(1e6, 1e15),
)
def test_roofline_never_beats_peak(channels, size, batch, dtype, layers, peak, bandwidth):
    report = calc.analyze(
        calc.parse_stack({"input": [channels, size, size], "batch": batch, "dtype": dtype, "layers": layers})
    )
    result = estimate(report, Roofs(peak, bandwidth))
    # in exact arithmetic sum(max(f_i/P, b_i/B)) >= sum(f_i)/P; allow float rounding of the sum
    assert result.roofline_seconds >= result.peak_seconds * (1 - 1e-12)
    assert result.roofline_seconds >= result.memory_bytes / bandwidth * (1 - 1e-12)
    assert all(
        layer.seconds >= layer.compute_seconds and layer.seconds >= layer.memory_seconds
        for layer in result.layers
    )
