"""The colour hints editor in the Colorize tab, driven with mouse and keys (offscreen), on a
tiny hint-capable v3 model and small photos."""

import json
import threading

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("PySide6")
from PySide6.QtCore import QPoint, QPointF, Qt  # noqa: E402
from PySide6.QtGui import QColor  # noqa: E402
from PySide6.QtWidgets import QColorDialog  # noqa: E402

from colorizer_app.engine import hint_edit  # noqa: E402
from colorizer_app.engine.hints import SUFFIX, Hint, load_hints  # noqa: E402
from colorizer_app.gui import workspace as workspace_module  # noqa: E402
from colorizer_app.gui.viewer import Mode  # noqa: E402
from tests.conftest import make_v3_file, smooth_photo  # noqa: E402
from tests.test_gui import open_and_wait  # noqa: E402

W, H = 128, 96


@pytest.fixture
def photo(tmp_path):
    folder = tmp_path / "album"
    folder.mkdir()
    path = folder / "coat.png"
    Image.fromarray(smooth_photo(H, W)).save(path)
    return path


@pytest.fixture
def ws(qtbot, window, tmp_path, photo):
    """The Colorize tab with a v3 model chosen and ``photo`` open."""
    window.workspace.controls.add_model(make_v3_file(tmp_path / "v3.safetensors"))
    open_and_wait(qtbot, window, photo)
    return window.workspace


def at(ws, x, y) -> QPoint:
    """Widget point of photo point (x, y)."""
    return ws.viewer.to_widget(QPointF(x, y)).toPoint()


def idle(qtbot, ws):
    """The live run and its composition are over."""
    qtbot.waitUntil(
        lambda: not ws.hints.timer.isActive() and "colorize" not in ws._jobs, timeout=30000
    )
    qtbot.waitUntil(lambda: "compose" not in ws._jobs, timeout=30000)


def place(qtbot, ws, x, y, rgb=(40, 90, 200)):
    """Click with the tool on, choose ``rgb`` in the popup as a recent colour would be."""
    ws.hint_editor.tool_action.setChecked(True)
    count = len(ws.hint_editor.hints)
    qtbot.mouseClick(ws.viewer, Qt.MouseButton.LeftButton, pos=at(ws, x, y))
    assert ws.hint_editor.popup.isVisible()
    ws.hint_editor.popup.choose(rgb)
    assert len(ws.hint_editor.hints) == count + 1


def test_click_suggested_colour_drag_delete_undo_redo(qtbot, ws, photo):
    editor = ws.hint_editor
    assert editor.tool_action.isEnabled()
    editor.tool_action.setChecked(True)
    qtbot.mouseClick(ws.viewer, Qt.MouseButton.LeftButton, pos=at(ws, 40, 30))
    popup = editor.popup
    assert popup.isVisible() and len(editor.hints) == 0  # nothing placed until a colour
    qtbot.waitUntil(lambda: len(popup.swatches("suggested")) > 0, timeout=30000)
    assert len(popup.swatches("suggested")) == 6
    first = popup.swatches("suggested")[0]
    colour = first.toolTip().split(":")[0]
    qtbot.mouseClick(first, Qt.MouseButton.LeftButton)
    assert len(editor.hints) == 1 and not popup.isVisible()
    hint = editor.hints[0]
    assert abs(hint.x - 40) < 1.5 and abs(hint.y - 30) < 1.5 and hint.color == colour

    # drag the marker to (90, 60), taken 1 px right of its centre (it keeps that offset)
    grab = 1.0
    assert grab * ws.viewer.zoom < 10  # still on the marker
    qtbot.mousePress(ws.viewer, Qt.MouseButton.LeftButton, pos=at(ws, hint.x + grab, hint.y))
    qtbot.mouseMove(ws.viewer, at(ws, 70 + grab, 45))
    qtbot.mouseMove(ws.viewer, at(ws, 90 + grab, 60))
    qtbot.mouseRelease(ws.viewer, Qt.MouseButton.LeftButton, pos=at(ws, 90 + grab, 60))
    moved = editor.hints[0]
    assert abs(moved.x - 90) < 0.5 and abs(moved.y - 60) < 0.5 and moved.color == colour
    assert editor.stack.count() == 2  # add, move

    # hover shows its colour; Delete removes the hovered marker
    qtbot.mouseMove(ws.viewer, at(ws, 91, 60))
    assert editor.hovered == 0 and editor.hover_text.startswith(colour)
    qtbot.keyClick(ws.viewer, Qt.Key.Key_Delete)
    assert len(editor.hints) == 0

    editor.undo_action.trigger()  # the hint is back where it was moved to
    assert len(editor.hints) == 1 and editor.hints[0] == moved
    editor.undo_action.trigger()
    assert abs(editor.hints[0].x - 40) < 1.5
    editor.redo_action.trigger()
    editor.redo_action.trigger()
    assert len(editor.hints) == 0
    assert editor.undo_action.shortcut().toString() == "Ctrl+Z"
    assert editor.redo_action.shortcut().toString() == "Ctrl+Shift+Z"

    # right-click removes too
    editor.undo_action.trigger()
    qtbot.mouseClick(ws.viewer, Qt.MouseButton.RightButton, pos=at(ws, 90, 60))
    assert len(editor.hints) == 0
    idle(qtbot, ws)


def test_wheel_sets_patch_size_in_one_undo_step(qtbot, ws):
    editor = ws.hint_editor
    place(qtbot, ws, 50, 50)
    assert hint_edit.patch_size(editor.hints[0], W, editor.render_width) == 5  # the default
    pos = at(ws, 50, 50)
    zoom = ws.viewer.zoom
    for _ in range(6):
        qtbot.wait(1)
        ws.viewer.wheelEvent(wheel_event(pos, 120))
    assert ws.viewer.zoom == zoom  # the wheel sized the marker, it did not zoom
    assert hint_edit.patch_size(editor.hints[0], W, editor.render_width) == 9  # capped
    for _ in range(12):
        ws.viewer.wheelEvent(wheel_event(pos, -120))
    assert hint_edit.patch_size(editor.hints[0], W, editor.render_width) == 1
    editor.undo_action.trigger()  # all wheel steps on this marker are one edit
    assert editor.hints[0].radius is None and editor.stack.count() == 2
    ws.viewer.wheelEvent(wheel_event(at(ws, 10, 10), 120))  # not over a marker: zoom
    assert ws.viewer.zoom > zoom
    idle(qtbot, ws)


def wheel_event(pos: QPoint, delta: int):
    from PySide6.QtGui import QWheelEvent

    return QWheelEvent(
        QPointF(pos),
        QPointF(pos),
        QPoint(0, 0),
        QPoint(0, delta),
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )


def test_colour_choice_more_recent_result_and_eyedroppers(qtbot, ws, monkeypatch):
    editor, popup = ws.hint_editor, ws.hint_editor.popup
    monkeypatch.setattr(QColorDialog, "getColor", lambda *a, **k: QColor(200, 30, 40))
    editor.tool_action.setChecked(True)
    qtbot.mouseClick(ws.viewer, Qt.MouseButton.LeftButton, pos=at(ws, 30, 30))
    assert popup.swatches("result") == []  # nothing colorized yet
    qtbot.mouseClick(popup.more_button, Qt.MouseButton.LeftButton)
    assert editor.hints[0].color == "#c81e28"
    # the live run made a result; the popup now offers its colour and the recent one
    qtbot.waitUntil(lambda: ws.doc.ab is not None, timeout=30000)
    idle(qtbot, ws)
    qtbot.mouseClick(ws.viewer, Qt.MouseButton.LeftButton, pos=at(ws, 30, 30))  # recolour
    assert [b.toolTip()[:7] for b in popup.swatches("recent")] == ["#c81e28"]
    result = popup.swatches("result")[0].toolTip()[:7]
    hint = editor.hints[0]  # the popup is at the marker
    assert result == "#{:02x}{:02x}{:02x}".format(*ws.hints.result_color(hint.x, hint.y))
    qtbot.mouseClick(popup.swatches("result")[0], Qt.MouseButton.LeftButton)
    assert len(editor.hints) == 1 and editor.hints[0].color == result

    # eyedropper on the result: the next click picks the colour there for a new hint
    qtbot.mouseClick(ws.viewer, Qt.MouseButton.LeftButton, pos=at(ws, 100, 20))
    qtbot.mouseClick(popup.pick_button, Qt.MouseButton.LeftButton)
    assert editor.picking
    idle(qtbot, ws)
    p = ws.viewer.to_image(QPointF(at(ws, 10, 80)))
    expected = ws.hints.result_color(p.x(), p.y())
    qtbot.mouseClick(ws.viewer, Qt.MouseButton.LeftButton, pos=at(ws, 10, 80))
    assert not editor.picking and len(editor.hints) == 2
    assert abs(editor.hints[1].x - 100) < 1.5 and editor.hints[1].rgb() is not None
    assert editor.hints[1].color == "#{:02x}{:02x}{:02x}".format(*expected)
    idle(qtbot, ws)
    # Esc stops the eyedropper (before the window's Esc = Cancel): nothing is placed
    qtbot.mouseClick(ws.viewer, Qt.MouseButton.LeftButton, pos=at(ws, 60, 80))
    qtbot.mouseClick(popup.pick_button, Qt.MouseButton.LeftButton)
    assert escape_overrides_shortcuts(ws.viewer)  # while picking, Esc is the viewer's
    qtbot.keyClick(ws.viewer, Qt.Key.Key_Escape)
    assert not escape_overrides_shortcuts(ws.viewer)  # then the window's Cancel again
    assert not editor.picking
    qtbot.mouseClick(ws.viewer, Qt.MouseButton.LeftButton, pos=at(ws, 10, 80))
    assert len(editor.hints) == 2 and popup.isVisible()  # that click is a new hint's
    popup.hide()


def escape_overrides_shortcuts(widget) -> bool:
    from PySide6.QtCore import QEvent
    from PySide6.QtGui import QKeyEvent
    from PySide6.QtWidgets import QApplication

    event = QKeyEvent(
        QEvent.Type.ShortcutOverride, Qt.Key.Key_Escape, Qt.KeyboardModifier.NoModifier
    )
    event.ignore()
    QApplication.sendEvent(widget, event)
    return event.isAccepted()


def test_eyedropper_from_a_reference_image(qtbot, ws, tmp_path, monkeypatch):
    from colorizer_app.gui.color_popup import ReferencePicker

    reference = tmp_path / "reference.png"
    Image.fromarray(np.full((40, 60, 3), (20, 160, 70), np.uint8)).save(reference)
    picker = ReferencePicker(str(reference))
    qtbot.addWidget(picker)
    assert picker.error == "" and picker.pick(30, 20) == (20, 160, 70)
    qtbot.mouseClick(picker.picture, Qt.MouseButton.LeftButton, pos=QPoint(5, 5))
    assert picker.picked == (20, 160, 70)
    picked = classmethod(lambda cls, parent: ((20, 160, 70), ""))
    monkeypatch.setattr(ReferencePicker, "ask", picked)
    editor = ws.hint_editor
    editor.tool_action.setChecked(True)
    qtbot.mouseClick(ws.viewer, Qt.MouseButton.LeftButton, pos=at(ws, 60, 40))
    qtbot.mouseClick(editor.popup.file_button, Qt.MouseButton.LeftButton)
    assert editor.hints[0].color == "#14a046"
    idle(qtbot, ws)


def test_hints_persist_beside_the_photo(qtbot, window, ws, photo, tmp_path):
    place(qtbot, ws, 20, 20, (200, 40, 40))
    place(qtbot, ws, 100, 70, (40, 200, 40))
    sidecar = photo.with_name(photo.name + SUFFIX)
    saved, _ = load_hints(sidecar, W, H)
    assert [h.color for h in saved] == ["#c82828", "#28c828"]
    assert "beside the photo" in ws.hint_editor.status.text()
    idle(qtbot, ws)
    other = tmp_path / "other.png"
    Image.fromarray(smooth_photo(50, 60)).save(other)
    open_and_wait(qtbot, window, other)
    assert len(ws.hint_editor.hints) == 0 and ws.hint_editor.stack.count() == 0
    open_and_wait(qtbot, window, photo)
    assert ws.hint_editor.hints.snapshot() == saved
    assert "2 hints from" in ws.hint_editor.status.text()
    ws.hint_editor.clear_action.trigger()  # no hints: no file left behind
    assert not sidecar.exists()
    ws.hint_editor.undo_action.trigger()
    assert load_hints(sidecar, W, H)[0] == saved
    idle(qtbot, ws)


def test_a_read_only_folder_keeps_hints_in_the_data_folder(qtbot, window, ws, photo, monkeypatch):
    folder = str(photo.parent)
    real = hint_edit.os.access
    monkeypatch.setattr(
        hint_edit.os, "access", lambda p, mode: False if str(p) == folder else real(p, mode)
    )
    place(qtbot, ws, 20, 20)
    assert not photo.with_name(photo.name + SUFFIX).exists()
    status = ws.hint_editor.status.text()
    assert "app data folder" in status
    fallback = ws.hints.place.fallback
    assert fallback.is_file() and str(fallback) in status
    idle(qtbot, ws)
    open_and_wait(qtbot, window, photo)  # opening again finds them there
    ws.doc = None
    open_and_wait(qtbot, window, photo)
    assert len(ws.hint_editor.hints) == 1
    # the same name with other content is another photo: its hints are not these
    Image.fromarray(smooth_photo(H, W, seed=5)).save(photo)
    ws.doc = None
    open_and_wait(qtbot, window, photo)
    assert len(ws.hint_editor.hints) == 0
    idle(qtbot, ws)


@pytest.mark.parametrize(
    "content",
    [
        "{not json",
        json.dumps({"format": "something-else", "points": []}),
        json.dumps(
            {"format": "colorizer-hints", "version": 1, "width": 500, "height": 100, "hints": []}
        ),  # another image's aspect ratio
    ],
)
def test_a_corrupt_or_foreign_sidecar(qtbot, window, tmp_path, photo, content):
    sidecar = photo.with_name(photo.name + SUFFIX)
    sidecar.write_text(content)
    window.workspace.controls.add_model(make_v3_file(tmp_path / "v3.safetensors"))
    open_and_wait(qtbot, window, photo)
    ws = window.workspace
    assert ws.doc is not None and len(ws.hint_editor.hints) == 0  # the photo opened
    status = ws.hint_editor.status.text()
    assert "cannot be used" in status and str(sidecar) in status
    assert "until you place hints" in status
    ws.colorize()  # colorizing does not touch it either
    idle(qtbot, ws)
    assert sidecar.read_text() == content
    place(qtbot, ws, 30, 30)  # an edit replaces it with a good file
    assert len(load_hints(sidecar, W, H)[0]) == 1
    idle(qtbot, ws)


def test_the_tool_is_off_on_a_model_without_hint_input(qtbot, window, tmp_path, photo):
    ws = window.workspace
    v3 = make_v3_file(tmp_path / "v3.safetensors")
    ws.controls.add_model(v3)
    assert ws.hint_editor.tool_action.isEnabled()
    ws.controls.add_model(tmp_path / "tiny.safetensors")  # the window's v2 model
    open_and_wait(qtbot, window, photo)
    editor = ws.hint_editor
    assert not editor.tool_action.isEnabled()
    button = editor.buttons[editor.tool_action]
    assert not button.isEnabled() and "takes no colour hints" in button.toolTip()
    editor.tool_action.trigger()  # H does nothing either
    qtbot.mouseClick(ws.viewer, Qt.MouseButton.LeftButton, pos=at(ws, 40, 40))
    assert not editor.popup.isVisible() and len(editor.hints) == 0
    ws.controls.add_model(v3)  # back to a model that takes hints
    assert editor.tool_action.isEnabled()
    assert editor.tool_action.toolTip().startswith("Hints tool")


def test_a_hint_placed_during_a_run_gives_no_stale_result(qtbot, ws, monkeypatch):
    """The first run is held until a second hint is placed: its result (one hint) must never
    be shown; the view ends with the result for both hints."""
    real = workspace_module.predict_ab
    gate = threading.Event()
    runs = []

    def held_predict(pixels, runner, settings, progress, *, on_batch=None, hints=None):
        from models.progress import NullProgress

        ab = real(pixels, runner, settings, NullProgress(), hints=hints)  # finishes anyway
        runs.append((len(hints), ab))
        if len(runs) == 1:
            gate.wait(20)
        return ab

    monkeypatch.setattr(workspace_module, "predict_ab", held_predict)
    shown = []
    ws.network_runs.connect(lambda n: shown.append(len(ws.hint_editor.hints)))
    place(qtbot, ws, 20, 20, (220, 30, 30))
    qtbot.waitUntil(lambda: len(runs) == 1, timeout=30000)  # the first run is in flight
    place(qtbot, ws, 100, 70, (30, 30, 220))
    assert ws.doc.ab is None
    gate.set()
    qtbot.waitUntil(lambda: len(runs) == 2, timeout=30000)
    idle(qtbot, ws)
    assert [n for n, _ in runs] == [1, 2]
    assert ws.doc.ab is runs[1][1]  # the result for both hints, never the one-hint result
    assert shown == [2]


def test_markers_keep_their_size_and_show_over_every_view(qtbot, ws):
    editor = ws.hint_editor
    editor.add(64, 48, (250, 0, 250))
    idle(qtbot, ws)

    def colour_at(dx=0):
        centre = at(ws, 64, 48)
        image = ws.viewer.grab().toImage()
        return image.pixelColor(centre.x() + dx, centre.y()).name()

    fill = editor.hints[0].color
    for mode in Mode:
        ws.viewer.set_mode(mode)
        if mode == Mode.SPLIT:
            ws.viewer.set_split(0.5)
        assert colour_at() == fill, mode
    ws.viewer.set_mode(Mode.SPLIT)
    for zoom in (1.0, 8.0, 0.5):
        ws.viewer.zoom_by(zoom)
        assert colour_at(4) == fill  # 4 screen px from the centre: inside at every zoom
        assert colour_at(12) != fill  # 12 px: outside at every zoom
    editor.show_action.setChecked(False)  # hidden
    assert colour_at() != fill
    idle(qtbot, ws)


def test_confidence_view_shades_by_uncertainty(qtbot, ws):
    ws.viewer.set_mode(Mode.CONFIDENCE)
    qtbot.waitUntil(lambda: Mode.CONFIDENCE in ws.viewer._layers, timeout=30000)
    shaded = ws.viewer.grab().toImage()
    ws.viewer.set_mode(Mode.ORIGINAL)
    original = ws.viewer.grab().toImage()
    c = QPoint(ws.viewer.width() // 2, ws.viewer.height() // 2)
    assert shaded.pixelColor(c) != original.pixelColor(c)
    # a hint changes the distribution: shown, the shading is made again after the run
    ws.viewer.set_mode(Mode.CONFIDENCE)
    qtbot.waitUntil(lambda: Mode.CONFIDENCE in ws.viewer._layers, timeout=30000)
    before = ws.viewer._layers[Mode.CONFIDENCE]
    ws.hint_editor.add(64, 48, (30, 200, 30))
    qtbot.waitUntil(lambda: ws.viewer._layers.get(Mode.CONFIDENCE) not in (None, before))
    idle(qtbot, ws)
    # not shown: dropped at once, made when shown again
    ws.viewer.set_mode(Mode.COLORIZED)
    ws.hint_editor.undo_action.trigger()
    assert Mode.CONFIDENCE not in ws.viewer._layers
    idle(qtbot, ws)


def test_confidence_shading_is_blue_when_sure_red_when_not():
    from colorizer_app.gui.confidence import shade, stretch

    photo = np.full((4, 6, 3), 200, np.uint8)
    sure = shade(photo, np.zeros((2, 3), np.float32))
    unsure = shade(photo, np.ones((2, 3), np.float32))
    assert sure.shape == photo.shape and sure.dtype == np.uint8
    assert sure[0, 0, 2] > sure[0, 0, 0] and unsure[0, 0, 0] > unsure[0, 0, 2]
    u = np.linspace(0.6, 0.9, 101, dtype=np.float32).reshape(1, -1)
    relative, (low, high) = stretch(u)
    assert relative.min() == 0 and relative.max() == 1 and 0.6 < low < high < 0.9
    assert stretch(np.full((3, 3), 0.7, np.float32))[0].max() == 0  # flat: all "surest"


def test_hint_list_and_place_without_qt(tmp_path):
    hints = hint_edit.HintList()
    a, b = Hint.from_rgb(1, 1, (255, 0, 0)), Hint.from_rgb(10, 10, (0, 0, 255))
    hints.insert(0, a)
    hints.insert(1, b)
    assert hints.nearest(9, 9, 3) == 1 and hints.nearest(5, 5, 2) is None
    assert hint_edit.moved(a, -5, 500, 20, 30) == Hint(0.0, 29.5, a.a, a.b, None, a.color)
    big = hint_edit.with_patch_size(a, 40, 2000, 400)
    assert hint_edit.patch_size(big, 2000, 400) == 9
    photo = tmp_path / "p.png"
    Image.fromarray(smooth_photo(20, 30)).save(photo)
    where = hint_edit.HintPlace.of(photo, tmp_path / "data")
    assert where.load(30, 20).path is None
    assert where.save(hints.snapshot(), 30, 20) == where.sidecar
    assert where.load(30, 20).hints == [a, b]

    from colorizer_app.engine.batch import note_hints, plan
    from colorizer_app.engine.hints import count_hints
    from colorizer_app.engine.listing import collect_inputs

    assert count_hints(where.sidecar) == 2
    found = collect_inputs([tmp_path])
    with_hints = plan(found, tmp_path / "out")
    note_hints(with_hints)
    assert with_hints[0].hints == where.sidecar and with_hints[0].hint_note == "2 hints"
    assert plan(found, tmp_path / "out", sidecars=False)[0].hints is None


def test_batch_uses_hints_placed_in_the_editor_unless_turned_off(qtbot, window, ws, photo):
    from tests.test_gui_batch import run_and_wait, scan_and_wait

    place(qtbot, ws, 20, 20, (200, 40, 40))
    place(qtbot, ws, 100, 70, (40, 200, 40))
    place(qtbot, ws, 60, 40, (40, 40, 200))
    idle(qtbot, ws)
    (photo.parent / "broken.png.hints.json").write_text("{oops")
    Image.fromarray(smooth_photo(40, 50)).save(photo.parent / "broken.png")
    Image.fromarray(smooth_photo(40, 50)).save(photo.parent / "plain.png")
    tab = window.batch
    tab.controls.add_model(ws.controls.model_path())
    tab.input_edit.setText(str(photo.parent))
    tab.output_edit.setText(str(photo.parent.with_name("out")))
    scan_and_wait(qtbot, tab)

    def details():
        return {tab.table.item(r, 0).text(): tab.table.item(r, 2).text() for r in range(3)}

    listed = details()  # at scan time, before any run
    assert listed["coat.png"].startswith("3 hints; ")
    assert listed["broken.png"].startswith("hint file unusable: ")
    assert listed["plain.png"] == str(photo.parent.with_name("out") / "plain.png")
    summary = run_and_wait(qtbot, tab)
    used = {r.source.name: r.hints for r in summary.results}
    assert used["coat.png"] == 3 and used["plain.png"] == 0
    assert {r.source.name: r.status for r in summary.results}["broken.png"] == "failed"

    with qtbot.waitSignal(tab.scanned, timeout=10000):
        tab.use_hints.setChecked(False)  # rescans
    assert not any(text.startswith(("3 hints", "hint file")) for text in details().values())
    tab.overwrite.setChecked(True)
    summary = run_and_wait(qtbot, tab)
    assert [r.hints for r in summary.results] == [0, 0, 0]
    assert all(r.status == "done" for r in summary.results)


def test_switching_photos_mid_run_keeps_the_hints_and_shows_no_old_result(
    qtbot, window, ws, photo, tmp_path
):
    other = tmp_path / "other.png"
    Image.fromarray(smooth_photo(50, 60)).save(other)
    place(qtbot, ws, 30, 30)
    assert ws.hints.timer.isActive() or "colorize" in ws._jobs  # a run is due or going
    open_and_wait(qtbot, window, other)
    idle(qtbot, ws)
    assert ws.doc.ab is None and not ws.hint_editor.hints.snapshot()  # nothing of coat.png
    assert len(load_hints(photo.with_name(photo.name + SUFFIX), W, H)[0]) == 1  # saved
    place(qtbot, ws, 20, 20)
    window.close()  # mid-run or with a run due: closes, nothing left running
    assert len(load_hints(other.with_name(other.name + SUFFIX), 60, 50)[0]) == 1


def test_keyboard_h_undo_redo_in_the_colorize_tab_only(qtbot, window, ws):
    window.activateWindow()
    ws.viewer.setFocus()
    qtbot.waitUntil(window.isActiveWindow)
    editor = ws.hint_editor
    qtbot.keyClick(ws.viewer, Qt.Key.Key_H)
    assert editor.active
    editor.add(30, 30, (200, 0, 0))
    ctrl, shift = Qt.KeyboardModifier.ControlModifier, Qt.KeyboardModifier.ShiftModifier
    qtbot.keyClick(ws.viewer, Qt.Key.Key_Z, ctrl)
    assert len(editor.hints) == 0
    qtbot.keyClick(ws.viewer, Qt.Key.Key_Z, ctrl | shift)
    assert len(editor.hints) == 1
    window.tabs.setCurrentWidget(window.batch)  # Ctrl+Z there is not a hint edit
    window.batch.input_edit.setFocus()
    qtbot.keyClick(window.batch.input_edit, Qt.Key.Key_Z, ctrl)
    assert len(editor.hints) == 1
    idle(qtbot, ws)


def test_recent_colours_and_marker_visibility_are_remembered(qtbot, window, ws, tmp_path):
    from PySide6.QtCore import QSettings

    ws.hint_editor.add(10, 10, (1, 2, 3))
    ws.hint_editor.add(20, 20, (250, 100, 0))
    ws.hint_editor.show_action.setChecked(False)
    store = QSettings(str(tmp_path / "remember.ini"), QSettings.Format.IniFormat)
    ws.save_settings(store)
    store.setValue("hints/recent", ["#fa6400", "not a colour", "#010203"])
    ws.hint_editor.recent = []
    ws.hint_editor.show_action.setChecked(True)
    ws.restore_settings(store)
    assert ws.hint_editor.recent == [(250, 100, 0), (1, 2, 3)]
    assert not ws.hint_editor.show_action.isChecked()
    idle(qtbot, ws)


def test_a_hint_change_stops_colouring_the_old_result(qtbot, ws, monkeypatch):
    """The display levels of the last result are coloured on a worker after it is shown; a
    new hint makes them worthless, and on a big photo they would slow the new run down: the
    change stops them, and the view gets the new result's levels."""
    real = workspace_module.compose
    gate, composing = threading.Event(), threading.Event()

    def slow_compose(pixels, ab, strength, progress=None):
        if progress is not None:  # a display level, on the worker
            composing.set()
            while not gate.wait(0.01):
                progress.check_cancelled()  # as the real compose does between strips
        return real(pixels, ab, strength, progress=progress)

    monkeypatch.setattr(workspace_module, "compose", slow_compose)
    place(qtbot, ws, 20, 20, (220, 30, 30))
    qtbot.waitUntil(composing.is_set, timeout=30000)  # the levels of the first result
    first = ws._jobs["compose"]
    cancelled = []
    monkeypatch.setattr(
        first, "cancel", lambda real_cancel=first.cancel: (cancelled.append(True), real_cancel())[1]
    )
    place(qtbot, ws, 100, 70, (30, 30, 220))
    assert cancelled  # stopped at the change, not when the new result arrives
    gate.set()
    idle(qtbot, ws)
    assert len(ws.doc.colorized) == len(ws.doc.display.levels) + 1  # thumbnail + every level
