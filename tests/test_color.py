import numpy as np
import pytest
from skimage import color, data

from models.color import (
    denormalize_ab,
    l_to_gray8,
    lab_to_rgb,
    luminance,
    merge_l_ab,
    normalize_ab,
    normalize_l,
    rgb_to_lab,
)


def test_rgb_to_lab_matches_scikit_image():
    rgb = data.astronaut()
    ours = rgb_to_lab(rgb)
    assert ours.dtype == np.float32
    np.testing.assert_allclose(ours, color.rgb2lab(rgb), atol=2e-3)


def test_lab_to_rgb_matches_scikit_image(rng):
    lab = color.rgb2lab(rng.random((64, 64, 3))).astype(np.float32)
    np.testing.assert_allclose(lab_to_rgb(lab), color.lab2rgb(lab), atol=1e-5)


def test_round_trip_8bit_is_exact():
    rgb = data.astronaut()
    lab = rgb_to_lab(rgb)
    np.testing.assert_array_equal(merge_l_ab(lab[..., 0], lab[..., 1:], np.uint8), rgb)


def test_round_trip_16bit_within_two_levels(rng):
    rgb = rng.integers(0, 65536, (200, 300, 3), dtype=np.uint16)
    lab = rgb_to_lab(rgb)
    back = merge_l_ab(lab[..., 0], lab[..., 1:], np.uint16)
    assert back.dtype == np.uint16
    assert np.abs(back.astype(int) - rgb).max() <= 2


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_gray_luminance_and_back(dtype):
    top = np.iinfo(dtype).max
    gray = np.linspace(0, top, 4096).astype(dtype).reshape(64, 64)
    L = luminance(gray)
    ref = color.rgb2lab(np.repeat(gray[..., None] / top, 3, axis=2))[..., 0]
    np.testing.assert_allclose(L, ref, atol=1e-3)
    back = merge_l_ab(L, np.zeros((64, 64, 2), np.float32), dtype)
    assert np.abs(back.astype(int) - gray[..., None]).max() <= 2


def test_colour_luminance_is_lab_l():
    rgb = data.coffee()
    np.testing.assert_allclose(luminance(rgb), color.rgb2lab(rgb)[..., 0], atol=1e-3)


def test_out_of_gamut_lab_is_clamped():
    lab = np.array([[[50, 120, -120], [100, 100, 100], [0, -100, 50]]], np.float32)
    rgb = lab_to_rgb(lab)
    assert rgb.min() >= 0 and rgb.max() <= 1
    assert merge_l_ab(lab[..., 0], lab[..., 1:], np.uint8).dtype == np.uint8


def test_network_normalisation():
    assert normalize_l(np.array([0.0, 50.0, 100.0])).tolist() == [-1.0, 0.0, 1.0]
    assert normalize_ab(np.array([-110.0, 55.0])).tolist() == [-1.0, 0.5]
    assert denormalize_ab(np.array([-2.0, 0.5])).tolist() == [-110.0, 55.0]  # clamped


def test_large_images_are_processed_in_strips(monkeypatch):
    import models.color as c

    monkeypatch.setattr(c, "STRIP_PIXELS", 1000)
    rgb = data.astronaut()[:100, :130]
    lab = rgb_to_lab(rgb)
    np.testing.assert_allclose(lab, color.rgb2lab(rgb), atol=2e-3)
    np.testing.assert_array_equal(merge_l_ab(lab[..., 0], lab[..., 1:]), rgb)


def test_l_to_gray8():
    L = np.array([[0.0, 50.0, 100.0, 120.0, -3.0]], np.float32)
    assert l_to_gray8(L).tolist() == [[0, 128, 255, 255, 0]]
    assert l_to_gray8(L).dtype == np.uint8
