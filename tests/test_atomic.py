"""Atomic writes: the target is the old file or the complete new one, never a partial one."""

import pytest

from models.atomic import write_atomically, write_text_atomically


def test_write_replaces_the_target_when_complete(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    assert write_text_atomically(target, "new") == target
    assert target.read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]  # no temporary file left


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")

    def half_then_fail(tmp):
        tmp.write_text("partial")
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space"):
        write_atomically(target, half_then_fail, fsync=True)
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]
