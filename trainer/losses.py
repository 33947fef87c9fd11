"""The training losses as small objects: reconstruction, colour distribution, adversarial.

Each takes network outputs and targets in the network's normalised units and returns a
scalar tensor; the loop only adds them up with the config's weights.
"""

from __future__ import annotations

import torch
from torch import nn

from models import colorbins
from models.color import AB_SCALE


def reconstruction(kind: str) -> nn.Module:
    """Per-pixel loss of the regression head: L1 (the recipes "l1", "gan_l1") or MSE."""
    return nn.MSELoss() if kind == "mse" else nn.L1Loss()


class DistributionLoss(nn.Module):
    """Class-rebalanced cross-entropy of the distribution head against the soft-encoded truth.

    Zhang et al. (2016): the truth a,b (averaged to the head's half resolution) is spread over
    its 5 nearest bins; each pixel's term is weighted by the rebalancing weight of its nearest
    bin, so rare saturated colours are not drowned by common desaturated ones.
    """

    def __init__(self, bins: torch.Tensor, prior: torch.Tensor, *, mix: float = 0.5) -> None:
        super().__init__()
        self.register_buffer("bins", bins.float().clone())
        self.register_buffer("weights", colorbins.rebalance_weights(prior, mix=mix))

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        factor = target.shape[-1] // logits.shape[-1]
        ab = colorbins.downsample_ab(target.float(), factor) * AB_SCALE
        with torch.no_grad():
            soft, nearest = colorbins.soft_encode(ab, self.bins)
            weight = self.weights[nearest]
        log_p = torch.log_softmax(logits.float(), dim=1)
        return (-(soft * log_p).sum(1) * weight).mean()


class Adversarial(nn.Module):
    """BCE-with-logits against all-real or all-fake labels (the PatchGAN's logits)."""

    def __init__(self) -> None:
        super().__init__()
        self.bce = nn.BCEWithLogitsLoss()

    def forward(self, logits: torch.Tensor, real: bool) -> torch.Tensor:
        logits = logits.float()
        labels = torch.ones_like(logits) if real else torch.zeros_like(logits)
        return self.bce(logits, labels)
