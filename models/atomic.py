"""Atomic file writes: a temporary file beside the target, renamed over it when complete."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from pathlib import Path


def create_temp(target: Path, suffix: str = ".part") -> tuple[int, Path]:
    """Create a new hidden file next to ``target``; return its descriptor and path.

    Unlike ``tempfile.mkstemp`` (always 0600), the file gets the permissions any new file of
    the user would get, so a finished output is as readable as one written directly.
    """
    while True:
        tmp = target.with_name(f".{target.name}.{secrets.token_hex(4)}{suffix}")
        try:
            return os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666), tmp
        except FileExistsError:
            continue


def write_atomically(
    target: str | os.PathLike,
    write: Callable[[Path], object],
    *,
    suffix: str = ".part",
    fsync: bool = False,
) -> Path:
    """Let ``write(tmp)`` fill a new temporary file beside ``target``, then rename it over
    ``target``: readers see the old file or the complete new one, never a partial one.

    On any failure (an exception from ``write`` included) the temporary file is removed and
    ``target`` is left as it was. ``fsync`` flushes the bytes to disk before the rename.
    """
    target = Path(target)
    fd, tmp = create_temp(target, suffix)
    os.close(fd)
    try:
        write(tmp)
        if fsync:
            with open(tmp, "rb+") as handle:
                os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return target


def write_text_atomically(target: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``target`` atomically."""
    return write_atomically(target, lambda tmp: tmp.write_text(text, encoding="utf-8"))
