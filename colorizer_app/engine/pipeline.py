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
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

import cv2
import numpy as np

from colorizer_app.engine import hints as hint_files
from colorizer_app.engine.hints import Hint
from colorizer_app.engine.runner import GeneratorRunner
from colorizer_app.engine.tiling import TileGrid, check_tiling, tiled_apply
from models.color import luminance, merge_l_ab, normalize_l, strips
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
    return tiled_apply(
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


def upsample_rows(ab: np.ndarray, rows: slice, height: int, width: int) -> np.ndarray:
    """Rows ``rows`` of ``ab`` bicubically resized to (height, width), pixel-centre aligned.

    Equal to the same rows of ``cv2.resize(ab, (width, height), INTER_CUBIC)`` but computed
    for one strip, so the full-size a,b never exists in memory.
    """
    h, w = ab.shape[:2]
    if (h, w) == (height, width):
        return ab[rows]
    ys = (np.arange(rows.start, rows.stop, dtype=np.float32) + 0.5) * (h / height) - 0.5
    xs = (np.arange(width, dtype=np.float32) + 0.5) * (w / width) - 0.5
    map_x = np.broadcast_to(xs[None, :], (len(ys), width)).astype(np.float32)
    map_y = np.broadcast_to(ys[:, None], (len(ys), width)).astype(np.float32)
    return cv2.remap(ab, map_x, map_y, cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)


def compose(
    pixels: np.ndarray,
    ab: np.ndarray,
    strength: float = 1.0,
    *,
    progress: Progress | None = None,
) -> np.ndarray:
    """Merge the photo's full-resolution L with ``ab`` (upsampled, times ``strength``).

    Parameters
    ----------
    pixels : ndarray (H, W) or (H, W, 3), uint8 or uint16.
    ab : ndarray (h, w, 2) float32, Lab units, at any size of the same aspect.

    Returns
    -------
    rgb : ndarray (H, W, 3), the dtype of ``pixels``.
    """
    if not 0.0 <= strength <= MAX_STRENGTH:
        raise SettingsError(f"strength must be between 0 and {MAX_STRENGTH}, got {strength}")
    progress = progress or NullProgress()
    height, width = pixels.shape[:2]
    out = np.empty((height, width, 3), pixels.dtype)
    parts = list(strips(height, width))

    def merge_strip(rows: slice) -> None:
        ab_rows = upsample_rows(ab, rows, height, width)  # a view of ab at full size
        if strength != 1.0:
            ab_rows = ab_rows * np.float32(strength)  # never in place: ab is the caller's
        out[rows] = merge_l_ab(luminance(pixels[rows]), ab_rows, pixels.dtype)

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
) -> np.ndarray:
    """Colorize a photo at full resolution: ``(H, W[, 3])`` -> ``(H, W, 3)``, same dtype.

    Progress runs over the tiles, then the merge strips, as one count.
    """
    progress = progress or NullProgress()
    tiles = num_tiles(pixels.shape, settings)
    total = tiles + len(list(strips(*pixels.shape[:2])))
    ab = predict_ab(pixels, runner, settings, OffsetProgress(progress, 0, total), hints=hints)
    return compose(pixels, ab, settings.strength, progress=OffsetProgress(progress, tiles, total))
