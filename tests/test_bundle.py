"""Build the PyInstaller bundle from build.spec and run its self-test (issue: the bundle runs).

Takes a few minutes (PyInstaller analyses torch and PySide6); skipped when PyInstaller is not
installed, or when COLORIZER_SKIP_BUNDLE=1 for a quick local run.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from tests.conftest import smooth_photo, tiny_train_args

ROOT = Path(__file__).resolve().parents[1]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        shutil.which("pyinstaller", path=str(Path(sys.executable).parent)) is None
        or os.environ.get("COLORIZER_SKIP_BUNDLE") == "1",
        reason="PyInstaller not installed, or COLORIZER_SKIP_BUNDLE=1",
    ),
]


def test_bundle_builds_and_passes_its_self_test(tmp_path):
    pyinstaller = Path(sys.executable).parent / "pyinstaller"
    build = subprocess.run(
        [
            str(pyinstaller),
            "--noconfirm",
            "--log-level",
            "WARN",
            "--distpath",
            str(tmp_path / "dist"),
            "--workpath",
            str(tmp_path / "build"),
            str(ROOT / "build.spec"),
        ],
        capture_output=True,
        text=True,
        timeout=1800,
        cwd=ROOT,
    )
    assert build.returncode == 0, build.stderr[-4000:]
    folder = tmp_path / "dist" / "colorizer"
    exe = folder / ("colorizer.exe" if sys.platform == "win32" else "colorizer")
    assert exe.is_file()
    internal = folder / "_internal"
    assert (internal / "models" / "weights" / "default.safetensors").is_file()
    assert (internal / "resources" / "icons" / "colorizer.png").is_file()
    assert (internal / "docs" / "USER_GUIDE.md").is_file()

    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "HOME": str(tmp_path / "home")}
    env.pop("PYTHONPATH", None)

    def bundled(*args):  # run in tmp_path, not the source tree: all must come from the bundle
        ran = subprocess.run(
            [str(exe), *args], capture_output=True, text=True, timeout=600, env=env, cwd=tmp_path
        )
        assert ran.returncode == 0, ran.stdout + ran.stderr
        return ran

    run = bundled("--self-test")
    assert "self-test passed: 4/4 checks" in run.stdout
    version = bundled("--version")
    assert version.stdout.startswith("colorizer ")

    # phone photos: HEIC through pillow-heif and AVIF through Pillow, both found in the bundle
    phone = tmp_path / "phone"
    phone.mkdir()
    kinds = _phone_photos(phone)
    bundled("colorize", str(phone), "-o", str(tmp_path / "coloured"), "-q")
    assert sorted(p.name for p in (tmp_path / "coloured").iterdir()) == [
        f"{kind}.png" for kind in kinds
    ]

    # the parts of torch the spec trims are really gone...
    assert not (internal / "torch" / "include").exists()
    assert not (internal / "torch" / "test").exists()
    assert not list(internal.glob("torch/lib/libtorchbind_test*"))
    # ...and the Train tab's child process still trains from the bundle (data loader workers
    # included)
    data = tmp_path / "photos"
    data.mkdir()
    for i in range(8):
        Image.fromarray(smooth_photo(48, 64, color=True, seed=i)).save(data / f"p{i}.png")
    run_dir = tmp_path / "run"
    bundled("train", *tiny_train_args(data, run_dir, steps=2, workers=1, val_fraction=0.25))
    assert (run_dir / "generator.safetensors").is_file()


def _phone_photos(folder: Path) -> list[str]:
    """A HEIC and an AVIF photo in ``folder`` (each where this Python can write it)."""
    from PIL import features

    photo = Image.fromarray(smooth_photo(48, 64, color=True))
    kinds = []
    try:
        import pillow_heif
    except ImportError:
        pillow_heif = None
    if pillow_heif is not None:
        pillow_heif.from_pillow(photo).save(folder / "heic.heic")
        kinds.append("heic")
    if features.check("avif"):
        photo.save(folder / "avif.avif")
        kinds.append("avif")
    return sorted(kinds)
