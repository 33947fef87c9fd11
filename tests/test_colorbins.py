"""The colour distribution: bins, soft encoding, rebalancing, annealed mean, decoding."""

import numpy as np
import pytest
import torch

from models import colorbins
from models.color import rgb_to_lab
from models.networks import GeneratorConfig, UNetGenerator, grow_generator


@pytest.fixture(scope="module")
def bins():
    return torch.from_numpy(colorbins.gamut_bins(10))


def test_bins_are_the_in_gamut_10_unit_grid(bins):
    assert bins.shape == (261, 2)
    assert torch.all(bins % 10 == 0)
    # every sRGB colour is within half a bin diagonal of some bin centre
    rgb = np.random.default_rng(0).integers(0, 256, (1, 5000, 3)).astype(np.uint8)
    ab = torch.from_numpy(rgb_to_lab(rgb)[0, :, 1:])
    assert torch.cdist(ab, bins).min(1).values.max() <= 5 * np.sqrt(2) + 1e-4
    assert tuple(bins[colorbins.nearest_bin(torch.zeros(1, 2, 1, 1), bins)[0, 0, 0]]) == (0, 0)


def test_soft_encoding_spreads_over_the_five_nearest_bins(bins):
    ab = torch.tensor([[33.0, -12.0], [0.0, 0.0], [80.0, 70.0]]).T.reshape(1, 2, 1, 3)
    soft, nearest = colorbins.soft_encode(ab, bins)
    assert soft.shape == (1, len(bins), 1, 3)
    assert torch.allclose(soft.sum(1), torch.ones(1, 1, 3), atol=1e-5)
    assert ((soft > 0).sum(1) == 5).all()
    # the largest share goes to the nearest bin, and it is the bin nearest the truth
    assert torch.equal(soft.argmax(1), nearest)
    assert tuple(bins[nearest[0, 0, 0]].tolist()) == (30.0, -10.0)


def test_rebalancing_keeps_the_loss_scale_and_favours_rare_colours():
    prior = torch.tensor([0.7, 0.2, 0.09, 0.01])
    w = colorbins.rebalance_weights(prior, mix=0.5)
    assert float((prior * w).sum()) == pytest.approx(1.0)
    assert w[3] > w[2] > w[1] > w[0]
    assert torch.allclose(colorbins.rebalance_weights(prior, mix=1.0), torch.ones(4))
    with pytest.raises(ValueError):
        colorbins.rebalance_weights(prior, mix=0.0)


def test_annealed_mean_goes_from_mean_to_mode(bins):
    logits = torch.full((1, len(bins), 1, 1), -10.0)
    red, green = 180, 60  # two candidate colours: 60% vs 40%
    logits[0, red], logits[0, green] = np.log(0.6), np.log(0.4)
    mean = colorbins.annealed_mean(logits, bins, 1.0)[0, :, 0, 0]
    expected = 0.6 * bins[red] + 0.4 * bins[green]
    assert torch.allclose(mean, expected, atol=0.5)
    mode = colorbins.annealed_mean(logits, bins, 0.05)[0, :, 0, 0]
    assert torch.allclose(mode, bins[red], atol=0.1)
    vivid = colorbins.annealed_mean(logits, bins, 0.38)[0, :, 0, 0]
    assert (vivid - bins[red]).norm() < (mean - bins[red]).norm()


def test_top_colors_and_entropy(bins):
    p = torch.zeros(len(bins))
    p[[5, 9, 40]] = torch.tensor([0.2, 0.5, 0.3])
    ab, prob = colorbins.top_colors(p, bins, 2)
    assert prob.tolist() == pytest.approx([0.5, 0.3])
    assert torch.equal(ab, bins[[9, 40]])
    certain = torch.zeros(len(bins), 1)
    certain[3] = 1
    uniform = torch.full((len(bins), 1), 1 / len(bins))
    assert colorbins.entropy(certain, 0) == pytest.approx(0, abs=1e-6)
    assert colorbins.entropy(uniform, 0) == pytest.approx(np.log(len(bins)), rel=1e-4)


def test_histogram_and_prior(bins):
    ab = np.zeros((4, 4, 2), np.float32)
    ab[0, 0] = (40, 40)
    counts = colorbins.histogram(ab, bins.numpy())
    assert counts.sum() == 16 and counts.max() == 15
    prior = colorbins.smooth_prior(counts, bins.numpy())
    assert prior.sum() == pytest.approx(1.0, rel=1e-5)
    assert prior.argmax() == counts.argmax()


def test_decode_reads_either_head(bins):
    net = UNetGenerator(GeneratorConfig(ngf=4, num_downs=3, num_bins=len(bins))).eval()
    net.ab_bins.copy_(bins)
    x = torch.randn(2, 1, 16, 16)
    with torch.no_grad():
        reg = colorbins.decode(net, x)
        am = colorbins.decode(net, x, decoder="annealed_mean", temperature=0.38)
        out, logits = net(x, logits=True)
    assert torch.equal(reg, out)
    assert logits.shape == (2, len(bins), 8, 8)
    assert am.shape == (2, 2, 16, 16) and am.abs().max() <= 1.0
    with pytest.raises(ValueError, match="decoder"):
        colorbins.decode(net, x, decoder="median")


def test_growing_a_v2_generator_keeps_what_it_did():
    torch.manual_seed(0)
    old = UNetGenerator(GeneratorConfig(ngf=4, num_downs=4)).eval()
    grown = grow_generator(old, hint_channels=3, num_bins=261).eval()
    assert grown.config.input_channels == 4 and grown.config.num_bins == 261
    x = torch.randn(1, 1, 32, 32)
    hints = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        assert torch.allclose(grown(torch.cat([x, hints], 1)), old(x), atol=1e-6)
    assert grow_generator(grown, hint_channels=3, num_bins=261) is grown  # nothing to add
    with pytest.raises(ValueError, match="already takes hints"):
        grow_generator(grown, hint_channels=0)
