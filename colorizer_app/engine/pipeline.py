"""The colorize pipeline: full-resolution L, tiled a,b prediction at a render size, merge.

1. The network sees the photo at the *render size* (long side, never larger than the photo):
   the source pixels are area-resized and converted to L there.
2. :func:`predict_ab` runs the generator over 256x256 tiles with overlap (``tiling``) and
   returns a,b at the render size.
3. :func:`compose` upsamples a,b smoothly (bicubic) strip by strip to full resolution, scales
   it by the colour strength, and merges it with the **original full-resolution L**: every
   pixel of detail comes from the photo, only the colour from the network.

Changing the strength re-runs :func:`compose` alone (no network).
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

import cv2
import numpy as np

from colorizer_app.engine import hints as hint_files
from colorizer_app.engine.hints import Hint
from colorizer_app.engine.runner import GeneratorRunner
from colorizer_app.engine.spread import WORK_SIDE, spread_hints
from colorizer_app.engine.tiling import TileGrid, check_tiling, tiled_apply
from models.color import BLOCK_PIXELS, luminance, merge_l_ab, normalize_l, strips
from models.colorbins import DEFAULT_TEMPERATURE
from models.errors import SettingsError
from models.modelfile import DECODERS
from models.progress import NullProgress, OffsetProgress, Progress

# The app's defaults for a model whose file recommends nothing. A model file may carry the
# render size and strength it was measured best at (``ModelInfo.recommended``; the shipped
# model: 384 and 1.35, which undoes an L1 model's desaturation, see docs/MODEL_CARD.md).
DEFAULT_RENDER_SIZE = 384
DEFAULT_STRENGTH = 1.0
_MERGE_THREADS = max(1, min(8, os.cpu_count() or 1))
MAX_STRENGTH = 2.0


@dataclass(frozen=True)
class ColorizeSettings:
    """Everything a colorization run can be told."""

    render_size: int | None = DEFAULT_RENDER_SIZE  # long side the network sees; None = full
    tile: int = 256  # tile side; a multiple of the generator's 2**num_downs
    overlap: int = 64  # minimum overlap between neighbouring tiles (blended)
    strength: float = DEFAULT_STRENGTH  # scales a, b: 0 gray, 1 as predicted, 2 doubled
    device: str = "auto"  # auto, cpu, cuda
    # auto (bf16 on a CPU with native bf16, else fp32; models.device.resolve_precision),
    # fp32, fp16, bf16
    precision: str = "auto"
    batch_size: int = 4  # tiles per forward pass (halved automatically on GPU OOM)
    channels_last: bool = False
    # how a,b are read off the network: "auto" = the annealed mean for a model with a colour
    # distribution head, its regression head otherwise
    decoder: str = "auto"
    temperature: float = DEFAULT_TEMPERATURE  # annealed mean: lower = more vivid
    # hints also correct the colour around them after the network, edge-aware
    # (engine.spread); off = the network's own response to the hints only
    hint_spread: bool = True
    # the network's colour smoothed where the photo's lightness is flat, edges kept
    # (models.guided, in each tile); off = the network's colour as it is
    chroma_filter: bool = True

    def __post_init__(self) -> None:
        if self.decoder not in ("auto", *DECODERS):
            raise SettingsError(
                f"decoder must be auto, {' or '.join(DECODERS)}, got {self.decoder!r}"
            )
        if not 0.01 <= self.temperature <= 10.0:
            raise SettingsError(f"temperature must be in [0.01, 10], got {self.temperature}")
        if self.render_size is not None and self.render_size < 16:
            raise SettingsError(f"render size must be at least 16 px, got {self.render_size}")
        if not 0.0 <= self.strength <= MAX_STRENGTH:
            raise SettingsError(
                f"strength must be between 0 and {MAX_STRENGTH}, got {self.strength}"
            )
        check_tiling(self.tile, self.overlap)

    def with_(self, **changes) -> ColorizeSettings:
        return replace(self, **changes)

    @classmethod
    def for_model(cls, info, **given) -> ColorizeSettings:
        """Settings for the model described by ``info`` (a ``ModelInfo``): its recommended
        render size and strength, unless ``given``; the app's defaults for the rest."""
        return cls(**{**info.recommended, **given})

    def make_runner(self, generator) -> GeneratorRunner:
        if self.tile % generator.info.config.multiple:
            raise SettingsError(
                f"tile {self.tile} is not a multiple of {generator.info.config.multiple}, "
                "which this model's depth requires"
            )
        decoder = self.decoder
        if decoder == "auto":
            decoder = "annealed_mean" if generator.info.has_distribution else "regression"
        return GeneratorRunner(
            generator,
            device=self.device,
            precision=self.precision,
            batch_size=self.batch_size,
            channels_last=self.channels_last,
            decoder=decoder,
            temperature=self.temperature,
            chroma_filter=self.chroma_filter,
        )


def render_shape(height: int, width: int, render_size: int | None) -> tuple[int, int]:
    """The size the network sees: long side ``render_size``, never upscaled."""
    if render_size is None or max(height, width) <= render_size:
        return height, width
    scale = render_size / max(height, width)
    return max(1, round(height * scale)), max(1, round(width * scale))


def fit_long_side(image: np.ndarray, side: int | None) -> np.ndarray:
    """``image`` area-resized to :func:`render_shape` (long side at most ``side``, never
    upscaled); ``image`` itself, not a copy, when it already fits or ``side`` is None.

    Parameters
    ----------
    image : ndarray (H, W) or (H, W, C), any dtype OpenCV resizes (uint8, uint16, float32).
    """
    shape = render_shape(*image.shape[:2], side)
    if shape == image.shape[:2]:
        return image
    return cv2.resize(image, (shape[1], shape[0]), interpolation=cv2.INTER_AREA)


def render_luminance(pixels: np.ndarray, render_size: int | None) -> np.ndarray:
    """L at the render size, float32 (h, w) in [0, 100]: exactly what the network sees."""
    return luminance(fit_long_side(pixels, render_size))


def num_tiles(pixels_shape: tuple[int, ...], settings: ColorizeSettings) -> int:
    h, w = render_shape(*pixels_shape[:2], settings.render_size)
    return len(TileGrid(h, w, settings.tile, settings.overlap))


def _reader(pixels: np.ndarray, runner, settings: ColorizeSettings, hints: list[Hint] | None):
    """The tile reader of :func:`tiled_apply`: normalised L at the render size, then the hint
    channels of that window when the model takes hints. No full-size array is made: at full
    resolution L is computed tile by tile, and hints are drawn per window."""
    full = pixels.shape[:2]
    shape = render_shape(*full, settings.render_size)
    if shape == full:

        def read_l(y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
            return normalize_l(luminance(pixels[y0:y1, x0:x1]))
    else:
        L = normalize_l(render_luminance(pixels, settings.render_size))

        def read_l(y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
            return L[y0:y1, x0:x1]

    if not getattr(runner, "takes_hints", False):  # any callable can stand in for a runner
        return read_l, shape
    patches = hint_files.to_render(list(hints or []), full, shape)

    def read(y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
        window = hint_files.window(patches, y0, y1, x0, x1)
        return np.concatenate([read_l(y0, y1, x0, x1)[..., None], window], axis=2)

    return read, shape


def predict_ab(
    pixels: np.ndarray,
    runner: GeneratorRunner,
    settings: ColorizeSettings,
    progress: Progress | None = None,
    on_batch=None,
    *,
    hints: list[Hint] | None = None,
) -> np.ndarray:
    """Predict a, b at the render size (``on_batch``: see :func:`tiling.tiled_apply`).

    Parameters
    ----------
    pixels : ndarray (H, W) or (H, W, 3), uint8 or uint16, the photo (colour photos: their L).
    hints : colour hints in the photo's pixel coordinates; used when the model takes hints
        (``runner.takes_hints``), ignored otherwise (callers tell the user).

    Returns
    -------
    ab : ndarray (h, w, 2) float32 in Lab units, (h, w) = ``render_shape``.
    """
    read, (h, w) = _reader(pixels, runner, settings, hints)
    ab = tiled_apply(
        read,
        runner,
        height=h,
        width=w,
        out_channels=2,
        tile=settings.tile,
        overlap=settings.overlap,
        batch_size=runner.batch_size,
        progress=progress,
        on_batch=on_batch,
    )
    spread = settings.hint_spread and settings.strength > 0
    if hints and spread and getattr(runner, "takes_hints", False):
        patches = hint_files.to_render(list(hints), pixels.shape[:2], (h, w))
        s = settings.strength  # the targets before the strength, which compose applies
        patches = [replace(p, a=p.a / s, b=p.b / s) for p in patches]
        side = min(max(h, w), WORK_SIDE)  # L no larger than the spread works at
        ab = spread_hints(ab, render_luminance(pixels, side), patches)
    return ab


def upsample_rows(ab: np.ndarray, rows: slice, height: int, width: int) -> np.ndarray:
    """Rows ``rows`` of ``ab`` bicubically resized to (height, width), pixel-centre aligned.

    The same rows of ``cv2.resize(ab, (width, height), INTER_CUBIC)`` to about 1e-3 Lab
    units, computed for one strip so the full-size a,b never exists in memory.

    Parameters
    ----------
    ab : ndarray (h, w, 2) float32.

    Returns
    -------
    ab_rows : ndarray (rows, width, 2) float32; a view of ``ab`` when no resizing is needed.
    """
    blocks = [block for _, block in upsampled_blocks(ab, rows, height, width)]
    return blocks[0] if len(blocks) == 1 else np.concatenate(blocks)


def upsampled_blocks(ab: np.ndarray, rows: slice, height: int, width: int, block_rows=None):
    """Yield ``(rows of the block, its a,b)`` covering ``rows`` of :func:`upsample_rows`,
    ``block_rows`` rows at a time (default: all). The few source rows the strip needs are
    resized across once (OpenCV), then each block mixes them down the rows with OpenCV's
    cubic weights (a small matrix product)."""
    h, w = ab.shape[:2]
    block_rows = block_rows or max(1, rows.stop - rows.start)
    starts = range(rows.start, rows.stop, block_rows)
    if (h, w) == (height, width):
        for y0 in starts:
            y1 = min(rows.stop, y0 + block_rows)  # the strip's last block may be shorter
            yield slice(y0, y1), ab[y0:y1]
        return
    first, weights = _row_weights(rows, h, height)
    source = ab[first : first + weights.shape[1]]
    if w != width:  # across only: the row count stays, so no rows are mixed here
        source = cv2.resize(source, (width, len(source)), interpolation=cv2.INTER_CUBIC)
    source = source.reshape(weights.shape[1], 2 * width)
    # the source rows each block mixes (a band of the weights), found for all blocks at once
    nonzero = weights != 0
    first = nonzero.argmax(axis=1)
    last = weights.shape[1] - nonzero[:, ::-1].argmax(axis=1)
    for y0 in starts:
        i0 = y0 - rows.start
        chunk = weights[i0 : i0 + block_rows]
        lo, hi = int(first[i0 : i0 + block_rows].min()), int(last[i0 : i0 + block_rows].max())
        mixed = chunk[:, lo:hi] @ source[lo:hi]
        yield slice(y0, y0 + len(chunk)), mixed.reshape(len(chunk), width, 2)


def merge_block_rows(width: int) -> int:
    """Rows per block of the merge: about ``BLOCK_PIXELS`` pixels (the merge's work arrays
    stay in the core's cache), and few enough that mixing a block's a,b rows takes at most
    2**18 multiply-adds, which BLAS (OpenBLAS) runs on the calling thread instead of waking
    its own threads to compete with the merge's (upsampled 0 to 1 source rows per row,
    plus 4 for the cubic taps)."""
    rows = max(1, BLOCK_PIXELS // max(1, width))
    while rows > 1 and rows * (rows + 4) * 2 * width > 2**18:
        rows -= 1
    return rows


_CUBIC_A = np.float32(-0.75)  # OpenCV's bicubic kernel


def _row_weights(rows: slice, h: int, height: int) -> tuple[int, np.ndarray]:
    """The first source row and the ``(len(rows), k)`` float32 matrix that mixes source rows
    ``first .. first + k - 1`` of an ``h``-row image into rows ``rows`` of its resize to
    ``height`` rows: OpenCV's bicubic weights and pixel-centre alignment, edge rows repeated."""
    ys = (np.arange(rows.start, rows.stop, dtype=np.float64) + 0.5) * (h / height) - 0.5
    base = np.floor(ys).astype(np.intp)
    t = (ys - base).astype(np.float32)[:, None]
    taps = np.clip(base[:, None] + np.arange(-1, 3), 0, h - 1)  # source rows base-1 .. base+2
    a, u = _CUBIC_A, 1 - t
    before = ((a * (t + 1) - 5 * a) * (t + 1) + 8 * a) * (t + 1) - 4 * a
    near = ((a + 2) * t - (a + 3)) * t * t + 1
    after = ((a + 2) * u - (a + 3)) * u * u + 1
    tap_weights = np.concatenate([before, near, after, 1 - before - near - after], axis=1)
    first = int(taps.min())
    matrix = np.zeros((len(ys), int(taps.max()) - first + 1), np.float32)
    np.add.at(matrix, (np.arange(len(ys))[:, None], taps - first), tap_weights)
    return first, matrix


_PAGE = 1 << 21  # touched 2 MB (a huge page) at a time, so other threads get the GIL between


def prepare_output(nbytes: int, stop: threading.Event | None = None) -> np.ndarray | None:
    """A buffer of ``nbytes`` for :func:`compose`'s output, its memory already touched, and
    OpenCV's colour conversion tables built; for a spare core while the photo decodes.
    None when ``stop`` is set before it is ready (the photo failed to decode: nobody waits
    for the memory of an output that will not be written).

    Measured on this project's 2-core VM: the first writes to a new 100 MP output cost 0.8 s
    of page faults, and OpenCV's first Lab -> RGB conversion 0.08 s of table building, as
    much as the rest of the merge (docs/BENCHMARKS.md, issue #17)."""
    buffer = np.empty(nbytes, np.uint8)
    for start in range(0, nbytes, _PAGE):
        if stop is not None and stop.is_set():
            return None
        buffer[start : start + _PAGE].fill(0)
    cv2.cvtColor(np.zeros((1, 1, 3), np.float32), cv2.COLOR_Lab2RGB)
    return buffer


def output_view(buffer: np.ndarray | None, shape: tuple[int, ...], dtype) -> np.ndarray | None:
    """``buffer`` (from :func:`prepare_output`) as the RGB output of a photo of ``shape``
    and ``dtype``, or None when it was prepared for another size."""
    height, width = shape[:2]
    dtype = np.dtype(dtype)
    if buffer is None or buffer.nbytes != height * width * 3 * dtype.itemsize:
        return None
    return buffer.view(dtype).reshape(height, width, 3)


def compose(
    pixels: np.ndarray,
    ab: np.ndarray,
    strength: float = 1.0,
    *,
    progress: Progress | None = None,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Merge the photo's full-resolution L with ``ab`` (upsampled, times ``strength``).

    Parameters
    ----------
    pixels : ndarray (H, W) or (H, W, 3), uint8 or uint16.
    ab : ndarray (h, w, 2) float32, Lab units, at any size of the same aspect.
    out : ndarray (H, W, 3) of the dtype of ``pixels``, C-contiguous, to write into (default:
        a new one; see :func:`prepare_output`).

    Returns
    -------
    rgb : ndarray (H, W, 3), the dtype of ``pixels`` (``out`` when given).
    """
    if not 0.0 <= strength <= MAX_STRENGTH:
        raise SettingsError(f"strength must be between 0 and {MAX_STRENGTH}, got {strength}")
    progress = progress or NullProgress()
    height, width = pixels.shape[:2]
    if out is None:
        out = np.empty((height, width, 3), pixels.dtype)
    elif out.shape != (height, width, 3) or out.dtype != pixels.dtype or not out.flags.c_contiguous:
        raise ValueError(f"out must be a C-contiguous {(height, width, 3)} {pixels.dtype} array")
    parts = list(strips(height, width))

    block_rows = merge_block_rows(width)

    def merge_strip(rows: slice) -> None:
        # block by block, so that L, a,b and the merge's work arrays stay in the cache
        for block, ab_block in upsampled_blocks(ab, rows, height, width, block_rows):
            L = luminance(pixels[block])
            merge_l_ab(L, ab_block, pixels.dtype, ab_scale=strength, out=out[block])

    # Strips are independent and NumPy/OpenCV release the GIL: merge them on all cores.
    with ThreadPoolExecutor(max_workers=_MERGE_THREADS) as pool:
        pending = [pool.submit(merge_strip, rows) for rows in parts]
        try:
            for i, future in enumerate(pending):
                future.result()
                progress.update(i + 1, len(parts), "merging colour with full-resolution detail")
                progress.check_cancelled()
        except BaseException:
            for future in pending:
                future.cancel()
            raise
    return out


def colorize(
    pixels: np.ndarray,
    runner: GeneratorRunner,
    settings: ColorizeSettings = ColorizeSettings(),
    progress: Progress | None = None,
    *,
    hints: list[Hint] | None = None,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Colorize a photo at full resolution: ``(H, W[, 3])`` -> ``(H, W, 3)``, same dtype
    (into ``out`` when given: see :func:`compose`).

    Progress runs over the tiles, then the merge strips, as one count.
    """
    progress = progress or NullProgress()
    tiles = num_tiles(pixels.shape, settings)
    total = tiles + len(list(strips(*pixels.shape[:2])))
    ab = predict_ab(pixels, runner, settings, OffsetProgress(progress, 0, total), hints=hints)
    merge_progress = OffsetProgress(progress, tiles, total)
    return compose(pixels, ab, settings.strength, progress=merge_progress, out=out)
