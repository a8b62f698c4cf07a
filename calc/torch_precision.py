"""Compute dtypes in torch: which each device runs, and the switches that select them.

tf32 is not a storage type: it is fp32 tensors with tensor-core math, switched on for
matmuls and cuDNN convolutions. cuDNN allows tf32 by default, so plain fp32 has to
switch it off for an fp32 measurement to be fp32.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import torch

from calc.errors import SpecError

TORCH_DTYPE = {"fp32": torch.float32, "tf32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


def supported_dtypes(device: str) -> tuple[str, ...]:
    """The compute dtypes measured on ``device`` (int8 needs a quantized model: not measured)."""
    if device == "cpu":
        return ("fp32", "bf16", "fp16")
    index = torch.device(device).index or 0
    major, _ = torch.cuda.get_device_capability(index)
    dtypes = ["fp32"] + (["tf32"] if major >= 8 else []) + ["fp16"]
    return tuple(dtypes + (["bf16"] if torch.cuda.is_bf16_supported() else []))


def check_device(device: str, dtypes: Iterable[str] = ()) -> None:
    """SpecError unless ``device`` is the CPU or an available CUDA device that runs each of ``dtypes``."""
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise SpecError("no CUDA device is available on this machine", field="device")
    if device != "cpu" and not device.startswith("cuda"):
        raise SpecError(f"must be cpu or cuda, got {device!r}", field="device")
    available = supported_dtypes(device)
    for dtype in dtypes:
        if dtype not in available:
            raise SpecError(
                f"{dtype} is not measured on {device}; it supports {', '.join(available)}"
                + (" (int8 needs a quantized model)" if dtype == "int8" else ""),
                field="dtype",
            )


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
