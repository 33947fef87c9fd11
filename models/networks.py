"""Pix2Pix networks: the U-Net generator and the 70x70 PatchGAN discriminator.

Shapes follow Isola et al. (2017) and the reference pix2pix code: the generator halves the
resolution ``num_downs`` times with 4x4 stride-2 convolutions (BatchNorm, LeakyReLU 0.2),
then doubles it back (transposed convolution or resize-then-convolution, BatchNorm, ReLU,
dropout in the first decoder blocks), concatenating the matching encoder features at every
level, and ends in ``tanh``. The discriminator takes the gray input concatenated with a colour
image and returns one logit per overlapping 70x70 patch (30x30 logits for 256x256 input).

Networks are built from frozen dataclass configs, so a model file can rebuild them from JSON.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any, Literal

import torch
from torch import nn

Upsample = Literal["transpose", "resize_conv"]


class ConfigMixin:
    """``to_dict`` / ``from_dict`` for the settings dataclasses; unknown keys are an error."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]):
        unknown = set(data) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"unknown {cls.__name__} settings: {sorted(unknown)}")
        return cls(**data)


@dataclass(frozen=True)
class GeneratorConfig(ConfigMixin):
    """Architecture of the U-Net generator (everything needed to rebuild it)."""

    in_channels: int = 1  # the L channel
    out_channels: int = 2  # 2 for Lab (a, b), 3 for RGB
    ngf: int = 64  # width of the first encoder level
    num_downs: int = 8  # levels; input sides must be multiples of 2**num_downs
    max_mult: int = 8  # widths are capped at ngf * max_mult
    upsample: Upsample = "transpose"  # "resize_conv" avoids checkerboard artefacts
    dropout: float = 0.5  # dropout probability in the first decoder blocks
    n_dropout: int = 3  # how many of the innermost decoder blocks use dropout

    def __post_init__(self) -> None:
        if self.in_channels < 1 or self.out_channels < 1:
            raise ValueError("in_channels and out_channels must be positive")
        if self.ngf < 1 or self.max_mult < 1:
            raise ValueError("ngf and max_mult must be positive")
        if not 1 <= self.num_downs <= 12:
            raise ValueError(f"num_downs must be in 1..12, got {self.num_downs}")
        if self.upsample not in ("transpose", "resize_conv"):
            raise ValueError(
                f"upsample must be 'transpose' or 'resize_conv', got {self.upsample!r}"
            )
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.n_dropout < 0:
            raise ValueError("n_dropout must be >= 0")

    @property
    def multiple(self) -> int:
        """Input height and width must be multiples of this."""
        return 2**self.num_downs


@dataclass(frozen=True)
class DiscriminatorConfig(ConfigMixin):
    """Architecture of the PatchGAN discriminator (n_layers=3 gives 70x70 patches)."""

    in_channels: int = 3  # gray input + colour image (1 + 2 for Lab, 1 + 3 for RGB)
    ndf: int = 64  # width of the first layer, doubled per layer up to 8x
    n_layers: int = 3  # stride-2 layers before the two stride-1 ones

    def __post_init__(self) -> None:
        if self.in_channels < 2:
            raise ValueError(
                f"in_channels must be at least 2 (gray input + colour), got {self.in_channels}"
            )
        if self.ndf < 1:
            raise ValueError(f"ndf must be positive, got {self.ndf}")
        if not 1 <= self.n_layers <= 8:
            raise ValueError(f"n_layers must be in 1..8, got {self.n_layers}")


def _level_width(cfg: GeneratorConfig, level: int) -> int:
    return cfg.ngf * min(2**level, cfg.max_mult)


def _up_layer(in_ch: int, out_ch: int, mode: Upsample, *, bias: bool) -> nn.Module:
    if mode == "transpose":
        return nn.ConvTranspose2d(in_ch, out_ch, kernel_size=4, stride=2, padding=1, bias=bias)
    # Resize then convolve (Odena et al., 2016): no uneven kernel overlap, no checkerboard.
    return nn.Sequential(
        nn.Upsample(scale_factor=2, mode="nearest"),
        nn.Conv2d(in_ch, out_ch, kernel_size=3, stride=1, padding=1, bias=bias),
    )


class UNetGenerator(nn.Module):
    """Pix2Pix U-Net.

    Input ``(N, in_channels, H, W)`` normalised to [-1, 1], H and W multiples of
    ``config.multiple``; output ``(N, out_channels, H, W)`` in [-1, 1].
    """

    def __init__(self, config: GeneratorConfig = GeneratorConfig()) -> None:
        super().__init__()
        self.config = config
        n = config.num_downs
        widths = [_level_width(config, i) for i in range(n)]

        # Encoder: level 0 has no norm and no activation before it (as in pix2pix); the
        # innermost level has no norm (its output is 1x1 for a 256 tile). No conv bias: with
        # BatchNorm it is redundant, and pix2pix leaves it out everywhere in the encoder.
        self.down = nn.ModuleList()
        for i in range(n):
            in_ch = config.in_channels if i == 0 else widths[i - 1]
            conv = nn.Conv2d(in_ch, widths[i], kernel_size=4, stride=2, padding=1, bias=False)
            layers: list[nn.Module] = [] if i == 0 else [nn.LeakyReLU(0.2, inplace=False)]
            layers.append(conv)
            if 0 < i < n - 1:
                layers.append(nn.BatchNorm2d(widths[i]))
            self.down.append(nn.Sequential(*layers))

        # Decoder, innermost first. Block j maps level n-1-j up to level n-2-j; every block but
        # the innermost receives [decoder features, skip] concatenated.
        self.up = nn.ModuleList()
        for j in range(n):
            level = n - 1 - j
            in_ch = widths[level] if j == 0 else widths[level] * 2
            if level == 0:  # outermost: to the output channels, tanh
                self.up.append(
                    nn.Sequential(
                        nn.ReLU(),
                        _up_layer(in_ch, config.out_channels, config.upsample, bias=True),
                        nn.Tanh(),
                    )
                )
                continue
            out_ch = widths[level - 1]
            layers = [
                nn.ReLU(),
                _up_layer(in_ch, out_ch, config.upsample, bias=False),
                nn.BatchNorm2d(out_ch),
            ]
            if j < config.n_dropout and config.dropout > 0:
                layers.append(nn.Dropout(config.dropout))
            self.up.append(nn.Sequential(*layers))

        self.apply(init_weights)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        m = self.config.multiple
        if x.shape[-1] % m or x.shape[-2] % m:
            raise ValueError(f"input {tuple(x.shape[-2:])} is not a multiple of {m}")
        skips = []
        for block in self.down:
            x = block(x)
            skips.append(x)
        x = self.up[0](skips[-1])
        for j, block in enumerate(self.up[1:], start=1):
            x = block(torch.cat([x, skips[-1 - j]], dim=1))
        return x


class PatchDiscriminator(nn.Module):
    """70x70 PatchGAN: ``(N, in_channels, H, W)`` -> ``(N, 1, H/8 - 2, W/8 - 2)`` logits.

    No sigmoid: the adversarial loss takes logits (BCE-with-logits).
    """

    def __init__(self, config: DiscriminatorConfig = DiscriminatorConfig()) -> None:
        super().__init__()
        self.config = config
        ndf, n = config.ndf, config.n_layers
        layers: list[nn.Module] = [
            nn.Conv2d(config.in_channels, ndf, kernel_size=4, stride=2, padding=1),
            nn.LeakyReLU(0.2),
        ]
        mult = 1
        for i in range(1, n + 1):
            prev, mult = mult, min(2**i, 8)
            stride = 2 if i < n else 1
            layers += [
                nn.Conv2d(
                    ndf * prev, ndf * mult, kernel_size=4, stride=stride, padding=1, bias=False
                ),
                nn.BatchNorm2d(ndf * mult),
                nn.LeakyReLU(0.2),
            ]
        layers.append(nn.Conv2d(ndf * mult, 1, kernel_size=4, stride=1, padding=1))
        self.model = nn.Sequential(*layers)
        self.apply(init_weights)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


@dataclass(frozen=True)
class AutoencoderConfig(ConfigMixin):
    """The naive CNN autoencoder baseline (one seed's baseline; trained with MSE).

    No skip connections: the colour has to pass through the bottleneck, which is why it
    blurs and desaturates. Kept to show what the U-Net's skips buy.
    """

    in_channels: int = 1
    out_channels: int = 2
    width: int = 64  # channels of the first level, doubled per level
    depth: int = 3  # stride-2 levels; input sides must be multiples of 2**depth
    dropout: float = 0.0

    def __post_init__(self) -> None:
        if self.width < 1 or not 1 <= self.depth <= 8:
            raise ValueError("autoencoder width must be positive and depth in 1..8")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")

    @property
    def multiple(self) -> int:
        return 2**self.depth


class ConvAutoencoder(nn.Module):
    """Encoder (3x3 stride-2 conv, BN, ReLU) -> decoder (transposed conv, BN, ReLU) -> tanh."""

    def __init__(self, config: AutoencoderConfig = AutoencoderConfig()) -> None:
        super().__init__()
        self.config = config
        layers: list[nn.Module] = []
        ch = config.in_channels
        for i in range(config.depth):
            out = config.width * 2**i
            layers += [
                nn.Conv2d(ch, out, 3, stride=2, padding=1, bias=False),
                nn.BatchNorm2d(out),
                nn.ReLU(),
            ]
            ch = out
        for i in reversed(range(config.depth)):
            out = config.width * 2 ** max(i - 1, 0)
            layers += [
                nn.ConvTranspose2d(ch, out, 4, stride=2, padding=1, bias=False),
                nn.BatchNorm2d(out),
                nn.ReLU(),
            ]
            if config.dropout:
                layers.append(nn.Dropout(config.dropout))
            ch = out
        layers += [nn.Conv2d(ch, config.out_channels, 3, padding=1), nn.Tanh()]
        self.model = nn.Sequential(*layers)
        self.apply(init_weights)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        m = self.config.multiple
        if x.shape[-1] % m or x.shape[-2] % m:
            raise ValueError(f"input {tuple(x.shape[-2:])} is not a multiple of {m}")
        return self.model(x)


GENERATOR_TYPES = {
    "unet": (GeneratorConfig, UNetGenerator),
    "autoencoder": (AutoencoderConfig, ConvAutoencoder),
}


def generator_type(config: GeneratorConfig | AutoencoderConfig) -> str:
    """The architecture name a config builds ("unet" or "autoencoder")."""
    for name, (config_cls, _) in GENERATOR_TYPES.items():
        if isinstance(config, config_cls):
            return name
    raise TypeError(f"not a generator config: {config!r}")


def build_generator(config: GeneratorConfig | AutoencoderConfig) -> nn.Module:
    """Build the generator network a config describes."""
    return GENERATOR_TYPES[generator_type(config)][1](config)


def init_weights(module: nn.Module, gain: float = 0.02) -> None:
    """pix2pix's "normal" initialisation: N(0, 0.02) convolutions, N(1, 0.02) BatchNorm."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(module.weight, 0.0, gain)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, gain)
        nn.init.zeros_(module.bias)


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
