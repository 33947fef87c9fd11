"""Which tensors a network needs, and whether a file or a checkpoint holds exactly those.

The table a network needs (every state-dict entry's name, shape and dtype) is read off the
network built on torch's ``meta`` device, which allocates no memory whatever the config says.
A model file's table comes from its safetensors header and a checkpoint's from its state
dicts, so a file that promises one network and holds another is refused before any real
network is built or any weight is read.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch import nn

from models.configs import brief

# Weights may be stored in any of these (they are loaded as float32); integer "weights" are
# refused: a network of int32 weights loads without complaint and only ever predicts gray.
FLOAT_DTYPES = (torch.float16, torch.bfloat16, torch.float32)
# safetensors' names of the dtypes torch knows (the header holds these strings)
SAFETENSORS_DTYPES = {
    "F16": torch.float16,
    "BF16": torch.bfloat16,
    "F32": torch.float32,
    "F64": torch.float64,
    "I64": torch.int64,
    "I32": torch.int32,
    "I16": torch.int16,
    "I8": torch.int8,
    "U8": torch.uint8,
    "BOOL": torch.bool,
}

# name -> (shape, dtype); shape None: the entry is not a tensor; dtype a string: one torch
# does not know (from a file header)
Table = dict[str, tuple[tuple[int, ...] | None, torch.dtype | str | None]]


def needed(build: Callable[[], nn.Module]) -> Table:
    """The tensors the module ``build()`` makes would hold, without allocating any."""
    with torch.device("meta"):
        module = build()
    return table_of(module.state_dict())


def table_of(state: Mapping[Any, Any]) -> Table:
    """The table of a state dict (entries that are not tensors get the shape None)."""
    return {
        name: (tuple(value.shape), value.dtype) if isinstance(value, torch.Tensor) else (None, None)
        for name, value in state.items()
    }


def header_table(handle) -> Table:
    """The table of an open safetensors file, from its header alone (no tensor is read)."""
    table: Table = {}
    for name in handle.keys():
        info = handle.get_slice(name)
        dtype = info.get_dtype()
        table[name] = (tuple(info.get_shape()), SAFETENSORS_DTYPES.get(dtype, dtype))
    return table


def mismatch(need: Table, found: Table) -> str:
    """How ``found`` differs from ``need``, in one line, or '' when it holds exactly the
    tensors needed (same names, same shapes, floating-point where the network has floats,
    the very dtype elsewhere)."""
    missing = sorted(set(need) - set(found), key=str)
    unexpected = sorted(set(found) - set(need), key=str)
    if missing or unexpected:
        example = f"{missing[0]} is missing" if missing else f"{brief(unexpected[0])} is extra"
        return f"{len(missing)} missing, {len(unexpected)} unexpected tensors; e.g. {example}"
    for name, (shape, dtype) in need.items():
        got_shape, got_dtype = found[name]
        if got_shape is None:
            return f"{name} is not a tensor"
        if got_shape != shape:
            return f"tensor {name} has shape {got_shape}, the architecture needs {shape}"
        wanted = FLOAT_DTYPES if dtype.is_floating_point else (dtype,)
        if got_dtype not in wanted:
            names = [_dtype_name(d) for d in wanted]
            allowed = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"
            return f"tensor {name} is {_dtype_name(got_dtype)}, it must be {allowed}"
    return ""


def _dtype_name(dtype: torch.dtype | str | None) -> str:
    return str(dtype).removeprefix("torch.") if dtype is not None else "unknown"
