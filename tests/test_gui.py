"""The colorize workspace, offscreen, with a tiny random-weight generator."""

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("PySide6")
from PySide6.QtCore import QMimeData, QPointF, QSettings, QStandardPaths, Qt, QUrl  # noqa: E402
from PySide6.QtGui import QDropEvent  # noqa: E402

from colorizer_app.engine.imageio import read_image  # noqa: E402
from colorizer_app.engine.pipeline import render_luminance  # noqa: E402
from colorizer_app.gui.main_window import MainWindow  # noqa: E402
from colorizer_app.gui.viewer import Mode  # noqa: E402
from colorizer_app.paths import sample_photo  # noqa: E402
from tests.conftest import smooth_photo  # noqa: E402


def open_and_wait(qtbot, win, path):
    win.open_path(path)
    qtbot.waitUntil(
        lambda: win.workspace.doc is not None and win.workspace.doc.path == path, timeout=20000
    )


def drop(win, path):
    """Drop ``path`` on the window as a file manager would."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    event = QDropEvent(
        QPointF(10, 10),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    win.dropEvent(event)


def colorize_and_wait(qtbot, win):
    ws = win.workspace
    with qtbot.waitSignal(ws.network_runs, timeout=60000):
        ws.colorize()
    qtbot.waitUntil(lambda: "compose" not in ws._jobs, timeout=20000)


def test_open_colorize_differs_from_input(qtbot, window):
    open_and_wait(qtbot, window, sample_photo())
    ws = window.workspace
    colorize_and_wait(qtbot, window)
    assert ws.doc.ab is not None
    coarsest = len(ws.doc.display.levels) - 1
    original = ws.doc.display.levels[-1]
    colored = ws.doc.colorized[coarsest]
    assert np.abs(colored.astype(int) - original).mean() > 1.0
    assert ws.controls.device_used.text().startswith("cpu")
    assert ws.viewer.mode == Mode.COLORIZED


def start_a_long_run(qtbot, window, tmp_path):
    """Colorize a 3 MP photo at full resolution and wait until its first tile is done."""
    big = tmp_path / "big.png"
    Image.fromarray(smooth_photo(1500, 2000)).save(big)
    open_and_wait(qtbot, window, big)
    ws = window.workspace
    ws.controls.render.setCurrentText("full")
    progressed = []
    ws.progress.valueChanged.connect(progressed.append)
    ws.colorize()
    qtbot.waitUntil(lambda: bool(progressed) and progressed[-1] >= 1, timeout=30000)
    return ws


def test_cancel_mid_run_leaves_no_thread(qtbot, window, tmp_path):
    ws = start_a_long_run(qtbot, window, tmp_path)
    ws.cancel()
    qtbot.waitUntil(lambda: not ws.busy(), timeout=30000)
    assert ws.doc.ab is None and ws.colorize_button.isEnabled()
    assert ws.eta.text() == "cancelled"


def test_split_line_changes_the_composite(qtbot, window):
    open_and_wait(qtbot, window, sample_photo())
    colorize_and_wait(qtbot, window)
    viewer = window.workspace.viewer
    viewer.set_mode(Mode.SPLIT)
    viewer.set_split(0.9)
    left = viewer.grab().toImage()
    viewer.set_split(0.1)
    right = viewer.grab().toImage()
    x, y = int(viewer.width() * 0.5), int(viewer.height() * 0.5)
    assert left.pixelColor(x, y) != right.pixelColor(x, y)
    # dragging the handle moves the line
    qtbot.mousePress(
        viewer, Qt.MouseButton.LeftButton, pos=QPointF(viewer.width() * 0.1, 50).toPoint()
    )
    qtbot.mouseMove(viewer, QPointF(viewer.width() * 0.6, 50).toPoint())
    qtbot.mouseRelease(
        viewer, Qt.MouseButton.LeftButton, pos=QPointF(viewer.width() * 0.6, 50).toPoint()
    )
    assert viewer.split == pytest.approx(0.6, abs=0.02)


def test_l_preview_is_the_engines_l(qtbot, window):
    ws = window.workspace
    ws.controls.render.setCurrentText("256")
    open_and_wait(qtbot, window, sample_photo())
    qtbot.waitUntil(lambda: "luminance" not in ws._jobs, timeout=20000)
    layer = ws.viewer._layers[Mode.LUMINANCE]
    shown = layer._levels[0][0][..., 0].astype(float)
    expected = render_luminance(read_image(sample_photo()).pixels, 256) * 2.55
    assert shown.shape == expected.shape == (256, 256)
    assert np.abs(shown - expected).max() <= 0.5 + 1e-6


def test_drag_and_drop_opens(qtbot, window, tmp_path):
    photo = tmp_path / "dropped.jpg"
    Image.fromarray(smooth_photo(100, 150)).save(photo)
    drop(window, photo)
    qtbot.waitUntil(
        lambda: window.workspace.doc is not None and window.workspace.doc.path == photo,
        timeout=20000,
    )
    assert "dropped.jpg" in window.windowTitle()


def test_bad_file_shows_an_error_and_keeps_the_photo(qtbot, window, tmp_path, messages):
    open_and_wait(qtbot, window, sample_photo())
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    window.open_path(bad)
    qtbot.waitUntil(lambda: bool(messages), timeout=20000)
    assert "broken.jpg" in messages[0][1]
    assert window.workspace.doc.path == sample_photo()


def test_failing_model_reports_and_app_keeps_running(qtbot, window, tmp_path, messages):
    open_and_wait(qtbot, window, sample_photo())
    bad_model = tmp_path / "bad.safetensors"
    bad_model.write_bytes(b"garbage" * 10)
    ws = window.workspace
    ws.controls._extra_models.append(bad_model)
    ws.controls.refresh_models()
    ws.controls.model.addItem("bad", str(bad_model))
    ws.controls.model.setCurrentIndex(ws.controls.model.count() - 1)
    ws.colorize()
    qtbot.waitUntil(lambda: bool(messages), timeout=20000)
    assert messages[0][0] == "The model could not be used"
    assert "bad.safetensors" in messages[0][1]
    assert ws.controls.model_path() == ws.controls.default_entry().path
    assert ws.colorize_button.isEnabled() and not ws.busy()


def _colorize_until_a_message(qtbot, ws, messages):
    ws.colorize()
    qtbot.waitUntil(lambda: bool(messages), timeout=30000)
    qtbot.waitUntil(lambda: not ws.busy(), timeout=20000)
    return messages[0]


def test_nan_during_inference_keeps_the_chosen_model(
    qtbot, window, tiny_model_file, messages, monkeypatch
):
    """NaN in the output (fp16 overflowing on a GPU) is not the model file's fault: the app
    says so and keeps the user's model, although "model" is all over the message."""
    import torch

    ws = window.workspace
    assert ws.controls.default_entry() is not None  # something to switch back to
    assert ws.controls.model_path() == tiny_model_file
    open_and_wait(qtbot, window, sample_photo())
    monkeypatch.setattr(torch.nn.Tanh, "forward", lambda self, x: x * float("nan"))
    title, text = _colorize_until_a_message(qtbot, ws, messages)
    assert title == "Colorization failed"
    assert "the model produced NaN/Inf values" in text and "default" not in text
    assert ws.controls.model_path() == tiny_model_file


def test_an_unexpected_error_mentioning_the_model_keeps_the_chosen_model(
    qtbot, window, tiny_model_file, messages, monkeypatch
):
    from colorizer_app.gui import workspace

    def broken(*args, **kwargs):
        raise RuntimeError("model\nexploded")

    monkeypatch.setattr(workspace, "predict_ab", broken)
    open_and_wait(qtbot, window, sample_photo())
    title, text = _colorize_until_a_message(qtbot, window.workspace, messages)
    assert title == "Colorization failed"
    assert text == "unexpected error: RuntimeError: model exploded"  # one line
    assert window.workspace.controls.model_path() == tiny_model_file


def test_a_model_file_gone_bad_switches_back_to_the_default(
    qtbot, window, tiny_model_file, messages
):
    """The one failure that is the model file's: a ModelFileError, by type (here the chosen
    file was replaced by a hostile one after it was picked)."""
    from tests.hostile import CASES

    ws = window.workspace
    default = ws.controls.default_entry()
    assert default is not None
    open_and_wait(qtbot, window, sample_photo())
    _, make, _ = next(c for c in CASES if c[0] == "ngf-2**20")
    good = tiny_model_file.with_name("copy.safetensors")
    good.write_bytes(tiny_model_file.read_bytes())
    make(good, tiny_model_file)
    title, text = _colorize_until_a_message(qtbot, ws, messages)
    assert title == "The model could not be used"
    assert str(tiny_model_file) in text and "ngf must be in [1, 512]" in text
    assert text.endswith("Switching back to the default model.")
    assert ws.controls.model_path() == default.path


def test_worker_failures_carry_the_exception_object(qtbot):
    from PySide6.QtCore import QObject

    from colorizer_app.gui import workers
    from models.errors import InferenceError

    owner, seen = QObject(), []
    error = InferenceError("the model produced NaN/Inf values (fp16 on cuda)")

    def job(progress, emit):
        raise error

    workers.start(job, "failing", owner, failed=seen.append)
    qtbot.waitUntil(lambda: bool(seen), timeout=10000)
    assert seen == [error] and isinstance(seen[0], InferenceError)
    assert workers.describe(seen[0]) == str(error)
    assert workers.describe(MemoryError()).startswith("out of memory")
    assert workers.describe(KeyError("x")) == "unexpected error: KeyError: 'x'"


def test_strength_change_does_not_rerun_the_network(qtbot, window):
    open_and_wait(qtbot, window, sample_photo())
    ws = window.workspace
    colorize_and_wait(qtbot, window)
    runs = ws._run_count
    from colorizer_app.gui.workspace import THUMB

    before = ws.doc.colorized[THUMB].copy()
    ws.controls.strength.setValue(200)
    after = ws.doc.colorized[THUMB]
    assert not np.array_equal(before, after)  # applied at once, on the cached a,b
    ws.controls.strength.setValue(0)
    gray = ws.doc.colorized[THUMB].astype(int)
    assert np.abs(gray - ws.doc.thumb).max() <= 2
    qtbot.waitUntil(lambda: "compose" not in ws._jobs, timeout=20000)
    assert ws._run_count == runs == 1


def test_save_as_and_original_protection(qtbot, window, tmp_path, messages):
    src = tmp_path / "orig.png"
    Image.fromarray(smooth_photo(300, 400)).save(src)
    original_bytes = src.read_bytes()
    open_and_wait(qtbot, window, src)
    colorize_and_wait(qtbot, window)
    ws = window.workspace
    out = tmp_path / "out.tif"
    ws.save_as(out)
    qtbot.waitUntil(lambda: out.exists() and "save" not in ws._jobs, timeout=20000)
    saved = read_image(out)
    assert saved.pixels.shape == (300, 400, 3)
    ws.save_as(src)  # the confirmation is answered Cancel
    assert messages and "original" in messages[-1][1]
    assert src.read_bytes() == original_bytes
    assert ws.copy_to_clipboard()


def test_settings_persist(qtbot, tmp_path, tiny_model_file):
    QStandardPaths.setTestModeEnabled(True)
    path = str(tmp_path / "s.ini")
    win = MainWindow(QSettings(path, QSettings.Format.IniFormat))
    qtbot.addWidget(win)
    win.workspace.controls.render.setCurrentText("1024")
    win.workspace.controls.strength.setValue(130)
    win.close()
    again = MainWindow(QSettings(path, QSettings.Format.IniFormat))
    qtbot.addWidget(again)
    assert again.workspace.controls.render.currentText() == "1024"
    assert again.workspace.controls.strength.value() == 130
    # a remembered size is not silent: the note says what it costs against the recommendation
    note = again.workspace.controls.render_note.text()
    assert "the work of 384, recommended by this model" in note


def test_choosing_a_model_applies_its_recommended_settings(qtbot, window, tmp_path):
    from colorizer_app.engine.pipeline import DEFAULT_RENDER_SIZE, DEFAULT_STRENGTH
    from tests.conftest import make_generator_file

    controls = window.workspace.controls
    bold = make_generator_file(
        tmp_path / "bold.safetensors", recommended={"render_size": 512, "strength": 0.8}
    )
    plain = make_generator_file(tmp_path / "plain.safetensors")  # recommends nothing
    controls.add_model(bold)
    assert controls.render.currentText() == "512" and controls.strength.value() == 80
    assert controls.settings().strength == 0.8
    controls.strength.setValue(120)  # the user's choice stands until another model is chosen
    controls.refresh_models()
    assert controls.strength.value() == 120
    controls.add_model(plain)
    assert controls.render.currentText() == str(DEFAULT_RENDER_SIZE)
    assert controls.strength.value() == round(DEFAULT_STRENGTH * 100)
    controls.model.setCurrentIndex(controls.model.findData(str(bold)))  # picked in the list
    assert controls.strength.value() == 80


def test_the_render_size_says_what_it_costs_and_what_the_model_recommends(window, tmp_path):
    """Issue #15 item 3: "full" was remembered across restarts without a word."""
    from colorizer_app.gui.controls import render_cost
    from tests.conftest import make_generator_file

    controls = window.workspace.controls
    controls.add_model(
        make_generator_file(tmp_path / "m.safetensors", recommended={"render_size": 384})
    )
    assert controls.render_note.text() == "384 recommended by this model"
    controls.render.setCurrentText("full")
    assert "many times slower than 384" in controls.render_note.text()
    assert "tuned at 384" in controls.render_note.text()
    controls.render.setCurrentText("768")
    assert controls.render_note.text() == "about 4.0x the work of 384, recommended by this model"
    controls.render.setCurrentText("256")
    assert "faster than 384" in controls.render_note.text()
    assert render_cost(None, 384)[1] and render_cost(1024, 384)[1]  # warnings
    assert not render_cost(384, 384)[1] and not render_cost(512, 384)[1]


def test_a_v3_model_is_read_with_its_decoder_and_temperature(qtbot, window, tmp_path):
    from tests.conftest import make_generator_file, make_v3_file

    controls = window.workspace.controls
    v3 = make_v3_file(
        tmp_path / "v3.safetensors", recommended={"decoder": "annealed_mean", "temperature": 0.3}
    )
    controls.add_model(v3)
    settings = controls.settings()
    assert (settings.decoder, settings.temperature) == ("annealed_mean", 0.3)
    controls.add_model(make_generator_file(tmp_path / "v2.safetensors"))
    assert controls.settings().decoder == "auto"  # a v2 model: back to the app's default


def test_shutdown_with_a_running_worker_does_not_wait_out_its_timeout(qtbot, window, tmp_path):
    """Closing the window cancels the jobs and waits for their threads: the thread must quit
    as soon as its worker ends, not when the (blocked) GUI thread gets to a queued quit."""
    import time

    from colorizer_app.gui import workers

    ws = start_a_long_run(qtbot, window, tmp_path)
    started = time.monotonic()
    ws.shutdown(timeout_ms=10000)
    waited = time.monotonic() - started
    assert not workers.live_threads()
    assert waited < 5.0  # was the whole 10 s timeout per thread (a queued quit)


def test_colorize_uses_the_photos_hint_file(qtbot, window, tmp_path):
    import json

    from tests.conftest import make_v3_file

    photo = tmp_path / "dress.png"
    Image.fromarray(smooth_photo(60, 80)).save(photo)
    hints = [{"x": 10, "y": 10, "color": "#2e6b3a"}, {"x": 50, "y": 30, "color": "#b04a2f"}]
    (tmp_path / "dress.png.hints.json").write_text(
        json.dumps(
            {"format": "colorizer-hints", "version": 1, "width": 80, "height": 60, "hints": hints}
        )
    )
    window.workspace.controls.add_model(make_v3_file(tmp_path / "v3.safetensors"))
    open_and_wait(qtbot, window, photo)
    colorize_and_wait(qtbot, window)
    assert (
        "2 colour hint(s) from dress.png.hints.json" in window.workspace.controls.device_used.text()
    )


def test_browsing_to_a_bad_model_file_says_why(qtbot, window, tmp_path, messages, monkeypatch):
    from PySide6.QtWidgets import QFileDialog

    bad = tmp_path / "broken.safetensors"
    bad.write_bytes(b"not a model at all")
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(bad), ""))
    controls = window.workspace.controls
    before = [controls.model.itemText(i) for i in range(controls.model.count())]
    controls._on_browse()
    ((title, text),) = messages
    assert title == "Not a usable model" and "broken.safetensors" in text
    assert [controls.model.itemText(i) for i in range(controls.model.count())] == before


def test_two_models_of_one_name_are_told_apart_by_file(qtbot, window, tmp_path):
    from tests.conftest import make_generator_file

    controls = window.workspace.controls
    for name in ("a", "b"):  # both are called "tiny" inside
        controls.add_model(make_generator_file(tmp_path / f"{name}.safetensors"))
    labels = [controls.model.itemText(i) for i in range(controls.model.count())]
    assert "tiny (a.safetensors)" in labels and "tiny (b.safetensors)" in labels


def test_the_mode_bar_shows_the_mode_and_mirrors_the_view_menu(qtbot, window):
    """Issue #15: nothing showed which view mode is active."""
    ws = window.workspace
    actions = ws.modes.actions
    view_menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&View")
    assert all(action in view_menu.actions() for action in actions.values())  # one set
    open_and_wait(qtbot, window, sample_photo())
    assert actions[Mode.ORIGINAL].isChecked()
    assert not actions[Mode.COLORIZED].isEnabled() and not actions[Mode.SPLIT].isEnabled()
    actions[Mode.LUMINANCE].trigger()
    assert ws.viewer.mode == Mode.LUMINANCE and actions[Mode.LUMINANCE].isChecked()
    colorize_and_wait(qtbot, window)  # the run switches to Colorized by itself
    assert actions[Mode.COLORIZED].isChecked() and not actions[Mode.ORIGINAL].isChecked()
    assert actions[Mode.SPLIT].isEnabled()
    qtbot.keyClick(ws.viewer, Qt.Key.Key_4)  # the shortcut
    assert ws.viewer.mode == Mode.SPLIT and actions[Mode.SPLIT].isChecked()
    assert [a.isChecked() for a in actions.values()].count(True) == 1


def test_open_and_save_start_in_the_users_folders_and_the_sample_stays_out_of_recent(
    qtbot, window, tmp_path
):
    from colorizer_app.gui.workspace_parts import pictures_folder

    assert window.open_folder() == str(pictures_folder())  # not the install folder
    open_and_wait(qtbot, window, sample_photo())
    assert window._recent() == [] and window.open_folder() == str(pictures_folder())
    assert not window.recent_menu.isEnabled()
    photos = tmp_path / "album"
    photos.mkdir()
    photo = photos / "grandma.png"
    Image.fromarray(smooth_photo(60, 80)).save(photo)
    open_and_wait(qtbot, window, photo)
    assert window.open_folder() == str(photos) and window._recent() == [str(photo)]
    ws = window.workspace
    assert ws.save_suggestion() == photos / "grandma-colorized.png"  # first: beside it
    colorize_and_wait(qtbot, window)
    saved = tmp_path / "colorized" / "mine.png"
    saved.parent.mkdir()
    ws.save_as(saved)
    qtbot.waitUntil(lambda: saved.exists() and "save" not in ws._jobs, timeout=20000)
    assert ws.save_suggestion() == saved.parent / "grandma-colorized.png"  # then: last used


def test_a_dropped_folder_is_offered_to_the_batch_tab(qtbot, window, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    folder = tmp_path / "scans"
    folder.mkdir()
    Image.fromarray(smooth_photo(40, 60)).save(folder / "a.png")
    asked = []
    monkeypatch.setattr(
        QMessageBox,
        "question",
        lambda *a, **k: asked.append(a) or QMessageBox.StandardButton.Yes,
    )
    drop(window, folder)
    assert asked and "Batch" in asked[0][2]
    assert window.tabs.currentWidget() is window.batch
    assert window.batch.input_edit.text() == str(folder)
    assert window.batch.output_edit.text() == str(tmp_path / "scans_colorized")
    qtbot.waitUntil(lambda: not window.batch.scanning, timeout=10000)


def test_a_result_from_another_model_or_size_is_marked_stale(qtbot, window, tmp_path):
    from tests.conftest import make_generator_file

    ws = window.workspace
    open_and_wait(qtbot, window, sample_photo())
    colorize_and_wait(qtbot, window)
    assert ws.stale.text() == ""
    other = make_generator_file(tmp_path / "other.safetensors", seed=3)
    first = ws.controls.model_path()
    ws.controls.add_model(other)  # selects it
    assert "another model or render size" in ws.stale.text() and first.name in ws.stale.text()
    ws.controls.model.setCurrentIndex(ws.controls.model.findData(str(first)))
    assert ws.stale.text() == ""  # back to what made it
    ws.controls.render.setCurrentText("512")
    assert ws.stale.text() != ""
    colorize_and_wait(qtbot, window)
    assert ws.stale.text() == ""


def test_a_run_that_will_take_minutes_asks_first(qtbot, window, tmp_path, monkeypatch):
    ws = window.workspace
    big = tmp_path / "big.png"
    Image.fromarray(smooth_photo(1500, 2000)).save(big)
    open_and_wait(qtbot, window, big)
    asked = []
    monkeypatch.setattr(ws, "confirm", lambda title, text: asked.append(text) or False)
    ws._tile_seconds = 2.0  # a slow machine, as measured by an earlier run
    ws.controls.render.setCurrentText("full")
    ws.colorize()
    assert asked and "render size full" in asked[0] and "recommended by this model" in asked[0]
    assert "colorize" not in ws._jobs  # declined: nothing started
    ws.controls.render.setCurrentText(str(ws.controls.recommended_render()))
    asked.clear()
    colorize_and_wait(qtbot, window)  # the recommended size never asks
    assert not asked


def test_opening_a_multi_page_tiff_says_only_the_first_page_is_used(qtbot, window, tmp_path):
    import tifffile

    path = tmp_path / "pages.tif"
    with tifffile.TiffWriter(path) as tif:
        for seed in range(2):
            tif.write(smooth_photo(40, 60, seed=seed))
    open_and_wait(qtbot, window, path)
    info = window.workspace.info.text()
    assert info == "pages.tif: 60x40, 8-bit gray\nmulti-page TIFF: first page of 2 only"
