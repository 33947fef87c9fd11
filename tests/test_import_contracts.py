"""The import contracts of pyproject.toml ([tool.importlinter]): the tree keeps them, and a
reverse import breaks them (so the check can fail)."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("colorizer_app", "trainer", "models")


def lint_imports(cwd: Path) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).with_name("lint-imports")
    command = [str(exe)] if exe.is_file() else [shutil.which("lint-imports") or "lint-imports"]
    return subprocess.run(
        [*command, "--no-cache"], cwd=cwd, capture_output=True, text=True, timeout=300
    )


def test_the_tree_keeps_the_import_contracts():
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 kept, 0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "line", "broken"),
    [
        ("models/color.py", "import colorizer_app.cli", "models is not allowed to import"),
        ("colorizer_app/engine/batch.py", "import trainer.metrics", "is not allowed to import"),
        ("trainer/metrics.py", "import colorizer_app.gui.workers", "is not allowed to import"),
        ("colorizer_app/gui/viewer.py", "import colorizer_app.cli", "is not allowed to import"),
        ("trainer/report.py", "import pyqtgraph", "trainer is not allowed to import pyqtgraph"),
        ("colorizer_app/engine/batch.py", "import ray", "batch is not allowed to import ray"),
    ],
)
def test_a_reverse_import_breaks_the_contract(tmp_path, module, line, broken):
    for package in PACKAGES:
        shutil.copytree(
            ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    assert lint_imports(tmp_path).returncode == 0  # the copy keeps them, as the tree does
    with open(tmp_path / module, "a", encoding="utf-8") as handle:
        handle.write(f"\n{line}  # noqa: E402, F401\n")
    result = lint_imports(tmp_path)
    assert result.returncode != 0, result.stdout
    assert broken in result.stdout
    importer = module.removesuffix(".py").replace("/", ".")
    assert f"{importer} -> {line.split()[1]}" in result.stdout
