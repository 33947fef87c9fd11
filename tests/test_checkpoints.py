"""Hostile checkpoints and --init-from files: one line and exit status 2, never a traceback,
and no network built from what a file claims before its tensors are known to fit."""

import re
import shutil

import pytest
import torch

from colorizer_app.cli import main
from tests import hostile
from tests.conftest import make_generator_file, tiny_train_args
from trainer.checkpoint import BadCheckpointError, load_checkpoint

# The seeds' Pix2Pix recipe on a 5-level U-Net of width 4: both optimisers step, one step.
RECIPE = dict(loss="gan_l1", no_hints=True, no_distribution=True, degrade=0, steps=1)


@pytest.fixture(scope="module")
def trained_run(photos, tmp_path_factory):
    """A run folder after one step: config, checkpoint, model."""
    run = tmp_path_factory.mktemp("runs") / "base"
    assert main(["train", *tiny_train_args(photos, run, **RECIPE)]) == 0
    return run


def _resume(photos, run, capsys) -> tuple[int, str]:
    code = main(["train", *tiny_train_args(photos, run, **{**RECIPE, "steps": 2})])
    return code, capsys.readouterr().err.strip()


def _reshape(state: dict, key: str) -> None:
    value = state[key]
    state[key] = value.reshape(value.shape[1], value.shape[0], *value.shape[2:])


def _edit(change):
    """A checkpoint edit that changes the saved dict in place."""

    def edit(saved):
        change(saved)
        return saved

    return edit


class _Trap:
    def __reduce__(self):
        return (exec, ("raise SystemExit('pickle executed')",))


CHECKPOINT_CASES = [
    ("step-only", lambda s: {"step": 3}, "not a complete training checkpoint .*missing"),
    ("list", lambda s: [1, 2], r"not a training checkpoint \(it holds \[1, 2\]\)"),
    ("tensor", lambda s: torch.zeros(3), "not a training checkpoint"),
    ("code", lambda s: {"state": _Trap()}, r"unreadable checkpoint \(UnpicklingError\)"),
    ("step-text", _edit(lambda s: s.update(step="hello")), "step is 'hello'"),
    ("step-negative", _edit(lambda s: s.update(step=-5)), "step -5"),
    ("wall-nan", _edit(lambda s: s.update(wall_seconds=float("nan"))), "wall_seconds is nan"),
    ("generator-list", _edit(lambda s: s.update(generator=[1])), r"generator is \[1\]"),
    (
        "generator-reshaped",
        _edit(lambda s: _reshape(s["generator"], "down.1.1.weight")),
        r"generator: tensor down.1.1.weight has shape \(4, 8, 4, 4\), the architecture needs",
    ),
    (
        "generator-int32",
        _edit(
            lambda s: s["generator"].update(
                {k: v.int() for k, v in s["generator"].items() if v.is_floating_point()}
            )
        ),
        "generator: tensor .* is int32",
    ),
    (
        "discriminator-missing",
        _edit(lambda s: s["discriminator"].pop("model.0.weight")),
        "discriminator: 1 missing",
    ),
    (
        "adam-state-reshaped",
        _edit(lambda s: _reshape(s["opt_g"]["state"][1], "exp_avg")),
        "opt_g: optimizer state 'exp_avg' of parameter 1 has shape",
    ),
    (
        "adam-betas-text",
        _edit(lambda s: s["opt_g"]["param_groups"][0].update(betas="fast")),
        "opt_g: optimizer setting betas is 'fast'",
    ),
    (
        "adam-of-another-network",
        _edit(lambda s: s["opt_d"]["param_groups"][0].update(params=[0])),
        "opt_d: an optimizer state of another network",
    ),
    (
        "rng",
        _edit(lambda s: s.update(torch_rng=torch.zeros(3, dtype=torch.uint8))),
        "torch_rng: not a random generator state",
    ),
    (
        "g-config-2**20",
        _edit(lambda s: s["g_config"].update(ngf=2**20)),
        "holds another architecture",
    ),
]


@pytest.mark.parametrize(
    ("edit", "message"), [c[1:] for c in CHECKPOINT_CASES], ids=[c[0] for c in CHECKPOINT_CASES]
)
def test_resuming_a_hostile_checkpoint_exits_2_with_one_line(
    photos, trained_run, tmp_path, capsys, edit, message
):
    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    ckpt = run / "checkpoints" / "last.pt"
    torch.save(edit(torch.load(ckpt, weights_only=True)), ckpt)
    before = ckpt.read_bytes()
    code, err = _resume(photos, run, capsys)
    assert code == 2, err
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert err.startswith(f"colorizer train: error: {ckpt}: ")
    assert re.search(message, err), err
    assert ckpt.read_bytes() == before  # left as it was, for the user to look at


def test_the_untouched_checkpoint_resumes(photos, trained_run, tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    code, err = _resume(photos, run, capsys)
    assert code == 0, err
    assert load_checkpoint(run / "checkpoints" / "last.pt")["step"] == 2


@pytest.mark.parametrize("case", ["ngf-2**20", "int32-weights", "nested-100k", "training-text"])
def test_fine_tuning_from_a_hostile_model_exits_2_with_one_line(photos, tmp_path, capsys, case):
    _, make, message = next(c for c in hostile.CASES if c[0] == case)
    bad = make(make_generator_file(tmp_path / "good.safetensors"), tmp_path / "bad.safetensors")
    run = tmp_path / "run"
    code = main(["train", *tiny_train_args(photos, run, init_from=bad, **RECIPE)])
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert err.startswith(f"colorizer train: error: {bad}: ")
    assert re.search(message, err), err
    assert not (run / "checkpoints" / "last.pt").exists()


@pytest.fixture
def real_builds(monkeypatch):
    import trainer.export

    return hostile.record_real_builds(monkeypatch, trainer.export)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda s: s["g_config"].update(ngf=2**20), r"ngf must be in \[1, 512\]"),
        (lambda s: s["g_config"].update(ngf=512), "generator: tensor .* has shape"),
        (lambda s: s["g_config"].update(ngf=4.0), "ngf must be a whole number"),
        (lambda s: s.update(config="hello"), "config is 'hello'"),
        (lambda s: s["config"].update(lr="fast"), "lr must be a number, got 'fast'"),
        (lambda s: s["config"].update(loss=["l1"]), "loss must be one of 'gan_l1', 'l1', 'mse'"),
        (lambda s: s["config"].update(name={"a": 1}), "name must be text"),
        (lambda s: _reshape(s["generator"], "down.1.1.weight"), "generator: tensor down.1.1"),
    ],
)
def test_exporting_a_hostile_checkpoint_builds_nothing(
    trained_run, tmp_path, real_builds, change, message
):
    from trainer.export import export_checkpoint

    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    ckpt = run / "checkpoints" / "last.pt"
    saved = torch.load(ckpt, weights_only=True)
    change(saved)
    torch.save(saved, ckpt)
    with pytest.raises(BadCheckpointError, match=message) as caught:
        export_checkpoint(run, tmp_path / "x.safetensors")
    assert "\n" not in str(caught.value) and str(caught.value).startswith(f"{ckpt}: ")
    assert real_builds == [] and not (tmp_path / "x.safetensors").exists()


def test_exporting_the_untouched_checkpoint_builds_once(trained_run, tmp_path, real_builds):
    from models import load_generator
    from trainer.export import export_checkpoint

    out = export_checkpoint(trained_run, tmp_path / "x.safetensors")
    assert len(real_builds) == 1 and load_generator(out).info.config == real_builds[0]
