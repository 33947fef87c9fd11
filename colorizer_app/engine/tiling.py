"""Tiled application of a fixed-size model to an image of any size, with seamless blending.

The pieces are separate (as in chaiNNer): the tile geometry (:class:`TileGrid`), the blending
weights (:func:`blend_weights`), and the loop (:func:`tiled_apply`), which gets the model as a
function. Tiles overlap by at least ``overlap`` pixels and are spread evenly; in each overlap
the outer quarter of a tile's prediction is discarded (least context) and the middle half is
cross-faded with a sin^2 / cos^2 ramp, so the weights of two neighbours sum to one and no seam
can show. The grid is a product of a row and a column layout, so the weight normaliser is
the product of two 1-D sums: nothing of full size is stored besides the output itself.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from models.color import strips
from models.errors import SettingsError
from models.progress import NullProgress, Progress

# (y0, y1, x0, x1) -> (h, w, C_in) float32; h, w may be smaller than the tile at the edges of
# an image smaller than one tile.
ReadFn = Callable[[int, int, int, int], np.ndarray]
# (B, C_in, tile, tile) float32 -> (B, C_out, tile, tile) float32
ModelFn = Callable[[np.ndarray], np.ndarray]


def check_tiling(tile: int, overlap: int) -> None:
    """Raise :class:`SettingsError` unless 16 <= tile and 0 <= overlap <= tile / 2."""
    if tile < 16:
        raise SettingsError(f"tile must be at least 16 px, got {tile}")
    if not 0 <= overlap <= tile // 2:
        raise SettingsError(
            f"overlap must be between 0 and half the tile ({tile // 2}), got {overlap}"
        )


def tile_starts(length: int, tile: int, overlap: int) -> list[int]:
    """Start offsets of tiles covering ``range(length)`` with at least ``overlap`` in common."""
    if length <= tile:
        return [0]
    count = math.ceil((length - overlap) / (tile - overlap))
    return [round(i * (length - tile) / (count - 1)) for i in range(count)]


def _ramp_1d(starts: list[int], length: int, tile: int) -> list[np.ndarray]:
    """Per-tile 1-D weights along one axis (each of the tile's extent within ``length``)."""
    extent = min(tile, length)
    weights = []
    for i in range(len(starts)):
        w = np.ones(extent, np.float64)
        if i > 0:  # left/top overlap with the previous tile: fade in
            w[: _overlap(starts, i, tile)] *= _fade_in(_overlap(starts, i, tile))
        if i < len(starts) - 1:  # right/bottom overlap with the next tile: fade out
            n = _overlap(starts, i + 1, tile)
            w[extent - n :] *= 1.0 - _fade_in(n)
        weights.append(w)
    return weights


def _overlap(starts: list[int], i: int, tile: int) -> int:
    return starts[i - 1] + tile - starts[i]


def _fade_in(n: int) -> np.ndarray:
    """0 over the first quarter, a sin^2 ramp over the middle half, 1 over the last quarter."""
    margin = n // 4
    ramp = n - 2 * margin
    k = np.arange(n, dtype=np.float64) - margin
    t = np.clip((k + 0.5) / ramp, 0.0, 1.0)
    return np.sin(t * np.pi / 2) ** 2


def pad_tile(patch: np.ndarray, tile: int) -> np.ndarray:
    """Pad an ``(h, w, C)`` window at an image's edge to ``tile`` x ``tile``: the image (first
    channel) by edge replication, the channels after it (hint maps) with zeros (no hints)."""
    pad = ((0, tile - patch.shape[0]), (0, tile - patch.shape[1]), (0, 0))
    if not (pad[0][1] or pad[1][1]):
        return patch
    return np.concatenate(
        [np.pad(patch[..., :1], pad, mode="edge"), np.pad(patch[..., 1:], pad)], axis=2
    )


@dataclass(frozen=True)
class Tile:
    y0: int
    y1: int
    x0: int
    x1: int
    row: int
    col: int


@dataclass(frozen=True)
class TileGrid:
    """The tiles covering an ``height`` x ``width`` image."""

    height: int
    width: int
    tile: int = 256
    overlap: int = 32

    def __post_init__(self) -> None:
        if self.height < 1 or self.width < 1:
            raise SettingsError(f"image size must be positive, got {self.height}x{self.width}")
        check_tiling(self.tile, self.overlap)

    @property
    def ys(self) -> list[int]:
        return tile_starts(self.height, self.tile, self.overlap)

    @property
    def xs(self) -> list[int]:
        return tile_starts(self.width, self.tile, self.overlap)

    def __len__(self) -> int:
        return len(self.ys) * len(self.xs)

    def __iter__(self) -> Iterator[Tile]:
        th, tw = min(self.tile, self.height), min(self.tile, self.width)
        for r, y0 in enumerate(self.ys):
            for c, x0 in enumerate(self.xs):
                yield Tile(y0, y0 + th, x0, x0 + tw, r, c)


def blend_weights(
    grid: TileGrid,
) -> tuple[list[np.ndarray], list[np.ndarray], np.ndarray, np.ndarray]:
    """Row weights, column weights (per tile row / column), and the 1-D normalisers.

    The weight of tile (r, c) at (y, x) is ``wy[r][y - y0] * wx[c][x - x0]``; the sum over all
    tiles at (y, x) is ``norm_y[y] * norm_x[x]``.
    """
    wy = _ramp_1d(grid.ys, grid.height, grid.tile)
    wx = _ramp_1d(grid.xs, grid.width, grid.tile)
    norm_y = np.zeros(grid.height)
    for y0, w in zip(grid.ys, wy, strict=True):
        norm_y[y0 : y0 + len(w)] += w
    norm_x = np.zeros(grid.width)
    for x0, w in zip(grid.xs, wx, strict=True):
        norm_x[x0 : x0 + len(w)] += w
    return wy, wx, norm_y, norm_x


def tiled_apply(
    read: ReadFn,
    model: ModelFn,
    *,
    height: int,
    width: int,
    out_channels: int,
    tile: int = 256,
    overlap: int = 32,
    batch_size: int = 4,
    progress: Progress | None = None,
    on_batch: Callable[[np.ndarray], None] | None = None,
) -> np.ndarray:
    """Apply ``model`` to an image tile by tile and blend the predictions.

    Tiles are read, run in batches of ``batch_size`` and accumulated one batch at a time, so
    memory holds the output, one batch of tiles and the model's activations for that batch,
    whatever the number of tiles. Tiles of an image smaller than ``tile`` are padded by edge
    replication (channels after the first, hint maps, with zeros) and cropped back.
    ``progress.update`` is called once per tile and
    ``progress.check_cancelled`` before every batch. ``on_batch(accumulator)`` (for live
    previews) sees the output after each batch, weighted but not yet normalised: finished
    regions are final, regions still waiting for a neighbouring tile are faded.

    Returns
    -------
    ndarray (height, width, out_channels) float32.
    """
    progress = progress or NullProgress()
    grid = TileGrid(height, width, tile, overlap)
    wy, wx, norm_y, norm_x = blend_weights(grid)
    out = np.zeros((height, width, out_channels), np.float32)
    total = len(grid)
    done = 0
    pending: list[tuple[Tile, np.ndarray]] = []

    def flush() -> None:
        nonlocal done
        progress.check_cancelled()
        batch = np.stack([tile_in for _, tile_in in pending])
        result = model(batch)
        if result.shape != (len(pending), out_channels, tile, tile):
            raise ValueError(f"model returned {result.shape} for a batch of {batch.shape}")
        for (t, _), pred in zip(pending, result, strict=True):
            h, w = t.y1 - t.y0, t.x1 - t.x0
            weight = (wy[t.row][:, None] * wx[t.col][None, :]).astype(np.float32)
            out[t.y0 : t.y1, t.x0 : t.x1] += pred[:, :h, :w].transpose(1, 2, 0) * weight[..., None]
            done += 1
            progress.update(done, total, "colorizing tiles")
        pending.clear()
        if on_batch is not None:
            on_batch(out)

    for t in grid:
        patch = np.asarray(read(t.y0, t.y1, t.x0, t.x1), np.float32)
        if patch.ndim == 2:
            patch = patch[..., None]
        pending.append((t, pad_tile(patch, tile).transpose(2, 0, 1)))
        if len(pending) == batch_size:
            flush()
    if pending:
        flush()
    norm_x32 = norm_x.astype(np.float32)
    for rows in strips(height, width):  # normalise strip by strip: no full-size weight map
        out[rows] /= (norm_y[rows, None].astype(np.float32) * norm_x32[None, :])[..., None]
    return out
