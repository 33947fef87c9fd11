"""Where bundled files and user data live (installed, from source, or in a PyInstaller bundle)."""

from __future__ import annotations

import sys
from importlib import resources
from pathlib import Path

SAMPLE_PHOTO = "samples/astronaut-gray.jpg"
ICON = "icons/colorizer.png"
STYLESHEET = "style.qss"


def resource(name: str) -> Path:
    """A file shipped in the ``resources`` package (works in the bundle too)."""
    ref = resources.files("resources").joinpath(*name.split("/"))
    with resources.as_file(ref) as path:
        return Path(path)


def sample_photo() -> Path:
    return resource(SAMPLE_PHOTO)


def docs_dir() -> Path | None:
    """The user documentation: ``docs/`` inside the bundle, or the source checkout's."""
    candidates = []
    if getattr(sys, "frozen", False):
        candidates.append(Path(getattr(sys, "_MEIPASS", Path(sys.executable).parent)) / "docs")
    candidates.append(Path(__file__).resolve().parents[1] / "docs")
    for folder in candidates:
        if (folder / "USER_GUIDE.md").is_file():
            return folder
    return None
