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

from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from models.configs import ConfigMixin, brief

Upsample = Literal["transpose", "resize_conv"]


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
    # Colour hints (Zhang et al. 2017): 0, or 3 extra input channels: hint a, b (ab / 110) and
    # a mask (1 where a hint is), all zero where the user gave none.
    hint_channels: int = 0
    # Colour distribution head (Zhang et al. 2016): logits over this many a,b bins at half the
    # input resolution (0 = none; the bin centres and prior are buffers in the weights).
    num_bins: int = 0
    bin_grid: int = 10  # bin side in Lab units (documentation of the buffers' grid)

    # Ranges wide enough for every model this project trains (trainer.config allows ngf up
    # to 512), narrow enough that a config from a file cannot describe an absurd network.
    _RANGES = {
        "in_channels": (1, 4),
        "out_channels": (1, 4),
        "ngf": (1, 512),
        "num_downs": (1, 12),
        "max_mult": (1, 16),
        "dropout": (0.0, 1.0, False, True),
        "n_dropout": (0, 12),
        "num_bins": (0, 1024),
        "bin_grid": (2, 40),
    }

    def __post_init__(self) -> None:
        self.check_fields(
            ""
            if self.hint_channels in (0, 3)
            else f"hint_channels must be 0 or 3, got {brief(self.hint_channels)}"
        )

    @property
    def multiple(self) -> int:
        """Input height and width must be multiples of this."""
        return 2**self.num_downs

    @property
    def input_channels(self) -> int:
        """Channels the network takes: L, then the hint channels."""
        return self.in_channels + self.hint_channels


@dataclass(frozen=True)
class DiscriminatorConfig(ConfigMixin):
    """Architecture of the PatchGAN discriminator (n_layers=3 gives 70x70 patches)."""

    in_channels: int = 3  # gray input + colour image (1 + 2 for Lab, 1 + 3 for RGB)
    ndf: int = 64  # width of the first layer, doubled per layer up to 8x
    n_layers: int = 3  # stride-2 layers before the two stride-1 ones

    # in_channels: the gray input and a colour image (2 for Lab, 3 for RGB) and no more
    _RANGES = {"in_channels": (2, 8), "ndf": (1, 512), "n_layers": (1, 8)}

    def __post_init__(self) -> None:
        self.check_fields()


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

    Input ``(N, in_channels + hint_channels, H, W)``: L normalised to [-1, 1], then (with
    hints) hint a, b normalised like the output and a 0/1 mask; H and W multiples of
    ``config.multiple``. Output ``(N, out_channels, H, W)`` in [-1, 1] (the regression head);
    with ``logits=True`` also the colour distribution head's ``(N, num_bins, H/2, W/2)``
    logits over the bins in the ``ab_bins`` buffer (``regression=False``: the logits alone,
    the regression head is not run and None returned in its place).
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
            in_ch = config.input_channels if i == 0 else widths[i - 1]
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

        # The distribution head reads what the outermost decoder block reads (decoder + skip
        # features at half resolution): the two heads share every other layer.
        if config.num_bins:
            head_in = widths[0] if n == 1 else widths[0] * 2
            self.class_head = nn.Sequential(
                nn.ReLU(),
                nn.Conv2d(head_in, head_in, kernel_size=3, padding=1),
                nn.ReLU(),
                nn.Conv2d(head_in, config.num_bins, kernel_size=1),
            )
            # Filled by whoever trains the model (models.colorbins), loaded from the file.
            self.register_buffer("ab_bins", torch.zeros(config.num_bins, 2))
            self.register_buffer("ab_prior", torch.full((config.num_bins,), 1 / config.num_bins))

        self.apply(init_weights)

    def forward(self, x: torch.Tensor, *, logits: bool = False, regression: bool = True):
        m = self.config.multiple
        if x.shape[-1] % m or x.shape[-2] % m:
            raise ValueError(f"input {tuple(x.shape[-2:])} is not a multiple of {m}")
        if x.shape[1] != self.config.input_channels:
            raise ValueError(
                f"input has {x.shape[1]} channels, the network takes {self.config.input_channels}"
            )
        skips = []
        for block in self.down:
            x = block(x)
            skips.append(x)
        x = skips[-1]
        for j, block in enumerate(self.up):
            if j > 0:
                x = torch.cat([x, skips[-1 - j]], dim=1)
            if j == len(self.up) - 1:
                features = x  # what the outermost block and the distribution head read
                if not regression:  # only the distribution wanted: skip the full-res block
                    break
            x = block(x)
        if not logits:
            return x
        if not self.config.num_bins:
            raise ValueError("this generator has no colour distribution head")
        return (x if regression else None), self.class_head(features)


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

    _RANGES = {
        "in_channels": (1, 4),
        "out_channels": (1, 4),
        "width": (1, 512),
        "depth": (1, 8),
        "dropout": (0.0, 1.0, False, True),
    }

    def __post_init__(self) -> None:
        self.check_fields()

    @property
    def multiple(self) -> int:
        return 2**self.depth

    # The autoencoder baseline takes no hints and has no distribution head.
    hint_channels = 0
    num_bins = 0

    @property
    def input_channels(self) -> int:
        return self.in_channels


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
    """pix2pix's "normal" initialisation: N(0, 0.02) convolutions, N(1, 0.02) BatchNorm.

    Networks built on the meta device (models.tensorcheck: shapes only) hold no values.
    """
    weight = getattr(module, "weight", None)
    if isinstance(weight, torch.Tensor) and weight.is_meta:
        return
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(module.weight, 0.0, gain)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, gain)
        nn.init.zeros_(module.bias)


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def grow_generator(
    module: UNetGenerator, *, hint_channels: int | None = None, num_bins: int | None = None
) -> UNetGenerator:
    """A copy of a trained U-Net with hint inputs and/or a distribution head added.

    Every existing weight is kept; the new input channels start with zero weights (the
    network behaves exactly as before until training teaches it to read hints) and the new
    head starts from the usual random initialisation. Used to fine-tune v2-style models into
    hint-taking, distribution-predicting ones.
    """
    old = module.config
    if not isinstance(old, GeneratorConfig):
        raise TypeError("only the U-Net generator can grow hint inputs or a distribution head")
    changes = {}
    if hint_channels is not None and hint_channels != old.hint_channels:
        if old.hint_channels:
            raise ValueError("the generator already takes hints")
        changes["hint_channels"] = hint_channels
    if num_bins is not None and num_bins != old.num_bins:
        if old.num_bins:
            raise ValueError("the generator already has a distribution head")
        changes["num_bins"] = num_bins
    if not changes:
        return module
    grown = UNetGenerator(GeneratorConfig(**{**old.to_dict(), **changes}))
    state = module.state_dict()
    first = "down.0.0.weight"
    if "hint_channels" in changes:
        weight = grown.state_dict()[first].clone().zero_()
        weight[:, : old.input_channels] = state[first]
        state[first] = weight
    missing, unexpected = grown.load_state_dict(state, strict=False)
    if unexpected or any(not k.startswith(("class_head.", "ab_")) for k in missing):
        raise ValueError(f"cannot grow this generator ({missing[:3]}, {unexpected[:3]})")
    return grown
