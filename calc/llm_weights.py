"""Bytes of a language model's weights stored in a format: fp32, bf16, fp16, or quantized.

Torch-free. Weight-only quantization (W8A16, W4A16, as GPTQ and AWQ store it): the matrices of
the transformer blocks (attention and MLP projections, experts) hold int8 or int4 values with one
fp16 scale per group of 128 along the input; embeddings, the LM head, norms and biases stay in the
activation dtype, as those tools leave them. So a quantized matrix of n elements takes

    n × bits / 8 + (n / 128) × 2 bytes    (int4: 0.5 + 0.015625 = 0.515625 bytes per weight)

and the arithmetic still runs in the activation dtype (the weights are dequantized on the fly).
"""

from __future__ import annotations

from dataclasses import dataclass

from calc.errors import SpecError
from calc.units import DTYPE_BYTES

GROUP_SIZE = 128  # weights sharing one scale
SCALE_BYTES = 2  # an fp16 scale


@dataclass(frozen=True)
class WeightFormat:
    name: str
    bits: int  # per weight
    quantized: bool  # int: group scales added, and only block matrices stored so

    def matrix_bytes(self, elements: int) -> float:
        """Bytes of ``elements`` weights of a block matrix in this format, scales included."""
        stored = elements * self.bits / 8
        return stored + (elements / GROUP_SIZE) * SCALE_BYTES if self.quantized else stored


WEIGHT_FORMATS = {
    fmt.name: fmt
    for fmt in (
        WeightFormat("fp32", 32, False),
        WeightFormat("bf16", 16, False),
        WeightFormat("fp16", 16, False),
        WeightFormat("int8", 8, True),
        WeightFormat("int4", 4, True),
    )
}

ACTIVATION_DTYPES = ("fp32", "bf16", "fp16")


def weight_format(name: str) -> WeightFormat:
    if name not in WEIGHT_FORMATS:
        raise SpecError(f"must be one of {', '.join(WEIGHT_FORMATS)}, not {name!r}", field="weights")
    return WEIGHT_FORMATS[name]


def activation_bytes(dtype: str) -> int:
    if dtype not in ACTIVATION_DTYPES:
        raise SpecError(f"must be one of {', '.join(ACTIVATION_DTYPES)}, not {dtype!r}", field="dtype")
    return DTYPE_BYTES[dtype]


def weight_bytes(quantizable: float, other: float, weights: str, dtype: str) -> float:
    """Bytes of ``quantizable`` block-matrix weights in format ``weights`` and ``other`` params
    (embeddings, LM head, norms, biases) in the activation dtype when quantized, else in ``weights``."""
    fmt = weight_format(weights)
    if fmt.quantized:
        return fmt.matrix_bytes(quantizable) + other * activation_bytes(dtype)
    return fmt.matrix_bytes(quantizable + other)


__all__ = [
    "GROUP_SIZE",
    "WEIGHT_FORMATS",
    "WeightFormat",
    "activation_bytes",
    "weight_bytes",
    "weight_format",
]
