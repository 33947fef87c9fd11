"""Where and in which precision a network runs: shared by inference and training."""

from __future__ import annotations

import torch

from models.errors import SettingsError

DEVICES = ("auto", "cpu", "cuda")
# precision name -> the autocast dtype (None: plain float32, no autocast)
PRECISIONS: dict[str, torch.dtype | None] = {
    "fp32": None,
    "fp16": torch.float16,
    "bf16": torch.bfloat16,
}


def resolve_device(device: str = "auto") -> torch.device:
    """``auto`` -> CUDA when available, else CPU. ``cuda`` without a GPU is an error."""
    if device not in DEVICES and not device.startswith("cuda:"):
        raise SettingsError(f"device must be one of {', '.join(DEVICES)}, got {device!r}")
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise SettingsError(
            "CUDA was requested but this torch build sees no CUDA GPU "
            f"(torch {torch.__version__}); use --device cpu or install a CUDA build of torch"
        )
    return torch.device(device)


def check_precision(precision: str) -> str:
    """``precision`` itself if it names an entry of :data:`PRECISIONS`."""
    if precision not in PRECISIONS:
        raise SettingsError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    return precision


def autocast(device: torch.device, precision: str):
    """The autocast context for ``precision`` on ``device`` (a disabled one for fp32)."""
    dtype = PRECISIONS[check_precision(precision)]
    return torch.autocast(device.type, dtype=dtype, enabled=dtype is not None)
