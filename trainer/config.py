"""Every training setting in one dataclass, with the shipped model's recipe as the default.

The defaults train what ships (docs/MODEL_CARD.md): a U-Net (ngf 32, resize-convolution)
with colour hints and a colour distribution head next to its L1 regression head, on aged
inputs. The seeds' Pix2Pix recipe is ``--loss gan_l1 --no-hints --no-distribution
--degrade 0``; the model card shows why it is not the default (worse than gray on both
validation sets).

Each field carries its help text in its metadata (``metadata={"help": ...}``): the command
line (``colorizer train --help``), the JSON config and the GUI all read the settings, their
defaults and their meaning from here.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from models.colorbins import DEFAULT_TEMPERATURE
from models.configs import ConfigMixin


def setting(default: Any, help: str) -> Any:
    """A config field with its ``--help`` text."""
    return field(default=default, metadata={"help": help})


@dataclass
class TrainConfig(ConfigMixin):
    # --- data -------------------------------------------------------------------------------
    data: str = setting(
        "",
        "folder of colour photos, a folder with color/ (+ gray/), a CIFAR-10 .tar.gz, or a "
        "folder with l/ and ab/ .npy arrays",
    )
    source: Literal["auto", "folder", "paired", "cifar10", "npy"] = setting(
        "auto", "how to read DATA (auto: from what it holds)"
    )
    gray_dir: str = setting("", "paired gray folder, if not DATA/gray")
    image_size: int = setting(128, "training crop side (a multiple of the generator's 2**depth)")
    scale_min: float = setting(
        0.6, "random rescale: the short side goes from image_size/scale_max ..."
    )
    scale_max: float = setting(1.0, "... to image_size/scale_min, before the random crop")
    rotate_degrees: float = setting(5.0, "random rotation in [-r, r] degrees")
    flip: bool = setting(True, "random horizontal flip")
    val_fraction: float = setting(0.05, "share of files (never crops) held out for validation")
    val_max: int = setting(64, "at most this many validation images per evaluation")
    max_images: int = setting(0, "use only the first N training files (0 = all), for quick runs")
    workers: int = setting(0, "DataLoader worker processes")
    # --- model ------------------------------------------------------------------------------
    architecture: Literal["unet", "autoencoder"] = setting(
        "unet", "unet (Pix2Pix) or the autoencoder baseline (trains with l1 or mse)"
    )
    color_space: Literal["lab", "rgb"] = setting(
        "lab", "what the generator predicts: a,b (lab) or RGB"
    )
    ngf: int = setting(32, "U-Net width (autoencoder: width of its first level)")
    num_downs: int = setting(7, "U-Net levels (autoencoder: depth)")
    upsample: Literal["transpose", "resize_conv"] = setting(
        "resize_conv", "decoder upsampling (resize_conv avoids checkerboard artefacts)"
    )
    dropout: float = setting(0.5, "dropout in the innermost decoder blocks")
    ndf: int = setting(64, "discriminator width")
    init_from: str = setting(
        "", "generator file to fine-tune from (its architecture wins over the model options)"
    )
    # --- recipe -----------------------------------------------------------------------------
    loss: Literal["gan_l1", "l1", "mse"] = setting(
        "l1",
        "gan_l1: adversarial BCE-with-logits + lambda_l1 x L1 (Pix2Pix); l1 or mse: "
        "reconstruction only, no discriminator (the command line picks mse for the "
        "autoencoder when no loss is given)",
    )
    lambda_l1: float = setting(100.0, "weight of the L1 term in gan_l1")
    warmup_epochs: float = setting(0.0, "epochs of L1-only training before the adversarial phase")
    lr: float = setting(2e-4, "Adam learning rate, generator and discriminator")
    lr_d: float = setting(0.0, "discriminator learning rate (0 = same as lr)")
    beta1: float = setting(0.5, "Adam beta1")
    beta2: float = setting(0.999, "Adam beta2")
    lr_decay_start: float = setting(
        0.0, "fraction of the run after which lr decays linearly to 0 (0 = constant)"
    )
    batch_size: int = setting(16, "images per step (per process under torchrun)")
    epochs: float = setting(10.0, "length of the run in epochs (may be fractional)")
    steps: int = setting(0, "length of the run in steps; if > 0, overrides epochs")
    seed: int = setting(0, "seed of the split, the augmentation and the weights")
    # --- colour distribution, hints, old photos (model v3) ------------------------------------
    hints: bool = setting(
        True,
        "the generator takes colour hints (3 more input channels); training simulates them "
        "from the truth (none for half the images). Lab U-Nets only",
    )
    hints_per_crop: float = setting(
        8.0,
        "mean number of simulated hints in a training crop that gets hints (geometric, as "
        "in Zhang et al. 2017); fewer per crop teaches a hint to reach further",
    )
    distribution: bool = setting(
        True,
        "train a colour distribution head (class-rebalanced cross-entropy over a,b bins), "
        "decoded by its annealed mean. Lab U-Nets only",
    )
    bin_grid: int = setting(10, "side of the distribution head's a,b bins, Lab units")
    rebalance: float = setting(
        0.5, "class rebalancing: mix of the colour prior with uniform (1 = no rebalancing)"
    )
    ce_weight: float = setting(1.0, "weight of the distribution head's cross-entropy")
    reg_weight: float = setting(
        10.0, "weight of the regression head's L1 when a distribution head is trained"
    )
    temperature: float = setting(
        DEFAULT_TEMPERATURE,
        "annealed-mean temperature for validation and the exported model's recommendation",
    )
    degrade: float = setting(
        0.5, "probability that a training input is aged (fading, grain, blur, JPEG, scratches)"
    )
    ema: float = setting(0.0, "decay of the moving average of G's weights (0 = off; e.g. 0.999)")
    # --- speed ------------------------------------------------------------------------------
    device: str = setting("auto", "auto, cpu, cuda or cuda:N")
    precision: Literal["fp32", "bf16", "fp16"] = setting(
        "fp32", "autocast precision of the forward passes"
    )
    channels_last: bool = setting(False, "channels-last memory format (faster on some GPUs)")
    compile: bool = setting(False, "torch.compile the generator")
    # --- bookkeeping ------------------------------------------------------------------------
    run_dir: str = setting(
        "runs/run", "the run folder (checkpoints, metrics, samples, the exported model)"
    )
    checkpoint_every: int = setting(
        500, "steps between checkpoints (also at the end, and at epoch ends of long epochs)"
    )
    eval_every: int = setting(0, "steps between validations (0 = each epoch end)")
    log_every: int = setting(25, "steps between metric lines")
    sample_count: int = setting(6, "images in the sample grid")
    name: str = setting("", "model name written into exported files (default: the run's)")
    extra: dict[str, Any] = field(
        default_factory=dict, metadata={"help": "free-form notes kept with the run"}
    )

    # Every number's allowed range: (low, high) both included, or (low, high, low excluded,
    # high excluded). Checked up front, so a bad value is one clear line before any work
    # starts (never a traceback later); models.configs checks the types.
    _RANGES = {
        "image_size": (16, 4096),
        "scale_min": (0, 1, True, False),
        "scale_max": (0, 1, True, False),
        "rotate_degrees": (0, 180),
        "val_fraction": (0, 1, False, True),
        "val_max": (0, 1_000_000),
        "max_images": (0, 1e12),
        "workers": (0, 256),
        "ngf": (1, 512),
        "num_downs": (1, 12),
        "dropout": (0, 1, False, True),
        "ndf": (1, 512),
        "lambda_l1": (0, 1e6),
        "warmup_epochs": (0, 1e6),
        "lr": (0, 1, True, False),
        "lr_d": (0, 1),
        "beta1": (0, 1, False, True),
        "beta2": (0, 1, False, True),
        "lr_decay_start": (0, 1),
        "batch_size": (1, 65536),
        "epochs": (0, 1e6),
        "steps": (0, 1e12),
        "seed": (0, 2**63 - 1),
        "hints_per_crop": (1, 1000),
        "bin_grid": (2, 40),
        "rebalance": (0, 1, True, False),
        "ce_weight": (0, 1e6),
        "reg_weight": (0, 1e6),
        "temperature": (0.01, 10),
        "degrade": (0, 1),
        "ema": (0, 1, False, True),
        "checkpoint_every": (1, 1e12),
        "eval_every": (0, 1e12),
        "log_every": (1, 1e12),
        "sample_count": (0, 64),
    }

    def __post_init__(self) -> None:
        # every field's type (a run.json or a checkpoint may hold anything), every number's
        # range; then how the settings go together
        self.check_fields()
        problems = []
        if self.scale_min > self.scale_max:
            problems.append("scale_min must not exceed scale_max")
        if self.epochs <= 0 and self.steps <= 0:
            problems.append("epochs or steps must be positive")
        if self.architecture == "autoencoder" and self.loss == "gan_l1":
            problems.append(
                "the autoencoder baseline has no discriminator: use loss 'mse' (its recipe) "
                "or 'l1', not 'gan_l1'"
            )
        if problems:
            raise ValueError("; ".join(problems))

    @property
    def adversarial(self) -> bool:
        return self.loss == "gan_l1"

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)
