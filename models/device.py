"""Where and in which precision a network runs: shared by inference and training."""

from __future__ import annotations

import platform
from functools import lru_cache
from pathlib import Path

import torch

from models.errors import SettingsError

DEVICES = ("auto", "cpu", "cuda")
# precision name -> the autocast dtype (None: plain float32, no autocast)
PRECISIONS: dict[str, torch.dtype | None] = {
    "fp32": None,
    "fp16": torch.float16,
    "bf16": torch.bfloat16,
}
# what a user may ask for: a precision, or "auto" (see :func:`resolve_precision`)
PRECISION_CHOICES = ("auto", *PRECISIONS)
# CPU flags (Linux /proc/cpuinfo names) of native bf16 arithmetic: AVX-512 BF16 and AMX on
# x86-64, the BF16 extension on Arm (ARMv8.6, e.g. Graviton 3, Apple M2 and later)
_BF16_FLAGS = frozenset({"avx512_bf16", "amx_bf16", "bf16"})


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
    """``precision`` itself if it is ``auto`` or names an entry of :data:`PRECISIONS`."""
    if precision not in PRECISION_CHOICES:
        raise SettingsError(
            f"precision must be one of {', '.join(PRECISION_CHOICES)}, got {precision!r}"
        )
    return precision


def resolve_precision(precision: str, device: torch.device) -> str:
    """The precision that runs: ``precision`` itself, or for ``auto``:

    - ``bf16`` on a CPU with native bf16 arithmetic (:func:`cpu_has_native_bf16`): the
      network 1.4-1.9x faster than fp32 on a quiet machine, validation scores within
      0.002 dB (docs/BENCHMARKS.md); without native bf16 it is not expected to gain;
    - ``fp32`` on CUDA: fp16 has not been measured on a GPU for this project's models yet (a
      model's scores and its NaN/overflow safety in fp16 must be shown first), so ``auto``
      does not choose it; ``--precision fp16`` remains the user's choice;
    - ``fp32`` everywhere else.
    """
    if check_precision(precision) != "auto":
        return precision
    if device.type == "cpu" and cpu_has_native_bf16():
        return "bf16"
    return "fp32"


@lru_cache(maxsize=1)
def cpu_has_native_bf16() -> bool:
    """Whether this CPU computes in bf16 natively (AVX-512 BF16 or AMX on x86-64, the BF16
    extension on Arm), as torch's own CPU probes (x86-64) or the kernel's CPU flags say."""
    probe = getattr(torch.cpu, "_is_avx512_bf16_supported", None)
    amx = getattr(torch.cpu, "_is_amx_tile_supported", None)
    if platform.machine().lower() in ("x86_64", "amd64") and probe is not None:
        return bool(probe() or (amx is not None and amx()))
    return bool(_cpu_flags() & _BF16_FLAGS)


def _cpu_flags() -> frozenset[str]:
    """The CPU's feature flags from /proc/cpuinfo (empty where there is none)."""
    try:
        text = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        return frozenset()
    flags: set[str] = set()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            flags.update(value.split())
    return frozenset(flags)


def autocast(device: torch.device, precision: str):
    """The autocast context for ``precision`` on ``device`` (a disabled one for fp32)."""
    dtype = PRECISIONS[resolve_precision(precision, device)]
    return torch.autocast(device.type, dtype=dtype, enabled=dtype is not None)
