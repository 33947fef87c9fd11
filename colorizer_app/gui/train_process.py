"""``colorizer train --json-progress`` as a child process (QProcess), seen through signals.

A separate process keeps the window responsive (no contention for the GIL with a training
loop) and isolates crashes: a training run that dies takes nothing else with it, and its last
checkpoint stays resumable. Commands go to the child's stdin ('pause', 'resume', 'cancel');
events come back as one JSON object per stdout line.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

from PySide6.QtCore import QObject, QProcess, QProcessEnvironment, QTimer, Signal

log = logging.getLogger(__name__)

EXIT_CANCELLED = 130  # the trainer's exit status after a cancel (checkpoint saved)
KILL_AFTER_MS = 60000  # a cancel that does not end the child within this is enforced


def train_command(args: list[str]) -> tuple[str, list[str]]:
    """Program and arguments that run ``colorizer train ARGS`` from source or from a bundle."""
    if getattr(sys, "frozen", False):  # the bundle: its console executable is the CLI
        here = Path(sys.executable)
        cli = here.with_name("colorizer.exe" if sys.platform == "win32" else "colorizer")
        return str(cli if cli.is_file() else here), ["train", *args]
    return sys.executable, ["-m", "colorizer_app", "train", *args]


class TrainProcess(QObject):
    event = Signal(dict)  # one trainer event (start, resume, step, eval, checkpoint, done, ...)
    log_line = Signal(str)  # the trainer's stderr, line by line
    ended = Signal(int, str)  # exit code (-1: crashed or could not start), one-line reason

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._process: QProcess | None = None
        self._buffer = b""
        self._error_message = ""
        self._killer = QTimer(self)
        self._killer.setSingleShot(True)
        self._killer.timeout.connect(self._enforce_stop)

    @property
    def running(self) -> bool:
        return self._process is not None

    def start(self, args: list[str]) -> None:
        if self._process is not None:
            raise RuntimeError("a training process is already running")
        program, arguments = train_command(["--json-progress", *args])
        process = QProcess(self)
        env = QProcessEnvironment.systemEnvironment()
        env.insert("PYTHONUNBUFFERED", "1")
        env.insert("PYTHONIOENCODING", "utf-8")
        process.setProcessEnvironment(env)
        process.readyReadStandardOutput.connect(self._read_stdout)
        process.readyReadStandardError.connect(self._read_stderr)
        process.finished.connect(self._on_finished)
        process.errorOccurred.connect(self._on_error)
        self._process, self._buffer, self._error_message = process, b"", ""
        log.info("starting %s %s", program, " ".join(arguments))
        process.start(program, arguments)

    def send(self, command: str) -> None:
        if self._process is not None:
            self._process.write((command + "\n").encode())

    def pause(self) -> None:
        self.send("pause")

    def resume(self) -> None:
        self.send("resume")

    def cancel(self) -> None:
        """Ask for a checkpoint and a clean stop; enforce it if the child does not obey."""
        if self._process is None:
            return
        self.send("cancel")
        self._killer.start(KILL_AFTER_MS)

    def wait(self, msecs: int) -> bool:
        """Block until the child ends (used when the window closes)."""
        if self._process is None:
            return True
        finished = self._process.waitForFinished(msecs)
        return finished or self._process is None

    def _enforce_stop(self) -> None:
        if self._process is not None:
            log.warning("the training process ignored cancel; terminating it")
            self._process.terminate()  # SIGTERM: the trainer checkpoints and exits too
            QTimer.singleShot(10000, self._kill)

    def _kill(self) -> None:
        if self._process is not None:
            self._process.kill()

    def _read_stdout(self) -> None:
        if self._process is None:
            return
        self._buffer += bytes(self._process.readAllStandardOutput())
        *lines, self._buffer = self._buffer.split(b"\n")
        for raw in lines:
            text = raw.decode("utf-8", "replace").strip()
            if not text:
                continue
            try:
                event = json.loads(text)
            except json.JSONDecodeError:
                self.log_line.emit(text)
                continue
            if isinstance(event, dict):
                if event.get("event") == "error":
                    self._error_message = str(event.get("message", ""))
                self.event.emit(event)

    def _read_stderr(self) -> None:
        if self._process is None:
            return
        text = bytes(self._process.readAllStandardError()).decode("utf-8", "replace")
        for line in text.splitlines():
            if line.strip():
                self.log_line.emit(line)

    def _on_error(self, error: QProcess.ProcessError) -> None:
        if error == QProcess.ProcessError.FailedToStart and self._process is not None:
            self._process = None
            self.ended.emit(-1, "the training process could not start")

    def _on_finished(self, code: int, status: QProcess.ExitStatus) -> None:
        self._read_stdout()
        self._read_stderr()
        self._killer.stop()
        self._process = None
        if status == QProcess.ExitStatus.CrashExit:
            reason = "the training process crashed; resume continues from its last checkpoint"
            self.ended.emit(-1, reason)
        elif code == 0:
            self.ended.emit(0, "finished")
        elif code == EXIT_CANCELLED:
            self.ended.emit(code, "stopped; the checkpoint is saved and the run can be resumed")
        else:
            self.ended.emit(code, self._error_message or f"training failed (exit status {code})")
