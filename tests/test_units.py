"""SI formatting of counts, bytes and durations: K, M, G, T, P are powers of 1000."""

from __future__ import annotations

import pytest

from calc.units import duration, exact, flops_from_macs, op_counts, si, si_bytes


@pytest.mark.parametrize(
    "value, unit, text",
    [
        pytest.param(512, "", "512", id="exact-below-1000"),
        pytest.param(64 * 3 * 3 * 3 * 224 * 224, "", "86.70 M", id="worked-example-macs"),
        pytest.param(217_098, "", "217.1 K", id="kilo"),
        pytest.param(2 * 4_089_184_256, "FLOPs", "8.178 GFLOPs", id="resnet50-flops"),
        pytest.param(35.6e12, "FLOP/s", "35.60 TFLOP/s", id="rtx3090-peak"),
        pytest.param(1978.9e12, "OP/s", "1.979 POP/s", id="h100-int8-peta"),
        pytest.param(999_950, "", "1.000 M", id="rounds-up-to-the-next-prefix"),
    ],
)
def test_si(value, unit, text):
    assert si(value, unit) == text


@pytest.mark.parametrize(
    "n_bytes, text",
    [
        pytest.param(936e9, "936.0 GB", id="gigabytes"),
        pytest.param(4 * 1000, "4.000 kB", id="kilobytes-lower-k"),
        pytest.param(3.35e12, "3.350 TB", id="terabytes"),
    ],
)
def test_si_bytes(n_bytes, text):
    assert si_bytes(n_bytes) == text


@pytest.mark.parametrize(
    "seconds, text",
    [
        pytest.param(2 * 4_089_184_256 / 35.6e12, "0.2297 ms", id="resnet50-on-rtx3090"),
        pytest.param(0.0361, "36.10 ms", id="milliseconds"),
        pytest.param(0.8526, "852.6 ms", id="below-a-second"),
        pytest.param(1.25, "1.250 s", id="seconds"),
        pytest.param(1.2e-5, "12.00 µs", id="microseconds"),
        pytest.param(5.8e-7, "0.5800 µs", id="below-a-microsecond"),
        pytest.param(3e-9, "3.000 ns", id="nanoseconds"),
        pytest.param(0.0, "0 s", id="zero"),
        pytest.param(float("nan"), "—", id="not-a-number"),
    ],
)
def test_duration(seconds, text):
    assert duration(seconds) == text


def test_flops_are_twice_the_macs_and_exact_has_separators():
    assert flops_from_macs(86_704_128) == 2 * 86_704_128
    assert exact(86_704_128) == "86,704,128"


@pytest.mark.parametrize(
    "counts, text",
    [
        pytest.param((), "", id="none"),
        pytest.param((("aten.cumprod", 1),), "aten.cumprod ×1", id="one"),
        pytest.param(
            (("aten.cumprod", 1), ("aten.erfinv", 12)), "aten.cumprod ×1, aten.erfinv ×12", id="two"
        ),
    ],
)
def test_op_counts(counts, text):
    assert op_counts(counts) == text
