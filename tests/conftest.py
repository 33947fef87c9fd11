"""Shared fixtures: tiny random-weight generators and generated photos (no shared data)."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile
import torch
from PIL import Image

from models import GeneratorConfig, ModelInfo, UNetGenerator, load_generator, save_generator

TINY = GeneratorConfig(ngf=4, num_downs=8, max_mult=4)

pytest_plugins = ["tests.qt_fixtures"]  # the GUI tests' window, messages, thread check


def make_generator_file(
    path, config: GeneratorConfig = TINY, color_space: str = "lab", seed=0, recommended=None
):
    torch.manual_seed(seed)
    module = UNetGenerator(config)
    # A random generator outputs almost constant colour; widen the output so tests see colour.
    last = module.up[-1][1]
    with torch.no_grad():
        last.weight.mul_(20.0)
    info = ModelInfo(config, color_space=color_space, name="tiny", recommended=recommended or {})
    return save_generator(path, module, info)


@pytest.fixture
def tiny_model_file(tmp_path):
    return make_generator_file(tmp_path / "tiny.safetensors")


@pytest.fixture
def tiny_generator(tiny_model_file):
    return load_generator(tiny_model_file)


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


def smooth_photo(height: int, width: int, *, color: bool = False, dtype=np.uint8, seed=0):
    """A smooth synthetic photo (gradients and blobs) of the given size and dtype."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    channels = []
    for _ in range(3 if color else 1):
        fy, fx, phase = rng.uniform(0.5, 3, 3)
        v = (
            0.5
            + 0.25 * np.sin(fy * np.pi * y / max(height, 1) + phase)
            + 0.2 * np.cos(fx * np.pi * x / max(width, 1))
        )
        channels.append(np.clip(v, 0, 1))
    img = np.stack(channels, axis=2) if color else channels[0]
    top = 255 if dtype == np.uint8 else 65535
    return np.rint(img * top).astype(dtype)


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    """Twelve small colour photos to train on."""
    root = tmp_path_factory.mktemp("photos")
    for i in range(12):
        Image.fromarray(smooth_photo(48, 64, color=True, seed=i)).save(root / f"p{i:02d}.png")
    return root


def tiny_train_args(data, run_dir, **options) -> list[str]:
    """Command-line options for a tiny training run (5-level U-Net of width 4, 32 px crops)."""
    settings = {"image_size": 32, "ngf": 4, "num_downs": 5, "ndf": 8, "batch_size": 4}
    settings.update(options)
    args = ["--data", str(data), "--run-dir", str(run_dir)]
    for key, value in settings.items():
        flag = "--" + key.replace("_", "-")
        args += [flag] if value is True else [flag, str(value)]
    return args


@pytest.fixture
def album(tmp_path):
    """A folder like a real scan folder: gray JPEG, 16-bit TIFF, RGBA PNG, a corrupt file."""
    src = tmp_path / "album"
    (src / "1930s").mkdir(parents=True)
    Image.fromarray(smooth_photo(300, 400)).save(src / "wedding.jpg", quality=95)
    tifffile.imwrite(src / "1930s" / "scan16.tif", smooth_photo(260, 200, dtype=np.uint16))
    rgba = np.dstack([smooth_photo(120, 160, color=True), np.full((120, 160), 200, np.uint8)])
    Image.fromarray(rgba).save(src / "cutout.png")
    (src / "broken.jpg").write_bytes((src / "wedding.jpg").read_bytes()[:2000])
    (src / "notes.txt").write_text("not an image, not an image extension: not taken")
    return src


TINY_V3 = GeneratorConfig(ngf=4, num_downs=5, max_mult=4, hint_channels=3, num_bins=261)


def make_v3_file(path, *, seed=0, recommended=None):
    """A tiny random generator with hint inputs and a colour distribution head (model v3)."""
    from models.colorbins import gamut_bins

    torch.manual_seed(seed)
    module = UNetGenerator(TINY_V3)
    bins = torch.from_numpy(gamut_bins(10))
    module.ab_bins.copy_(bins)
    module.ab_prior.copy_(torch.full((len(bins),), 1.0 / len(bins)))
    with torch.no_grad():
        module.up[-1][1].weight.mul_(20.0)  # visible colour from the regression head too
    info = ModelInfo(
        TINY_V3,
        name="tiny-v3",
        recommended=recommended or {"decoder": "annealed_mean", "temperature": 0.38},
    )
    return save_generator(path, module, info)


def leftover_temps(folder) -> list:
    """Hidden files in ``folder`` (recursively) other than the outputs' provenance records:
    temporary files or locks a run left behind."""
    from colorizer_app.engine.provenance import RECORD_DIR

    return [p for p in folder.rglob("*") if p.name.startswith(".") and p.name != RECORD_DIR]


def colorize_command(src, out, model) -> list[str]:
    """``colorizer colorize SRC -o OUT`` at full resolution, as a child process runs it."""
    import sys

    return [sys.executable, "-m", "colorizer_app", "colorize", str(src), "-o", str(out)] + [
        "--model",
        str(model),
        "--render-size",
        "full",
        "-q",
    ]
