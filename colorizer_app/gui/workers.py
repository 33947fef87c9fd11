"""Background jobs for the GUI: one QObject worker per job, moved to its own QThread.

Workers only call the Qt-free engine. Every exception becomes the ``failed`` signal, which
carries the exception object itself: callers dispatch on its type (a ``ModelFileError`` is
the model file's fault, an ``InferenceError`` is not) and :func:`describe` words it in one
line. Cancellation is a flag checked by the engine's progress protocol (never
``QThread.terminate``). Arrays cross threads; QImages are made on the GUI thread. Progress and
preview signals are throttled so a fast job cannot flood the event loop.
"""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Callable

import numpy as np
from PySide6.QtCore import QCoreApplication, QObject, Qt, QThread, Signal, Slot

from colorizer_app.engine.pipeline import compose, fit_long_side
from models.errors import Cancelled, ColorizerError
from models.progress import CallbackProgress

log = logging.getLogger(__name__)

PREVIEW_INTERVAL_S = 0.25
PROGRESS_INTERVAL_S = 0.05
PREVIEW_MAX_SIDE = 1024


class Worker(QObject):
    """Runs ``job(progress, emit_preview)`` on a thread; reports through typed signals."""

    progress = Signal(int, int, str)  # done, total, message
    preview = Signal(object)  # a numpy array, job-specific
    finished = Signal(object)  # the job's result
    failed = Signal(object)  # the exception (describe() gives its one-line reason)
    cancelled = Signal()

    def __init__(self, job: Callable, name: str = "job") -> None:
        super().__init__()
        self._job = job
        self.name = name
        self._last_progress = 0.0
        self._token = CallbackProgress(self._on_progress)

    def cancel(self) -> None:
        self._token.cancel()

    def pause(self) -> None:
        self._token.pause()

    def resume(self) -> None:
        self._token.resume()

    @property
    def is_paused(self) -> bool:
        return self._token.paused

    def _on_progress(self, done: int, total: int, message: str) -> None:
        now = time.monotonic()
        if done >= total or now - self._last_progress >= PROGRESS_INTERVAL_S:
            self._last_progress = now
            self.progress.emit(done, total, message)

    @Slot()
    def run(self) -> None:
        try:
            result = self._job(self._token, self.preview.emit)
        except Cancelled:
            self.cancelled.emit()
        except Exception as err:  # a bug must reach the user as a message, not a dead thread
            if not isinstance(err, ColorizerError | MemoryError):
                log.error("%s failed:\n%s", self.name, traceback.format_exc())
            # without its traceback: the job's frames (photos, a network) are not kept alive
            # until the GUI thread gets to the message
            self.failed.emit(err.with_traceback(None))
        else:
            self.finished.emit(result)
        finally:
            # Be deleted on the GUI thread (deleteLater on the thread's finish). Destroyed on
            # this thread, the object's C++ destructor holds a Qt signal-slot lock while
            # PySide waits for the GIL, and the GUI thread, holding the GIL, can wait for
            # that lock (connecting a signal): a deadlock seen once in the test suite.
            app = QCoreApplication.instance()
            if app is not None:
                self.moveToThread(app.thread())


def describe(err: BaseException) -> str:
    """What went wrong, in one line for the user: the message of the engine's and the
    trainer's own errors, a hint for out-of-memory, the type and text of anything else."""
    if isinstance(err, ColorizerError):
        return str(err)
    if isinstance(err, MemoryError):
        return "out of memory: try a smaller render size"
    text = " ".join(str(err).split())
    return f"unexpected error: {type(err).__name__}" + (f": {text[:300]}" if text else "")


class Job(QObject):
    """GUI-thread side of a worker: its slots run the caller's callbacks on the GUI thread.

    (Signals connected straight to Python functions would run them on the worker's thread;
    connecting them to this object's slots makes them queued.)
    """

    def __init__(self, owner: QObject, worker: Worker, callbacks: dict) -> None:
        super().__init__(owner)
        self.worker, self._callbacks = worker, callbacks
        self._abandoned = False
        worker.progress.connect(self._on_progress)
        worker.preview.connect(self._on_preview)
        worker.finished.connect(self._on_finished)
        worker.failed.connect(self._on_failed)
        worker.cancelled.connect(self._on_cancelled)

    def _call(self, key: str, *args) -> None:
        callback = self._callbacks.get(key)
        if callback is not None:
            callback(*args)

    @Slot(int, int, str)
    def _on_progress(self, done: int, total: int, message: str) -> None:
        self._call("progress", done, total, message)

    @Slot(object)
    def _on_preview(self, item) -> None:
        if not self._abandoned:
            self._call("preview", item)

    @Slot(object)
    def _on_finished(self, result) -> None:
        self._end("finished", result)

    @Slot(object)
    def _on_failed(self, err: BaseException) -> None:
        self._end("failed", err)

    @Slot()
    def _on_cancelled(self) -> None:
        self._end("cancelled")

    def _end(self, key: str, *args) -> None:
        self._call("done")
        if self._abandoned and key != "cancelled":  # cancelled after its work was done:
            key, args = "cancelled", ()  # the owner no longer wants the result
        self._call(key, *args)

    def cancel(self) -> None:
        """Ask the worker to stop; from now on only ``cancelled`` is reported."""
        self._abandoned = True
        self.stop()

    def stop(self) -> None:
        """Ask the worker to stop but keep its result (a job that returns what it finished)."""
        self._token("cancel")

    def pause(self) -> None:
        """Hold the job at its next progress check until :meth:`resume` (or a cancel)."""
        self._token("pause")

    def resume(self) -> None:
        self._token("resume")

    @property
    def paused(self) -> bool:
        try:
            return self.worker.is_paused
        except RuntimeError:
            return False

    def _token(self, action: str) -> None:
        try:
            getattr(self.worker, action)()
        except RuntimeError:  # the worker already finished and was deleted
            pass


_threads: list[QThread] = []  # every thread started, for the tests' leak check


def live_threads() -> list[QThread]:
    """Threads started by :func:`start` that are still running."""
    alive = []
    for thread in list(_threads):
        try:
            if thread.isRunning():
                alive.append(thread)
            else:
                _threads.remove(thread)
        except RuntimeError:  # deleted on the C++ side: finished
            _threads.remove(thread)
    return alive


def start(job: Callable, name: str, owner: QObject, **callbacks) -> Job:
    """Run ``job(progress, emit_preview)`` on a new QThread; callbacks run on the GUI thread.

    Callbacks (all optional): finished(result), failed(exception), cancelled(),
    progress(done, total, message), preview(item), done() (before any of the three endings).
    """
    thread = QThread()
    thread.setObjectName(name)
    worker = Worker(job, name)
    worker.moveToThread(thread)
    handle = Job(owner, worker, callbacks)
    thread.started.connect(worker.run)
    # Direct: quit() is called on the worker's thread as it ends (QThread.quit is thread-safe).
    # A queued quit would wait for the GUI thread's event loop, so a GUI-thread wait() for
    # the thread (closing the window) could only time out.
    for signal in (worker.finished, worker.failed, worker.cancelled):
        signal.connect(thread.quit, Qt.ConnectionType.DirectConnection)
    thread.finished.connect(worker.deleteLater)
    thread.finished.connect(thread.deleteLater)
    _threads.append(thread)
    thread.start()
    return handle


class PreviewThrottle:
    """Turns the engine's per-batch a,b accumulator into a few coloured thumbnails a second.

    The colouring happens here, on the worker thread; the GUI thread only shows the result.
    """

    def __init__(
        self, emit: Callable[[np.ndarray], None], thumb: np.ndarray, strength: float
    ) -> None:
        self._emit, self._thumb, self._strength = emit, thumb, strength
        self._last = 0.0

    def __call__(self, accumulator: np.ndarray) -> None:
        now = time.monotonic()
        if now - self._last < PREVIEW_INTERVAL_S:
            return
        self._last = now
        ab = fit_long_side(accumulator, PREVIEW_MAX_SIDE)
        if ab is accumulator:  # the engine goes on writing into its accumulator
            ab = accumulator.copy()
        self._emit(compose(self._thumb, ab, self._strength))
