"""Self-describing generator files: safetensors weights + JSON metadata.

A model file carries everything needed to rebuild and use the generator: the architecture
config, the colour space, the normalisation, and a training summary with metrics. Loading
never executes code from the file (safetensors holds raw tensors and a JSON header only).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from models import tensorcheck
from models.atomic import default_mode, write_atomically
from models.color import AB_SCALE, L_SCALE
from models.configs import brief, is_number, is_whole
from models.errors import ModelFileError
from models.networks import (
    GENERATOR_TYPES,
    AutoencoderConfig,
    GeneratorConfig,
    build_generator,
    generator_type,
)

AnyConfig = GeneratorConfig | AutoencoderConfig

FORMAT = "colorizer-generator"
FORMAT_VERSION = 1
ColorSpace = Literal["lab", "rgb"]
DEFAULT_MODEL = "default.safetensors"
# How a,b are read off the network: its regression head, or the annealed mean of its colour
# distribution head (models.colorbins) at a temperature.
DECODERS = ("regression", "annealed_mean")

# The normalisation every network of this project uses (models.color): written into each file
# and checked on load, so a file trained under another contract is refused, not misread.
NORMALIZATION = {"L": {"scale": L_SCALE, "offset": -1.0}, "ab": {"scale": AB_SCALE}, "rgb": "2x-1"}


@dataclass(frozen=True)
class ModelInfo:
    """What a model file says about itself."""

    config: AnyConfig
    color_space: ColorSpace = "lab"
    training: dict[str, Any] = field(default_factory=dict)  # recipe, steps, data, wall time
    metrics: dict[str, Any] = field(default_factory=dict)  # validation numbers
    name: str = ""
    # the settings the model was measured best at: {"render_size": int | None, "strength":
    # float, "decoder": "regression" | "annealed_mean", "temperature": float}
    recommended: dict[str, Any] = field(default_factory=dict)

    @property
    def takes_hints(self) -> bool:
        return self.config.hint_channels > 0

    @property
    def has_distribution(self) -> bool:
        return self.config.num_bins > 0

    @property
    def heads(self) -> list[str]:
        return ["regression"] + (["distribution"] if self.has_distribution else [])

    def to_json(self) -> str:
        return json.dumps(
            {
                "format": FORMAT,
                "format_version": FORMAT_VERSION,
                "name": self.name,
                "architecture": {"type": generator_type(self.config), **self.config.to_dict()},
                "color_space": self.color_space,
                "normalization": NORMALIZATION,
                "training": self.training,
                "metrics": self.metrics,
                "recommended": self.recommended,
                "heads": self.heads,
                "hint_channels": self.config.hint_channels,
            },
            sort_keys=True,
        )


@dataclass
class LoadedGenerator:
    """A generator in eval mode on the CPU, with its description and source path."""

    module: torch.nn.Module
    info: ModelInfo
    path: Path | None = None


def save_generator(
    path: str | os.PathLike,
    module: torch.nn.Module,
    info: ModelInfo,
    *,
    dtype: torch.dtype = torch.float32,
) -> Path:
    """Write ``module``'s weights and ``info`` to ``path`` atomically.

    ``dtype`` applies to floating-point tensors (``torch.float16`` halves the file).
    """
    if getattr(module, "config", None) != info.config:
        raise ValueError("the module was built from another config than info.config")
    path = Path(path)
    tensors = {}
    for key, value in module.state_dict().items():
        value = value.detach().to("cpu")
        if value.is_floating_point():
            value = value.to(dtype)
        tensors[key] = value.contiguous()
    metadata = {"format": FORMAT, "colorizer": info.to_json()}

    def write(tmp: Path) -> None:
        save_file(tensors, tmp, metadata=metadata)
        os.chmod(tmp, default_mode())  # safetensors creates its file owner-only (0600)

    return write_atomically(path, write, suffix=".tmp")


def read_info(path: str | os.PathLike) -> ModelInfo:
    """Read and validate a model file's description and tensor table, without loading its
    weights (nothing the file describes is built)."""
    path = Path(path)
    with _opened(path) as handle:
        return _checked_info(path, handle)


def load_generator(path: str | os.PathLike) -> LoadedGenerator:
    """Rebuild the generator described by a model file, in eval mode on the CPU.

    The description is validated field by field and the file's tensor table (names, shapes,
    dtypes, read from its header) is compared with the one the described network needs
    before that network is built or a weight is read: a file cannot make the app allocate
    more than its own weights.

    Raises
    ------
    ModelFileError
        Missing, truncated, foreign (not a colorizer generator) or incompatible file.
    """
    path = Path(path)
    with _opened(path) as handle:
        info = _checked_info(path, handle)
        module = build_generator(info.config)
        try:
            state = {key: handle.get_tensor(key) for key in handle.keys()}
        except SafetensorError as err:
            raise ModelFileError(f"{path}: truncated or corrupt weights ({_short(err)})") from None
    for key, value in state.items():
        if value.is_floating_point() and not torch.isfinite(value).all():
            raise ModelFileError(f"{path}: tensor {key} holds NaN or infinite values")
    if info.has_distribution:
        bins, prior = state["ab_bins"].float(), state["ab_prior"].float()
        if bins.abs().max() > 128 or len(torch.unique(bins, dim=0)) != len(bins):
            raise ModelFileError(f"{path}: the colour bins (ab_bins) are not a valid a,b grid")
        if (prior < 0).any() or abs(float(prior.sum()) - 1.0) > 1e-2:
            raise ModelFileError(f"{path}: the colour prior (ab_prior) is not a distribution")
    module.load_state_dict(state)
    module.eval()
    return LoadedGenerator(module=module, info=info, path=path)


@contextmanager
def _opened(path: Path) -> Iterator[Any]:
    """The open safetensors file; what goes wrong opening or reading it, in one line."""
    if path.is_dir():
        raise ModelFileError(f"{path}: is a folder, not a model file")
    try:
        with safe_open(str(path), framework="pt", device="cpu") as handle:
            yield handle
    except FileNotFoundError:
        raise ModelFileError(f"{path}: model file not found") from None
    except PermissionError:
        raise ModelFileError(f"{path}: permission denied") from None
    except SafetensorError as err:
        raise ModelFileError(f"{path}: not a model file or truncated ({_short(err)})") from None
    except OSError as err:
        raise ModelFileError(f"{path}: cannot read model file ({err.strerror or err})") from None


def _checked_info(path: Path, handle) -> ModelInfo:
    """The file's description, once its tensors are exactly those the described network has
    (safetensors has already checked that the header's tensors fill the file)."""
    info = _parse_metadata(path, handle.metadata())
    problem = tensorcheck.mismatch(
        tensorcheck.needed(lambda: build_generator(info.config)), tensorcheck.header_table(handle)
    )
    if problem:
        raise ModelFileError(
            f"{path}: weights do not match the architecture it describes ({problem})"
        )
    return info


def default_model_path() -> Path | None:
    """The shipped default generator inside the ``models`` package, or None if absent."""
    ref = resources.files("models").joinpath("weights", DEFAULT_MODEL)
    try:
        with resources.as_file(ref) as real:
            return Path(real) if Path(real).is_file() else None
    except FileNotFoundError:
        return None


def _parse_metadata(path: Path, metadata: dict[str, str] | None) -> ModelInfo:
    """The file's description, every field checked for its type and range (one line each)."""
    if not metadata or metadata.get("format") != FORMAT or "colorizer" not in metadata:
        raise ModelFileError(f"{path}: a safetensors file, but not a colorizer generator")

    def damaged(problem: str) -> ModelFileError:
        return ModelFileError(f"{path}: damaged model description ({problem})")

    text = metadata["colorizer"]
    if len(text) > MAX_DESCRIPTION:  # parsed, it could take many times its size in memory
        raise damaged(f"{len(text)} characters, more than any model's")
    try:
        meta = json.loads(text)
    except RecursionError:  # JSON nested thousands deep
        raise damaged("nested too deeply") from None
    except ValueError as err:
        raise damaged(_short(err)) from None
    if _depth(meta) > MAX_DEPTH:  # parsed, but too deep to print or save again safely
        raise damaged("nested too deeply")
    if not isinstance(meta, dict):
        raise damaged(f"not a JSON object but {brief(meta)}")
    version = meta.get("format_version")
    if not is_whole(version) or version < 1:
        raise damaged(f"format_version must be a whole number from 1, got {brief(version)}")
    if version > FORMAT_VERSION:
        raise ModelFileError(
            f"{path}: model format version {version} is newer than this app supports "
            f"({FORMAT_VERSION}); update the app"
        )
    arch = meta.get("architecture")
    if not isinstance(arch, dict):
        raise damaged(f"architecture must be a JSON object, got {brief(arch)}")
    arch = dict(arch)
    kind = arch.pop("type", None)
    if not isinstance(kind, str) or kind not in GENERATOR_TYPES:
        raise ModelFileError(f"{path}: unsupported architecture {brief(kind)}")
    color_space = meta.get("color_space")
    if not isinstance(color_space, str) or color_space not in ("lab", "rgb"):
        raise ModelFileError(f"{path}: unsupported colour space {brief(color_space)}")
    if meta.get("normalization") != json.loads(json.dumps(NORMALIZATION)):
        raise ModelFileError(f"{path}: trained with another normalisation than this app uses")
    try:  # every field's type and range (models.configs): nothing is built from it yet
        config = GENERATOR_TYPES[kind][0].from_dict(arch)
    except (TypeError, ValueError) as err:
        raise ModelFileError(f"{path}: incompatible architecture ({_short(err)})") from None
    expected_out = 2 if color_space == "lab" else 3
    if config.in_channels != 1 or config.out_channels != expected_out:
        raise ModelFileError(
            f"{path}: a {color_space} generator needs 1 input and {expected_out} output "
            f"channels, the file has {config.in_channels} and {config.out_channels}"
        )
    heads = ["regression"] + (["distribution"] if config.num_bins else [])
    if "heads" in meta and meta["heads"] != heads:
        raise ModelFileError(
            f"{path}: the file lists heads {brief(meta['heads'])} but its architecture has {heads}"
        )
    hints = meta.get("hint_channels", config.hint_channels)
    if not is_whole(hints) or hints != config.hint_channels:
        raise ModelFileError(
            f"{path}: the file says {brief(hints)} hint channels but its "
            f"architecture has {config.hint_channels}"
        )
    name = meta.get("name") or ""
    if not isinstance(name, str) or len(name) > MAX_NAME:
        raise damaged(f"name must be text of at most {MAX_NAME} characters")
    training = _block(meta, "training", _TRAINING_FIELDS, damaged)
    metrics = _block(meta, "metrics", _METRIC_FIELDS, damaged)
    for set_name, scores in (metrics.get("evaluation") or {}).items():
        label = f"metrics.evaluation[{brief(set_name)}]"
        _block({label: scores}, label, _EVALUATION_FIELDS, damaged)
    return ModelInfo(
        config=config,
        color_space=color_space,
        training=training,
        metrics=metrics,
        name=name,
        recommended=_recommended(meta.get("recommended")),
    )


# A description's size and nesting (the shipped model's: 5 kB, 4 levels), and a name's length
MAX_DESCRIPTION = 1_000_000
MAX_DEPTH = 16
MAX_NAME = 200
# The informational blocks hold what their writer chose to record; the keys the app reads
# (the About dialog, fine-tuning lineage) must have these types when present.
_TRAINING_FIELDS = {
    **dict.fromkeys(("recipe", "data", "init_from", "device", "hardware"), str),
    **dict.fromkeys(("steps", "image_size", "batch_size"), int),
    **dict.fromkeys(("epochs", "wall_seconds", "lambda_l1", "lr"), float),
    "stages": list,
    "base": dict,
}
_SCORES = ("psnr", "gray_psnr", "ssim", "gray_ssim", "colourfulness", "truth_colourfulness")
_METRIC_FIELDS = {**dict.fromkeys(_SCORES, float), "images": int, "evaluation": dict}
_EVALUATION_FIELDS = {
    **dict.fromkeys(("psnr", "gray_psnr", "colourfulness_ratio"), float),
    "images": int,
}
_KIND_WORDS = {str: "text", int: "a whole number", float: "a number", list: "a list"}


def _block(meta: dict, key: str, kinds: dict[str, type], damaged) -> dict[str, Any]:
    """``meta[key]``: absent or null (an empty block), or an object whose listed entries
    have their types (a float may be written as a whole number; NaN is kept, as written)."""
    block = meta.get(key)
    if block is None:
        return {}
    if not isinstance(block, dict):
        raise damaged(f"{key} must be a JSON object, got {brief(block)}")
    for name, kind in kinds.items():
        if name in block and not _fits(block[name], kind):
            words = _KIND_WORDS.get(kind, "a JSON object")
            raise damaged(f"{key}.{name} must be {words}, got {brief(block[name])}")
    return dict(block)


def _depth(value: Any) -> int:
    """How deeply JSON lists and objects nest in ``value`` (iteratively: no recursion)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            item = list(item.values())
        if isinstance(item, list):
            deepest = max(deepest, depth)
            stack.extend((v, depth + 1) for v in item)
    return deepest


def _fits(value: Any, kind: type) -> bool:
    if kind is float:
        return is_number(value)
    return is_whole(value) if kind is int else isinstance(value, kind)


def _recommended(raw: Any) -> dict[str, Any]:
    """The usable part of a file's recommended settings (anything odd is ignored, not fatal:
    the model itself is fine, the app's defaults apply)."""
    if not isinstance(raw, dict):
        return {}
    out: dict[str, Any] = {}
    render = raw.get("render_size", "absent")
    if render is None or (is_whole(render) and render >= 16):
        out["render_size"] = render
    strength = raw.get("strength")
    if is_number(strength) and 0.0 <= strength <= 2.0:
        out["strength"] = float(strength)
    if raw.get("decoder") in DECODERS:
        out["decoder"] = raw["decoder"]
    temperature = raw.get("temperature")
    if is_number(temperature) and 0.01 <= temperature <= 10.0:
        out["temperature"] = float(temperature)
    return out


def _short(err: Exception) -> str:
    text = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    return text[:160]
