"""The Batch tab, offscreen: the engine's batch runner behind a file list."""

import csv
from pathlib import Path

import pytest
from PIL import Image

pytest.importorskip("PySide6")

from PySide6.QtCore import Qt  # noqa: E402

from colorizer_app.engine.batch import FileResult  # noqa: E402
from colorizer_app.engine.imageio import read_image  # noqa: E402
from colorizer_app.gui.batch_job import duration, progress_text, time_left  # noqa: E402
from tests.conftest import leftover_temps, smooth_photo  # noqa: E402


def snapshot(folder):
    return {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def run_and_wait(qtbot, tab, timeout=60000):
    with qtbot.waitSignal(tab.finished, timeout=timeout) as blocker:
        assert tab.start(confirm=False)
    qtbot.waitUntil(lambda: not tab.has_unfinished_work(), timeout=10000)
    return blocker.args[0]


def scan_and_wait(qtbot, tab):
    with qtbot.waitSignal(tab.scanned, timeout=10000):
        tab.scan()


def statuses(tab):
    return {tab.table.item(r, 0).text(): tab.status_of(r) for r in range(tab.table.rowCount())}


def test_batch_with_a_corrupt_file_then_resume(qtbot, window, album, tmp_path):
    tab = window.batch
    out = tmp_path / "out"
    before = snapshot(album)
    tab.input_edit.setText(str(album))
    tab.output_edit.setText(str(out))
    tab.recursive.setChecked(True)
    tab.controls.render.setCurrentText("256")

    summary = run_and_wait(qtbot, tab)
    assert summary.line() == "3 done, 0 skipped, 1 failed; 1 file not taken: unsupported type .txt"
    assert statuses(tab) == {
        "1930s/scan16.tif": "done",
        "broken.jpg": "failed",
        "cutout.png": "done",
        "wedding.jpg": "done",
    }
    row = next(
        r for r in range(tab.table.rowCount()) if tab.table.item(r, 0).text() == "broken.jpg"
    )
    assert "truncated" in tab.table.item(row, 2).text()
    assert "3 done, 0 skipped, 1 failed; 1 file not taken" in tab.summary.text()
    assert snapshot(album) == before  # originals untouched, nothing written into the input
    assert read_image(out / "1930s" / "scan16.tif").bit_depth == 16
    rows = list(csv.DictReader(tab.report_path.open()))
    assert sorted(r["status"] for r in rows) == ["done", "done", "done", "failed", "not taken"]
    assert tab.progress.value() == tab.progress.maximum()

    # a second run resumes: what exists is skipped, not redone
    stamp = (out / "wedding.jpg").stat().st_mtime_ns
    summary = run_and_wait(qtbot, tab)
    assert summary.line().startswith("0 done, 3 skipped, 1 failed; 1 file not taken")
    assert statuses(tab)["wedding.jpg"] == "skipped"
    assert (out / "wedding.jpg").stat().st_mtime_ns == stamp


def scans_in_tab(tab, tmp_path, count, height, width, name):
    """A folder of generated scans chosen in the tab, output to tmp/out, rendered at full size
    (many tiles per file: time to pause or cancel mid-file)."""
    src, out = tmp_path / "scans", tmp_path / "out"
    src.mkdir()
    for i in range(count):
        Image.fromarray(smooth_photo(height, width, seed=i)).save(src / f"{name}{i}.png")
    tab.input_edit.setText(str(src))
    tab.output_edit.setText(str(out))
    tab.controls.render.setCurrentText("full")
    return src, out


@pytest.mark.slow
def test_cancel_leaves_no_partial_output_and_a_rerun_finishes(qtbot, window, tmp_path):
    tab = window.batch
    src, out = scans_in_tab(tab, tmp_path, 4, 900, 1200, "scan")
    progressed = []
    tab.progress.valueChanged.connect(progressed.append)
    with qtbot.waitSignal(tab.finished, timeout=120000) as blocker:
        assert tab.start(confirm=False)
        qtbot.waitUntil(lambda: bool(progressed) and progressed[-1] > 0, timeout=60000)
        tab.cancel()
    summary = blocker.args[0]
    qtbot.waitUntil(lambda: not tab.has_unfinished_work(), timeout=10000)
    assert summary.cancelled
    assert summary.count("done") < 4
    assert "queued" in statuses(tab).values()
    assert "left" not in tab.eta.text()  # no time left to tell after a cancel
    assert not leftover_temps(out)  # no temporary files
    for png in out.glob("*.png"):  # whatever exists is complete
        assert read_image(png).pixels.shape == (900, 1200, 3)
    done_before = summary.count("done")
    summary = run_and_wait(qtbot, tab, timeout=180000)
    assert summary.count("skipped") == done_before
    assert summary.count("done") == 4 - done_before
    assert sorted(p.name for p in out.glob("*.png")) == [f"scan{i}.png" for i in range(4)]


@pytest.mark.slow
def test_pause_holds_the_batch_until_resumed(qtbot, window, tmp_path):
    tab = window.batch
    src, out = scans_in_tab(tab, tmp_path, 3, 600, 800, "p")
    with qtbot.waitSignal(tab.finished, timeout=120000) as blocker:
        assert tab.start(confirm=False)
        tab.toggle_pause()
        assert tab.is_paused and tab.pause_button.text() == "Resume"
        qtbot.wait(300)  # a tile in flight may finish
        held = tab.progress.value()
        qtbot.wait(1200)
        assert tab.progress.value() == held
        assert not list(out.glob("*.png"))
        tab.toggle_pause()
        assert not tab.is_paused
    assert blocker.args[0].line() == "3 done, 0 skipped, 0 failed"


def test_output_into_the_input_folder_uses_a_suffix(qtbot, window, tmp_path):
    src = tmp_path / "scans"
    src.mkdir()
    Image.fromarray(smooth_photo(200, 300)).save(src / "a.jpg", quality=95)
    original = (src / "a.jpg").read_bytes()
    tab = window.batch
    tab.input_edit.setText(str(src))
    tab.output_edit.setText(str(src))
    assert run_and_wait(qtbot, tab).line() == "1 done, 0 skipped, 0 failed"
    assert (src / "a.jpg").read_bytes() == original
    colored = read_image(src / "a_colorized.jpg").pixels
    assert colored.shape == (200, 300, 3)
    # the next scan does not take the output for a new input
    scan_and_wait(qtbot, tab)
    assert list(statuses(tab)) == ["a.jpg"]
    assert run_and_wait(qtbot, tab).line() == "0 done, 1 skipped, 0 failed"


def test_scan_lists_and_filters_by_type(qtbot, window, album):
    tab = window.batch
    tab.input_edit.setText(str(album))
    tab.output_edit.setText(str(album.parent / "out"))
    tab.types.setText("jpg")
    scan_and_wait(qtbot, tab)
    assert statuses(tab) == {"broken.jpg": "queued", "wedding.jpg": "queued"}
    tab.recursive.setChecked(True)
    tab.types.setText("tif png")
    scan_and_wait(qtbot, tab)
    assert set(statuses(tab)) == {"1930s/scan16.tif", "cutout.png"}


def test_bad_choices_are_refused_with_a_message(qtbot, window, tmp_path):
    tab = window.batch
    tab.input_edit.setText("")
    tab.output_edit.setText("")
    assert not tab.start(confirm=False)  # nothing chosen: ask for the photos, not the output
    assert "folder of photos" in tab.summary.text()
    tab.input_edit.setText(str(tmp_path / "missing"))
    tab.output_edit.setText(str(tmp_path / "out"))
    assert not tab.start(confirm=False)
    assert "Not a folder" in tab.summary.text()
    empty = tmp_path / "empty"
    empty.mkdir()
    tab.input_edit.setText(str(empty))
    with qtbot.waitSignal(tab.failed, timeout=10000) as blocker:
        assert tab.start(confirm=False)  # the folder is listed on the worker
    assert "no photos" in blocker.args[0] and "no photos" in tab.summary.text()
    qtbot.waitUntil(lambda: not tab.has_unfinished_work(), timeout=10000)
    assert tab.start_button.isEnabled()


def test_listing_a_folder_never_blocks_the_window(qtbot, window, album, monkeypatch):
    """A slow drive: the scan walks on a worker; a newer scan (or a start) replaces it."""
    import threading

    from colorizer_app.gui import batch_tab

    gate, walkers, walked = threading.Event(), [], []
    real = batch_tab.collect_inputs

    def slow(*args, **kw):
        walkers.append(threading.current_thread())
        if len(walkers) == 1:
            gate.wait(10)  # the first walk hangs on the "network drive"
        try:
            return real(*args, **kw)  # the replaced walk stops at its next entry (cancelled)
        finally:
            walked.append(threading.current_thread())

    monkeypatch.setattr(batch_tab, "collect_inputs", slow)
    tab = window.batch
    tab.input_edit.setText(str(album))
    tab.output_edit.setText(str(album.parent / "out"))
    tab.types.setText("tif")
    tab.scan()  # returns at once
    assert tab.scanning and tab.summary.text().startswith("Scanning")
    assert not tab.scan_button.isEnabled()
    # the first walk is hanging before the second starts (else the second could come first
    # to the "drive" and be the one that hangs: a race in this test, seen as a 10 s timeout)
    qtbot.waitUntil(lambda: len(walkers) == 1, timeout=10000)
    with qtbot.waitSignal(tab.scanned, timeout=10000):
        tab.recursive.setChecked(True)  # a changed choice lists again, replacing the hung walk
    assert statuses(tab) == {"1930s/scan16.tif": "queued"}
    gate.set()  # the first walk ends late: its stale list is dropped
    qtbot.waitUntil(lambda: len(walked) == 2, timeout=10000)
    qtbot.wait(100)
    assert statuses(tab) == {"1930s/scan16.tif": "queued"}
    assert not tab.scanning and tab.scan_button.isEnabled()
    assert all(t is not threading.main_thread() for t in walkers)


def test_the_output_folder_follows_the_input_until_the_user_sets_it(qtbot, window, tmp_path):
    """Issue #15 item 1: an output folder kept from another input mixed two folders' photos."""
    tab = window.batch
    a, b, c = (tmp_path / n for n in "ABC")
    for folder in (a, b, c):
        folder.mkdir()
    tab.output_edit.setText("")

    def choose_input(folder):
        tab.input_edit.setText(str(folder))
        tab.input_edit.editingFinished.emit()

    choose_input(a)
    assert tab.output_edit.text() == str(tmp_path / "A_colorized")
    choose_input(b)
    assert tab.output_edit.text() == str(tmp_path / "B_colorized")  # followed
    tab.output_edit.selectAll()
    qtbot.keyClicks(tab.output_edit, str(tmp_path / "mine"))  # the user types a folder
    choose_input(c)
    assert tab.output_edit.text() == str(tmp_path / "mine")  # the user's choice stays
    tab.output_edit.selectAll()
    qtbot.keyClick(tab.output_edit, Qt.Key.Key_Delete)  # cleared: follow the input again
    choose_input(a)
    assert tab.output_edit.text() == str(tmp_path / "A_colorized")
    tab.set_output(str(tmp_path / "browsed"))  # chosen with Browse…
    choose_input(b)
    assert tab.output_edit.text() == str(tmp_path / "browsed")


def test_the_list_follows_the_output_folder_and_format(qtbot, window, album, tmp_path):
    tab = window.batch
    tab.input_edit.setText(str(album))
    tab.output_edit.setText(str(tmp_path / "one"))
    tab.types.setText("jpg")
    scan_and_wait(qtbot, tab)

    def outputs():
        return {tab.table.item(r, 2).text() for r in range(tab.table.rowCount())}

    assert str(tmp_path / "one" / "wedding.jpg") in outputs()
    with qtbot.waitSignal(tab.scanned, timeout=10000):
        tab.format.setCurrentText("png")
    assert str(tmp_path / "one" / "wedding.png") in outputs()
    with qtbot.waitSignal(tab.scanned, timeout=10000):
        tab.set_output(str(tmp_path / "two"))
    assert str(tmp_path / "two" / "wedding.png") in outputs()


def test_a_conflicting_output_is_shown_not_skipped(qtbot, window, tmp_path):
    """Photos of another folder with the same names as outputs already there: the list says
    conflict (in its own colour) and the summary tells how to replace them."""
    tab = window.batch
    out = tmp_path / "out"
    for name, seed in (("A", 0), ("B", 10)):
        (tmp_path / name).mkdir()
        Image.fromarray(smooth_photo(60, 80, seed=seed)).save(tmp_path / name / "p.png")
    tab.output_edit.setText(str(out))
    tab.controls.render.setCurrentText("256")
    tab.input_edit.setText(str(tmp_path / "A"))
    assert run_and_wait(qtbot, tab).count("done") == 1
    made = (out / "p.png").read_bytes()
    tab.input_edit.setText(str(tmp_path / "B"))
    summary = run_and_wait(qtbot, tab)
    assert summary.count("conflict") == 1
    assert statuses(tab) == {"p.png": "conflict"}
    assert "another photo" in tab.table.item(0, 2).text()
    assert "Replace existing outputs" in tab.summary.text()
    assert (out / "p.png").read_bytes() == made


def test_open_output_folder_says_where_when_nothing_can_open_it(
    qtbot, window, tmp_path, monkeypatch
):
    from colorizer_app.gui import batch_tab

    tab = window.batch
    tab.output_edit.setText("")
    assert not tab.open_output()
    assert "Choose an output folder" in tab.summary.text()
    tab.output_edit.setText(str(tmp_path / "not yet"))
    assert not tab.open_output()
    assert "does not exist yet" in tab.summary.text()
    monkeypatch.setattr(batch_tab.QDesktopServices, "openUrl", staticmethod(lambda url: False))
    tab.output_edit.setText(str(tmp_path))
    assert not tab.open_output()
    assert f"the outputs are in {tmp_path}" in tab.summary.text()


def test_a_scan_that_cannot_list_says_why(qtbot, window, album, monkeypatch):
    from colorizer_app.gui import batch_tab

    def denied(*args, **kw):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(batch_tab, "collect_inputs", denied)
    tab = window.batch
    tab.input_edit.setText(str(album))
    scan_and_wait(qtbot, tab)
    assert "Cannot list the folder" in tab.summary.text()
    assert "Permission denied" in tab.summary.text()


def test_time_left_estimate():
    assert time_left([], 0, 5, 0.0) is None  # nothing measured yet
    assert time_left([2.0, 4.0], 2, 5, 0.5) == pytest.approx(3.0 * 2.5)
    assert time_left([2.0], 3, 3, 0.0) is None
    assert time_left([1.0], 1, 4, 7.0) == pytest.approx(2.0)  # in-flight fraction clipped
    assert duration(42) == "42 s" and duration(125) == "2 min 05 s"
    assert duration(7260) == "2 h 01 min"
    done = [FileResult(Path("a.png"), None, "done", seconds=2.0)]
    assert progress_text([], 4, 500, paused=False) == "0/4 files"  # nothing measured yet
    assert progress_text(done, 4, 1500, paused=False) == "1/4 files, about 5 s left"
    assert progress_text(done, 4, 1500, paused=True) == "1/4 files"


def test_a_report_that_cannot_be_written_keeps_the_results(qtbot, window, tmp_path, monkeypatch):
    from colorizer_app.engine.batch import BatchSummary

    def disk_full(self, path):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(BatchSummary, "write_csv", disk_full)
    src = tmp_path / "scans"
    src.mkdir()
    Image.fromarray(smooth_photo(120, 160)).save(src / "a.png")
    tab = window.batch
    tab.input_edit.setText(str(src))
    tab.output_edit.setText(str(tmp_path / "out"))
    assert run_and_wait(qtbot, tab).line() == "1 done, 0 skipped, 0 failed"
    assert statuses(tab) == {"a.png": "done"}
    assert "1 done" in tab.summary.text() and "No space left" in tab.summary.text()
    assert (tmp_path / "out" / "a.png").is_file()


def test_sidecar_hints_are_used_and_shown(qtbot, window, tmp_path):
    import json

    from tests.conftest import make_v3_file

    tab = window.batch
    src, out = tmp_path / "photos", tmp_path / "out"
    src.mkdir()
    for name in ("dress.png", "plain.png"):
        Image.fromarray(smooth_photo(60, 80)).save(src / name)
    hints = [{"x": 10, "y": 10, "color": "#2e6b3a"}, {"x": 50, "y": 30, "color": "#b04a2f"}]
    (src / "dress.png.hints.json").write_text(
        json.dumps(
            {"format": "colorizer-hints", "version": 1, "width": 80, "height": 60, "hints": hints}
        )
    )
    tab.controls.add_model(make_v3_file(tmp_path / "v3.safetensors"))
    tab.input_edit.setText(str(src))
    tab.output_edit.setText(str(out))
    summary = run_and_wait(qtbot, tab)
    assert summary.line() == "2 done, 0 skipped, 0 failed"  # the sidecar is not an input
    details = {tab.table.item(r, 0).text(): tab.table.item(r, 2).text() for r in range(2)}
    assert details["dress.png"].startswith("2 colour hint(s)")
    assert "colour hint" not in details["plain.png"]
    rows = {Path(r["source"]).name: r for r in csv.DictReader(tab.report_path.open())}
    assert (rows["dress.png"]["hints"], rows["plain.png"]["hints"]) == ("2", "0")


def test_scan_and_summary_say_what_is_not_taken_and_the_notes(qtbot, window, tmp_path):
    tab = window.batch
    src = tmp_path / "scans"
    src.mkdir()
    Image.fromarray(smooth_photo(40, 60)).save(src / "a.png")
    frames = [Image.fromarray(smooth_photo(40, 60, seed=i)) for i in range(2)]
    frames[0].save(src / "anim.gif", save_all=True, append_images=frames[1:])
    (src / "layers.psd").write_bytes(b"not an image we read")
    tab.input_edit.setText(str(src))
    tab.output_edit.setText(str(tmp_path / "out"))
    scan_and_wait(qtbot, tab)
    assert tab.summary.text() == "2 photo(s) found; 1 file not taken: unsupported type .psd"

    summary = run_and_wait(qtbot, tab)
    assert summary.line() == "2 done, 0 skipped, 0 failed; 1 file not taken: unsupported type .psd"
    details = {tab.table.item(r, 0).text(): tab.table.item(r, 2).text() for r in range(2)}
    assert details["anim.gif"] == "animated GIF: first frame of 2 only"
    assert "1 file(s) with notes: see the list." in tab.summary.text()
    rows = {Path(r["source"]).name: r for r in csv.DictReader(tab.report_path.open())}
    assert rows["anim.gif"]["notes"] == "animated GIF: first frame of 2 only"
    assert rows["layers.psd"]["status"] == "not taken"

    tab.types.setText("png")
    scan_and_wait(qtbot, tab)
    assert tab.summary.text() == (
        "1 photo(s) found; 2 files not taken: type .gif not among the chosen file types (1), "
        "unsupported type .psd (1)"
    )


def test_a_folder_with_nothing_to_take_says_what_it_holds(qtbot, window, tmp_path):
    tab = window.batch
    src = tmp_path / "layers"
    src.mkdir()
    (src / "poster.psd").write_bytes(b"not an image we read")
    tab.input_edit.setText(str(src))
    tab.output_edit.setText(str(tmp_path / "out"))
    with qtbot.waitSignal(tab.failed, timeout=10000) as blocker:
        assert tab.start(confirm=False)
    qtbot.waitUntil(lambda: not tab.has_unfinished_work(), timeout=10000)
    assert blocker.args[0] == (
        f"nothing to do: no photos with these file types in {src} "
        "(1 file not taken: unsupported type .psd)"
    )
