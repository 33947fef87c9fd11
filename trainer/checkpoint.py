"""Training checkpoints: atomic writes, safe loads, and export to the app's model files.

A checkpoint holds only tensors and plain Python values (state dicts, step counters, RNG
states, the config as a dict), so it loads with ``torch.load(weights_only=True)``: no
arbitrary unpickling. It is written to a temporary file and renamed over ``last.pt`` only when
complete, so a crash, ``kill -9`` or full disk during the write leaves the previous checkpoint
intact.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from models.atomic import create_temp
from models.errors import ColorizerError


class CheckpointError(ColorizerError):
    """A checkpoint could not be written or read."""


def save_checkpoint(path: str | os.PathLike, state: dict[str, Any]) -> Path:
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = create_temp(path, ".tmp")
    except OSError as err:
        raise CheckpointError(
            f"{path.parent}: cannot write checkpoints ({err.strerror or err})"
        ) from None
    try:
        with os.fdopen(fd, "wb") as handle:
            torch.save(state, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException as err:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(err, OSError):
            raise CheckpointError(
                f"{path}: checkpoint not saved ({err.strerror or err}); the previous one is intact"
            ) from None
        raise
    return path


def load_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    path = Path(path)
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise CheckpointError(f"{path}: checkpoint not found") from None
    except Exception as err:  # torch raises several types for damaged or foreign files
        raise CheckpointError(f"{path}: unreadable checkpoint ({type(err).__name__})") from None
