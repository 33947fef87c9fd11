import tracemalloc

import numpy as np
import pytest
import torch
from torch import nn

from colorizer_app.engine.tiling import TileGrid, blend_weights, tile_starts, tiled_apply
from models.errors import Cancelled, SettingsError
from models.progress import CallbackProgress


class StandIn:
    """A small fully convolutional model: 3x3 conv, tanh, 1x1 conv (receptive radius 1).

    One spatial layer with replicate padding, so that edge-padding a tile smaller than the
    image-size tile is exactly what the whole-image model does at the border.
    """

    def __init__(self, c_in=1, c_out=2, seed=0):
        torch.manual_seed(seed)
        self.net = nn.Sequential(
            nn.Conv2d(c_in, 4, 3, padding=1, padding_mode="replicate"),
            nn.Tanh(),
            nn.Conv2d(4, c_out, 1),
        ).eval()
        self.calls = []

    def __call__(self, batch):
        self.calls.append(len(batch))
        with torch.no_grad():
            return self.net(torch.from_numpy(batch)).numpy()


def _run_tiled(image, model, **kw):
    return tiled_apply(
        lambda y0, y1, x0, x1: image[y0:y1, x0:x1],
        model,
        height=image.shape[0],
        width=image.shape[1],
        out_channels=2,
        **kw,
    )


@pytest.mark.parametrize("shape", [(1, 1), (3, 5000), (5000, 3), (257, 513), (256, 256), (40, 700)])
@pytest.mark.parametrize("tile,overlap", [(64, 16), (32, 8), (256, 32)])
def test_tiled_equals_whole_image(rng, shape, tile, overlap):
    image = rng.random((*shape, 1), dtype=np.float32)
    model = StandIn()
    whole = model(image.transpose(2, 0, 1)[None])[0].transpose(1, 2, 0)
    tiled = _run_tiled(image, model, tile=tile, overlap=overlap, batch_size=3)
    np.testing.assert_allclose(tiled, whole, atol=1e-5)


def test_tile_grid_covers_with_at_least_the_overlap():
    for length in (1, 255, 256, 257, 600, 1000, 4097):
        starts = tile_starts(length, 256, 32)
        assert starts[0] == 0 and starts[-1] + min(256, length) == length
        gaps = np.diff(starts)
        assert (gaps <= 256 - 32).all()


def test_weights_are_a_partition_of_unity():
    grid = TileGrid(700, 1000, 256, 64)
    wy, wx, norm_y, norm_x = blend_weights(grid)
    np.testing.assert_allclose(norm_y, 1.0, atol=1e-12)
    np.testing.assert_allclose(norm_x, 1.0, atol=1e-12)
    assert all(w.min() >= 0 and w.max() <= 1 for w in wy + wx)


def test_no_seam_when_tiles_disagree(rng):
    """Each tile predicts a different constant offset; blending must fade between them."""
    counter = iter(range(10_000))

    def disagreeing(batch):
        return np.stack(
            [np.full((2, *b.shape[1:]), next(counter) * 1.0, np.float32) for b in batch]
        )

    out = _run_tiled(np.zeros((300, 900, 1), np.float32), disagreeing, tile=256, overlap=64)
    step = np.abs(np.diff(out[..., 0], axis=1)).max()
    neighbour_gap = 1.0  # offsets of horizontally adjacent tiles differ by one
    assert step < 0.1 * neighbour_gap  # a hard paste would jump by the full gap
    hard = np.zeros(900)
    for i, x0 in enumerate(tile_starts(900, 256, 64)):
        hard[x0:] = i
    assert np.abs(np.diff(hard)).max() == neighbour_gap


def test_batches_stream_and_progress_counts_tiles(rng):
    image = rng.random((600, 700, 1), dtype=np.float32)
    model = StandIn()
    seen = []
    progress = CallbackProgress(lambda done, total, msg: seen.append((done, total)))
    _run_tiled(image, model, tile=128, overlap=32, batch_size=4, progress=progress)
    total = len(TileGrid(600, 700, 128, 32))
    assert max(model.calls) <= 4 and sum(model.calls) == total
    assert seen == [(i, total) for i in range(1, total + 1)]


def test_cancel_between_batches(rng):
    image = rng.random((600, 700, 1), dtype=np.float32)
    progress = CallbackProgress()
    model = StandIn()

    def cancelling(batch):
        progress.cancel()
        return model(batch)

    with pytest.raises(Cancelled):
        _run_tiled(image, cancelling, tile=128, overlap=32, batch_size=2, progress=progress)
    assert model.calls == [2]


def test_peak_memory_does_not_grow_with_tile_count():
    """Peak allocation = the output + O(one batch), whatever the number of tiles."""

    def zeros_model(batch):
        return np.zeros((len(batch), 2, *batch.shape[2:]), np.float32)

    peaks = {}
    for side in (512, 2048):
        image = np.zeros((side, side, 1), np.float32)
        tracemalloc.start()
        _run_tiled(image, zeros_model, tile=64, overlap=16, batch_size=4)
        peaks[side] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        output_bytes = side * side * 2 * 4
        assert peaks[side] < output_bytes * 1.2 + 4_000_000, (side, peaks[side])


def test_bad_tiling_settings():
    with pytest.raises(SettingsError, match="overlap"):
        TileGrid(100, 100, 64, 40)
    with pytest.raises(SettingsError):
        TileGrid(0, 100, 64, 8)


def test_margins_absorb_a_wider_receptive_field(rng):
    """Two 3x3 layers (radius 2) on an image larger than the tile: still exact."""
    torch.manual_seed(1)
    net = nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 2, 3, padding=1)
    ).eval()

    def model(batch):
        with torch.no_grad():
            return net(torch.from_numpy(batch)).numpy()

    image = rng.random((300, 520, 1), dtype=np.float32)
    whole = model(image.transpose(2, 0, 1)[None])[0].transpose(1, 2, 0)
    tiled = _run_tiled(image, model, tile=64, overlap=16)
    # zero padding differs only on the image border itself, which no tile can see past
    np.testing.assert_allclose(tiled[2:-2, 2:-2], whole[2:-2, 2:-2], atol=1e-5)
