"""Compute dtypes in torch: which each device runs, and the switches that select them.

tf32 is not a storage type: it is fp32 tensors with tensor-core math, switched on for
matmuls and cuDNN convolutions. cuDNN allows tf32 by default, so plain fp32 has to
switch it off for an fp32 measurement to be fp32.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import torch

TORCH_DTYPE = {"fp32": torch.float32, "tf32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


def supported_dtypes(device: str) -> tuple[str, ...]:
    """The compute dtypes measured on ``device`` (int8 needs a quantized model: not measured)."""
    if device == "cpu":
        return ("fp32", "bf16", "fp16")
    index = torch.device(device).index or 0
    major, _ = torch.cuda.get_device_capability(index)
    dtypes = ["fp32"] + (["tf32"] if major >= 8 else []) + ["fp16"]
    return tuple(dtypes + (["bf16"] if torch.cuda.is_bf16_supported() else []))


@contextmanager
def compute_precision(dtype: str) -> Iterator[None]:
    """fp32 matmuls and convolutions in full fp32, or in tf32 when ``dtype`` is tf32."""
    matmul = torch.get_float32_matmul_precision()
    cudnn = torch.backends.cudnn.allow_tf32
    torch.set_float32_matmul_precision("high" if dtype == "tf32" else "highest")
    torch.backends.cudnn.allow_tf32 = dtype == "tf32"
    try:
        yield
    finally:
        torch.set_float32_matmul_precision(matmul)
        torch.backends.cudnn.allow_tf32 = cudnn
