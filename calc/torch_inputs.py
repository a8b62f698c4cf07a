"""The input a model is sized, timed or profiled on: random pixels or features in the compute
dtype, or random token ids for a model that takes them.

A model takes token ids when it says so as transformers' models do: ``main_input_name`` is
"input_ids" (a vision model's is "pixel_values"). Its ids are int64 below its vocabulary size
(the rows of its input embedding), so an embedding lookup never reads past its table; the
compute dtype applies to its weights, never to the ids.

Imports torch; imported by calc.torch_measure and calc.torch_memory.
"""

from __future__ import annotations

import torch
from torch import nn

from calc.torch_precision import TORCH_DTYPE

TOKEN_INPUT = "input_ids"


def takes_tokens(model: nn.Module) -> bool:
    return getattr(model, "main_input_name", None) == TOKEN_INPUT


def vocabulary_size(model: nn.Module) -> int:
    """How many token ids ``model`` embeds: its input embedding's rows."""
    return model.get_input_embeddings().num_embeddings


def example_input(
    model: nn.Module, input_shape: tuple[int, ...], batch: int, dtype: str, device: str | torch.device
) -> torch.Tensor:
    """One batch of ``(batch, *input_shape)`` for ``model`` on ``device``: token ids for a model
    that takes them, else standard normal values in ``dtype``. On meta nothing is allocated."""
    shape = (batch, *input_shape)
    if takes_tokens(model):
        if torch.device(device).type == "meta":
            return torch.empty(shape, dtype=torch.int64, device=device)
        return torch.randint(0, vocabulary_size(model), shape, dtype=torch.int64, device=device)
    if torch.device(device).type == "meta":
        return torch.empty(shape, dtype=TORCH_DTYPE[dtype], device=device)
    return torch.randn(shape, device=device).to(TORCH_DTYPE[dtype])


__all__ = ["example_input", "takes_tokens", "vocabulary_size"]
