"""The PySide6 desktop app. It only wires Qt signals to the Qt-free engine."""
