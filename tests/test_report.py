"""Run-folder pictures: the sample grid layout."""

import numpy as np

from trainer.report import sample_grid


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
