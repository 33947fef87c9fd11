"""Where bundled files and user data live (installed, from source, or in a PyInstaller bundle)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

SAMPLE_PHOTO = "samples/astronaut-gray.jpg"


def resource(name: str) -> Path:
    """A file shipped in the ``resources`` package (works in the bundle too)."""
    ref = resources.files("resources").joinpath(*name.split("/"))
    with resources.as_file(ref) as path:
        return Path(path)


def sample_photo() -> Path:
    return resource(SAMPLE_PHOTO)
