"""The progress protocol between long jobs and whoever watches them (CLI, GUI, tests)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Protocol

from models.errors import Cancelled


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
    """Forwards updates to a callback; cancelled and paused from any thread.

    While paused, :meth:`check_cancelled` blocks the job (between tiles, files or training
    steps) until :meth:`resume` or :meth:`cancel`.
    """

    def __init__(
        self,
        callback: Callable[[int, int, str], None] | None = None,
        *,
        on_hold: Callable[[], None] | None = None,
    ) -> None:
        self._callback = callback
        self._on_hold = on_hold  # called on the job's thread when a pause really holds it
        self._cancel = threading.Event()
        self._running = threading.Event()
        self._running.set()
        self.held_seconds = 0.0  # time the job spent held by pauses (not working)

    def update(self, done: int, total: int, message: str = "") -> None:
        if self._callback is not None:
            self._callback(done, total, message)

    def cancel(self) -> None:
        self._cancel.set()
        self._running.set()  # wake a paused job so that it can stop

    def pause(self) -> None:
        if not self._cancel.is_set():
            self._running.clear()

    def resume(self) -> None:
        self._running.set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    def check_cancelled(self) -> None:
        if not self._running.is_set():
            if self._on_hold is not None:
                self._on_hold()
            held = time.monotonic()
            # short waits keep the main thread responsive to signal handlers (SIGTERM -> cancel)
            while not self._running.wait(0.2):
                pass
            self.held_seconds += time.monotonic() - held
        if self._cancel.is_set():
            raise Cancelled("cancelled by the user")


class OffsetProgress:
    """Reports a sub-job's units as units ``offset + done`` of an overall ``total``.

    With ``span``, the sub-job's own ``done / total`` is scaled onto ``span`` overall units
    instead (one file's tiles as a share of a batch counted in files, say).
    """

    def __init__(self, parent: Progress, offset: int, total: int, *, span: int | None = None):
        self._parent = parent
        self._offset = offset
        self._total = total
        self._span = span

    def update(self, done: int, total: int, message: str = "") -> None:
        if self._span is not None:
            done = done * self._span // total if total else 0
        self._parent.update(self._offset + done, self._total, message)

    def check_cancelled(self) -> None:
        self._parent.check_cancelled()

    @property
    def held_seconds(self) -> float:
        return held_seconds(self._parent)


def held_seconds(progress: Progress) -> float:
    """Seconds ``progress`` held its job in pauses so far (0 for one that cannot pause)."""
    return float(getattr(progress, "held_seconds", 0.0))
