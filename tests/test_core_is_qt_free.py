"""The core (models, trainer, the engine) must import and run with Qt unavailable."""

import subprocess
import sys

CODE = """
import sys
sys.modules["PySide6"] = None  # any 'import PySide6' now raises ImportError
import models, trainer, colorizer_app.engine, colorizer_app.cli
from colorizer_app.cli import build_parser
build_parser()
assert not any(name.startswith("PySide6.") for name in sys.modules)
print("ok")
"""


def test_core_imports_without_qt():
    result = subprocess.run(
        [sys.executable, "-c", CODE], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
