"""Hypothesis strategies for fields whose valid values depend on the input sample or on the
fields drawn before them: a kernel that fits the input, a dilation that keeps it inside
the padded input, groups that divide both channel counts, heads that divide the features.

A registration names these as its fields' ``fuzz``; the fuzzing tests
(tests/test_torch_oracle.py) draw every registered kind's fields through them and check
the layer against torch. Each returns a Fuzz: (sample shape, fields drawn so far) ->
strategy of JSON values. Sizes stay small: the oracle runs every drawn stack.
"""

from __future__ import annotations

import math
from typing import Any

from calc.fields import Fuzz, strategies

LARGEST_KERNEL = 5
LARGEST_STRIDE = 3
LARGEST_CHANNELS = 32


def divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


def _spatial(shape: tuple[int, ...], axes: int) -> tuple[int, ...]:
    return shape[-axes:]  # [C, H, W] -> (H, W); [C, L] -> (L,)


def _along_axes(value: Any, axes: int) -> tuple[int, ...]:
    return tuple(value) if isinstance(value, list) else (value,) * axes


def _json_value(per_axis: list) -> Any:
    """One strategy per axis -> an int (one axis, or equal axes written once) or a list."""
    st = strategies()
    if len(per_axis) == 1:
        return per_axis[0]

    def written(values: tuple[int, ...]):
        return st.sampled_from((values[0], list(values))) if len(set(values)) == 1 else st.just(list(values))

    return st.tuples(*per_axis).flatmap(written)


def kernel(axes: int = 2) -> Fuzz:
    def fuzz(shape, drawn):
        st = strategies()
        return _json_value([st.integers(1, min(LARGEST_KERNEL, size)) for size in _spatial(shape, axes)])

    return fuzz


def stride(axes: int = 2) -> Fuzz:
    """1 half the time (so that "same" padding, which needs it, is drawn often), else 1 to 3 per axis."""

    def fuzz(shape, drawn):
        st = strategies()
        return st.one_of(st.just(1), _json_value([st.integers(1, LARGEST_STRIDE)] * axes))

    return fuzz


def conv_padding(axes: int = 2) -> Fuzz:
    """Explicit zeros, or "same" when the stride is 1 (torch refuses it otherwise)."""

    def fuzz(shape, drawn):
        st = strategies()
        explicit = _json_value([st.integers(0, 2)] * axes)
        unit_stride = set(_along_axes(drawn.get("stride", 1), axes)) == {1}
        return st.one_of(st.just("same"), explicit) if unit_stride else explicit

    return fuzz


def dilation(axes: int = 2) -> Fuzz:
    """1 or 2 along each axis, as far as the span d*(K-1)+1 stays inside the padded input."""

    def fuzz(shape, drawn):
        st = strategies()
        kernels = _along_axes(drawn["kernel_size"], axes)
        padding = drawn.get("padding", 0)
        paddings = (0,) * axes if padding == "same" else _along_axes(padding, axes)
        largest = [
            2 if k == 1 or padding == "same" else min(2, (size + 2 * p - 1) // (k - 1))
            for size, k, p in zip(_spatial(shape, axes), kernels, paddings, strict=True)
        ]
        return _json_value([st.integers(1, d) for d in largest])

    return fuzz


def out_channels_sharing_a_divisor(shape, drawn):
    """Out channels a multiple of some divisor of the input channels, so groups > 1 can divide both."""
    st = strategies()
    return st.sampled_from(divisors(shape[0])).flatmap(
        lambda group: st.integers(1, max(1, LARGEST_CHANNELS // group)).map(lambda times: group * times)
    )


def groups(shape, drawn):
    return strategies().sampled_from(divisors(math.gcd(shape[0], drawn["out_channels"])))


def depth_multiplier(shape, drawn):
    st = strategies()
    return st.integers(1, 2) if 2 * shape[0] <= LARGEST_CHANNELS else st.just(1)


def pool_padding(shape, drawn):
    """At most half the kernel along each axis (torch refuses more)."""
    st = strategies()
    return _json_value([st.integers(0, k // 2) for k in _along_axes(drawn["kernel_size"], 2)])


def pool_stride(shape, drawn):
    st = strategies()
    return st.one_of(st.none(), stride()(shape, drawn))


def output_size(shape, drawn):
    return _json_value([strategies().integers(1, 8)] * 2)


def heads(shape, drawn):
    return strategies().sampled_from(divisors(shape[-1]))
