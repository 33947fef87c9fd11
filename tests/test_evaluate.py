import json

import numpy as np
import pytest
import torch
from PIL import Image

from colorizer_app.cli import main
from models import GeneratorConfig, ModelInfo, UNetGenerator, save_generator
from tests.conftest import smooth_photo, tiny_train_args
from tests.test_trainer_data import _cifar_tar
from trainer import metrics
from trainer.evaluate import evaluate


def _gray_model(path):
    """A generator whose output is exactly 0 (a, b = 0): it returns the gray baseline."""
    config = GeneratorConfig(ngf=4, num_downs=8, max_mult=4)
    module = UNetGenerator(config)
    with torch.no_grad():
        last = module.up[-1][1]
        last.weight.zero_()
        last.bias.zero_()
    return save_generator(path, module, ModelInfo(config))


@pytest.fixture
def truths(tmp_path):
    root = tmp_path / "truth"
    root.mkdir()
    for i in range(3):
        Image.fromarray(smooth_photo(70, 90, color=True, seed=i)).save(root / f"t{i}.png")
    return root


def test_gray_output_gains_exactly_zero(tmp_path, truths):
    result = evaluate(_gray_model(tmp_path / "g.safetensors"), truths)
    s = result.summary()
    assert s["images"] == 3
    assert s["psnr_gain"] == 0.0 and s["ssim_gain"] == 0.0
    assert s["colourfulness"] < 0.5 < 5 < s["truth_colourfulness"]  # rounding noise only


@pytest.mark.parametrize("native, ran", [(True, "bf16"), (False, "fp32")])
def test_the_table_says_what_ran(tmp_path, truths, monkeypatch, native, ran):
    """Precision auto (the default) shows as the precision that ran."""
    from models import device

    monkeypatch.setattr(device, "cpu_has_native_bf16", lambda: native)
    result = evaluate(_gray_model(tmp_path / "g.safetensors"), truths, limit=1)
    assert result.ran_on == f"cpu ({ran})"
    assert result.table().splitlines()[0] == f"1 images, ran on cpu ({ran})"


def test_identical_output_gives_the_capped_maximum():
    img = smooth_photo(40, 50, color=True)
    assert metrics.psnr(img, img) == metrics.PSNR_CAP
    assert metrics.ssim(img, img) == pytest.approx(1.0)
    assert metrics.colourfulness(metrics.gray_baseline(img)) == pytest.approx(0.0, abs=0.5)


def test_colourfulness_orders_images():
    gray = np.full((10, 10, 3), 128, np.uint8)
    red = gray.copy()
    red[..., 0] = 250
    assert metrics.colourfulness(gray) == 0.0 < metrics.colourfulness(red)


def test_evaluate_command_prints_the_table_and_csv(tmp_path, truths, tiny_model_file, capsys):
    csv_path, json_path = tmp_path / "per_image.csv", tmp_path / "summary.json"
    code = main(
        [
            "evaluate",
            "--model",
            str(tiny_model_file),
            "--data",
            str(truths),
            "--csv",
            str(csv_path),
            "--json",
            str(json_path),
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "gray baseline" in out and "of truth" in out
    assert len(csv_path.read_text().splitlines()) == 4
    assert json.loads(json_path.read_text())["images"] == 3


def test_evaluate_on_cifar_test_split(tmp_path, tiny_model_file):
    archive = _cifar_tar(tmp_path / "c.tar.gz")
    config = GeneratorConfig(ngf=4, num_downs=6, max_mult=4)
    model = save_generator(tmp_path / "m.safetensors", UNetGenerator(config), ModelInfo(config))
    from colorizer_app.engine.pipeline import ColorizeSettings

    result = evaluate(
        model, archive, ColorizeSettings(render_size=None, tile=64, overlap=16), resize=64
    )
    assert result.summary()["images"] == 2


def test_train_then_colorize_with_the_result(tmp_path, truths, capsys):
    run = tmp_path / "run"
    code = main(["train", *tiny_train_args(truths, run, batch_size=2, steps=2)])
    assert code == 0
    model = run / "generator.safetensors"
    # the 5-level model needs tiles that are multiples of 32
    assert (
        main(
            [
                "colorize",
                str(truths),
                "-o",
                str(tmp_path / "out"),
                "--model",
                str(model),
                "--tile",
                "256",
                "-q",
            ]
        )
        == 0
    )
    assert len(list((tmp_path / "out").glob("*.png"))) == 3  # and their hidden records


def test_bad_training_data_is_a_clear_error(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    code = main(
        [
            "train",
            "--data",
            str(tmp_path / "empty"),
            "--run-dir",
            str(tmp_path / "r"),
            "--steps",
            "1",
        ]
    )
    assert code == 1
    assert "no images found" in capsys.readouterr().err


def test_every_takes_a_strided_subset(truths):
    from trainer.evaluate import iter_truths

    names = [name for name, _ in iter_truths(truths)]
    assert names == ["t0.png", "t1.png", "t2.png"]
    assert [name for name, _ in iter_truths(truths, every=2)] == ["t0.png", "t2.png"]
    assert [name for name, _ in iter_truths(truths, every=2, limit=1)] == ["t0.png"]
    with pytest.raises(ValueError):
        list(iter_truths(truths, every=0))


def test_evaluate_defaults_to_the_shipped_model_and_reports_harm(truths, capsys, tmp_path):
    from models.modelfile import default_model_path, read_info

    if default_model_path() is None:
        pytest.skip("no default model shipped in this build")
    summary_path = tmp_path / "s.json"
    code = main(["evaluate", "--data", str(truths), "--limit", "1", "--json", str(summary_path)])
    assert code == 0
    summary = json.loads(summary_path.read_text())
    assert summary["images"] == 1 and 0.0 <= summary["share_1db_below_gray"] <= 1.0
    out = capsys.readouterr().out
    assert "dB below gray" in out
    # what ran is stated: the file's recommended settings, the engine's defaults
    recommended = read_info(default_model_path()).recommended
    ran = summary["settings"]
    assert ran["strength"] == recommended["strength"] and ran["decoder"] == "annealed_mean"
    assert ran["temperature"] == recommended["temperature"]
    assert ran["chroma_filter"] and ran["hint_spread"] and summary["ran_on"].startswith("cpu")
    assert f"T {recommended['temperature']:g}, strength" in out
    assert "colour smoothing on, hint spread on" in out

    args = ["--no-chroma-filter", "--no-hint-spread", "--strength", "0.5"]
    assert main(["evaluate", "--data", str(truths), "--limit", "1", *args]) == 0
    assert "strength 0.5, colour smoothing off, hint spread off" in capsys.readouterr().out


def test_simulated_hints_are_seeded_and_reach_the_model(truths, tmp_path):
    """evaluate --hints N gives each image N hints drawn from its truth, the same ones on every
    run (seeded per image), and they change what the model makes."""
    from colorizer_app.engine.pipeline import ColorizeSettings
    from tests.conftest import make_v3_file

    model = make_v3_file(tmp_path / "v3.safetensors")
    settings = ColorizeSettings(tile=64, overlap=16, decoder="regression")
    plain = evaluate(model, truths, settings)
    hinted = evaluate(model, truths, settings, hints=20)
    again = evaluate(model, truths, settings, hints=20)
    assert [r["hints"] for r in hinted.rows] == [20, 20, 20]
    assert [r["psnr"] for r in hinted.rows] == [r["psnr"] for r in again.rows]  # seeded
    assert [r["psnr"] for r in hinted.rows] != [r["psnr"] for r in plain.rows]
    with pytest.raises(Exception, match="takes no colour hints"):
        evaluate(_gray_model(tmp_path / "g.safetensors"), truths, ColorizeSettings(), hints=3)


def test_report_files_that_cannot_be_written_fail_in_one_line(truths, tmp_path, capsys):
    """A --json/--csv in a missing folder is refused before evaluating; one that cannot be
    written at the end (here a folder stands at its path) is a one-line error, the table
    still printed, and no temporary file is left."""
    from tests.conftest import make_v3_file

    model = str(make_v3_file(tmp_path / "v3.safetensors"))
    args = ["evaluate", "--model", model, "--data", str(truths), "--limit", "1"]
    args += ["--tile", "64", "--overlap", "16"]
    assert main([*args, "--json", str(tmp_path / "missing" / "s.json")]) == 2
    err = capsys.readouterr().err
    assert "--json: no folder" in err and "Traceback" not in err

    taken = tmp_path / "taken.csv"
    taken.mkdir()  # a folder where the file should go: the write fails at the end
    assert main([*args, "--csv", str(taken)]) == 1
    out, err = capsys.readouterr()
    assert "PSNR" in out and "could not be written" in err and len(err.strip().splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.endswith(".part")) == []
