"""The shipped default model, loaded through the normal path, colours a photo it never saw."""

import numpy as np
import pytest
from PIL import Image
from skimage import data

from colorizer_app.engine.pipeline import ColorizeSettings, colorize
from models.color import luminance
from models.modelfile import default_model_path, load_generator
from trainer.metrics import colourfulness

DEFAULT = default_model_path()
pytestmark = pytest.mark.skipif(DEFAULT is None, reason="no default model shipped in this build")


def test_default_model_is_small_and_self_describing():
    assert DEFAULT.stat().st_size <= 30_000_000
    info = load_generator(DEFAULT).info
    assert info.color_space == "lab" and info.training.get("steps", 0) > 0
    assert {"psnr", "gray_psnr", "colourfulness"} <= set(info.metrics)


def test_default_model_colours_the_astronaut():
    gray = np.asarray(Image.fromarray(data.astronaut()).convert("L"))
    settings = ColorizeSettings()
    out = colorize(gray, settings.make_runner(load_generator(DEFAULT)), settings)
    assert out.shape == (*gray.shape, 3)
    L_in, L_out = luminance(gray), luminance(out)
    assert np.abs(L_out - L_in).mean() < 0.5  # the input's luminance is kept
    assert colourfulness(out) > 10.0  # clearly not gray (a gray image scores 0)
