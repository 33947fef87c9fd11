"""Atomic file writes: a temporary file beside the target, renamed over it when complete."""

from __future__ import annotations

import atexit
import contextlib
import errno
import os
import re
import secrets
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path


@contextlib.contextmanager
def shielded() -> Iterator[None]:
    """Hold back Ctrl+C and SIGTERM during a few lines that create a file and record it (a
    claim, a temporary file), so an interrupt never lands between the two and leaves a file
    nobody will remove. A signal that arrived meanwhile is delivered on leaving the block.
    Only the main thread receives signals; elsewhere this does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    previous = {}
    for number in (signal.SIGINT, signal.SIGTERM):
        if signal.getsignal(number) is not None:  # None: a handler not set from Python
            previous[number] = signal.signal(number, lambda n, _: caught.append(n))
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
        if caught:
            signal.raise_signal(caught[0])  # now, to the handler that was held back


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


HOST = socket.gethostname()
HEARTBEAT_S = 20.0  # how often a held claim's file is touched
STALE_S = 120.0  # a claim untouched this long was left by a dead process

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
    tmp = None
    try:
        with shielded():
            fd, tmp = create_temp(target, suffix)
            os.close(fd)
        write(tmp)
        if fsync:
            with open(tmp, "rb+") as handle:
                os.fsync(handle.fileno())
        if replace:
            os.replace(tmp, target)
        else:
            _place_without_replacing(tmp, target)
    except BaseException:
        if tmp is not None:
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
    """An exclusive claim on producing ``target`` (a lock file beside it naming our process
    and host), so that two processes working on one output folder, on one machine or on
    several machines sharing the folder, never do the same file twice.

    ``Claim(target).acquire()`` returns None when claimed, else who holds it (``"1234"``, or
    ``"1234 on node-b"`` for a process of another machine). A claim left by a process that
    died (kill -9) is taken over: on this machine when its process is gone, from another
    machine when its heartbeat stopped (a held claim's file is touched every ``heartbeat``
    seconds; one untouched for :data:`STALE_S` is stale). Use as a context manager
    after acquiring, or call :meth:`release`. Claims still held when the process exits
    (an interrupt between acquiring and the ``with``) are released then.
    """

    def __init__(self, target: str | os.PathLike, *, heartbeat: float = HEARTBEAT_S) -> None:
        target = Path(target)
        self.path = target.with_name(f".{target.name}.colorizer-lock")
        self.held = False
        self._heartbeat = heartbeat
        self._stop: threading.Event | None = None

    def acquire(self) -> str | None:
        with shielded():  # a created claim file is always marked held, so it gets released
            return self._acquire()

    def _acquire(self) -> str | None:
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666)
            except FileExistsError:
                holder = self._holder()
                if holder is not None and _alive(*holder, self.path):
                    return _describe(*holder)
                self.path.unlink(missing_ok=True)  # stale: its process is gone
                continue
            with os.fdopen(fd, "w") as handle:
                handle.write(f"{os.getpid()} {HOST}\n")
            self.held = True
            _HELD.add(self)
            self._start_heartbeat()
            return None
        holder = self._holder()
        return _describe(*holder) if holder else "unknown"

    def _holder(self) -> tuple[int, str] | None:
        """(pid, host) written in the claim; a claim of an older version holds a pid only."""
        try:
            words = self.path.read_text().split()
            pid = int(words[0]) if words else 0
        except (OSError, ValueError):
            return None
        return (pid, words[1] if len(words) > 1 else HOST) if pid else None

    def _start_heartbeat(self) -> None:
        self._stop = stop = threading.Event()
        path, every = self.path, self._heartbeat

        def beat() -> None:
            while not stop.wait(every):
                try:
                    os.utime(path)
                except OSError:
                    return  # released meanwhile, or the folder went away

        threading.Thread(target=beat, name=f"claim {path.name}", daemon=True).start()

    def release(self) -> None:
        with shielded():
            if self.held:
                if self._stop is not None:
                    self._stop.set()
                self.path.unlink(missing_ok=True)
                self.held = False
                _HELD.discard(self)

    def __enter__(self) -> Claim:
        return self

    def __exit__(self, *exc) -> None:
        self.release()


_HELD: set[Claim] = set()


@atexit.register
def release_all() -> None:
    """Release every claim this process still holds."""
    for claim in list(_HELD):
        claim.release()


def _describe(pid: int, host: str) -> str:
    return str(pid) if host == HOST else f"{pid} on {host}"


def _untouched_for(lock: Path) -> float:
    try:
        return time.time() - lock.stat().st_mtime
    except OSError:
        return float("inf")


def _alive(pid: int, host: str, lock: Path) -> bool:
    if host != HOST or os.name == "nt":  # cannot be asked (os.kill terminates on Windows)
        return _untouched_for(lock) < STALE_S  # so its heartbeat tells
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)  # no signal sent: only asks whether the process exists
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # exists but is not ours (or we cannot tell): treat as alive
    return True
