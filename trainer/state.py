"""What a training run holds between steps, how it is built, resumed and checkpointed.

Resume and fine-tune are one path (nanoGPT): build the networks from the config or from the
``init_from`` file (growing hint inputs or a distribution head onto a v2-style model when the
config asks for them), then load ``checkpoints/last.pt`` if the run folder has one.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from models import colorbins
from models.configs import brief
from models.errors import ColorizerError
from models.hints import HINT_CHANNELS
from models.modelfile import load_generator
from models.networks import (
    GENERATOR_TYPES,
    AutoencoderConfig,
    DiscriminatorConfig,
    GeneratorConfig,
    PatchDiscriminator,
    build_generator,
    grow_generator,
)
from trainer.checkpoint import (
    BadCheckpointError,
    load_checkpoint,
    optimizer_problem,
    save_checkpoint,
    state_problem,
)
from trainer.config import TrainConfig
from trainer.data import ab_histogram

log = logging.getLogger(__name__)


class TrainingError(ColorizerError):
    """Training cannot go on (diverged, unusable data, ...). The last checkpoint is intact."""


@dataclass
class TrainState:
    """The networks, their optimisers, the weight average and the step counter."""

    g_config: GeneratorConfig | AutoencoderConfig
    generator: nn.Module
    discriminator: nn.Module
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer
    ema: AveragedModel | None = None
    step: int = 0
    wall_before: float = 0.0  # training seconds of earlier sessions of this run

    @property
    def final_generator(self) -> nn.Module:
        """The weights to validate and export: the moving average when there is one."""
        return self.ema.module if self.ema is not None else self.generator

    def update_average(self) -> None:
        if self.ema is not None:
            self.ema.update_parameters(self.generator)

    def save(self, path: Path, config: TrainConfig, steps_per_epoch: int, wall: float) -> None:
        save_checkpoint(
            path,
            {
                "step": self.step,
                "epoch": self.step / steps_per_epoch,
                "config": asdict(config),
                "g_config": asdict(self.g_config),
                "generator": self.generator.state_dict(),
                "discriminator": self.discriminator.state_dict(),
                "opt_g": self.opt_g.state_dict(),
                "opt_d": self.opt_d.state_dict(),
                **({"ema": self.ema.state_dict()} if self.ema is not None else {}),
                "torch_rng": torch.get_rng_state(),
                "wall_seconds": wall,
            },
        )


def generator_config(config: TrainConfig) -> GeneratorConfig | AutoencoderConfig:
    """The architecture a from-scratch run builds (bins counted for the distribution head)."""
    lab = config.color_space == "lab"
    out = 2 if lab else 3
    if config.architecture == "autoencoder":
        return AutoencoderConfig(
            out_channels=out, width=config.ngf, depth=config.num_downs, dropout=0.0
        )
    return GeneratorConfig(
        out_channels=out,
        ngf=config.ngf,
        num_downs=config.num_downs,
        upsample=config.upsample,
        dropout=config.dropout,
        hint_channels=HINT_CHANNELS if config.hints and lab else 0,
        num_bins=len(colorbins.gamut_bins(config.bin_grid)) if config.distribution and lab else 0,
        bin_grid=config.bin_grid,
    )


def config_of(saved: Any) -> GeneratorConfig | AutoencoderConfig:
    """The generator config a checkpoint saved as a plain dict (its fields tell the type);
    ``ValueError`` with one line for anything else or for a field of the wrong type or range."""
    for config_cls, _ in GENERATOR_TYPES.values():
        if isinstance(saved, dict) and set(saved) <= {f.name for f in fields(config_cls)}:
            return config_cls.from_dict(saved)
    keys = sorted(map(str, saved)) if isinstance(saved, dict) else saved
    raise ValueError(f"unknown generator settings {brief(keys, 120)}")


def _initial_generator(config: TrainConfig, source, train_idx, *, new_run: bool) -> nn.Module:
    """From scratch, or the ``init_from`` file, grown to what the config asks for. A new
    distribution head gets the bin grid and the colour prior measured on the training data
    (``new_run``; a resumed run loads both from its checkpoint)."""
    if not config.init_from:
        generator = build_generator(generator_config(config))
    else:
        loaded = load_generator(config.init_from)
        generator = loaded.module
        if loaded.info.color_space != config.color_space:
            raise TrainingError(
                f"{config.init_from} is a {loaded.info.color_space} model, "
                f"the run trains {config.color_space}"
            )
        lab = config.color_space == "lab"
        if (
            lab
            and (config.hints or config.distribution)
            and isinstance(loaded.info.config, GeneratorConfig)
        ):
            bins = len(colorbins.gamut_bins(config.bin_grid)) if config.distribution else None
            generator = grow_generator(
                generator, hint_channels=HINT_CHANNELS if config.hints else None, num_bins=bins
            )
    g_config = generator.config
    if new_run and g_config.num_bins and not bool(generator.ab_bins.abs().sum()):  # new head
        bins = colorbins.gamut_bins(g_config.bin_grid)
        if len(bins) != g_config.num_bins:
            raise TrainingError(
                f"the model has {g_config.num_bins} bins, the grid gives {len(bins)}"
            )
        counts = ab_histogram(source, train_idx, bins)
        prior = colorbins.smooth_prior(counts, bins)
        generator.ab_bins.copy_(torch.from_numpy(bins))
        generator.ab_prior.copy_(torch.from_numpy(prior))
        log.info("colour prior from %d pixels over %d bins", int(counts.sum()), len(bins))
    return generator


def build_state(
    config: TrainConfig, device: torch.device, ckpt_path: Path, source, train_idx
) -> tuple[TrainState, bool]:
    """Networks and optimisers for the run; resumed from ``ckpt_path`` when it exists.

    Returns the state and whether it was resumed.
    """
    generator = _initial_generator(config, source, train_idx, new_run=not ckpt_path.exists())
    g_config = generator.config
    if g_config.multiple > config.image_size or config.image_size % g_config.multiple:
        raise TrainingError(
            f"image_size {config.image_size} must be a multiple of "
            f"{g_config.multiple} for this architecture"
        )
    # D judges (L, colour): never the hints, which would give the truth away.
    d_config = DiscriminatorConfig(in_channels=1 + g_config.out_channels, ndf=config.ndf)
    discriminator = PatchDiscriminator(d_config)
    memory_format = torch.channels_last if config.channels_last else torch.contiguous_format
    generator.to(device, memory_format=memory_format).train()
    discriminator.to(device, memory_format=memory_format).train()
    betas = (config.beta1, config.beta2)
    state = TrainState(
        g_config=g_config,
        generator=generator,
        discriminator=discriminator,
        opt_g=torch.optim.Adam(generator.parameters(), lr=config.lr, betas=betas),
        opt_d=torch.optim.Adam(
            discriminator.parameters(), lr=config.lr_d or config.lr, betas=betas
        ),
        ema=(
            AveragedModel(
                generator, multi_avg_fn=get_ema_multi_avg_fn(config.ema), use_buffers=True
            )
            if config.ema
            else None
        ),
    )
    if not ckpt_path.exists():
        return state, False
    _resume(state, ckpt_path)
    return state, True


def _resume(state: TrainState, ckpt_path: Path) -> None:
    """Load ``ckpt_path`` into ``state``, once every entry is known to fit: a damaged or
    foreign checkpoint is one ``BadCheckpointError`` line, never a traceback mid-load."""
    saved = load_checkpoint(ckpt_path)
    try:
        same = config_of(saved["g_config"]) == state.g_config
    except ValueError:
        same = False
    if not same:
        raise BadCheckpointError(
            f"{ckpt_path}: the checkpoint holds another architecture; use a new run folder"
        )
    parts = [
        ("generator", state_problem(state.generator.state_dict(), saved["generator"])),
        ("discriminator", state_problem(state.discriminator.state_dict(), saved["discriminator"])),
        ("opt_g", optimizer_problem(state.opt_g, saved["opt_g"])),
        ("opt_d", optimizer_problem(state.opt_d, saved["opt_d"])),
    ]
    if state.ema is not None and "ema" in saved:
        parts.append(("ema", state_problem(state.ema.state_dict(), saved["ema"])))
    rng = saved["torch_rng"]
    if rng.dtype != torch.uint8 or rng.shape != torch.get_rng_state().shape:
        parts.append(("torch_rng", f"not a random generator state but {tuple(rng.shape)}"))
    for name, problem in parts:
        if problem:
            raise BadCheckpointError(
                f"{ckpt_path}: damaged checkpoint ({name}: {problem}); use a new run folder"
            )
    state.generator.load_state_dict(saved["generator"])
    state.discriminator.load_state_dict(saved["discriminator"])
    state.opt_g.load_state_dict(saved["opt_g"])
    state.opt_d.load_state_dict(saved["opt_d"])
    if state.ema is not None and "ema" in saved:
        state.ema.load_state_dict(saved["ema"])
    state.step, state.wall_before = saved["step"], float(saved.get("wall_seconds", 0.0))
    torch.set_rng_state(rng)


def fingerprint(module: nn.Module) -> float:
    with torch.no_grad():
        return float(sum(p.double().sum() for p in module.parameters()))
