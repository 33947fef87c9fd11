"""Every training setting in one dataclass, with the seeds' Pix2Pix recipe as the default."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from models.networks import ConfigMixin


@dataclass
class TrainConfig(ConfigMixin):
    # --- data -------------------------------------------------------------------------------
    data: str = ""  # folder of colour photos, a folder with color/ (+ gray/), a CIFAR .tar.gz,
    #                 or a folder with l/ and ab/ .npy arrays
    source: Literal["auto", "folder", "paired", "cifar10", "npy"] = "auto"
    gray_dir: str = ""  # paired gray folder, if not DATA/gray
    image_size: int = 128  # training crop side (multiple of the generator's 2**depth)
    scale_min: float = 0.6  # random rescale: short side from image_size/scale ...
    scale_max: float = 1.0  # ... to image_size/scale_min, before the random crop
    rotate_degrees: float = 5.0  # random rotation in [-r, r]
    flip: bool = True  # random horizontal flip
    val_fraction: float = 0.05  # share of files (never crops) held out for validation
    val_max: int = 64  # at most this many validation images per evaluation
    max_images: int = 0  # use only the first N training files (0 = all), for quick runs
    workers: int = 0  # DataLoader worker processes
    # --- model ------------------------------------------------------------------------------
    architecture: Literal["unet", "autoencoder"] = "unet"
    color_space: Literal["lab", "rgb"] = "lab"
    ngf: int = 64  # U-Net width (autoencoder: width of its first level)
    num_downs: int = 7  # U-Net levels (autoencoder: depth)
    upsample: Literal["transpose", "resize_conv"] = "transpose"
    dropout: float = 0.5
    ndf: int = 64  # discriminator width
    init_from: str = ""  # generator file to fine-tune from (its architecture wins)
    # --- recipe -----------------------------------------------------------------------------
    loss: Literal["gan_l1", "l1", "mse"] = "gan_l1"  # gan_l1: BCE-with-logits + lambda x L1
    lambda_l1: float = 100.0
    warmup_epochs: float = 0.0  # epochs of L1-only training before the adversarial phase
    lr: float = 2e-4  # Adam, generator and discriminator
    lr_d: float = 0.0  # discriminator learning rate (0 = same as lr)
    beta1: float = 0.5
    beta2: float = 0.999
    lr_decay_start: float = 0.0  # fraction of the run after which lr decays linearly to 0
    batch_size: int = 16
    epochs: float = 10.0  # may be fractional
    steps: int = 0  # if > 0, overrides epochs
    seed: int = 0
    # --- colour distribution, hints, old photos (model v3) ------------------------------------
    hints: bool = False  # the generator takes colour hints; training simulates them
    distribution: bool = False  # train a colour distribution head (soft-encoded cross-entropy)
    bin_grid: int = 10  # side of the a,b bins of the distribution head, Lab units
    rebalance: float = 0.5  # class rebalancing mix against the colour prior (1 = off)
    ce_weight: float = 1.0  # weight of the distribution head's cross-entropy
    reg_weight: float = 10.0  # weight of the regression head's L1 when a distribution is trained
    temperature: float = 0.38  # annealed-mean temperature for validation and the exported file
    degrade: float = 0.0  # probability that a training input is aged (grain, fading, scratches)
    ema: float = 0.0  # decay of the exponential moving average of G's weights (0 = off)
    # --- speed ------------------------------------------------------------------------------
    device: str = "auto"
    precision: Literal["fp32", "bf16", "fp16"] = "fp32"
    channels_last: bool = False
    compile: bool = False
    # --- bookkeeping ------------------------------------------------------------------------
    run_dir: str = "runs/run"
    checkpoint_every: int = 500  # steps between checkpoints (and at every epoch end)
    eval_every: int = 0  # steps between validations (0 = each epoch end)
    log_every: int = 25  # steps between metric lines
    sample_count: int = 6  # images in the sample grid
    name: str = ""  # model name written into exported files
    extra: dict[str, Any] = field(default_factory=dict)  # free-form notes kept with the run

    def __post_init__(self) -> None:
        problems = []
        if self.image_size < 16:
            problems.append("image_size must be at least 16")
        if self.batch_size < 1:
            problems.append("batch_size must be at least 1")
        if not 0 <= self.val_fraction < 1:
            problems.append("val_fraction must be in [0, 1)")
        if not 0 < self.scale_min <= self.scale_max <= 1.0:
            problems.append("need 0 < scale_min <= scale_max <= 1")
        if self.epochs <= 0 and self.steps <= 0:
            problems.append("epochs or steps must be positive")
        if self.lr <= 0:
            problems.append("lr must be positive")
        if not 0.0 <= self.ema < 1.0:
            problems.append("ema must be in [0, 1)")
        if not 0.0 <= self.degrade <= 1.0:
            problems.append("degrade must be in [0, 1]")
        if not 0.0 < self.rebalance <= 1.0:
            problems.append("rebalance must be in (0, 1]")
        if not 0.01 <= self.temperature <= 10.0:
            problems.append("temperature must be in [0.01, 10]")
        if (self.hints or self.distribution) and self.color_space != "lab":
            problems.append("hints and the distribution head need color_space lab")
        if self.architecture == "autoencoder" and self.loss == "gan_l1":
            self.loss = "mse"  # the seed's baseline: MSE, no discriminator
        if problems:
            raise ValueError("; ".join(problems))

    @property
    def adversarial(self) -> bool:
        return self.loss == "gan_l1"

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)

    @classmethod
    def load(cls, path: str | Path) -> TrainConfig:
        return cls.from_dict(json.loads(Path(path).read_text()))
