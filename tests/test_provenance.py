"""What made each output decides what a rerun does (issue #15 item 1, #14 items 2 and 15).

A rerun skips only an output made from the same photo with the same model and settings; an
output from another photo, a changed photo or other settings is a conflict, reported and
never taken for this photo's. Outputs of ours are never inputs; a killed run's leftovers go.
"""

import csv
import json
import os

import numpy as np
import pytest
from PIL import Image

from colorizer_app.cli import main
from colorizer_app.engine.batch import clean_up_after_killed_runs, plan, run_batch
from colorizer_app.engine.listing import collect_inputs
from colorizer_app.engine.pipeline import ColorizeSettings
from colorizer_app.engine.provenance import (
    RECORD_DIR,
    Recipe,
    Verdict,
    file_digest,
    record_path,
    verdict,
)
from models import load_generator
from tests.conftest import leftover_temps, make_generator_file, smooth_photo

FAST = ["--render-size", "64", "-q"]


def _photos(folder, names, seed):
    folder.mkdir(parents=True, exist_ok=True)
    for k, name in enumerate(names):
        Image.fromarray(smooth_photo(48, 64, seed=seed + k)).save(folder / name)
    return folder


def _colorize(inputs, out, model, *more):
    return main(
        ["colorize", *map(str, inputs), "-o", str(out), "--model", str(model), *FAST]
        + [str(m) for m in more]
    )


def _report(path):
    with open(path, newline="") as handle:
        return {
            os.path.basename(r["source"]): (r["status"], r["reason"])
            for r in csv.DictReader(handle)
        }


def test_another_folders_photo_of_the_same_name_is_a_conflict_not_a_skip(
    tmp_path, tiny_model_file, capsys
):
    """Issue #15's defect: input A fills the output folder, then input B (same names) runs
    into it. B's photos must not be "skipped: output exists" with A's photo under their name."""
    a = _photos(tmp_path / "A", ["p0.png", "p1.png"], seed=0)
    b = _photos(tmp_path / "B", ["p0.png", "p2.png"], seed=10)
    out = tmp_path / "out"
    assert _colorize([a], out, tiny_model_file) == 0
    a_output = (out / "p0.png").read_bytes()
    capsys.readouterr()

    code = _colorize([b], out, tiny_model_file, "--report", tmp_path / "b.csv")
    err = capsys.readouterr().err
    assert code == 1  # something needs the user's attention
    rows = _report(tmp_path / "b.csv")
    assert rows["p0.png"][0] == "conflict"
    assert "another photo" in rows["p0.png"][1] and str(a / "p0.png") in rows["p0.png"][1]
    assert rows["p2.png"][0] == "done"
    assert "1 done, 0 skipped, 1 conflict(s), 0 failed" in err
    assert "--overwrite replaces them" in err
    assert (out / "p0.png").read_bytes() == a_output  # kept, not silently replaced

    assert _colorize([b], out, tiny_model_file, "--overwrite") == 0  # the user's choice
    assert json.loads(record_path(out / "p0.png").read_text())["source"] == os.path.realpath(
        b / "p0.png"
    )


def test_a_rerun_skips_only_what_the_same_photo_and_settings_made(tmp_path, tiny_model_file):
    src = _photos(tmp_path / "src", ["p0.png", "p1.png", "p2.png", "p3.png", "p4.png"], seed=0)
    out = tmp_path / "out"
    assert _colorize([src], out, tiny_model_file) == 0
    assert _colorize([src], out, tiny_model_file, "--report", tmp_path / "same.csv") == 0
    assert {s for s, _ in _report(tmp_path / "same.csv").values()} == {"skipped"}
    assert "already made from this photo" in _report(tmp_path / "same.csv")["p0.png"][1]

    # p1: the photo changed since; p2: the user retouched the output; p3: no record
    # (an output made by hand or an older version); p4 untouched.
    Image.fromarray(smooth_photo(48, 64, seed=99)).save(src / "p1.png")
    os.utime(src / "p1.png", ns=(1, 1))
    with open(out / "p2.png", "ab") as handle:
        handle.write(b"\0")
    record_path(out / "p3.png").unlink()
    assert _colorize([src], out, tiny_model_file, "--report", tmp_path / "r.csv") == 1
    rows = _report(tmp_path / "r.csv")
    assert rows["p1.png"] == ("conflict", "the photo changed since its output was made")
    assert rows["p2.png"][0] == "skipped" and "changed after it was made" in rows["p2.png"][1]
    assert rows["p3.png"][0] == "skipped" and "not made by a batch" in rows["p3.png"][1]
    assert rows["p4.png"][0] == "skipped"

    # Other settings make every output a conflict until the user asks to replace them.
    assert (
        _colorize([src], out, tiny_model_file, "--strength", "0.5", "--report", tmp_path / "s.csv")
        == 1
    )
    rows = _report(tmp_path / "s.csv")
    assert rows["p4.png"][0] == "conflict" and "other settings" in rows["p4.png"][1]
    assert "strength 1.0" in rows["p4.png"][1]  # says what made it


def test_another_model_or_other_hints_are_other_settings(tmp_path, tiny_model_file, tiny_generator):
    src = _photos(tmp_path / "src", ["p0.png"], seed=0)
    out = tmp_path / "out"
    settings = ColorizeSettings(render_size=64)
    runner = settings.make_runner(tiny_generator)
    items = plan(collect_inputs([src]), out)
    assert run_batch(items, runner, settings).count("done") == 1
    recipe = Recipe.of(runner, settings)
    assert verdict(out / "p0.png", src / "p0.png", recipe)[0] is Verdict.SAME

    other = make_generator_file(tmp_path / "other.safetensors", seed=5)
    other_runner = settings.make_runner(load_generator(other))
    found, why = verdict(out / "p0.png", src / "p0.png", Recipe.of(other_runner, settings))
    assert found is Verdict.OTHER_SETTINGS and found.conflict

    hints = tmp_path / "p0.hints.json"
    hints.write_text('{"version": 1, "hints": []}')
    found, why = verdict(out / "p0.png", src / "p0.png", recipe, hints)
    assert found is Verdict.OTHER_SETTINGS and "hints" in why


def test_spreading_hints_or_not_is_a_setting_only_where_there_are_hints(tmp_path, tiny_generator):
    """`--no-hint-spread` changes the pixels of a hinted photo: a rerun without it must not
    skip an output made with it; for a photo without hints it changes nothing, and the
    records of earlier versions (no such entry) still count as the same."""
    src = _photos(tmp_path / "src", ["p0.png"], seed=0)
    out = tmp_path / "out"
    settings = ColorizeSettings(render_size=64)
    runner = settings.make_runner(tiny_generator)
    assert run_batch(plan(collect_inputs([src]), out), runner, settings).count("done") == 1
    off = Recipe.of(runner, settings.with_(hint_spread=False))
    assert verdict(out / "p0.png", src / "p0.png", off)[0] is Verdict.SAME
    record = json.loads(record_path(out / "p0.png").read_text())
    del record["settings"]["hint_spread"]  # as an earlier version wrote it
    record_path(out / "p0.png").write_text(json.dumps(record))
    assert verdict(out / "p0.png", src / "p0.png", Recipe.of(runner, settings))[0] is Verdict.SAME

    hints = tmp_path / "p0.hints.json"
    hints.write_text('{"version": 1, "hints": []}')
    record["settings"]["hint_spread"] = True
    record["hints_sha256"] = file_digest(hints)
    record_path(out / "p0.png").write_text(json.dumps(record))
    on = Recipe.of(runner, settings)
    assert verdict(out / "p0.png", src / "p0.png", on, hints)[0] is Verdict.SAME
    found, why = verdict(out / "p0.png", src / "p0.png", off, hints)
    assert found is Verdict.OTHER_SETTINGS and "hint_spread True" in why


def test_the_colour_smoothing_is_part_of_the_recipe(tmp_path, tiny_generator):
    """An output made with the chroma filter is redone without it and the other way round;
    a record of a version before the filter (no entry) was made without it."""
    src = _photos(tmp_path / "src", ["p0.png"], seed=0)
    out = tmp_path / "out"
    settings = ColorizeSettings(render_size=64)
    runner = settings.make_runner(tiny_generator)
    assert run_batch(plan(collect_inputs([src]), out), runner, settings).count("done") == 1
    on, off = Recipe.of(runner, settings), Recipe.of(runner, settings.with_(chroma_filter=False))
    assert verdict(out / "p0.png", src / "p0.png", on)[0] is Verdict.SAME
    found, why = verdict(out / "p0.png", src / "p0.png", off)
    assert found is Verdict.OTHER_SETTINGS and "chroma_filter True" in why
    record = json.loads(record_path(out / "p0.png").read_text())
    del record["settings"]["chroma_filter"]  # as an earlier version wrote it
    record_path(out / "p0.png").write_text(json.dumps(record))
    assert verdict(out / "p0.png", src / "p0.png", off)[0] is Verdict.SAME
    assert verdict(out / "p0.png", src / "p0.png", on)[0] is Verdict.OTHER_SETTINGS


@pytest.mark.parametrize("fmt", ["png", "same"])
def test_output_folder_is_the_input_folder_twice(tmp_path, tiny_model_file, capsys, fmt):
    """Issue #14 item 2: ``colorize d -o d --format png`` twice. The second run must not take
    the first run's outputs as inputs (nor fail them as "would replace an original")."""
    d = _photos(tmp_path / "d", ["p0.jpg", "p1.jpg", "p2.jpg"], seed=0)
    suffix = ["--suffix", "_c"] if fmt == "same" else []  # same format needs another name
    assert _colorize([d], d, tiny_model_file, "--format", fmt, *suffix) == 0
    made = sorted(p.name for p in d.iterdir() if p.is_file())
    capsys.readouterr()
    assert (
        _colorize([d], d, tiny_model_file, "--format", fmt, *suffix, "--report", tmp_path / "r.csv")
        == 0
    )
    err = capsys.readouterr().err
    assert "0 done, 3 skipped, 0 failed" in err
    assert sorted(_report(tmp_path / "r.csv")) == ["p0.jpg", "p1.jpg", "p2.jpg"]
    assert sorted(p.name for p in d.iterdir() if p.is_file()) == made  # nothing new


def test_a_recursive_run_into_its_own_folder_says_nothing_of_the_records(
    tmp_path, tiny_model_file, capsys
):
    d = _photos(tmp_path / "d", ["p0.png"], seed=0)
    _photos(d / "sub", ["p1.png"], seed=1)
    for _ in range(2):
        assert _colorize([d], d, tiny_model_file, "--recursive", "--suffix", "_c") == 0
    err = capsys.readouterr().err
    assert "not taken" not in err and ".json" not in err  # the hidden records are not photos
    assert "0 done, 2 skipped, 0 failed" in err


def test_our_outputs_are_not_inputs_anywhere(tmp_path, tiny_model_file):
    """A folder holding both scans and their colorized copies (made by this app) gives only the
    scans as inputs, whatever the output folder now; a copy edited by the user is a photo."""
    d = _photos(tmp_path / "d", ["scan.png"], seed=0)
    assert _colorize([d], d, tiny_model_file, "--format", "jpg") == 0
    assert [p.name for p, _ in collect_inputs([d], outdir=tmp_path / "elsewhere")] == ["scan.png"]
    os.utime(d / "scan.jpg", ns=(5, 5))  # touched by an editor: no longer ours as made
    assert sorted(p.name for p, _ in collect_inputs([d], outdir=tmp_path / "elsewhere")) == [
        "scan.jpg",
        "scan.png",
    ]


def test_leftovers_of_a_killed_run_are_removed_on_the_next_run(tmp_path, tiny_model_file):
    """Issue #14 item 15: kill -9 leaves ``.x.png.<hex>.part`` files and claims; the next run
    of that folder removes those of outputs no live process is making, and only ours."""
    src = _photos(tmp_path / "src", ["p0.png", "p1.png"], seed=0)
    out = tmp_path / "out"
    assert _colorize([src], out, tiny_model_file) == 0
    dead = [
        out / ".p0.png.0123abcd.part",  # an output being written (its output exists already)
        out / ".p9.png.89abcdef.part",  # of a photo no longer in the input
        out / RECORD_DIR / ".p1.png.json.deadbeef.part",  # a record being written
    ]
    for path in dead:
        path.write_bytes(b"\0" * 64)
    (out / ".p1.png.colorizer-lock").write_text("999999999")  # a claim of a dead process
    mine = [out / ".notes", out / ".p0.png.not-ours.part"]  # not of our naming
    for path in mine:
        path.write_text("keep")
    assert _colorize([src], out, tiny_model_file) == 0
    assert not any(p.exists() for p in dead)
    assert not (out / ".p1.png.colorizer-lock").exists()
    assert all(p.read_text() == "keep" for p in mine)


def test_a_live_process_files_are_not_leftovers(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    part = out / ".p0.png.0123abcd.part"
    part.write_bytes(b"\0")
    (out / ".p0.png.colorizer-lock").write_text(str(os.getppid()))  # a live process's claim
    assert clean_up_after_killed_runs([out]) == 0
    assert part.exists()
    (out / ".p0.png.colorizer-lock").unlink()
    assert clean_up_after_killed_runs([out]) == 1
    assert not part.exists() and not leftover_temps(out)


def test_records_are_small_json_beside_the_outputs(tmp_path, tiny_model_file):
    src = _photos(tmp_path / "src", ["p0.png"], seed=0)
    out = tmp_path / "out"
    assert _colorize([src], out, tiny_model_file, "--strength", "1.2") == 0
    record = json.loads((out / RECORD_DIR / "p0.png.json").read_text())
    assert record["source"] == os.path.realpath(src / "p0.png")
    assert record["settings"]["strength"] == 1.2 and record["settings"]["render_size"] == 64
    assert len(record["model_sha256"]) == 64
    assert record["output"]["size"] == (out / "p0.png").stat().st_size
    assert np.asarray(Image.open(out / "p0.png")).shape == (48, 64, 3)
