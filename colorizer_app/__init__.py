"""Colorizer: bring old black-and-white photographs back to colour.

``colorizer_app.engine`` is the Qt-free inference engine; the desktop GUI lives beside it
and only wires Qt signals to the engine.
"""

__version__ = "0.2.0"  # also the package version (pyproject reads it); see CHANGELOG.md
