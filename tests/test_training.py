"""The training loop on tiny generated data: it learns, resumes exactly, fails safely."""

import json
import os
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
import torch
from PIL import Image

from models import load_generator
from models.errors import Cancelled
from models.progress import CallbackProgress
from tests.conftest import smooth_photo, tiny_train_args
from trainer.checkpoint import CheckpointError, load_checkpoint
from trainer.config import TrainConfig
from trainer.loop import TrainingError, learning_rate, train


def tiny(photos, run_dir, **kw):
    base = dict(
        data=str(photos),
        run_dir=str(run_dir),
        image_size=32,
        ngf=4,
        num_downs=5,
        ndf=8,
        batch_size=4,
        steps=6,
        val_fraction=0.2,
        log_every=1,
        checkpoint_every=3,
        sample_count=2,
        rotate_degrees=3.0,
        seed=0,
        # the seeds' Pix2Pix recipe: the machinery most tests here exercise (the v3 recipe,
        # the default, has tests of its own below)
        loss="gan_l1",
        upsample="transpose",
        hints=False,
        distribution=False,
        degrade=0.0,
    )
    base.update(kw)
    return TrainConfig(**base)


def test_one_step_changes_the_weights(photos, tmp_path):
    cfg = tiny(photos, tmp_path / "a", steps=1)
    torch.manual_seed(0)
    from models.networks import build_generator
    from trainer.state import generator_config

    torch.manual_seed(cfg.seed)
    before = build_generator(generator_config(cfg)).state_dict()
    out = train(cfg)
    after = load_generator(out).module.state_dict()
    changed = [
        k for k in before if before[k].is_floating_point() and not torch.equal(before[k], after[k])
    ]
    assert len(changed) > 10


@pytest.mark.slow
def test_run_folder_holds_everything(photos, tmp_path):
    events = []
    out = train(tiny(photos, tmp_path / "run"), on_event=events.append)
    run = tmp_path / "run"
    assert json.loads((run / "config.json").read_text())["image_size"] == 32
    lines = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    steps = [x for x in lines if x["event"] == "step"]
    evals = [x for x in lines if x["event"] == "eval"]
    assert {"g_adv", "g_l1", "d_real", "d_fake"} <= set(steps[-1])
    assert {"psnr", "ssim", "colourfulness", "gray_psnr", "gray_ssim"} <= set(evals[-1])
    assert (run / "loss_curve.png").stat().st_size > 1000
    assert (run / "samples" / "latest.png").exists()
    assert load_checkpoint(run / "checkpoints" / "last.pt")["step"] == 6
    info = load_generator(out).info
    assert info.training["steps"] == 6 and "psnr" in info.metrics
    kinds = [e["event"] for e in events]
    assert kinds[0] == "start" and kinds[-1] == "done" and "checkpoint" in kinds


@pytest.mark.slow
def test_loss_falls_when_overfitting(photos, tmp_path):
    cfg = tiny(
        photos,
        tmp_path / "fit",
        loss="l1",
        steps=60,
        max_images=4,
        lr=2e-3,
        rotate_degrees=0.0,
        scale_min=1.0,
        flip=False,
        checkpoint_every=1000,
    )
    train(cfg)
    steps = [json.loads(x) for x in (tmp_path / "fit" / "metrics.jsonl").read_text().splitlines()]
    l1 = [s["g_l1"] for s in steps if s["event"] == "step"]
    assert np.mean(l1[-5:]) < 0.6 * np.mean(l1[:5])


@pytest.mark.slow
def test_resume_equals_uninterrupted(photos, tmp_path):
    full = train(tiny(photos, tmp_path / "full", steps=6, checkpoint_every=1000))
    train(tiny(photos, tmp_path / "split", steps=3, checkpoint_every=1000))
    resumed = train(tiny(photos, tmp_path / "split", steps=6, checkpoint_every=1000))
    a = load_generator(full).module.state_dict()
    b = load_generator(resumed).module.state_dict()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=1e-4, atol=1e-5)


def test_cancel_leaves_a_valid_checkpoint(photos, tmp_path):
    progress = CallbackProgress()

    def on_event(event):
        if event["event"] == "step" and event["step"] == 2:
            progress.cancel()

    with pytest.raises(Cancelled):
        train(tiny(photos, tmp_path / "c", steps=50, checkpoint_every=1000), progress, on_event)
    assert load_checkpoint(tmp_path / "c" / "checkpoints" / "last.pt")["step"] == 2


@pytest.mark.slow
def test_paused_time_is_not_training_time(photos, tmp_path):
    """A pause (the Train tab's button) holds the loop; it is not counted as training time."""
    progress = CallbackProgress(on_hold=lambda: threading.Timer(2.0, progress.resume).start())
    held_at = []

    def on_event(event):
        if event["event"] == "step" and event["step"] == 1:
            held_at.append(time.perf_counter())
            progress.pause()

    started = time.perf_counter()
    out = train(tiny(photos, tmp_path / "p", steps=4, checkpoint_every=1000), progress, on_event)
    elapsed = time.perf_counter() - started
    assert held_at and elapsed >= 2.0
    wall = load_generator(out).info.training["wall_seconds"]
    assert wall <= elapsed - 1.8


def test_the_cli_says_what_the_data_leaves_out_and_warns_once_per_bad_file(
    photos, tmp_path, capsys
):
    """Issue #14 item 14: unmatched and unreadable files were dropped silently, and a bad
    file was warned about every epoch."""
    from trainer.cli import main as train_main

    data = tmp_path / "set"
    for i in range(6):
        rgb = smooth_photo(48, 64, color=True, seed=i)
        for kind, image in (("color", rgb), ("gray", rgb.mean(2).astype(np.uint8))):
            (data / kind).mkdir(parents=True, exist_ok=True)
            Image.fromarray(image).save(data / kind / f"p{i}.png")
    Image.fromarray(smooth_photo(48, 64, color=True)).save(data / "color" / "lonely.png")
    damaged = (data / "color" / "p5.png").read_bytes()[:120]  # the header reads, the pixels not
    (data / "color" / "p5.png").write_bytes(damaged)
    code = train_main(
        tiny_train_args(data, tmp_path / "run", steps=6, batch_size=2, val_fraction=0.2)
        + ["--no-hints", "--no-distribution", "--degrade", "0"]
    )
    err = capsys.readouterr().err
    assert code == 0, err
    assert (
        "data: 6 image(s) used; 1 file(s) left out: 1 no gray file of this name (lonely.png)" in err
    )
    assert err.count("p5.png") == 1  # 3 epochs, told once
    assert "warning: skipping p5.png: truncated or corrupt" in err


def test_a_run_resumed_after_a_crash_has_one_record_per_step(photos, tmp_path):
    """Steps logged after the last checkpoint are repeated on resume: their first records
    are dropped, so the metrics (and the loss curve) hold each step once."""
    run = tmp_path / "crash"

    def crash(event):
        if event["event"] == "step" and event["step"] == 5:
            raise RuntimeError("power cut")

    with pytest.raises(RuntimeError):
        train(tiny(photos, run, steps=6, checkpoint_every=3), on_event=crash)
    logged = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in logged if r["event"] == "step"] == [1, 2, 3, 4, 5]
    train(tiny(photos, run, steps=6, checkpoint_every=3))
    logged = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in logged if r["event"] == "step"] == [1, 2, 3, 4, 5, 6]


def test_a_run_folder_in_use_is_refused_and_a_killed_runs_leftovers_are_removed(photos, tmp_path):
    from models.atomic import Claim

    run = tmp_path / "busy"
    (run / "checkpoints").mkdir(parents=True)
    claim = Claim(run / "run")
    assert claim.acquire() is None  # held by a live process (this one)
    with pytest.raises(TrainingError, match="is being trained by process"):
        train(tiny(photos, run, steps=2))
    claim.release()
    leftovers = [
        run / "checkpoints" / ".last.pt.0a1b2c3d.tmp",  # kill -9 while checkpointing
        run / ".generator.safetensors.deadbeef.tmp",  # ... while exporting
        run / "samples" / ".step_000001.png.12345678.part",
    ]
    leftovers[-1].parent.mkdir()
    for path in leftovers:
        path.write_bytes(b"x" * 100)
    kept = run / "checkpoints" / ".notes.txt"  # not of our naming: never touched
    kept.write_text("mine")
    train(tiny(photos, run, steps=2))
    assert not any(path.exists() for path in leftovers)
    assert kept.read_text() == "mine"
    assert not (run / ".run.colorizer-lock").exists()  # released at the end


def test_nan_loss_stops_and_keeps_the_last_checkpoint(photos, tmp_path, monkeypatch):
    run = tmp_path / "nan"
    train(tiny(photos, run, steps=3))
    good = (run / "checkpoints" / "last.pt").read_bytes()
    import trainer.loop as loop

    real = torch.nn.L1Loss.forward
    monkeypatch.setattr(
        torch.nn.L1Loss, "forward", lambda self, a, b: real(self, a, b) * float("nan")
    )
    with pytest.raises(TrainingError, match="NaN/Inf at step 4"):
        loop.train(tiny(photos, run, steps=6))
    assert (run / "checkpoints" / "last.pt").read_bytes() == good


@pytest.mark.slow
def test_disk_full_while_checkpointing_keeps_the_previous(photos, tmp_path, monkeypatch):
    run = tmp_path / "full-disk"
    train(tiny(photos, run, steps=3))
    good = (run / "checkpoints" / "last.pt").read_bytes()

    def no_space(obj, f, *args, **kwargs):
        f.write(b"partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(torch, "save", no_space)
    with pytest.raises(CheckpointError, match="No space left.*previous one is intact"):
        train(tiny(photos, run, steps=6))
    assert (run / "checkpoints" / "last.pt").read_bytes() == good
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["last.pt"]


def test_unwritable_run_folder(photos, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(TrainingError, match="cannot write the run folder"):
        train(tiny(photos, blocker / "run"))


@pytest.mark.slow
def test_fine_tune_from_a_generator_file(photos, tmp_path):
    base = train(tiny(photos, tmp_path / "base", steps=2))
    tuned = train(tiny(photos, tmp_path / "tuned", steps=2, init_from=str(base), ngf=16))
    assert load_generator(tuned).info.config == load_generator(base).info.config
    # the tuned file records what it started from (the model card's full training length)
    training = load_generator(tuned).info.training
    assert training["init_from"] == "generator.safetensors"
    assert training["base"]["name"] == "base" and training["base"]["steps"] == 2


def test_a_fine_tune_is_compared_with_its_base_and_a_worse_one_is_flagged(photos, tmp_path):
    """Issue #15: a short fine-tune could end worse than the model it started from, with no
    word. The end of the run scores both on the held-out photos, side by side."""
    from trainer.cli import comparison_line

    v2 = train(tiny(photos, tmp_path / "v2", steps=3, loss="l1"))
    events = []
    train(
        tiny(photos, tmp_path / "grown", steps=2, init_from=str(v2), lr=0.5, **V3),
        on_event=events.append,
    )  # a learning rate that wrecks the model
    (compared,) = [e for e in events if e["event"] == "compare"]
    assert compared["images"] >= 1 and compared["base_file"] == str(v2)
    for side in ("model", "base"):
        assert set(compared[side]) >= {"psnr", "gray_psnr", "colourfulness", "truth_colourfulness"}
    assert compared["worse"] == (
        compared["model"]["psnr"] < compared["base"]["psnr"] - 0.05
        or compared["model"]["psnr"] < compared["model"]["gray_psnr"] <= compared["base"]["psnr"]
    )
    line = comparison_line(compared)
    assert line.startswith("Your model: ") and f"({compared['images']} held-out" in line
    assert "the base: " in line and ("WARNING" in line) == compared["worse"]
    logged = [
        json.loads(x) for x in (tmp_path / "grown" / "metrics.jsonl").read_text().splitlines()
    ]
    assert any(r["event"] == "compare" for r in logged)  # kept with the run


def test_the_comparison_flags_a_model_worse_than_its_base(photos, tmp_path):
    import copy

    from trainer.data import SampleMaker, open_source
    from trainer.samples import Samples
    from trainer.validation import compare_with_base

    config = tiny(photos, "unused", loss="l1")
    source = open_source(config)
    val = Samples(source, np.arange(4), SampleMaker(32, "lab"), train=False)
    base = load_generator(train(tiny(photos, tmp_path / "base", steps=3, loss="l1")))
    good = base.module.eval()
    same = compare_with_base(good, good, val, config, "cpu", lambda bad: None)
    assert not same["worse"] and same["model"] == same["base"]
    wrecked = copy.deepcopy(good)
    with torch.no_grad():
        for parameter in wrecked.up[-1].parameters():
            parameter.mul_(200.0)  # wildly oversaturated colour
    worse = compare_with_base(wrecked, good, val, config, "cpu", lambda bad: None)
    assert worse["worse"] and worse["model"]["psnr"] < worse["base"]["psnr"]


def _step_records(run_dir) -> list[dict]:
    lines = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return [x for x in lines if x["event"] == "step"]


def _losses(record: dict) -> set[str]:
    return {k for k in record if k.startswith(("g_", "d_"))}


GAN_LOSSES = {"g_l1", "g_adv", "d_real", "d_fake"}


@pytest.mark.parametrize(
    ("kw", "recipe", "losses"),
    [
        ({"loss": "l1", "warmup_epochs": 0}, "l1", [{"g_l1"}] * 3),
        ({"architecture": "autoencoder", "loss": "mse", "num_downs": 3}, "mse", [{"g_mse"}] * 3),
        ({"color_space": "rgb"}, "gan_l1", [GAN_LOSSES] * 3),
        # 10 training photos in batches of 4: 2 steps an epoch, so half an epoch is 1 step
        (
            {"upsample": "resize_conv", "warmup_epochs": 0.5},
            "gan_l1",
            [{"g_l1"}] + [GAN_LOSSES] * 2,
        ),
        ({"precision": "bf16", "channels_last": True}, "gan_l1", [GAN_LOSSES] * 3),
    ],
)
def test_recipe_options_train_and_export(photos, tmp_path, kw, recipe, losses):
    run = tmp_path / "opt"
    out = train(tiny(photos, run, steps=3, **kw))
    loaded = load_generator(out)
    info = loaded.info
    # the exported file describes what was trained ...
    assert info.color_space == kw.get("color_space", "lab")
    assert info.training["recipe"] == recipe and info.training["steps"] == 3
    assert type(info.config).__name__ == (
        "AutoencoderConfig" if kw.get("architecture") == "autoencoder" else "GeneratorConfig"
    )
    if kw.get("architecture") == "autoencoder":
        assert info.config.depth == 3
    else:
        assert info.config.upsample == kw.get("upsample", "transpose")
    # ... the loop ran the recipe's losses step by step (warm-up: reconstruction only) ...
    records = _step_records(run)
    assert [r["step"] for r in records] == [1, 2, 3]
    assert [_losses(r) for r in records] == losses
    assert all(np.isfinite(r[k]) for r in records for k in _losses(r))
    # ... and the model predicts the channels of its colour space, in range
    with torch.no_grad():
        y = loaded.module.eval()(torch.zeros(1, 1, 32, 32))
    assert y.shape == (1, 3 if kw.get("color_space") == "rgb" else 2, 32, 32)
    assert torch.isfinite(y).all() and y.abs().max() <= 1.0
    saved = json.loads((run / "config.json").read_text())
    assert {k: saved[k] for k in kw} == kw  # the run folder keeps the settings it ran with


def test_the_autoencoder_refuses_the_adversarial_recipe(photos, tmp_path):
    with pytest.raises(ValueError, match="autoencoder.*use loss 'mse'"):
        tiny(photos, tmp_path / "ae", architecture="autoencoder")


def test_learning_rate_schedule():
    assert learning_rate(0, 100, 1.0, 0.0) == 1.0
    assert learning_rate(50, 100, 1.0, 0.5) == 1.0
    assert learning_rate(75, 100, 1.0, 0.5) == pytest.approx(0.5)
    assert learning_rate(100, 100, 1.0, 0.5) == 0.0


@pytest.mark.slow
def test_kill_9_during_training_leaves_a_loadable_checkpoint(photos, tmp_path):
    run = tmp_path / "killed"
    cmd = [
        sys.executable,
        "-m",
        "trainer",
        *tiny_train_args(
            photos, run, steps=100000, checkpoint_every=1, eval_every=100000, json_progress=True
        ),
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    ckpt = run / "checkpoints" / "last.pt"
    deadline = time.time() + 120
    seen = 0
    while time.time() < deadline and seen < 5:
        line = proc.stdout.readline()
        if '"event": "checkpoint"' in line:
            seen += 1
    time.sleep(0.05)  # land somewhere inside the next step or checkpoint write
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert seen == 5
    state = load_checkpoint(ckpt)
    assert state["step"] >= 5
    config = TrainConfig.from_dict({**state["config"], "steps": state["step"] + 1})
    out = train(config)  # the same run (the command line's default recipe), one step more
    assert load_generator(out).info.training["steps"] == state["step"] + 1


@pytest.mark.slow
def test_sigterm_checkpoints_and_exits_130(photos, tmp_path):
    run = tmp_path / "term"
    cmd = [
        sys.executable,
        "-m",
        "trainer",
        *tiny_train_args(
            photos,
            run,
            steps=100000,
            checkpoint_every=100000,
            eval_every=100000,
            json_progress=True,
        ),
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    for line in proc.stdout:
        if '"event": "step"' in line and json.loads(line)["step"] >= 3:
            break
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=120) == 130
    assert load_checkpoint(run / "checkpoints" / "last.pt")["step"] >= 3


@pytest.mark.slow
def test_ddp_two_processes_agree(photos, tmp_path):
    run = tmp_path / "ddp"
    torchrun = os.path.join(os.path.dirname(sys.executable), "torchrun")
    cmd = [
        torchrun,
        "--nproc_per_node=2",
        "--master_port=29517",
        "-m",
        "trainer",
        *tiny_train_args(photos, run, batch_size=2, steps=3, device="cpu", json_progress=True),
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    events = [json.loads(x) for x in result.stdout.splitlines() if x.startswith("{")]
    check = [e for e in events if e["event"] == "ddp_check"]
    assert check and check[0]["world_size"] == 2 and check[0]["ranks_agree"]
    assert [e for e in events if e["event"] == "start"][0]["world_size"] == 2
    assert load_generator(run / "generator.safetensors").info.training["steps"] == 3


V3 = dict(loss="l1", hints=True, distribution=True, degrade=0.8, ema=0.9)


def test_the_default_recipe_is_the_shipped_one():
    """The Train tab and `colorizer train` start from what ships (docs/MODEL_CARD.md)."""
    config = TrainConfig(data="photos")
    assert (config.loss, config.hints, config.distribution) == ("l1", True, True)
    assert config.degrade > 0 and not config.adversarial
    assert (config.ngf, config.num_downs, config.upsample) == (32, 7, "resize_conv")
    from models.modelfile import default_model_path

    shipped = load_generator(default_model_path()).info if default_model_path() else None
    if shipped is not None and shipped.takes_hints:
        assert shipped.training["recipe"] == config.loss
        assert shipped.config.ngf == config.ngf and shipped.config.upsample == config.upsample
        assert shipped.training["ce_weight"] == config.ce_weight
        assert shipped.training["reg_weight"] == config.reg_weight


def test_v3_recipe_trains_both_heads_with_hints(photos, tmp_path):
    out = train(tiny(photos, tmp_path / "v3", steps=4, **V3))
    lines = [json.loads(x) for x in (tmp_path / "v3" / "metrics.jsonl").read_text().splitlines()]
    step = [x for x in lines if x["event"] == "step"][-1]
    evals = [x for x in lines if x["event"] == "eval"][-1]
    assert step["g_ce"] > 0 and step["g_l1"] > 0 and "g_adv" not in step
    assert {"psnr", "reg_psnr", "reg_colourfulness"} <= set(evals)  # both decoders scored
    info = load_generator(out).info
    assert info.heads == ["regression", "distribution"] and info.takes_hints
    assert info.recommended == {"decoder": "annealed_mean", "temperature": 0.38}
    assert info.training["ema"] == 0.9 and info.training["degrade"] == 0.8
    module = load_generator(out).module
    assert module.ab_prior.sum() == pytest.approx(1.0, abs=1e-2)  # measured on the photos
    assert len(torch.unique(module.ab_prior)) > 10


@pytest.mark.slow
def test_v3_resume_equals_uninterrupted(photos, tmp_path):
    kw = dict(checkpoint_every=1000, **V3)
    full = train(tiny(photos, tmp_path / "full", steps=6, **kw))
    train(tiny(photos, tmp_path / "split", steps=3, **kw))
    resumed = train(tiny(photos, tmp_path / "split", steps=6, **kw))
    a = load_generator(full).module.state_dict()
    b = load_generator(resumed).module.state_dict()
    for key in a:  # the moving average (exported) included
        torch.testing.assert_close(a[key], b[key], rtol=1e-4, atol=1e-5)


@pytest.mark.slow
def test_fine_tuning_grows_a_v2_model_and_keeps_a_v3_models_hints(photos, tmp_path):
    v2 = train(tiny(photos, tmp_path / "v2", steps=2, loss="l1"))
    grown = train(tiny(photos, tmp_path / "grown", steps=2, init_from=str(v2), **V3))
    info = load_generator(grown).info
    assert info.takes_hints and info.has_distribution
    assert info.config.ngf == load_generator(v2).info.config.ngf
    # a plain fine-tune of a v3 model (no v3 options given) still trains and keeps hints
    tuned = train(tiny(photos, tmp_path / "tuned", steps=2, loss="l1", init_from=str(grown)))
    tuned_info = load_generator(tuned).info
    assert tuned_info.takes_hints and tuned_info.has_distribution
    torch.testing.assert_close(
        load_generator(tuned).module.ab_prior, load_generator(grown).module.ab_prior
    )


def test_export_checkpoint_takes_the_moving_average(photos, tmp_path):
    from trainer.loop import export_checkpoint

    run = tmp_path / "ema"
    final = train(tiny(photos, run, steps=3, **V3))
    exported = export_checkpoint(run, tmp_path / "x.safetensors", dtype=torch.float32)
    a, b = load_generator(final).module.state_dict(), load_generator(exported).module.state_dict()
    for key in a:
        torch.testing.assert_close(a[key], b[key])
    raw = load_checkpoint(run / "checkpoints" / "last.pt")["generator"]
    assert any(not torch.equal(raw[k].float(), a[k].float()) for k in a if "weight" in k)


def test_the_command_line_reads_settings_and_help_from_the_config():
    import argparse
    from dataclasses import fields

    from trainer.cli import add_train_arguments, config_from_args

    parser = argparse.ArgumentParser()
    add_train_arguments(parser)
    helps = {a.dest: a.help for a in parser._actions}
    for f in fields(TrainConfig):
        if f.name != "extra":  # every setting is an option, with its meaning and default
            assert helps[f.name].startswith(f.metadata["help"]), f.name
            assert helps[f.name].endswith(f"(default: {f.default!r})"), f.name
    # the autoencoder baseline gets its recipe (mse) when no loss is given; a given one wins
    assert config_from_args(parser.parse_args(["--architecture", "autoencoder"])).loss == "mse"
    given = parser.parse_args(["--architecture", "autoencoder", "--loss", "l1"])
    assert config_from_args(given).loss == "l1"
    assert config_from_args(parser.parse_args([])).loss == TrainConfig.loss == "l1"


def test_no_readable_image_stops_with_the_reasons(tmp_path):
    """A folder of corrupt files must not spin forever on empty batches."""
    bad = tmp_path / "bad"
    bad.mkdir()
    for i in range(6):
        (bad / f"broken{i}.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    config = TrainConfig(
        data=str(bad),
        run_dir=str(tmp_path / "run"),
        image_size=32,
        ngf=4,
        num_downs=5,
        batch_size=2,
        steps=5,
        val_fraction=0.0,
    )
    done = threading.Event()
    errors = []

    def run():
        try:
            train(config)
        except TrainingError as err:
            errors.append(str(err))
        finally:
            done.set()

    threading.Thread(target=run, daemon=True).start()
    assert done.wait(120), "training hung on unreadable data"
    (message,) = errors
    assert message.startswith("none of the 6 training images could be read")
    assert "broken0.jpg" in message and "\n" not in message


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--lr", "nan"], "lr must be in (0, 1], got nan"),
        (["--lr-d", "nan"], "lr_d must be in"),
        (["--beta1", "5"], "beta1 must be in [0, 1)"),
        (["--epochs", "nan"], "epochs must be in"),
        (["--checkpoint-every", "0"], "checkpoint_every must be in [1"),
        (["--log-every", "0"], "log_every must be in [1"),
        (["--image-size", "100000"], "image_size must be in [16, 4096]"),
        (["--ema", "1.5"], "ema must be in [0, 1)"),
    ],
)
def test_bad_settings_are_one_line_before_any_work(tmp_path, capsys, flags, message):
    from colorizer_app.cli import main

    code = main(["train", "--data", str(tmp_path), "--run-dir", str(tmp_path / "r"), *flags])
    err = capsys.readouterr().err.strip()
    assert code == 2 and message in err and len(err.splitlines()) == 1
    assert not (tmp_path / "r").exists()  # nothing started


@pytest.mark.parametrize(
    "change, message",
    [
        ({"hints": "yes"}, "hints must be true or false, got 'yes'"),
        ({"loss": "gan"}, "loss must be one of 'gan_l1', 'l1', 'mse', got 'gan'"),
        ({"data": ["a", "b"]}, r"data must be text, got \['a', 'b'\]"),
        ({"ngf": 32.0}, "ngf must be a whole number, got 32.0"),
        ({"scale_min": "0.5", "steps": None}, "scale_min must be a number.*; steps must be"),
    ],
)
def test_a_config_file_of_the_wrong_types_is_one_line_before_any_work(
    tmp_path, capsys, change, message
):
    """run.json (the Train tab's, or one edited by hand) is checked field by field."""
    import re

    from colorizer_app.cli import main

    run_file = tmp_path / "run.json"
    run_file.write_text(json.dumps({**json.loads(TrainConfig().to_json()), **change}))
    code = main(["train", "--config", str(run_file), "--run-dir", str(tmp_path / "r")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and re.search(message, err) and len(err.splitlines()) == 1, err
    assert not (tmp_path / "r").exists()


def test_blown_up_weights_are_not_exported(photos, tmp_path):
    from trainer.export import export

    run = tmp_path / "inf"
    cfg = tiny(photos, run, steps=2, loss="l1")
    loaded = load_generator(train(cfg)).module
    bn = next(m for m in loaded.modules() if isinstance(m, torch.nn.BatchNorm2d))
    bn.running_var.fill_(float("inf"))  # what --lr 1e9 does to the running statistics
    with pytest.raises(TrainingError, match="NaN or infinite values"):
        export(run, loaded, loaded.config, cfg, 2, 1.0, "cpu", 2, path=tmp_path / "x.safetensors")
    assert not (tmp_path / "x.safetensors").exists()


def test_the_loader_pins_batches_only_for_a_cuda_device():
    """Page-locked batches (fast, asynchronous copies to a GPU) when the loop asks, which it
    does for a CUDA device only; the batches are the same either way."""
    from trainer.samples import epoch_loader

    class Tiny(torch.utils.data.Dataset):
        epoch = 0

        def __len__(self):
            return 8

        def __getitem__(self, i):
            return np.full((1, 2, 2), i, np.float32), np.zeros((2, 2, 2), np.float32)

    config = TrainConfig(batch_size=4, seed=3)
    plain = epoch_loader(Tiny(), config, 0, 2, 0, 1)
    pinned = epoch_loader(Tiny(), config, 0, 2, 0, 1, pin_memory=True)
    assert plain.pin_memory is False and pinned.pin_memory is True
    assert [b.tolist() for b in plain.batch_sampler] == [b.tolist() for b in pinned.batch_sampler]
