"""Two processes on one output folder: each output is made once and never replaced."""

import csv
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from colorizer_app.engine.batch import plan, run_batch
from colorizer_app.engine.listing import collect_inputs
from colorizer_app.engine.pipeline import ColorizeSettings
from models.atomic import Claim, write_atomically
from tests.conftest import colorize_command, leftover_temps, smooth_photo


def test_a_claim_is_exclusive_and_a_dead_holders_claim_is_taken_over(tmp_path):
    target = tmp_path / "out.png"
    first, second = Claim(target), Claim(target)
    assert first.acquire() is None and first.held
    assert second.acquire() == str(os.getpid()) and not second.held  # held by a live process
    first.release()
    assert not first.path.exists()
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    ).stdout.strip()
    first.path.write_text(dead)  # left behind by a process killed mid-file
    with Claim(target) as third:
        assert third.acquire() is None and third.held
    assert not third.path.exists()


def test_a_claim_of_another_machine_lives_by_its_heartbeat(tmp_path):
    """On a folder shared by several machines a pid means nothing elsewhere: another host's
    claim is alive while its file is touched, and taken over once the heartbeat stopped."""
    import time

    from models.atomic import STALE_S

    target = tmp_path / "out.png"
    claim = Claim(target)
    claim.path.write_text("4242 node-b\n")
    assert claim.acquire() == "4242 on node-b" and not claim.held
    old = time.time() - STALE_S - 5
    os.utime(claim.path, (old, old))  # node-b died: nothing touches its claim any more
    assert claim.acquire() is None and claim.held
    assert claim.path.read_text().split()[0] == str(os.getpid())
    claim.release()

    beating = Claim(target, heartbeat=0.05)
    assert beating.acquire() is None
    os.utime(beating.path, (old, old))
    deadline = time.monotonic() + 10
    while time.time() - beating.path.stat().st_mtime > STALE_S and time.monotonic() < deadline:
        time.sleep(0.02)
    assert time.time() - beating.path.stat().st_mtime < STALE_S  # touched by the heartbeat
    beating.release()
    assert not beating.path.exists()


def test_no_clobber_write_keeps_what_appeared_meanwhile(tmp_path):
    target = tmp_path / "x.txt"

    def write(tmp):
        tmp.write_text("ours")
        target.write_text("theirs")  # another process finished first

    with pytest.raises(FileExistsError):
        write_atomically(target, write, replace=False)
    assert target.read_text() == "theirs"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.txt"]  # no temporary left
    write_atomically(target, lambda tmp: tmp.write_text("ours"))  # replace=True: replaces
    assert target.read_text() == "ours"


def test_an_output_made_by_another_process_meanwhile_is_kept(tmp_path, tiny_generator, monkeypatch):
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    Image.fromarray(smooth_photo(40, 50)).save(src / "a.png")
    items = plan(collect_inputs([src]), out)
    settings = ColorizeSettings(render_size=64)
    from colorizer_app.engine import batch

    real = batch.colorize

    def colorize_while_another_finishes(*args, **kw):
        result = real(*args, **kw)
        (out / "a.png").write_bytes(b"the other process's output")
        return result

    monkeypatch.setattr(batch, "colorize", colorize_while_another_finishes)
    summary = run_batch(items, settings.make_runner(tiny_generator), settings)
    (result,) = summary.results
    assert result.status == "skipped" and "another process" in result.reason
    assert (out / "a.png").read_bytes() == b"the other process's output"


def test_a_file_claimed_by_a_running_process_is_skipped(tmp_path, tiny_generator):
    src, out = tmp_path / "in", tmp_path / "out"
    (out).mkdir(parents=True)
    src.mkdir()
    Image.fromarray(smooth_photo(40, 50)).save(src / "a.png")
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        Claim(out / "a.png").path.write_text(str(sleeper.pid))
        settings = ColorizeSettings(render_size=64)
        summary = run_batch(
            plan(collect_inputs([src]), out), settings.make_runner(tiny_generator), settings
        )
    finally:
        sleeper.kill()
        sleeper.wait()
    (result,) = summary.results
    assert result.status == "skipped" and f"process {sleeper.pid}" in result.reason
    assert not (out / "a.png").exists()


@pytest.mark.slow
def test_two_processes_on_one_folder_make_each_output_once(tmp_path, tiny_model_file):
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    for i in range(8):
        Image.fromarray(smooth_photo(120, 160, seed=i)).save(src / f"p{i}.png")
    command = colorize_command(src, out, tiny_model_file)
    runs = [
        subprocess.Popen(
            [*command, "--report", str(tmp_path / f"r{k}.csv")],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for k in (0, 1)
    ]
    for run in runs:
        run.communicate(timeout=300)
        assert run.returncode == 0
    done = []
    for k in (0, 1):
        with open(tmp_path / f"r{k}.csv", newline="") as handle:
            done += [r["source"] for r in csv.DictReader(handle) if r["status"] == "done"]
    assert sorted(done) == sorted(str(p) for p in src.glob("*.png"))  # each made exactly once
    assert sorted(p.name for p in out.glob("*.png")) == [f"p{i}.png" for i in range(8)]
    assert not leftover_temps(out)  # no lock or temporary file left
    assert all(np.asarray(Image.open(p)).shape == (120, 160, 3) for p in out.glob("*.png"))


def test_a_files_seconds_leave_out_the_time_it_was_paused(tmp_path, tiny_generator):
    """Issue #15 item 4: the Batch tab's Seconds column counted paused time."""
    import threading
    import time

    from models.progress import CallbackProgress, OffsetProgress

    src = tmp_path / "src"
    src.mkdir()
    Image.fromarray(smooth_photo(300, 800, seed=0)).save(src / "p.png")
    progress = CallbackProgress()
    paused = []

    def pause_once(done, total, message):
        if not paused:
            paused.append(time.perf_counter())
            progress.pause()
            threading.Timer(1.5, progress.resume).start()

    progress._callback = pause_once
    settings = ColorizeSettings(render_size=800)  # several tiles: a pause lands between two
    started = time.perf_counter()
    summary = run_batch(
        plan(collect_inputs([src]), tmp_path / "out"),
        settings.make_runner(tiny_generator),
        settings,
        file_progress=lambda item: OffsetProgress(progress, 0, 1000, span=1000),
    )
    elapsed = time.perf_counter() - started
    (result,) = summary.results
    assert result.status == "done" and paused
    assert progress.held_seconds >= 1.4
    assert result.seconds <= elapsed - 1.4
