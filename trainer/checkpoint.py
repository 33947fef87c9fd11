"""Training checkpoints: atomic writes, safe loads, and export to the app's model files.

A checkpoint holds only tensors and plain Python values (state dicts, step counters, RNG
states, the config as a dict), so it loads with ``torch.load(weights_only=True)``: no
arbitrary unpickling. It is written to a temporary file and renamed over ``last.pt`` only when
complete, so a crash, ``kill -9`` or full disk during the write leaves the previous checkpoint
intact.
"""

from __future__ import annotations

import math
import os
from functools import partial
from pathlib import Path
from typing import Any

import torch

from models import tensorcheck
from models.atomic import write_atomically
from models.configs import brief, is_number, is_whole
from models.errors import ColorizerError


class CheckpointError(ColorizerError):
    """A checkpoint could not be written or read."""


class BadCheckpointError(CheckpointError):
    """A checkpoint nothing can resume or export from: missing, unreadable, foreign, damaged,
    or of another network than the run's (the command line's exit status 2)."""


# What every checkpoint of this trainer holds (TrainState.save), with the type of each entry;
# "ema" and "epoch" are optional.
ENTRIES = {
    "step": int,
    "config": dict,
    "g_config": dict,
    "generator": dict,
    "discriminator": dict,
    "opt_g": dict,
    "opt_d": dict,
    "torch_rng": torch.Tensor,
}


def save_checkpoint(path: str | os.PathLike, state: dict[str, Any]) -> Path:
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise CheckpointError(
            f"{path.parent}: cannot write checkpoints ({err.strerror or err})"
        ) from None
    try:
        return write_atomically(path, partial(_save, state), suffix=".tmp", fsync=True)
    except OSError as err:
        raise CheckpointError(
            f"{path}: checkpoint not saved ({err.strerror or err}); the previous one is intact"
        ) from None


def _save(state: dict[str, Any], tmp: Path) -> None:
    with open(tmp, "wb") as handle:
        torch.save(state, handle)


def load_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Read a checkpoint without unpickling code, and check it holds every entry a checkpoint
    of this trainer has, each of its type (not yet that they fit a run: see
    :func:`state_problem` and :func:`optimizer_problem`)."""
    path = Path(path)
    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise BadCheckpointError(f"{path}: checkpoint not found") from None
    except Exception as err:  # torch raises several types for damaged or foreign files
        raise BadCheckpointError(f"{path}: unreadable checkpoint ({type(err).__name__})") from None
    if not isinstance(saved, dict):
        raise BadCheckpointError(f"{path}: not a training checkpoint (it holds {brief(saved)})")
    missing = [key for key in ENTRIES if key not in saved]
    if missing:
        raise BadCheckpointError(
            f"{path}: not a complete training checkpoint ({', '.join(missing)} missing)"
        )
    for key, kind in ENTRIES.items():
        fits = is_whole(saved[key]) if kind is int else isinstance(saved[key], kind)
        if not fits:
            raise BadCheckpointError(f"{path}: damaged checkpoint ({key} is {brief(saved[key])})")
    if saved["step"] < 0:
        raise BadCheckpointError(f"{path}: damaged checkpoint (step {saved['step']})")
    for key in ("epoch", "wall_seconds"):
        if not _finite(saved.get(key, 0.0)) or saved.get(key, 0.0) < 0:
            raise BadCheckpointError(f"{path}: damaged checkpoint ({key} is {brief(saved[key])})")
    return saved


def state_problem(module_state: dict[str, Any], saved: Any) -> str:
    """How a saved state dict differs from the one a module has (tensor names, shapes,
    dtypes), in one line, or ''."""
    if not isinstance(saved, dict):
        return f"not a set of weights but {brief(saved)}"
    return tensorcheck.mismatch(tensorcheck.table_of(module_state), tensorcheck.table_of(saved))


def optimizer_problem(optimizer: torch.optim.Optimizer, saved: Any) -> str:
    """How a saved optimizer state differs from what ``optimizer`` can take (its parameter
    groups, their settings' kinds, one state tensor of each parameter's shape), or ''.

    ``Optimizer.load_state_dict`` checks the group sizes only: a state tensor of another
    shape or a setting of another type would fail at the first step, with a traceback.
    """
    if not isinstance(saved, dict):
        return f"not an optimizer state but {brief(saved)}"
    groups, states = saved.get("param_groups"), saved.get("state")
    fresh = optimizer.state_dict()["param_groups"]
    if not isinstance(groups, list) or not isinstance(states, dict) or len(groups) != len(fresh):
        return "an optimizer state of another kind"
    for group, new in zip(groups, fresh, strict=True):
        if not isinstance(group, dict) or group.get("params") != new["params"]:
            return "an optimizer state of another network"
        for key in set(group) & set(new) - {"params"}:
            if not _same_kind(group[key], new[key]):
                return f"optimizer setting {key} is {brief(group[key])}"
    params = [p for group in optimizer.param_groups for p in group["params"]]
    for index, entry in states.items():
        if not is_whole(index) or not 0 <= index < len(params) or not isinstance(entry, dict):
            return f"optimizer state {brief(index)} belongs to no parameter"
        for name, value in entry.items():
            if not isinstance(value, torch.Tensor) or not value.is_floating_point():
                return f"optimizer state {brief(name)} of parameter {index} is {brief(value)}"
            if value.dim() and value.shape != params[index].shape:
                return (
                    f"optimizer state {brief(name)} of parameter {index} has shape "
                    f"{tuple(value.shape)}, the parameter {tuple(params[index].shape)}"
                )
    return ""


def _same_kind(saved: Any, fresh: Any) -> bool:
    """Whether a saved optimizer setting can stand where the fresh one does."""
    if isinstance(fresh, bool) or fresh is None or isinstance(fresh, str):
        return type(saved) is type(fresh)
    if is_number(fresh):
        return _finite(saved)
    if isinstance(fresh, tuple | list):
        return (
            isinstance(saved, tuple | list)
            and len(saved) == len(fresh)
            and all(_same_kind(a, b) for a, b in zip(saved, fresh, strict=True))
        )
    if isinstance(fresh, torch.Tensor):
        return isinstance(saved, torch.Tensor) and saved.shape == fresh.shape
    return type(saved) is type(fresh)


def _finite(value: Any) -> bool:
    return is_number(value) and math.isfinite(value)
