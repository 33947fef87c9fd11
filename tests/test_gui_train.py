"""The Train tab, offscreen: a real ``colorizer train`` child process on generated photos."""

import json
from pathlib import Path

import pytest
from PIL import Image

pytest.importorskip("PySide6")
pytest.importorskip("pyqtgraph")

from colorizer_app.gui.model_store import user_models_dir  # noqa: E402
from models.modelfile import load_generator, read_info  # noqa: E402
from models.networks import GeneratorConfig  # noqa: E402
from tests.conftest import make_generator_file, smooth_photo  # noqa: E402
from trainer.checkpoint import load_checkpoint  # noqa: E402
from trainer.config import TrainConfig  # noqa: E402
from trainer.runs import list_runs  # noqa: E402

SMALL = GeneratorConfig(ngf=4, num_downs=6, max_mult=4)  # 64-px crops: fast steps


@pytest.fixture
def tab(window, tmp_path, messages):
    """The train tab set up for a tiny job: a tiny 64-px model as base, a few small photos."""
    base = make_generator_file(tmp_path / "base.safetensors", SMALL)
    tab = window.train
    tab.runs_dir = tmp_path / "runs"
    tab.refresh_runs()
    photos = tmp_path / "photos"
    photos.mkdir()
    for i in range(6):
        Image.fromarray(smooth_photo(160, 200, color=True, seed=i)).save(photos / f"c{i}.png")
    tab.color_edit.setText(str(photos))
    tab.add_base_model(base)
    assert tab.image_size.itemText(0) == "64"  # sizes follow the model's depth (6 levels)
    tab.image_size.setCurrentText("64")
    tab.batch_size.setValue(2)
    tab.length_unit.setCurrentText("steps")
    tab.val_fraction.setValue(0.34)
    tab.device.setCurrentText("cpu")
    return tab


def test_check_data_counts_and_lists_unmatched(qtbot, window, tmp_path):
    tab = window.train
    color, gray = tmp_path / "color", tmp_path / "gray"
    color.mkdir()
    gray.mkdir()
    for name in ("a", "b", "only_colour"):
        Image.fromarray(smooth_photo(64, 96, color=True)).save(color / f"{name}.png")
    for name in ("a", "b", "only_gray"):
        Image.fromarray(smooth_photo(64, 96)).save(gray / f"{name}.jpg")
    tab.color_edit.setText(str(color))
    tab.gray_edit.setText(str(gray))
    with qtbot.waitSignal(tab.inspected, timeout=20000) as blocker:
        tab.check_data()
    result = blocker.args[0]
    assert result.kind == "paired" and result.items == 2
    assert "2 colour/gray pairs" in tab.data_summary.text()
    listed = [tab.unmatched.item(i).text() for i in range(tab.unmatched.count())]
    assert "only_colour.png: no gray file of this name" in listed
    assert "only_gray.jpg: no colour file of this name" in listed
    assert tab.samples_box.count() == 2  # one thumbnail per pair (gray | colour)
    window.show()
    qtbot.waitExposed(window)
    window.tabs.setCurrentWidget(tab)
    qtbot.wait(50)
    for i in range(tab.samples_box.count()):  # shrunk to fit, never cut off (issue #15)
        label = tab.samples_box.itemAt(i).widget()
        assert label.pixmap().width() <= label.width()
        assert label.pixmap().width() / label.pixmap().height() == pytest.approx(192 / 64, 0.05)
    tab.color_edit.setText(str(tmp_path / "another"))  # another folder: the check is stale
    assert tab.data.inspection is None and "Check Data" in tab.data_summary.text()
    tab.color_edit.setText("")
    assert "Choose a folder of colour photos" in tab.data_summary.text()


def test_the_image_size_and_folders_come_back_after_a_restart(qtbot, tmp_path):
    from PySide6.QtCore import QSettings

    from colorizer_app.gui.main_window import MainWindow

    path = str(tmp_path / "settings.ini")
    win = MainWindow(QSettings(path, QSettings.Format.IniFormat))
    qtbot.addWidget(win)
    win.train.image_size.setCurrentText("128")
    win.train.color_edit.setText(str(tmp_path))
    win.close()
    again = MainWindow(QSettings(path, QSettings.Format.IniFormat))
    qtbot.addWidget(again)
    assert again.train.image_size.currentText() == "128"  # fell back to 256 before
    assert "Choose a folder" not in again.train.data_summary.text()  # a folder is filled in


def test_the_log_tells_the_run_not_only_errors(tab):
    events = [
        {
            "event": "start",
            "total_steps": 40,
            "step": 0,
            "train_images": 4,
            "val_images": 2,
            "device": "cpu",
        },
        {
            "event": "data",
            "items": 6,
            "message": "1 file(s) left out: 1 no gray file of this name (x.png)",
        },
    ]
    events += [
        {"event": "step", "step": k, "total_steps": 40, "epoch": k / 10} for k in range(1, 41)
    ]
    events += [
        {
            "event": "eval",
            "step": 40,
            "psnr": 24.0,
            "gray_psnr": 23.5,
            "ssim": 0.93,
            "gray_ssim": 0.92,
            "colourfulness": 30.0,
            "truth_colourfulness": 40.0,
        },
        {"event": "checkpoint", "step": 40},
        {"event": "done", "step": 40, "model": "m.safetensors"},
    ]
    for event in events:
        tab._on_event(event)
    lines = tab.log.toPlainText().splitlines()
    assert lines[0].startswith("training on 4 photos (2 for validation) on cpu")
    assert any("no gray file of this name" in line for line in lines)
    assert 15 <= sum(line.startswith("step ") for line in lines) <= 25  # some steps, not all
    assert any(line.startswith("validation @ step 40: PSNR 24.00 (gray 23.50)") for line in lines)
    assert lines[-1] == "done at step 40: model m.safetensors"


@pytest.mark.slow
def test_tiny_run_plots_previews_and_its_model_reaches_the_picker(qtbot, window, tab):
    tab.length.setValue(4)
    tab.run_name.setText("Test style")
    with qtbot.waitSignal(tab.run_ended, timeout=180000) as blocker:
        assert tab.start()
    code, reason = blocker.args
    assert code == 0, (reason, tab.log.toPlainText())
    # the plots received points: losses per logged step, validation per eval
    # the default recipe (the shipped model's): L1 and the distribution's cross-entropy
    assert len(tab.series["g_l1"][0]) >= 2 and "g_ce" in tab.series
    assert len(tab.series["psnr"][0]) >= 1 and len(tab.series["gray_psnr"][0]) >= 1
    xs, ys = tab.curves["g_l1"].getData()
    assert len(xs) == len(tab.series["g_l1"][0])
    assert tab.preview.pixmap() is not None and not tab.preview.pixmap().isNull()
    assert tab.progress.value() == tab.progress.maximum() == 4
    runs = list_runs(tab.runs_dir)
    assert [r.state for r in runs] == ["finished"]

    with qtbot.waitSignal(tab.model_added, timeout=30000) as added:
        assert tab.use_model(name="Test style")
    path = added.args[0]
    assert path.parent == user_models_dir() and path.is_file()
    info = read_info(path)
    assert info.name == "Test style" and info.training["steps"] == 4
    assert "psnr" in info.metrics  # the run's validation numbers travel with the model
    load_generator(path)
    picker = window.workspace.controls.model
    labels = [picker.itemText(i) for i in range(picker.count())]
    assert "Test style" in labels
    assert window.workspace.controls.model_path() == path  # and it is selected
    path.unlink()


@pytest.mark.slow
def test_cancel_keeps_a_valid_checkpoint_and_resume_continues(qtbot, tab):
    tab.length.setValue(100000)
    steps = []
    tab.process.event.connect(lambda e: steps.append(e) if e.get("event") == "step" else None)
    with qtbot.waitSignal(tab.run_ended, timeout=180000) as blocker:
        assert tab.start()
        qtbot.waitUntil(lambda: len(steps) >= 1, timeout=120000)
        tab.cancel()
    code, reason = blocker.args
    assert code == 130 and "resumed" in reason
    (run,) = list_runs(tab.runs_dir)
    assert run.state == "resumable"
    state = load_checkpoint(run.path / "checkpoints" / "last.pt")
    assert state["step"] >= 1
    assert tab.resume_button.isEnabled() and "can be resumed" in tab.status.text()

    events = []
    tab.process.event.connect(events.append)
    with qtbot.waitSignal(tab.run_ended, timeout=180000) as blocker:
        assert tab.resume(run.path)
        qtbot.waitUntil(lambda: any(e.get("event") == "step" for e in events), timeout=120000)
        tab.cancel()
    resumed = next(e for e in events if e.get("event") == "resume")
    assert resumed["step"] == state["step"]
    assert blocker.args[0] == 130
    assert load_checkpoint(run.path / "checkpoints" / "last.pt")["step"] > state["step"]


@pytest.mark.slow
def test_pause_stops_the_steps_until_resumed(qtbot, tab):
    tab.length.setValue(100000)
    events = []
    tab.process.event.connect(events.append)
    with qtbot.waitSignal(tab.run_ended, timeout=180000):
        assert tab.start()
        qtbot.waitUntil(lambda: any(e.get("event") == "step" for e in events), timeout=120000)
        tab.toggle_pause()
        qtbot.waitUntil(lambda: tab.pause_button.text() == "Resume", timeout=20000)
        qtbot.wait(300)  # a step in flight may still report
        held = len(events)
        qtbot.wait(1500)
        assert len(events) == held
        tab.toggle_pause()
        qtbot.waitUntil(lambda: tab.pause_button.text() == "Pause", timeout=20000)
        qtbot.waitUntil(lambda: len(events) > held + 1, timeout=60000)
        tab.cancel()


def test_bad_data_is_refused_before_starting(qtbot, window, tmp_path):
    tab = window.train
    tab.runs_dir = tmp_path / "runs"
    tab.color_edit.setText(str(tmp_path / "missing"))
    assert not tab.start()
    assert "Not a folder" in tab.status.text()
    assert not tab.has_unfinished_work()


@pytest.mark.slow
def test_training_error_is_reported(qtbot, tab, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    tab.color_edit.setText(str(empty))
    tab.length.setValue(2)
    with qtbot.waitSignal(tab.run_ended, timeout=120000) as blocker:
        assert tab.start()
    code, reason = blocker.args
    assert code == 1 and "no" in reason.lower()
    assert reason in tab.status.text()


def test_the_tab_shows_the_fine_tuning_defaults(window):
    from colorizer_app.gui.train_settings import FINE_TUNE

    tab = window.train
    assert tab.length.value() == FINE_TUNE.epochs and tab.length_unit.currentText() == "epochs"
    assert tab.batch_size.value() == FINE_TUNE.batch_size
    assert tab.lambda_l1.value() == FINE_TUNE.lambda_l1 and tab.lr.value() == FINE_TUNE.lr
    assert tab.val_fraction.value() == FINE_TUNE.val_fraction
    assert tab.recipe.currentData() == "distribution" and tab.device.currentText() == "auto"
    # the default recipe is the shipped model's: TrainConfig's defaults
    assert (FINE_TUNE.loss, FINE_TUNE.hints, FINE_TUNE.distribution) == ("l1", True, True)


def test_a_new_run_is_a_train_config_written_as_run_json(tab, monkeypatch, tmp_path):
    launched = []
    monkeypatch.setattr(tab.process, "start", launched.append)  # no child process here
    tab.length.setValue(7)
    tab.run_name.setText("My look")
    tab.recipe.setCurrentIndex(tab.recipe.findData("l1"))
    assert tab.start()
    (args,) = launched
    assert args[0] == "--config" and len(args) == 2  # every setting is in the file
    run_file = Path(args[1])
    assert run_file.name == "run.json" and run_file.parent.parent == tab.runs_dir
    config = TrainConfig.from_dict(json.loads(run_file.read_text()))
    assert config == tab.config(run_file.parent, "My look")
    assert config.run_dir == str(run_file.parent) and config.name == "My look"
    assert config.data == tab.color_edit.text() and config.source == "auto"
    assert config.init_from == str(tmp_path / "base.safetensors")
    assert (config.steps, config.image_size, config.batch_size) == (7, 64, 2)
    assert (config.loss, config.val_fraction, config.device) == ("l1", 0.34, "cpu")
    assert not config.hints and not config.distribution  # "L1 only" was chosen
    tab._set_running(False)
    tab.recipe.setCurrentIndex(0)
    assert tab.start()
    default = TrainConfig.from_dict(json.loads(Path(launched[-1][1]).read_text()))
    assert (default.loss, default.hints, default.distribution) == ("l1", True, True)
    assert (config.log_every, config.eval_every, config.checkpoint_every) == (1, 1, 1)
    tab._set_running(False)


def test_the_loss_plot_draws_any_logged_loss(qtbot):
    from colorizer_app.gui.train_plots import TrainPlots

    plots = TrainPlots()
    for widget in plots.widgets():
        qtbot.addWidget(widget)
    for step in (1, 2):  # an MSE run, and a loss this tab has never heard of
        plots.add({"event": "step", "step": step, "g_mse": 0.5 / step, "g_huber": 0.1, "lr": 1})
    plots.add({"event": "eval", "step": 2, "psnr": 21.0, "gray_psnr": 19.0, "ssim": 0.9})
    assert set(plots.curves) == {"g_mse", "g_huber", "psnr", "gray_psnr"}
    xs, ys = plots.curves["g_mse"].getData()
    assert list(xs) == [1.0, 2.0] and list(ys) == [0.5, 0.25]
    loss_items = plots.loss_plot.plotItem.listDataItems()
    assert {item.name() for item in loss_items} == {"G MSE", "G HUBER"}
    plots.clear()
    assert plots.series == {} and plots.curves["g_mse"].getData()[0] is None


def test_a_finished_run_can_be_taken_after_a_restart(qtbot, tab, tmp_path):
    """Choose a finished run under Earlier runs (the app was restarted since): Use This
    Model works on it, without resuming it first."""
    from trainer.loop import train

    photos = Path(tab.color_edit.text())
    run = tab.runs_dir / "20260101-000000-finished"
    train(
        TrainConfig(
            data=str(photos),
            run_dir=str(run),
            image_size=32,
            ngf=4,
            num_downs=5,
            batch_size=2,
            steps=2,
            val_fraction=0.34,
            name="Finished look",
        )
    )
    tab.refresh_runs()
    tab.runs.setCurrentIndex(tab.runs.findData(str(run)))
    assert tab.use_button.isEnabled() and not tab.resume_button.isEnabled()
    with qtbot.waitSignal(tab.model_added, timeout=30000) as added:
        assert tab.use_model(name="Finished look")
    path = added.args[0]
    assert read_info(path).training["steps"] == 2
    path.unlink()


def test_time_left_leaves_out_paused_time_and_a_new_run_never_shows_old_samples(
    tab, monkeypatch, tmp_path
):
    """Issue #15 item 4: after a pause the estimate counted the pause as training time, and a
    new run showed the previous run's sample images until its first validation."""
    from PySide6.QtGui import QPixmap

    from colorizer_app.gui import train_tab

    launched = []
    monkeypatch.setattr(tab.process, "start", launched.append)
    old = QPixmap(40, 20)
    old.fill()
    tab.preview.setPixmap(old)  # the previous run's samples
    assert tab.start()
    assert tab.preview.pixmap().isNull() and "first validation" in tab.preview.text()

    now = [1000.0]
    monkeypatch.setattr(train_tab.time, "monotonic", lambda: now[0])
    tab._on_event({"event": "start", "total_steps": 100, "step": 0, "train_images": 4})
    now[0] += 10
    tab._on_event({"event": "step", "step": 10, "total_steps": 100, "epoch": 1.0})
    assert "about 2 min left" in tab.status.text()  # 1 s a step, 90 to go
    tab._on_event({"event": "paused"})
    now[0] += 600  # ten minutes away from the desk
    tab._on_event({"event": "resumed"})
    now[0] += 10
    tab._on_event({"event": "step", "step": 20, "total_steps": 100, "epoch": 2.0})
    assert "about 1 min left" in tab.status.text()  # 80 s; the pause is not a rate
    tab._set_running(False)


def test_a_fine_tune_worse_than_its_base_is_flagged_before_it_is_used(tab, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    from colorizer_app.gui import train_tab

    run = tab.runs_dir / "20260101-000000-look"
    (run / "checkpoints").mkdir(parents=True)
    (run / "checkpoints" / "last.pt").write_bytes(b"")
    tab.run_dir = run
    scores = {
        "psnr": 22.0,
        "gray_psnr": 23.0,
        "ssim": 0.9,
        "gray_ssim": 0.92,
        "colourfulness": 20.0,
        "truth_colourfulness": 40.0,
    }
    base = {**scores, "psnr": 23.5, "colourfulness": 18.0}
    tab._on_event(
        {"event": "compare", "step": 5, "images": 3, "model": scores, "base": base, "worse": True}
    )
    text = tab.comparison.text()
    assert text.startswith("Your model: -1.00 dB over gray, 50% of the truth's colour; ")
    assert "the base: +0.50 dB over gray, 45%" in text and "(3 held-out photos)" in text
    assert "WARNING" in text
    asked = []
    monkeypatch.setattr(
        train_tab.QMessageBox,
        "question",
        staticmethod(lambda *a: asked.append(a) or QMessageBox.StandardButton.No),
    )
    assert not tab.use_model("Look")  # the user declined
    assert asked and "worse" in asked[0][1]


def test_taking_the_model_of_a_damaged_checkpoint_says_why(qtbot, window, tab, messages):
    """Use This Model on a run whose checkpoint is not one: a one-line reason, no model."""
    import torch

    run = tab.runs_dir / "20260101-000000-damaged"
    (run / "checkpoints").mkdir(parents=True)
    torch.save({"step": 3}, run / "checkpoints" / "last.pt")
    window.tabs.setCurrentWidget(tab)  # a visible tab also says it in a message box
    tab.run_dir = run
    before = sorted(user_models_dir().glob("*.safetensors"))
    assert tab.use_model(name="Damaged")
    qtbot.waitUntil(lambda: bool(messages), timeout=30000)
    qtbot.waitUntil(lambda: tab._export_job is None, timeout=10000)
    ((title, text),) = messages
    assert title == "Cannot export the model" and "\n" not in text
    assert text.startswith(f"{run / 'checkpoints' / 'last.pt'}: not a complete training checkpoint")
    assert tab.status.text() == text
    assert sorted(user_models_dir().glob("*.safetensors")) == before
