"""Run-folder pictures: the sample grid layout and the loss curve."""

import numpy as np

from trainer.report import loss_curve, loss_figure, loss_label, losses, sample_grid


def triple(value):
    return tuple(np.full((8, 10, 3), value + k, np.uint8) for k in range(3))


def test_sample_grid_puts_triples_side_by_side():
    rows = [triple(10 * i) for i in range(5)]
    grid = sample_grid(rows, per_line=2)
    triple_w = 3 * 10 + 2 * 4
    assert grid.shape == (3 * 8 + 2 * 4, 2 * triple_w + 16, 3)
    # first line: sample 0 then sample 1; third line: sample 4 then blank
    assert (grid[0, 0] == 0).all() and (grid[0, 10 + 4] == 1).all() and (grid[0, 28] == 2).all()
    assert (grid[0, triple_w + 16] == 10).all()
    assert (grid[-1, 0] == 40).all() and (grid[-1, -1] == 255).all()


def test_sample_grid_one_per_line_and_few_samples():
    assert sample_grid([triple(0)] * 3, per_line=1).shape == (3 * 8 + 2 * 4, 38, 3)
    assert sample_grid([triple(0)]).shape == (8, 38, 3)  # no padding when one line suffices


def _lines(ax) -> dict[str, list[float]]:
    return {line.get_label(): list(line.get_ydata()) for line in ax.get_lines()}


def test_losses_are_ordered_reconstruction_adversarial_discriminator():
    record = {"event": "step", "step": 3, "d_real": 0.7, "g_adv": 0.9, "g_l1": 0.1, "lr": 1e-4}
    assert list(losses(record)) == ["g_l1", "g_adv", "d_real"]
    assert [loss_label(k) for k in ("g_l1", "g_mse", "g_adv", "d_fake", "g_huber")] == [
        "G L1",
        "G MSE",
        "G adversarial",
        "D fake",
        "G HUBER",
    ]


def test_the_loss_plot_draws_whatever_generator_loss_was_logged():
    # an MSE run (the autoencoder baseline) logs g_mse, not g_l1: its panel must not be empty
    mse = [{"step": i, "g_mse": 1.0 / i} for i in (1, 2, 3)]
    ax1, ax2, _ = loss_figure(mse, []).axes
    assert _lines(ax1) == {"G MSE": [1.0, 0.5, 1.0 / 3]} and _lines(ax2) == {}
    assert ax1.get_title() == "generator MSE"
    # new losses land generically: reconstruction on the left, adversarial in the middle
    gan = [
        {"step": i, "g_l1": 0.2, "g_ce": 0.3, "g_adv": 0.9, "d_real": 0.6, "d_fake": 0.5}
        for i in (1, 2)
    ]
    ax1, ax2, _ = loss_figure(gan, []).axes
    assert set(_lines(ax1)) == {"G L1", "G CE"}
    assert set(_lines(ax2)) == {"G adversarial", "D real", "D fake"}


def test_loss_curve_writes_a_png(tmp_path):
    steps = [{"step": 1, "g_l1": 0.3}, {"step": 2, "g_l1": 0.2}]
    evals = [
        {"step": 2, "psnr": 20.0, "gray_psnr": 18.0, "colourfulness": 9, "truth_colourfulness": 12}
    ]
    loss_curve(tmp_path / "loss_curve.png", steps, evals)
    assert (tmp_path / "loss_curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in tmp_path.iterdir()] == ["loss_curve.png"]
