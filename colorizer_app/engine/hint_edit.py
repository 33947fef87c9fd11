"""A photo's colour hints while they are edited, and where they are kept (Qt-free).

:class:`HintList` is the editor's model: the hints of one photo in its full-resolution pixels
(the coordinates of :class:`~colorizer_app.engine.hints.Hint` and of the hint file), with a
version that grows on every change, so a result computed for older hints can be recognised
and dropped. Patch sizes are edited in render pixels (1-9, what the network sees) and stored
as a radius in photo pixels, as :func:`~colorizer_app.engine.hints.to_render` reads them.

:class:`HintPlace` decides where a photo's hints are read from and written to: the sidecar
``<photo file name>.hints.json`` beside the photo, or, when that folder cannot be written, a
file in the app's data folder named by the photo's path and content hash (another photo, or
this one changed, does not pick up those hints).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, replace
from pathlib import Path

from colorizer_app.engine import hints as hint_files
from colorizer_app.engine.hints import Hint, HintFileError
from models import hints as net_hints


class HintList:
    """The hints of one photo, in its full-resolution pixels; ``version`` counts changes."""

    def __init__(self, hints: list[Hint] | None = None) -> None:
        self._hints: list[Hint] = list(hints or [])
        self.version = 0

    def __len__(self) -> int:
        return len(self._hints)

    def __getitem__(self, index: int) -> Hint:
        return self._hints[index]

    def snapshot(self) -> list[Hint]:
        """A copy to hand to a worker thread (hints are frozen)."""
        return list(self._hints)

    def reset(self, hints: list[Hint]) -> None:
        self._hints = list(hints)
        self.version += 1

    def insert(self, index: int, hint: Hint) -> None:
        self._hints.insert(index, hint)
        self.version += 1

    def remove(self, index: int) -> Hint:
        hint = self._hints.pop(index)
        self.version += 1
        return hint

    def replace(self, index: int, hint: Hint) -> None:
        self._hints[index] = hint
        self.version += 1

    def nearest(self, x: float, y: float, within: float) -> int | None:
        """The index of the hint closest to (x, y) no farther than ``within``, else None
        (the latest placed wins a tie: it is drawn on top)."""
        best, best_d = None, within * within
        for i, h in enumerate(self._hints):
            d = (h.x - x) ** 2 + (h.y - y) ** 2
            if d <= best_d:
                best, best_d = i, d
        return best


def patch_size(hint: Hint, full_width: int, render_width: int) -> int:
    """The side, in render pixels, of the patch the network sees for ``hint`` (1-9)."""
    patch = hint_files.to_render([hint], (1, full_width), (1, render_width))[0]
    return patch.size


def with_patch_size(hint: Hint, size: int, full_width: int, render_width: int) -> Hint:
    """``hint`` with a patch of ``size`` render pixels (clamped to 1-9)."""
    size = min(net_hints.MAX_PATCH, max(net_hints.MIN_PATCH, int(size)))
    return replace(hint, radius=size / 2 * full_width / render_width)


def moved(hint: Hint, x: float, y: float, width: int, height: int) -> Hint:
    """``hint`` at (x, y), kept inside the photo."""
    x = min(max(0.0, float(x)), width - 0.5)
    y = min(max(0.0, float(y)), height - 0.5)
    return replace(hint, x=x, y=y)


def content_hash(photo: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """SHA-256 of the photo file's bytes (hex)."""
    digest = hashlib.sha256()
    with open(photo, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class HintPlace:
    """Where one photo's hints live: its sidecar, and the app data folder's file for it."""

    photo: Path
    fallback: Path  # in the app's data folder, named by the photo's path and content

    @classmethod
    def of(cls, photo: str | os.PathLike, data_dir: str | os.PathLike) -> HintPlace:
        """Reads the photo's bytes once (its content hash): call on a worker thread."""
        photo = Path(photo)
        key = hashlib.sha256(
            (os.path.realpath(photo) + "\0" + content_hash(photo)).encode()
        ).hexdigest()[:32]
        return cls(photo, Path(data_dir) / "hints" / f"{photo.name}-{key}{hint_files.SUFFIX}")

    @property
    def sidecar(self) -> Path:
        return hint_files.sidecar_path(self.photo)

    def existing(self) -> Path | None:
        """The file to read: the data folder's if there is one (it is written only while the
        sidecar cannot be), else the sidecar."""
        for path in (self.fallback, self.sidecar):
            if path.is_file():
                return path
        return None

    def load(self, width: int, height: int) -> LoadedHints:
        """The photo's hints (none when it has no file); an unreadable or foreign file gives
        no hints and its error, and is left as it is."""
        path = self.existing()
        if path is None:
            return LoadedHints([], None)
        try:
            hints, warnings = hint_files.load_hints(path, width, height)
        except HintFileError as err:
            return LoadedHints([], path, error=err)
        return LoadedHints(hints, path, warnings)

    def save(self, hints: list[Hint], width: int, height: int) -> Path:
        """Write the hints to the sidecar, or to the data folder when the photo's folder
        cannot be written; no hints: the file is removed. Returns the file's path.

        Raises OSError when neither place can be written."""
        if os.access(self.photo.parent, os.W_OK | os.X_OK):
            try:
                written = _write(self.sidecar, hints, width, height)
            except OSError:
                pass  # a read-only share that claims to be writable: the data folder
            else:
                self.fallback.unlink(missing_ok=True)  # the sidecar is the one to read now
                return written
        self.fallback.parent.mkdir(parents=True, exist_ok=True)
        return _write(self.fallback, hints, width, height)


def _write(path: Path, hints: list[Hint], width: int, height: int) -> Path:
    if not hints:
        path.unlink(missing_ok=True)
        return path
    return hint_files.save_hints(path, hints, width, height)


@dataclass
class LoadedHints:
    hints: list[Hint]
    path: Path | None  # the file read, None when the photo has none
    warnings: list[str] | None = None
    error: HintFileError | None = None
