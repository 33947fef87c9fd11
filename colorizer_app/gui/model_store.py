"""The model picker's list: the shipped default, the user models folder, and files chosen."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QStandardPaths

from colorizer_app.engine.pipeline import ColorizeSettings
from models.errors import ModelFileError
from models.modelfile import LoadedGenerator, default_model_path, load_generator, read_info


@dataclass(frozen=True)
class ModelEntry:
    label: str
    path: Path


def user_models_dir() -> Path:
    base = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation)
    folder = Path(base) / "models"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def available_models(extra: list[Path] | None = None) -> list[ModelEntry]:
    """The default model first (if shipped), then valid files in the user folder, then extras."""
    entries: list[ModelEntry] = []
    default = default_model_path()
    if default is not None:
        entries.append(ModelEntry("Default model", default))
    seen = {e.path.resolve() for e in entries}
    candidates = sorted(user_models_dir().glob("*.safetensors")) + list(extra or [])
    for path in candidates:
        path = Path(path)
        if path.resolve() in seen:
            continue
        try:
            info = read_info(path)
        except ModelFileError:
            continue
        seen.add(path.resolve())
        entries.append(ModelEntry(info.name or path.stem, path))
    # two files may carry the same name inside: tell them apart by their file names
    names = [e.label for e in entries]
    return [
        ModelEntry(f"{e.label} ({e.path.name})", e.path)
        if names.count(e.label) > 1 and e.label != "Default model"
        else e
        for e in entries
    ]


def load_runner(model_path: Path, settings: ColorizeSettings, cached: LoadedGenerator | None):
    """A runner for ``model_path`` (the cached generator when it is that file's; loaded
    otherwise, on the caller's worker thread) and the generator, for the caller to cache."""
    generator = cached
    if generator is None or generator.path != model_path:
        generator = load_generator(model_path)
    return settings.make_runner(generator), generator
