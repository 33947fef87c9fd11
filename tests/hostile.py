"""Hostile model files: a good tiny file rewritten with one field or tensor made wrong.

Each case is (id, rewrite, message): ``rewrite(src, dst)`` writes the hostile copy of the
model file ``src`` to ``dst``; ``message`` is a regular expression its one-line error matches.
Shared by the model-file tests and the command-line tests.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Callable

import torch
from safetensors import safe_open
from safetensors.torch import save_file


def rewrite_metadata(src, dst, *, drop=(), **changes):
    """Copy a model file with its JSON description edited (``drop``: keys to remove, with
    "architecture.x" for a key of the architecture)."""

    def edit(meta: dict) -> str:
        for key in drop:
            outer, _, inner = key.rpartition(".")
            (meta[outer] if outer else meta).pop(inner)
        for key, value in changes.items():
            if isinstance(value, dict) and isinstance(meta.get(key), dict):
                meta[key].update(value)
            else:
                meta[key] = value
        return json.dumps(meta)

    return rewrite_description(src, dst, edit)


def rewrite_description(src, dst, edit: Callable[[dict], str]):
    """Copy a model file with its JSON description replaced by ``edit(description)`` (raw
    text: anything, valid JSON or not); the tensors are copied byte for byte."""
    data = src.read_bytes()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    header["__metadata__"]["colorizer"] = edit(json.loads(header["__metadata__"]["colorizer"]))
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    dst.write_bytes(struct.pack("<Q", len(raw)) + raw + data[8 + n :])
    return dst


def rewrite_tensors(src, dst, edit: Callable[[dict], dict]):
    """Copy a model file with its tensors replaced by ``edit(tensors)`` (same description)."""
    with safe_open(str(src), framework="pt") as handle:
        tensors = {key: handle.get_tensor(key) for key in handle.keys()}
        metadata = handle.metadata()
    save_file({k: v.contiguous() for k, v in edit(tensors).items()}, str(dst), metadata=metadata)
    return dst


def record_real_builds(monkeypatch, module) -> list:
    """Patch ``module.build_generator`` to record the config of every generator it builds
    for real (building on the meta device, which allocates nothing, is not recorded)."""
    built = []
    real = module.build_generator

    def spy(config):
        if torch.empty(()).device.type != "meta":
            built.append(config)
        return real(config)

    monkeypatch.setattr(module, "build_generator", spy)
    return built


def _json_with(path: str, text: str) -> Callable:
    """An edit that sets ``path`` ("a.b") of the description to the raw JSON ``text``."""
    outer, _, inner = path.rpartition(".")
    marker = "@@HOSTILE@@"

    def edit(meta: dict) -> str:
        (meta[outer] if outer else meta)[inner] = marker
        return json.dumps(meta).replace(json.dumps(marker), text)

    return edit


def _described(path: str, text: str):
    return lambda src, dst: rewrite_description(src, dst, _json_with(path, text))


def _tensors(edit):
    return lambda src, dst: rewrite_tensors(src, dst, edit)


def _cast_all(dtype):
    return _tensors(
        lambda t: {k: v.to(dtype) if v.is_floating_point() else v for k, v in t.items()}
    )


def _reshaped(t: dict) -> dict:
    weight = t["down.1.1.weight"]  # (8, 4, 4, 4) in TINY: same numbers, another shape
    return {**t, "down.1.1.weight": weight.reshape(weight.shape[1], weight.shape[0], 4, 4)}


DEEP = "[" * 100_000 + "]" * 100_000

DESCRIPTION_CASES = [
    ("type-list", _described("architecture.type", '["unet"]'), r"unsupported architecture"),
    ("ngf-float", _described("architecture.ngf", "64.0"), "ngf must be a whole number, got 64.0"),
    ("ngf-bool", _described("architecture.ngf", "true"), "ngf must be a whole number, got True"),
    ("ngf-text", _described("architecture.ngf", '"64"'), "ngf must be a whole number"),
    ("ngf-2048", _described("architecture.ngf", "2048"), r"ngf must be in \[1, 512\], got 2048"),
    ("ngf-2**20", _described("architecture.ngf", str(2**20)), r"ngf must be in \[1, 512\]"),
    ("max-mult-huge", _described("architecture.max_mult", "1000000"), r"max_mult must be in"),
    ("dropout-nan", _described("architecture.dropout", "NaN"), r"dropout must be in .*, got nan"),
    ("upsample-list", _described("architecture.upsample", '["transpose"]'), "upsample must be"),
    ("architecture-text", _described("architecture", '"unet"'), "architecture must be a JSON"),
    ("version-1e999", _described("format_version", "1e999"), "format_version must be a whole"),
    ("version-text", _described("format_version", '"1"'), "format_version must be a whole"),
    ("version-zero", _described("format_version", "0"), "format_version must be a whole"),
    ("training-text", _described("training", '"hello"'), "training must be a JSON object"),
    ("training-steps", _described("training", '{"steps": "many"}'), "training.steps must be"),
    ("training-stages", _described("training", '{"stages": 5}'), "training.stages must be a list"),
    ("metrics-list", _described("metrics", "[1, 2]"), "metrics must be a JSON object"),
    ("metrics-psnr", _described("metrics", '{"psnr": "high"}'), "metrics.psnr must be a number"),
    (
        "evaluation-psnr",
        _described("metrics", '{"evaluation": {"kodak": {"psnr": [1]}}}'),
        r"metrics.evaluation\[.kodak.\].psnr must be a number",
    ),
    ("name-list", _described("name", '["tiny"]'), "name must be text"),
    ("name-huge", _described("name", json.dumps("x" * 100_000)), "name must be text of at most"),
    ("colour-space-list", _described("color_space", '["lab"]'), "unsupported colour space"),
    ("heads-huge", _described("heads", json.dumps(["x" * 100_000])), "lists heads"),
    ("hints-bool", _described("hint_channels", "false"), "hint channels"),
    ("nested-100k", _described("training", DEEP), "nested too deeply"),
    ("nested-900", _described("metrics", '{"x": ' + "[" * 900 + "]" * 900 + "}"), "too deeply"),
    ("description-huge", _described("training", json.dumps({"notes": "x" * 2_000_000})), "2000"),
    ("not-an-object", lambda s, d: rewrite_description(s, d, lambda m: "[1, 2]"), "JSON object"),
    ("not-json", lambda s, d: rewrite_description(s, d, lambda m: "{"), "damaged model descr"),
]

TENSOR_CASES = [
    ("int32-weights", _cast_all(torch.int32), "is int32, it must be float16, bfloat16 or float32"),
    ("float64-weights", _cast_all(torch.float64), "is float64, it must be"),
    ("reshaped", _tensors(_reshaped), r"down.1.1.weight has shape \(4, 8, 4, 4\)"),
    (
        "missing",
        _tensors(lambda t: {k: v for k, v in t.items() if k != "down.0.0.weight"}),
        "1 missing, 0 unexpected tensors; e.g. down.0.0.weight is missing",
    ),
    (
        "extra",
        _tensors(lambda t: {**t, "evil\nname": torch.zeros(2)}),
        "0 missing, 1 unexpected tensors; e.g. 'evil\\\\nname' is extra",
    ),
    (
        "counter-float",
        _tensors(lambda t: {k: v.float() if k.endswith("tracked") else v for k, v in t.items()}),
        "num_batches_tracked is float32, it must be int64",
    ),
    # in range, but the tensors are those of a network 128 times narrower
    ("ngf-512", _described("architecture.ngf", "512"), "do not match.*has shape"),
]

CASES = DESCRIPTION_CASES + TENSOR_CASES
