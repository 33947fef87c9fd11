"""Colour as a distribution: quantised a,b bins, soft encoding, rebalancing, annealed mean.

After Zhang, Isola and Efros (2016), "Colorful Image Colorization". The a,b plane is cut into
square bins of ``grid`` Lab units; only bins that some sRGB colour falls into are kept (the
in-gamut bins: 10-unit bins give 261 of them here, the paper's 313 came from a different gamut
estimate). 10 units is about the size of a just-noticeable chroma step at mid lightness, so a
bin's centre is a colour a viewer would call "the same"; a finer grid multiplies the classes
(and the head's cost) without changing what people see.

Everything works on torch tensors in **Lab units** (a, b in about [-110, 110]); the network's
normalised ``ab / 110`` is converted by the callers. Shapes follow PyTorch: ``(N, Q, H, W)``
logits or probabilities over ``Q`` bins, ``(N, 2, H, W)`` a,b.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch
import torch.nn.functional as F

from models.color import AB_SCALE, rgb_to_lab

DEFAULT_GRID = 10
SOFT_SIGMA = 5.0  # Gaussian of the soft encoding and of the prior's smoothing (paper: 5)
SOFT_NEIGHBOURS = 5  # bins sharing a pixel's truth in the soft encoding (paper: 5)
DEFAULT_TEMPERATURE = 0.38  # the paper's annealed-mean temperature; model files recommend theirs


@lru_cache(maxsize=4)
def _gamut_bins(grid: int) -> np.ndarray:
    steps = np.linspace(0, 255, 86).round().astype(np.uint8)  # every 3rd level (finer adds none)
    cube = np.stack(np.meshgrid(steps, steps, steps, indexing="ij"), -1).reshape(1, -1, 3)
    ab = rgb_to_lab(cube)[0, :, 1:]
    keys = np.unique(np.round(ab / grid).astype(np.int64), axis=0)
    return (keys * grid).astype(np.float32)


def gamut_bins(grid: int = DEFAULT_GRID) -> np.ndarray:
    """Centres of the in-gamut a,b bins: ``(Q, 2)`` float32 in Lab units, sorted by (a, b)."""
    if not 2 <= grid <= 40:
        raise ValueError(f"bin grid must be 2..40 Lab units, got {grid}")
    return _gamut_bins(int(grid)).copy()


def _sq_distances(ab: torch.Tensor, bins: torch.Tensor) -> torch.Tensor:
    """(N, 2, H, W) x (Q, 2) -> (N, Q, H, W) squared distances."""
    diff = ab[:, None] - bins.to(ab)[None, :, :, None, None]  # (N, Q, 2, H, W)
    return (diff * diff).sum(2)


def soft_encode(
    ab: torch.Tensor, bins: torch.Tensor, *, sigma: float = SOFT_SIGMA, k: int = SOFT_NEIGHBOURS
) -> tuple[torch.Tensor, torch.Tensor]:
    """Spread each pixel's true a,b over its ``k`` nearest bins with a Gaussian of ``sigma``.

    Parameters
    ----------
    ab : (N, 2, H, W) float, Lab units.
    bins : (Q, 2) float, Lab units.

    Returns
    -------
    soft : (N, Q, H, W) float32, summing to one over Q.
    nearest : (N, H, W) int64, the index of each pixel's nearest bin.
    """
    n, _, h, w = ab.shape
    flat = ab.float().permute(0, 2, 3, 1).reshape(-1, 2)
    d2 = torch.cdist(flat, bins.float().to(flat.device)).square()
    near, idx = torch.topk(d2, k=min(k, d2.shape[1]), dim=1, largest=False)
    weight = torch.exp(-(near - near[:, :1]) / (2 * sigma**2))  # relative: never all zero
    weight = weight / weight.sum(1, keepdim=True)
    soft = torch.zeros_like(d2).scatter_(1, idx, weight)
    return soft.reshape(n, h, w, -1).permute(0, 3, 1, 2), idx[:, 0].reshape(n, h, w)


def nearest_bin(ab: torch.Tensor, bins: torch.Tensor) -> torch.Tensor:
    """(N, 2, H, W) Lab units -> (N, H, W) int64 index of the nearest bin (any bin layout)."""
    return _sq_distances(ab.float(), bins.float()).argmin(1)


def smooth_prior(counts: np.ndarray, bins: np.ndarray, *, sigma: float = SOFT_SIGMA) -> np.ndarray:
    """A bin histogram smoothed by a Gaussian of ``sigma`` over the a,b plane, summing to 1."""
    counts = np.asarray(counts, np.float64)
    d2 = ((bins[:, None, :] - bins[None, :, :]) ** 2).sum(-1)
    kernel = np.exp(-d2 / (2 * sigma**2))
    smoothed = kernel @ counts
    total = smoothed.sum()
    if total <= 0:
        return np.full(len(bins), 1.0 / len(bins), np.float32)
    return (smoothed / total).astype(np.float32)


def rebalance_weights(prior: torch.Tensor, *, mix: float = 0.5) -> torch.Tensor:
    """Per-bin loss weights against the colour prior (paper: ``mix`` = 0.5).

    ``w ∝ 1 / ((1 - mix) * prior + mix / Q)``, scaled so that ``sum(prior * w) = 1``: the
    loss keeps its size, but rare (saturated) colours count more and common desaturated ones
    less. ``mix`` = 1 turns rebalancing off (all weights 1).
    """
    if not 0.0 < mix <= 1.0:
        raise ValueError(f"rebalancing mix must be in (0, 1], got {mix}")
    prior = prior.float()
    w = 1.0 / ((1.0 - mix) * prior + mix / len(prior))
    return w / (prior * w).sum()


def annealed_mean(logits: torch.Tensor, bins: torch.Tensor, temperature: float) -> torch.Tensor:
    """Decode a colour distribution to a,b (Lab units) by the annealed mean.

    ``softmax(logits / T)`` re-weights the distribution toward its mode: T = 1 is the mean
    (desaturated where the colour is uncertain), T -> 0 the mode (vivid, patchy). The paper
    uses T = 0.38.

    Returns
    -------
    (N, 2, H, W) float32.
    """
    if not 0.0 < temperature <= 10.0:
        raise ValueError(f"temperature must be in (0, 10], got {temperature}")
    # bins last (contiguous) for the softmax and the weighted sum: ~10% faster than over dim 1
    z = (logits.float() / temperature).permute(0, 2, 3, 1)
    p = torch.softmax(z, dim=-1)
    return (p @ bins.float().to(p.device)).permute(0, 3, 1, 2).contiguous()


def top_colors(
    probs: torch.Tensor, bins: torch.Tensor, k: int = 5
) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``k`` most probable bins of each distribution.

    Parameters
    ----------
    probs : (..., Q) float, a distribution per row.

    Returns
    -------
    ab : (..., k, 2) Lab units and p : (..., k), most probable first.
    """
    p, idx = torch.topk(probs.float(), k=min(k, probs.shape[-1]), dim=-1)
    return bins.float().to(probs.device)[idx], p


def entropy(probs: torch.Tensor, dim: int = 1) -> torch.Tensor:
    """Entropy in nats of distributions along ``dim`` (how unsure the model is of the colour)."""
    p = probs.float().clamp_min(1e-12)
    return -(p * p.log()).sum(dim)


def histogram(ab: np.ndarray, bins: np.ndarray) -> np.ndarray:
    """Counts of a,b values (``(..., 2)`` Lab units) in their nearest bins: ``(Q,)`` int64."""
    flat = torch.from_numpy(np.ascontiguousarray(ab, np.float32).reshape(-1, 2))
    out = np.zeros(len(bins), np.int64)
    b = torch.from_numpy(bins)
    for chunk in flat.split(65536):
        idx = torch.cdist(chunk, b).argmin(1).numpy()
        out += np.bincount(idx, minlength=len(bins))
    return out


def downsample_ab(ab: torch.Tensor, factor: int) -> torch.Tensor:
    """Average a,b over ``factor`` x ``factor`` blocks (the class head's resolution)."""
    return ab if factor == 1 else F.avg_pool2d(ab, factor)


def decode(
    module: torch.nn.Module,
    x: torch.Tensor,
    *,
    decoder: str = "regression",
    temperature: float = DEFAULT_TEMPERATURE,
) -> torch.Tensor:
    """Run a generator and read its a,b with ``decoder``, normalised like its output.

    ``regression``: the regression head as it is. ``annealed_mean``: the distribution head's
    annealed mean at ``temperature``, bilinearly upsampled from the head's half resolution.

    Returns
    -------
    (N, 2, H, W) float32 in [-1, 1] (a,b / 110).
    """
    if decoder == "regression":
        return module(x).float()
    if decoder != "annealed_mean":
        raise ValueError(f"unknown decoder {decoder!r}")
    _, logits = module(x, logits=True, regression=False)
    ab = annealed_mean(logits, module.ab_bins, temperature) / AB_SCALE
    if ab.shape[-2:] != x.shape[-2:]:
        ab = F.interpolate(ab, size=x.shape[-2:], mode="bilinear", align_corners=False)
    return ab.clamp(-1.0, 1.0)
