"""Runs the generator on batches of tiles: device, precision, and the out-of-memory fallbacks."""

from __future__ import annotations

import logging

import numpy as np
import torch

from models.color import ab_from_rgb, denormalize_ab
from models.colorbins import DEFAULT_TEMPERATURE, decode
from models.device import autocast, check_precision, resolve_device, resolve_precision
from models.errors import InferenceError, SettingsError
from models.guided import guided_filter
from models.modelfile import DECODERS, LoadedGenerator

log = logging.getLogger(__name__)


class GeneratorRunner:
    """Callable ``(B, C, t, t)`` normalised L (+ hint channels) -> ``(B, 2, t, t)`` a, b in
    Lab units, read off the network with ``decoder`` (``regression`` or, for a model with a
    colour distribution head, ``annealed_mean`` at ``temperature``), then, with
    ``chroma_filter``, smoothed where the tile's lightness is flat (:mod:`models.guided`;
    Lab models only).

    The generator always runs in eval mode (BatchNorm running statistics, no dropout):
    train-mode statistics would differ from tile to tile and show as seams.

    On a CUDA out-of-memory error the batch is halved and retried; at batch size 1 the model
    moves to the CPU (each with a logged warning). The last batch size that worked is kept.
    """

    def __init__(
        self,
        generator: LoadedGenerator,
        *,
        device: str = "auto",
        precision: str = "auto",
        batch_size: int = 4,
        channels_last: bool = False,
        decoder: str = "regression",
        temperature: float = DEFAULT_TEMPERATURE,
        chroma_filter: bool = False,
    ) -> None:
        if decoder not in DECODERS:
            raise SettingsError(f"decoder must be one of {', '.join(DECODERS)}, got {decoder!r}")
        if decoder == "annealed_mean" and not generator.info.has_distribution:
            raise SettingsError(
                "this model has no colour distribution head: use the regression decoder"
            )
        check_precision(precision)
        if batch_size < 1:
            raise SettingsError(f"batch size must be at least 1, got {batch_size}")
        self.info = generator.info
        self.model_path = getattr(generator, "path", None)  # the file it came from, if any
        self.device = resolve_device(device)
        self.requested_precision = precision  # "auto" is resolved again after a CPU fallback
        self.precision = resolve_precision(precision, self.device)  # what runs
        self.batch_size = batch_size
        self.channels_last = channels_last
        self.decoder, self.temperature = decoder, temperature
        self.chroma_filter = chroma_filter and generator.info.color_space == "lab"
        self.module = generator.module.eval()
        self._place()

    @property
    def takes_hints(self) -> bool:
        return self.info.takes_hints

    @property
    def in_channels(self) -> int:
        """Channels of a tile: L, then the hint channels when the model takes hints."""
        return self.info.config.input_channels

    def _place(self) -> None:
        memory_format = torch.channels_last if self.channels_last else torch.contiguous_format
        self.module.to(device=self.device, memory_format=memory_format)

    @property
    def description(self) -> str:
        """Where it ran and how, e.g. ``cpu (bf16)``: the precision that ran (``auto``
        resolved), after any fallback to the CPU."""
        return f"{self.device.type} ({self.precision})"

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        out = self._batched(batch, self._decode)
        if self.chroma_filter:
            out = self._smooth(batch, out)
        if self.info.color_space == "rgb":
            return _rgb_to_ab(out)
        return denormalize_ab(out)

    def distribution(self, batch: np.ndarray) -> np.ndarray:
        """The colour distribution head's probabilities, ``(B, Q, t/2, t/2)`` float32, over
        the bins in ``self.module.ab_bins`` (Lab units)."""
        if not self.info.has_distribution:
            raise SettingsError("this model has no colour distribution head")

        def probabilities(x: torch.Tensor) -> torch.Tensor:
            return torch.softmax(self.module(x, logits=True, regression=False)[1].float(), dim=1)

        return self._batched(batch, probabilities)

    @property
    def bins(self) -> np.ndarray:
        """Centres of the distribution head's a,b bins, ``(Q, 2)`` Lab units."""
        return self.module.ab_bins.detach().float().cpu().numpy()

    def _decode(self, x: torch.Tensor) -> torch.Tensor:
        return decode(self.module, x, decoder=self.decoder, temperature=self.temperature)

    @staticmethod
    def _smooth(batch: np.ndarray, ab: np.ndarray) -> np.ndarray:
        """Each tile's normalised a,b guided-filtered by its own L (on the CPU, OpenCV)."""
        out = np.empty_like(ab)
        for i, tile in enumerate(ab):
            lightness = (batch[i, 0] + 1.0) / 2.0  # normalised L -> [0, 1]
            smooth = guided_filter(tile.transpose(1, 2, 0), lightness)
            out[i] = np.clip(smooth, -1.0, 1.0).transpose(2, 0, 1)
        return out

    def _batched(self, batch: np.ndarray, fn) -> np.ndarray:
        results = []
        start = 0
        while start < len(batch):
            chunk = batch[start : start + self.batch_size]
            try:
                results.append(self._forward(chunk, fn))
            except torch.OutOfMemoryError:
                self._shrink_after_oom()
                continue
            start += len(chunk)
        return np.concatenate(results)

    def _shrink_after_oom(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.empty_cache()
        if self.batch_size > 1:
            self.batch_size //= 2
            log.warning("out of GPU memory: retrying with %d tiles per batch", self.batch_size)
        elif self.device.type != "cpu":
            log.warning("out of GPU memory even for one tile: falling back to the CPU")
            self.device = torch.device("cpu")
            self.precision = resolve_precision(self.requested_precision, self.device)
            self._place()
        else:
            raise InferenceError("out of memory running the model on the CPU, even one tile")

    def _forward(self, chunk: np.ndarray, fn) -> np.ndarray:
        if chunk.shape[1] != self.in_channels:
            raise InferenceError(
                f"tiles have {chunk.shape[1]} channels, the model takes {self.in_channels}"
            )
        x = torch.from_numpy(np.ascontiguousarray(chunk, np.float32)).to(self.device)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        try:
            with torch.inference_mode(), autocast(self.device, self.precision):
                y = fn(x)
        except torch.OutOfMemoryError:
            raise
        except RuntimeError as err:
            raise InferenceError(f"the model failed on {self.device}: {err}") from err
        y = y.float().cpu().numpy()
        if not np.isfinite(y).all():
            advice = (
                "try --precision fp32"
                if self.precision != "fp32"
                else "the model file is probably damaged; try another model"
            )
            raise InferenceError(
                f"the model produced NaN/Inf values ({self.precision} on {self.device}); " + advice
            )
        return y


def _rgb_to_ab(rgb_batch: np.ndarray) -> np.ndarray:
    rgb = (np.clip(rgb_batch, -1.0, 1.0) + 1.0) / 2.0  # [-1, 1] -> [0, 1]
    return np.stack([ab_from_rgb(img.transpose(1, 2, 0)).transpose(2, 0, 1) for img in rgb])
