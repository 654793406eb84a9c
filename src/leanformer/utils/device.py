"""Where PyTorch work runs: training, distillation, importance and evaluation follow their model's device.

Workflows put the model on the device the user asked for (``--device``; by default the GPU when
there is one), and every helper that feeds a model moves its batch to wherever that model lives,
so one code path serves both.
"""

from __future__ import annotations

import contextlib

import torch

from leanformer.errors import LeanformerError
from leanformer.utils.cpu import cpu_has_bf16


def resolve_device(name: str | None) -> torch.device:
    """``auto`` (or None): the first CUDA GPU where there is one, else the CPU; otherwise the named device."""
    if name in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as err:
        raise LeanformerError(f"unknown device '{name}'; expected auto, cpu, cuda or cuda:N") from err
    if device.type == "cuda" and not torch.cuda.is_available():
        raise LeanformerError(f"device '{name}' asked for, but this PyTorch sees no CUDA GPU")
    return device


def has_bf16(device: torch.device) -> bool:
    """Native bf16 matrix units: AMX or AVX512-BF16 on a CPU, Ampere or later on a GPU."""
    return torch.cuda.is_bf16_supported() if device.type == "cuda" else cpu_has_bf16()


def device_of(model: torch.nn.Module) -> torch.device:
    return next(model.parameters()).device


def to_device(inputs: dict[str, torch.Tensor], device: torch.device) -> dict[str, torch.Tensor]:
    return {k: v.to(device, non_blocking=True) for k, v in inputs.items()}


def autocast(bf16: bool, device: torch.device = torch.device("cpu")):
    return torch.autocast(device.type, dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()
