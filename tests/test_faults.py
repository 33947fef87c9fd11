"""Fault injection (issue #14, "keep it fixed"): kill -9 of ``colorize`` and of ``train`` at
several points, then a rerun, compared pixel for pixel (weight for weight) with a run that was
never interrupted; a disk that fills up in the middle of a batch. Two processes on one folder
are in test_concurrency.py.
"""

import errno
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
from PIL import Image

from colorizer_app.cli import main
from models import load_generator
from tests.conftest import colorize_command, leftover_temps, smooth_photo, tiny_train_args

pytestmark = pytest.mark.slow


def _pixels(folder):
    return {p.name: np.asarray(Image.open(p)) for p in sorted(folder.glob("*.png"))}


@pytest.fixture(scope="module")
def scans(tmp_path_factory):
    src = tmp_path_factory.mktemp("scans")
    for i in range(6):
        Image.fromarray(smooth_photo(600, 800, seed=i)).save(src / f"p{i}.png")
    return src


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    from tests.conftest import make_generator_file

    return make_generator_file(tmp_path_factory.mktemp("model") / "tiny.safetensors")


@pytest.fixture(scope="module")
def uninterrupted(scans, model, tmp_path_factory):
    out = tmp_path_factory.mktemp("whole")
    subprocess.run(colorize_command(scans, out, model), check=True, capture_output=True)
    return _pixels(out)


@pytest.mark.parametrize("after", [0, 2, 4])  # outputs finished before the kill
def test_kill_9_of_colorize_then_a_rerun_equals_an_uninterrupted_run(
    scans, model, uninterrupted, tmp_path, after
):
    out = tmp_path / "out"
    run = subprocess.Popen(
        colorize_command(scans, out, model), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 120
    while len(list(out.glob("*.png"))) < after and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.3 if after == 0 else 0.1)  # somewhere inside the next photo (or start-up)
    run.send_signal(signal.SIGKILL)
    run.wait()
    for p in out.glob("*.png") if out.exists() else []:  # what is there is whole
        assert np.asarray(Image.open(p)).shape == (600, 800, 3)
    rerun = subprocess.run(colorize_command(scans, out, model), capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stderr
    assert "conflict" not in rerun.stderr  # its own outputs are recognised as its own
    made = _pixels(out)
    assert made.keys() == uninterrupted.keys()
    for name, pixels in made.items():
        np.testing.assert_array_equal(pixels, uninterrupted[name], err_msg=name)
    assert not leftover_temps(out)  # the killed run's temporary file and claim are gone


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    root = tmp_path_factory.mktemp("train-photos")
    for i in range(8):
        Image.fromarray(smooth_photo(48, 64, color=True, seed=i)).save(root / f"p{i}.png")
    return root


def _train_cmd(photos, run):
    options = dict(steps=10, checkpoint_every=1, eval_every=100000, json_progress=True)
    return [sys.executable, "-m", "trainer", *tiny_train_args(photos, run, **options)]


@pytest.fixture(scope="module")
def trained(photos, tmp_path_factory):
    run = tmp_path_factory.mktemp("train-whole") / "run"
    subprocess.run(_train_cmd(photos, run), check=True, capture_output=True)
    return load_generator(run / "generator.safetensors").module.state_dict()


@pytest.mark.parametrize("checkpoints", [2, 6])  # checkpoints written before the kill
def test_kill_9_of_train_then_resume_equals_an_uninterrupted_run(
    photos, trained, tmp_path, checkpoints
):
    run = tmp_path / "run"
    proc = subprocess.Popen(
        _train_cmd(photos, run), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    seen, deadline = 0, time.monotonic() + 120
    while seen < checkpoints and time.monotonic() < deadline:
        if '"event": "checkpoint"' in proc.stdout.readline():
            seen += 1
    time.sleep(0.05)  # inside the next step or checkpoint write
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert seen == checkpoints
    resumed = subprocess.run(_train_cmd(photos, run), capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    weights = load_generator(run / "generator.safetensors").module.state_dict()
    for key, value in trained.items():
        torch.testing.assert_close(weights[key], value, rtol=1e-4, atol=1e-5, msg=key)
    assert not [p for p in run.rglob(".*") if p.name.endswith((".tmp", ".part", "-lock"))]


def test_a_disk_that_fills_up_mid_batch(scans, model, tmp_path, monkeypatch, capsys):
    """ENOSPC while the third photo is written: that photo fails with one line, nothing of
    it is left, the others are made; once there is room again, a rerun makes only it."""
    from colorizer_app.engine import encode

    real, calls = encode.encode, []

    def filling_up(tmp, *args):
        calls.append(tmp)
        if len(calls) == 3:
            with open(tmp, "wb") as handle:
                handle.write(b"\0" * 4096)  # part of the file got out before the disk was full
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(tmp, *args)

    monkeypatch.setattr(encode, "encode", filling_up)
    out = tmp_path / "out"
    args = ["colorize", str(scans), "-o", str(out), "--model", str(model), "--render-size", "64"]
    assert main([*args, "-q"]) == 1
    err = capsys.readouterr().err
    assert "5 done, 0 skipped, 1 failed" in err
    failed = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(failed) == 1 and "p2.png" in failed[0] and "No space left" in failed[0]
    assert not (out / "p2.png").exists() and not leftover_temps(out)
    monkeypatch.setattr(encode, "encode", real)  # room again
    assert main([*args, "-q"]) == 0
    assert "1 done, 5 skipped, 0 failed" in capsys.readouterr().err
    assert np.asarray(Image.open(out / "p2.png")).shape == (600, 800, 3)
