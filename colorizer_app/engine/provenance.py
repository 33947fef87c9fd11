"""What made each batch output: a small record beside it, so a rerun can tell its own
up-to-date outputs from another photo's, a changed photo's or other settings'.

"The output exists" alone is a fragile resume rule: change the input folder and a photo of
the new folder whose name exists in the output folder would be skipped, leaving another
photo under its name. Each output ``DIR/name.ext`` written by a batch gets
``DIR/.colorizer/name.ext.json``: the source (real path, size, modification time), the model
(name and content hash), the settings that change the look (render size, strength, decoder,
temperature), the hint file's hash, and the output's own size and modification time.

:func:`verdict` compares that record with what a rerun would make; :func:`is_our_output`
lets the file listing leave outputs of ours out of the inputs (an output folder that is the
input folder, run twice).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from colorizer_app import __version__
from models.atomic import write_text_atomically

RECORD_DIR = ".colorizer"
# what changes the pixels (hint_spread only where there are hints: see verdict)
LOOK_SETTINGS = (
    "render_size",
    "strength",
    "decoder",
    "temperature",
    "hint_spread",
    "chroma_filter",
)


def record_path(output: Path) -> Path:
    return output.parent / RECORD_DIR / (output.name + ".json")


def file_digest(path: Path) -> str:
    """SHA-256 of a file's content (hex); '' when it cannot be read."""
    try:
        with open(path, "rb") as handle:
            return hashlib.file_digest(handle, "sha256").hexdigest()
    except OSError:
        return ""


@dataclass(frozen=True)
class Recipe:
    """What a batch makes its outputs with: the model and the settings that change the look."""

    model: str  # the model's name
    model_sha256: str
    settings: tuple[tuple[str, object], ...]

    @classmethod
    def of(cls, runner, settings) -> Recipe:
        """The recipe of a :class:`GeneratorRunner` (its model file's hash) and settings."""
        digest = file_digest(Path(runner.model_path)) if runner.model_path is not None else ""
        look = tuple((name, getattr(settings, name)) for name in LOOK_SETTINGS)
        return cls(runner.info.name, digest, look)


class Verdict(Enum):
    """How an existing output relates to what a rerun would make."""

    ABSENT = "absent"  # no output yet
    SAME = "same"  # made from this photo, unchanged since, with this recipe
    UNKNOWN = "unknown"  # exists without a record (made by hand, or by an older version)
    OTHER_PHOTO = "other photo"  # made from another photo
    PHOTO_CHANGED = "photo changed"  # made from this photo, which changed since
    OTHER_SETTINGS = "other settings"  # made from this photo with another model or settings
    EDITED = "edited"  # the output itself changed after it was made

    @property
    def conflict(self) -> bool:
        """Whether a rerun must not skip this output silently."""
        return self in (Verdict.OTHER_PHOTO, Verdict.PHOTO_CHANGED, Verdict.OTHER_SETTINGS)


def _stamp(path: Path) -> dict | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns}


def _source_key(source: Path) -> str:
    return os.path.normcase(os.path.realpath(source))


def write_record(
    output: Path, source: Path, recipe: Recipe, hints: Path | None = None
) -> str | None:
    """Record what made ``output`` (just written). Returns a note when the record could not
    be written (the output itself is fine; a rerun will then treat it as made elsewhere)."""
    record = {
        "app": f"colorizer {__version__}",
        "source": _source_key(source),
        "source_file": _stamp(source),
        "model": recipe.model,
        "model_sha256": recipe.model_sha256,
        "settings": dict(recipe.settings),
        "hints_sha256": file_digest(hints) if hints is not None else "",
        "output": _stamp(output),
    }
    path = record_path(output)
    try:
        path.parent.mkdir(exist_ok=True)
        write_text_atomically(path, json.dumps(record, indent=1))
    except OSError as err:
        return f"could not record what made the output ({err.strerror or err})"
    return None


def read_record(output: Path) -> dict | None:
    """The record of ``output``, or None (none, unreadable, or not one of ours)."""
    try:
        record = json.loads(record_path(output).read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return None
    if not isinstance(record, dict) or not isinstance(record.get("source"), str):
        return None
    return record


def verdict(
    output: Path, source: Path, recipe: Recipe, hints: Path | None = None
) -> tuple[Verdict, str]:
    """How the existing ``output`` relates to making it from ``source`` with ``recipe``, and
    a one-line explanation for the user."""
    made = _stamp(output)
    if made is None:
        return Verdict.ABSENT, ""
    record = read_record(output)
    if record is None:
        return Verdict.UNKNOWN, "output exists (not made by a batch of this app)"
    if record.get("output") != made:
        return Verdict.EDITED, "output exists and was changed after it was made; kept"
    if record["source"] != _source_key(source):
        return Verdict.OTHER_PHOTO, f"an output from another photo exists ({record['source']})"
    if record.get("source_file") != _stamp(source):
        return Verdict.PHOTO_CHANGED, "the photo changed since its output was made"
    hints_digest = file_digest(hints) if hints is not None else ""
    look, made_with = dict(recipe.settings), dict(record.get("settings") or {})
    if not hints_digest:  # without hints the spreading of hints changes nothing (a record
        look.pop("hint_spread", None)  # of an older version has no such entry either)
        made_with.pop("hint_spread", None)
    made_with.setdefault("chroma_filter", False)  # versions before the filter had none
    same_look = made_with == look
    if record.get("model_sha256") != recipe.model_sha256 or not same_look:
        before = ", ".join(f"{k} {v}" for k, v in (record.get("settings") or {}).items())
        return (
            Verdict.OTHER_SETTINGS,
            f"the output was made with other settings (model {record.get('model')}, {before})",
        )
    if record.get("hints_sha256", "") != hints_digest:
        return Verdict.OTHER_SETTINGS, "the output was made with other colour hints"
    return Verdict.SAME, "already made from this photo with these settings"


class OutputIndex:
    """Which files of folders are outputs of ours (their record matches the file), reading
    each folder's records once: for listing big folders."""

    def __init__(self) -> None:
        self._names: dict[Path, set[str]] = {}

    def is_our_output(self, path: Path) -> bool:
        folder = path.parent
        names = self._names.get(folder)
        if names is None:
            try:
                names = {n[: -len(".json")] for n in os.listdir(folder / RECORD_DIR)}
            except OSError:
                names = set()
            self._names[folder] = names
        if path.name not in names:
            return False
        record = read_record(path)
        return record is not None and record.get("output") == _stamp(path)
