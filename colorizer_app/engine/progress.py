"""The progress protocol between long jobs and whoever watches them (CLI, GUI, tests)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Protocol

from colorizer_app.engine.errors import Cancelled


class Progress(Protocol):
    """Called by the core between tiles, images and training steps."""

    def update(self, done: int, total: int, message: str = "") -> None:
        """``done`` of ``total`` units of the current job are finished."""

    def check_cancelled(self) -> None:
        """Raise :class:`Cancelled` if the job should stop now."""


class NullProgress:
    """Reports nowhere, never cancels."""

    def update(self, done: int, total: int, message: str = "") -> None:
        pass

    def check_cancelled(self) -> None:
        pass


class CallbackProgress:
    """Forwards updates to a callback; cancelled through :meth:`cancel` (thread-safe)."""

    def __init__(self, callback: Callable[[int, int, str], None] | None = None) -> None:
        self._callback = callback
        self._cancel = threading.Event()

    def update(self, done: int, total: int, message: str = "") -> None:
        if self._callback is not None:
            self._callback(done, total, message)

    def cancel(self) -> None:
        self._cancel.set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def check_cancelled(self) -> None:
        if self._cancel.is_set():
            raise Cancelled("cancelled by the user")


class OffsetProgress:
    """Reports a sub-job's units as units ``offset + done`` of an overall ``total``."""

    def __init__(self, parent: Progress, offset: int, total: int) -> None:
        self._parent = parent
        self._offset = offset
        self._total = total

    def update(self, done: int, total: int, message: str = "") -> None:
        self._parent.update(self._offset + done, self._total, message)

    def check_cancelled(self) -> None:
        self._parent.check_cancelled()
