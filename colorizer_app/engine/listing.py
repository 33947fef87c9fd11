"""Which files a batch takes from its inputs, and why it leaves the others out.

Files given directly are taken whatever their extension; folders are listed (recursively on
request), passing over hidden files, hint sidecars, reports and outputs of ours; every other
file left out is reported with its reason (:class:`NotTaken`).
"""

from __future__ import annotations

import os
import stat
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from colorizer_app.engine import hints as hint_files
from colorizer_app.engine.imageio import INPUT_EXTENSIONS
from colorizer_app.engine.provenance import OutputIndex
from models.progress import NullProgress, Progress

_REASONS_SHOWN = 4  # reasons named in the summary line; the CSV report has every file
REPORT_PREFIX = "colorizer-report-"  # the Batch tab's CSV reports: not photos, not "not taken"


@dataclass(frozen=True)
class NotTaken:
    """A file found in an input folder that the batch does not take, and why."""

    path: Path
    reason: str  # "unsupported type .psd", "link to a missing file", ...


def not_taken_text(files: list[NotTaken]) -> str:
    """``3 files not taken: unsupported type .psd (2), link to a missing file (1)``"""
    reasons = sorted(Counter(f.reason for f in files).items(), key=lambda rn: (-rn[1], rn[0]))
    count = len(files)
    text = f"{count} file{'s' if count != 1 else ''} not taken: "
    if len(reasons) == 1:
        return text + reasons[0][0]
    shown = [f"{reason} ({n})" for reason, n in reasons[:_REASONS_SHOWN]]
    if len(reasons) > _REASONS_SHOWN:
        shown.append(f"{len(reasons) - _REASONS_SHOWN} other reasons (see the report)")
    return text + ", ".join(shown)


def collect_inputs(
    inputs: Iterable[str | os.PathLike],
    *,
    recursive: bool = False,
    extensions: Iterable[str] = INPUT_EXTENSIONS,
    outdir: str | os.PathLike | None = None,
    suffix: str = "",
    progress: Progress | None = None,
    not_taken: list[NotTaken] | None = None,
) -> list[tuple[Path, Path]]:
    """Expand files and folders into ``(source, relative path)`` pairs, sorted per folder.

    A file given directly is taken whatever its extension (its content decides); files inside
    folders are filtered by ``extensions``. Hidden files, our own partial outputs and reports
    and colour hint sidecars are passed over, and so are outputs of ours: files whose
    provenance record matches them, and, when the output folder ``outdir`` lies inside an
    input folder, files under ``outdir`` (when it is a subfolder) or, when it is the input
    folder itself, files whose stem ends with the output ``suffix``. Any other file of the
    folders that is not taken (another type, a link to nothing) is appended to ``not_taken``
    with the reason, for the summary to say. A missing input is returned as itself so that
    the batch reports it.

    A big tree on a slow drive takes a while: ``progress`` can cancel the walk (checked at
    every entry) and hears the number of files taken so far (every 100).
    """
    progress = progress or NullProgress()
    exts = {e.lower() if e.startswith(".") else "." + e.lower() for e in extensions}
    out_key = real_key(Path(outdir)) if outdir is not None else None
    ours = OutputIndex()
    found: list[tuple[Path, Path]] = []
    left_out: list[NotTaken] = []
    for raw in inputs:
        root = Path(raw)
        if not root.is_dir():
            found.append((root, Path(root.name)))
            continue
        root_key = real_key(root)
        files = []
        for p in root.rglob("*") if recursive else root.glob("*"):
            progress.check_cancelled()
            if any(part.startswith(".") for part in p.relative_to(root).parts):
                continue  # hidden files and folders (the outputs' records among them)
            why = _why_not_taken(p, exts)
            if why == "" or _earlier_output(p, root_key, out_key, suffix):
                continue
            if why is None and ours.is_our_output(p):
                continue
            if why is None:
                files.append(p)
                taken = len(found) + len(files)
                if taken % 100 == 0:
                    progress.update(taken, 0, "scanning")
            else:
                left_out.append(NotTaken(p, why))
        found.extend((p, p.relative_to(root)) for p in sorted(files))
    if not_taken is not None:
        not_taken.extend(sorted(left_out, key=lambda n: n.path))
    return found


def _why_not_taken(path: Path, extensions: set[str]) -> str | None:
    """None for a file to take, "" for an entry passed over without a word (a folder, a hint
    sidecar, a file gone meanwhile), else why a file of the folder is not taken."""
    suffix, name = path.suffix.lower(), path.name.lower()
    if suffix not in extensions and (
        name.endswith(hint_files.SUFFIX) or (name.startswith(REPORT_PREFIX) and suffix == ".csv")
    ):
        return ""  # a colour hint sidecar (read with its photo), a report of an earlier batch
    try:
        mode = path.stat().st_mode  # the one look at the disk for most entries
    except FileNotFoundError:
        return "broken link" if path.is_symlink() else ""
    except OSError as err:  # a link loop, no permission
        return "broken link" if path.is_symlink() else f"cannot be read ({err.strerror})"
    if stat.S_ISDIR(mode):
        return ""
    if not stat.S_ISREG(mode):
        return "not a regular file"
    if suffix in extensions:
        return None
    if suffix in INPUT_EXTENSIONS:
        return f"type {suffix} not among the chosen file types"
    return f"unsupported type {suffix}" if suffix else "no file extension"


def _earlier_output(path: Path, root_key: str, out_key: str | None, suffix: str) -> bool:
    """Whether ``path`` (found under the input folder ``root_key``) is an output of ours."""
    if out_key is None:
        return False
    if out_key == root_key:  # outputs mirror the inputs beside them, told apart by the suffix
        return bool(suffix) and path.stem.endswith(suffix)
    return real_key(path).startswith(out_key + os.sep)  # under an output subfolder


def real_key(path: Path) -> str:
    """The path a name really leads to: symlinks (of the file or any folder above it)
    resolved, so that an output reached through a link is recognised as the original."""
    return os.path.normcase(os.path.realpath(path))


def file_identity(path: Path) -> tuple[int, int] | None:
    """(device, inode) of an existing file: the same file under another name (a hard link,
    another case on a case-insensitive disk) has the same identity."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino) if st.st_ino else None
