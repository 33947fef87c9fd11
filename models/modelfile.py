"""Self-describing generator files: safetensors weights + JSON metadata.

A model file carries everything needed to rebuild and use the generator: the architecture
config, the colour space, the normalisation, and a training summary with metrics. Loading
never executes code from the file (safetensors holds raw tensors and a JSON header only).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from models.atomic import create_temp, default_mode
from models.color import AB_SCALE, L_SCALE
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
    fd, tmp = create_temp(path, ".tmp")
    os.close(fd)
    try:
        save_file(tensors, tmp, metadata=metadata)
        os.chmod(tmp, default_mode())  # safetensors creates its file owner-only (0600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def read_info(path: str | os.PathLike) -> ModelInfo:
    """Read and validate a model file's description without loading its weights."""
    path = Path(path)
    if path.is_dir():
        raise ModelFileError(f"{path}: is a folder, not a model file")
    try:
        with safe_open(str(path), framework="pt") as handle:
            return _parse_metadata(path, handle.metadata())
    except FileNotFoundError:
        raise ModelFileError(f"{path}: model file not found") from None
    except PermissionError:
        raise ModelFileError(f"{path}: permission denied") from None
    except SafetensorError as err:
        raise ModelFileError(f"{path}: not a model file or truncated ({_short(err)})") from None
    except OSError as err:
        raise ModelFileError(f"{path}: cannot read model file ({err.strerror or err})") from None


def load_generator(path: str | os.PathLike) -> LoadedGenerator:
    """Rebuild the generator described by a model file, in eval mode on the CPU.

    Raises
    ------
    ModelFileError
        Missing, truncated, foreign (not a colorizer generator) or incompatible file.
    """
    path = Path(path)
    info = read_info(path)
    module = build_generator(info.config)
    try:
        with safe_open(str(path), framework="pt", device="cpu") as handle:
            state = {key: handle.get_tensor(key) for key in handle.keys()}
    except SafetensorError as err:
        raise ModelFileError(f"{path}: truncated or corrupt weights ({_short(err)})") from None
    except OSError as err:
        raise ModelFileError(f"{path}: cannot read model file ({err.strerror or err})") from None
    expected = module.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        raise ModelFileError(
            f"{path}: weights do not match the architecture it describes "
            f"({len(missing)} missing, {len(unexpected)} unexpected tensors)"
        )
    for key, value in state.items():
        if value.shape != expected[key].shape:
            raise ModelFileError(
                f"{path}: tensor {key} has shape {tuple(value.shape)}, "
                f"the architecture needs {tuple(expected[key].shape)}"
            )
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


def default_model_path() -> Path | None:
    """The shipped default generator inside the ``models`` package, or None if absent."""
    ref = resources.files("models").joinpath("weights", DEFAULT_MODEL)
    try:
        with resources.as_file(ref) as real:
            return Path(real) if Path(real).is_file() else None
    except FileNotFoundError:
        return None


def _parse_metadata(path: Path, metadata: dict[str, str] | None) -> ModelInfo:
    if not metadata or metadata.get("format") != FORMAT or "colorizer" not in metadata:
        raise ModelFileError(f"{path}: a safetensors file, but not a colorizer generator")
    try:
        meta = json.loads(metadata["colorizer"])
        version = int(meta["format_version"])
        arch = dict(meta["architecture"])
        color_space = meta["color_space"]
        normalization = meta["normalization"]
    except (ValueError, KeyError, TypeError) as err:
        raise ModelFileError(f"{path}: damaged model description ({err})") from None
    if version > FORMAT_VERSION:
        raise ModelFileError(
            f"{path}: model format version {version} is newer than this app supports "
            f"({FORMAT_VERSION}); update the app"
        )
    kind = arch.pop("type", None)
    if kind not in GENERATOR_TYPES:
        raise ModelFileError(f"{path}: unsupported architecture {kind!r}")
    if color_space not in ("lab", "rgb"):
        raise ModelFileError(f"{path}: unsupported colour space {color_space!r}")
    if normalization != json.loads(json.dumps(NORMALIZATION)):
        raise ModelFileError(f"{path}: trained with another normalisation than this app uses")
    try:
        config = GENERATOR_TYPES[kind][0].from_dict(arch)
    except (TypeError, ValueError) as err:
        raise ModelFileError(f"{path}: incompatible architecture ({err})") from None
    expected_out = 2 if color_space == "lab" else 3
    if config.in_channels != 1 or config.out_channels != expected_out:
        raise ModelFileError(
            f"{path}: a {color_space} generator needs 1 input and {expected_out} output "
            f"channels, the file has {config.in_channels} and {config.out_channels}"
        )
    heads = ["regression"] + (["distribution"] if config.num_bins else [])
    if "heads" in meta and meta["heads"] != heads:
        raise ModelFileError(
            f"{path}: the file lists heads {meta['heads']!r} but its architecture has {heads}"
        )
    if "hint_channels" in meta and meta["hint_channels"] != config.hint_channels:
        raise ModelFileError(
            f"{path}: the file says {meta['hint_channels']!r} hint channels but its "
            f"architecture has {config.hint_channels}"
        )
    return ModelInfo(
        config=config,
        color_space=color_space,
        training=dict(meta.get("training") or {}),
        metrics=dict(meta.get("metrics") or {}),
        name=str(meta.get("name") or ""),
        recommended=_recommended(meta.get("recommended")),
    )


def _recommended(raw: Any) -> dict[str, Any]:
    """The usable part of a file's recommended settings (anything odd is ignored, not fatal:
    the model itself is fine, the app's defaults apply)."""
    if not isinstance(raw, dict):
        return {}
    out: dict[str, Any] = {}
    render = raw.get("render_size", "absent")
    whole = isinstance(render, int) and not isinstance(render, bool)
    if render is None or (whole and render >= 16):
        out["render_size"] = render
    strength = raw.get("strength")
    if isinstance(strength, int | float) and not isinstance(strength, bool):
        if 0.0 <= strength <= 2.0:
            out["strength"] = float(strength)
    if raw.get("decoder") in DECODERS:
        out["decoder"] = raw["decoder"]
    temperature = raw.get("temperature")
    if isinstance(temperature, int | float) and not isinstance(temperature, bool):
        if 0.01 <= temperature <= 10.0:
            out["temperature"] = float(temperature)
    return out


def _short(err: Exception) -> str:
    text = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    return text[:160]
