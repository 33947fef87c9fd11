"""The colour smoothing after the network (models.guided) and where the engine applies it."""

import numpy as np
import pytest

from colorizer_app.engine.options import add_colorize_options, settings_from_args
from colorizer_app.engine.pipeline import ColorizeSettings, colorize, predict_ab
from colorizer_app.engine.runner import GeneratorRunner
from models.color import luminance, normalize_l, rgb_to_lab
from models.guided import box, guided_filter
from tests.conftest import smooth_photo


def _step_guide(h=32, w=32):
    """Lightness 0.2 left of column w/2, 0.8 right of it: (h, w)."""
    guide = np.full((h, w), 0.2, np.float32)
    guide[:, w // 2 :] = 0.8
    return guide


def test_box_is_the_mean_over_the_window_with_edges_replicated():
    x = np.arange(25, dtype=np.float32).reshape(5, 5)
    out = box(x, 1)
    assert out.shape == x.shape
    assert out[2, 2] == pytest.approx(x[1:4, 1:4].mean())
    # a corner sees itself four times and its three neighbours twice or once
    corner = (4 * x[0, 0] + 2 * x[0, 1] + 2 * x[1, 0] + x[1, 1]) / 9
    assert out[0, 0] == pytest.approx(corner)
    assert box(x[..., None], 1).shape == (5, 5, 1)


def test_speckle_on_a_flat_surface_is_smoothed():
    """Where the lightness is flat the colour's pixel-to-pixel noise goes, its mean stays."""
    src = 20.0 + 5.0 * np.random.default_rng(0).standard_normal((48, 48, 2)).astype(np.float32)
    out = guided_filter(src, np.full((48, 48), 0.5, np.float32))
    assert out.std() < 0.3 * src.std()
    assert out.mean() == pytest.approx(src.mean(), abs=0.2)


def test_a_colour_edge_on_a_lightness_edge_is_kept():
    """Red left, blue right, on the same step of lightness: the edge stays sharp, each side
    keeps its colour (a plain blur would mix them over 2 * radius + 1 pixels)."""
    guide = _step_guide()
    src = np.repeat(np.where(guide > 0.5, -40.0, 40.0)[..., None], 2, axis=2).astype(np.float32)
    out = guided_filter(src, guide)
    np.testing.assert_allclose(out[:, :15], src[:, :15], atol=1.0)
    np.testing.assert_allclose(out[:, 17:], src[:, 17:], atol=1.0)
    assert np.abs(box(src, 4)[:, 14] - src[:, 14]).max() > 10  # what the filter avoided


def test_colour_noise_does_not_cross_to_the_other_side_of_an_edge():
    guide = _step_guide()
    src = np.zeros((32, 32, 2), np.float32)
    src[8, 8] = 50.0  # one stray pixel on the dark side
    out = guided_filter(src, guide)
    assert np.abs(out[:, 16:]).max() < 0.5
    assert out[8, 8].max() < 10  # and it is spread out where it was


def test_radius_zero_is_the_identity_and_bad_arguments_are_refused():
    src = np.random.default_rng(1).standard_normal((8, 8, 2)).astype(np.float32)
    guide = np.random.default_rng(2).random((8, 8)).astype(np.float32)
    assert np.array_equal(guided_filter(src, guide, radius=0), src)
    with pytest.raises(ValueError):
        guided_filter(src, guide, radius=-1)
    with pytest.raises(ValueError):
        guided_filter(src, guide, eps=0.0)


def test_runner_filters_each_tile_with_its_own_lightness(tiny_generator):
    """The runner's filtered output is the guided filter of its unfiltered output, guided by
    the tile's L; the default runner leaves the network's colour as it is."""
    L = smooth_photo(256, 256)[None, None].astype(np.float32) / 2.55  # (1, 1, 256, 256)
    tiles = normalize_l(L)
    raw = GeneratorRunner(tiny_generator)(tiles)
    filtered = GeneratorRunner(tiny_generator, chroma_filter=True)(tiles)
    assert not np.allclose(raw, filtered, atol=0.5)
    guide = L[0, 0] / 100.0
    expected = guided_filter(raw[0].transpose(1, 2, 0) / 110.0, guide).transpose(2, 0, 1)
    np.testing.assert_allclose(filtered[0], np.clip(expected, -1, 1) * 110.0, atol=1e-2)


def test_settings_turn_it_on_by_default_and_the_command_line_off(tiny_generator):
    import argparse

    assert ColorizeSettings().chroma_filter
    assert ColorizeSettings().make_runner(tiny_generator).chroma_filter
    parser = argparse.ArgumentParser()
    add_colorize_options(parser)
    assert "chroma_filter" not in settings_from_args(parser.parse_args([]))  # the default
    given = settings_from_args(parser.parse_args(["--no-chroma-filter"]))
    off = ColorizeSettings.for_model(tiny_generator.info, **given)
    assert not off.chroma_filter and not off.make_runner(tiny_generator).chroma_filter


def test_the_filter_changes_only_colour_and_keeps_the_photos_lightness(tiny_generator):
    photo = smooth_photo(300, 420)
    settings = ColorizeSettings(render_size=None, tile=256, overlap=64)
    on = predict_ab(photo, settings.make_runner(tiny_generator), settings)
    off_settings = settings.with_(chroma_filter=False)
    off = predict_ab(photo, off_settings.make_runner(tiny_generator), off_settings)
    assert on.shape == off.shape and not np.allclose(on, off)
    # smoother: less colour change from one pixel to the next
    assert np.abs(np.diff(on, axis=1)).mean() < np.abs(np.diff(off, axis=1)).mean()
    out = colorize(photo, settings.make_runner(tiny_generator), settings)
    lightness = rgb_to_lab(out)[..., 0]
    np.testing.assert_allclose(lightness, luminance(photo), atol=1.0)
