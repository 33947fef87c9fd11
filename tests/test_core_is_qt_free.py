"""The core (models, trainer, the engine) must import with Qt unavailable.

A child interpreter blocks PySide6 (``sys.modules["PySide6"] = None``: any import of it raises
ImportError), imports every module of the core packages found by ``pkgutil.walk_packages``,
and lists any Qt module that got loaded anyway. The import-linter contract checks the same
statically; this checks what really happens at import time.
"""

import subprocess
import sys

CORE = ("models", "trainer", "colorizer_app.engine")

CHECK = """
import importlib, pkgutil, sys

QT = ("PySide6", "shiboken6", "pyqtgraph")
block, packages, extra = sys.argv[1] == "block", sys.argv[2].split(","), sys.argv[3:]
if block:
    sys.modules["PySide6"] = None  # any 'import PySide6...' now raises ImportError
imported = []
for name in packages:
    package = importlib.import_module(name)
    imported.append(name)
    for info in pkgutil.walk_packages(package.__path__, name + "."):
        importlib.import_module(info.name)
        imported.append(info.name)
for name in extra:
    importlib.import_module(name)
    imported.append(name)
loaded = sorted(
    name for name, module in sys.modules.items()
    if module is not None and name.split(".")[0] in QT
)
print("imported", len(imported), " ".join(imported))
if loaded:
    sys.exit("Qt modules loaded: " + " ".join(loaded))
print("ok")
"""


def run_check(*, block: bool, extra: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", CHECK, "block" if block else "open", ",".join(CORE), *extra],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_every_core_module_imports_without_qt():
    result = run_check(block=True, extra=("colorizer_app.cli",))  # the CLI works headless too
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "ok"
    imported = result.stdout.splitlines()[0].split()[2:]
    # every module is really walked, not only the packages' __init__
    for module in ("trainer.loop", "trainer.data", "trainer.evaluate", "trainer.runs",
                   "trainer.report", "trainer.metrics", "trainer.checkpoint", "trainer.cli",
                   "colorizer_app.engine.preview", "colorizer_app.engine.options",
                   "models.modelfile", "models.progress", "models.device"):  # fmt: skip
        assert module in imported


def test_the_check_sees_a_qt_module_that_gets_loaded():
    """With Qt not blocked, importing a GUI module loads PySide6 and pyqtgraph: the check must
    fail (it would pass silently if its assertion could not)."""
    result = run_check(block=False, extra=("colorizer_app.gui.train_tab",))
    assert result.returncode != 0
    assert "Qt modules loaded:" in result.stderr and "PySide6" in result.stderr
    assert "pyqtgraph" in result.stderr


def test_blocked_qt_stops_a_core_module_that_imports_it():
    result = run_check(block=True, extra=("colorizer_app.gui.viewer",))
    assert result.returncode != 0 and "No module named 'PySide6" in result.stderr
