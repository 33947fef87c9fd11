"""Atomic file writes: a temporary file beside the target, renamed over it when complete."""

from __future__ import annotations

import errno
import os
import re
import secrets
import time
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


_TEMP_NAME = re.compile(r"^\.(?P<name>.+)\.[0-9a-f]{8}(?P<suffix>\.part|\.tmp)$")
_CLAIM_NAME = re.compile(r"^\.(?P<name>.+)\.colorizer-lock$")


def leftover_targets(folder: str | os.PathLike) -> set[str]:
    """Names of the targets in ``folder`` that have temporary files or claims of our naming
    beside them (in flight in some process, or left by one that was killed)."""
    try:
        names = os.listdir(folder)
    except OSError:
        return set()
    return {m["name"] for n in names if (m := _TEMP_NAME.match(n) or _CLAIM_NAME.match(n))}


def remove_stale_temps(folder: str | os.PathLike, target_name: str | None = None) -> list[Path]:
    """Remove temporary files of our own naming (``.<name>.<8 hex>.part|.tmp``, see
    :func:`create_temp`) that a killed process left in ``folder``; only those of
    ``target_name`` when given. Call it only where no other process can be writing them
    (while holding the target's :class:`Claim`, or the run's). Returns what was removed."""
    removed: list[Path] = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        match = _TEMP_NAME.match(entry.name)
        if match is None or (target_name is not None and match["name"] != target_name):
            continue
        try:
            if entry.is_file(follow_symlinks=False):
                os.unlink(entry.path)
                removed.append(Path(entry.path))
        except OSError:
            continue  # not ours to remove after all (permissions): leave it
    return removed


def default_mode() -> int:
    """The permissions a new file of this user gets (0o666 less the umask)."""
    try:  # Linux: read the umask without changing it
        with open("/proc/self/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("Umask:"):
                    return 0o666 & ~int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)  # elsewhere: read it by setting it, then put it back at once
    os.umask(mask)
    return 0o666 & ~mask


def write_atomically(
    target: str | os.PathLike,
    write: Callable[[Path], object],
    *,
    suffix: str = ".part",
    fsync: bool = False,
    replace: bool = True,
) -> Path:
    """Let ``write(tmp)`` fill a new temporary file beside ``target``, then rename it over
    ``target``: readers see the old file or the complete new one, never a partial one.

    On any failure (an exception from ``write`` included) the temporary file is removed and
    ``target`` is left as it was. ``fsync`` flushes the bytes to disk before the rename.
    ``replace=False`` never replaces a file that appeared at ``target`` meanwhile (another
    process): the finished file is hard-linked into place, which fails if the name exists,
    and :class:`FileExistsError` is raised.
    """
    target = Path(target)
    fd, tmp = create_temp(target, suffix)
    os.close(fd)
    try:
        write(tmp)
        if fsync:
            with open(tmp, "rb+") as handle:
                os.fsync(handle.fileno())
        if replace:
            os.replace(tmp, target)
        else:
            _place_without_replacing(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return target


def write_text_atomically(target: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``target`` atomically."""
    return write_atomically(target, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def _place_without_replacing(tmp: Path, target: Path) -> None:
    try:
        os.link(tmp, target)  # atomic, and fails if target exists
    except FileExistsError:
        raise
    except OSError:  # no hard links on this file system (FAT, some shares): check, then move
        if os.path.lexists(target):
            raise FileExistsError(errno.EEXIST, "file exists", str(target)) from None
        os.replace(tmp, target)
        return
    tmp.unlink()


class Claim:
    """An exclusive claim on producing ``target`` (a lock file beside it, holding our pid),
    so two processes working on one output folder never do the same file twice.

    ``Claim(target).acquire()`` returns None when claimed, else the pid of the live process
    holding it; a claim left by a process that died (kill -9) is taken over. Use as a context
    manager after acquiring, or call :meth:`release`.
    """

    def __init__(self, target: str | os.PathLike) -> None:
        target = Path(target)
        self.path = target.with_name(f".{target.name}.colorizer-lock")
        self.held = False

    def acquire(self) -> int | None:
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666)
            except FileExistsError:
                holder = self._holder()
                if holder is not None and _alive(holder, self.path):
                    return holder
                self.path.unlink(missing_ok=True)  # stale: its process is gone
                continue
            with os.fdopen(fd, "w") as handle:
                handle.write(str(os.getpid()))
            self.held = True
            return None
        return self._holder() or -1

    def _holder(self) -> int | None:
        try:
            return int(self.path.read_text().strip() or 0) or None
        except (OSError, ValueError):
            return None

    def release(self) -> None:
        if self.held:
            self.path.unlink(missing_ok=True)
            self.held = False

    def __enter__(self) -> Claim:
        return self

    def __exit__(self, *exc) -> None:
        self.release()


STALE_CLAIM_S = 12 * 3600  # where processes cannot be asked (Windows): a claim this old is stale


def _alive(pid: int, lock: Path) -> bool:
    if pid == os.getpid():
        return True
    if os.name == "nt":  # os.kill would terminate the process there
        try:
            return time.time() - lock.stat().st_mtime < STALE_CLAIM_S
        except OSError:
            return False
    try:
        os.kill(pid, 0)  # no signal sent: only asks whether the process exists
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # exists but is not ours (or we cannot tell): treat as alive
    return True
