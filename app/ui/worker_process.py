"""One run of the worker program as a ``QProcess``: started with the app's import path, its
stdout cut into lines, the tail of its stderr kept for messages, ended politely or by force.

Once let go (ended on purpose, exited or failed to start) it says nothing more, so the supervisor
never hears from a worker it has already given up on or replaced.
"""

from __future__ import annotations

import logging
import os
import sys
from collections import deque
from pathlib import Path

from PySide6.QtCore import QObject, QProcess, QProcessEnvironment, QTimer, Signal

log = logging.getLogger(__name__)


def worker_command() -> tuple[str, list[str]]:
    """How to start a worker: the same executable, told to act as one."""
    if getattr(sys, "frozen", False):
        return sys.executable, ["--worker"]
    return sys.executable, ["-m", "app", "--worker"]


# How a worker's fatal error begins, in Python (faulthandler) and in llama.cpp (GGML_ASSERT, abort).
CRASH_HEADLINES = (
    "Fatal Python error",
    "GGML_ASSERT",
    "ggml_abort",
    "terminate called",
    "Segmentation fault",
)


class WorkerProcess(QObject):
    line_received = Signal(bytes)
    """One line the worker wrote on its stdout, without the newline."""
    exited = Signal(str)
    """The process ended by itself: how (exit code, or a crash) and its last words on stderr."""
    failed_to_start = Signal(str)
    """The program could not be run: the system's reason."""

    def __init__(self, command: tuple[str, list[str]], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._command = command
        self._buffer = b""
        self._stderr_tail: deque[str] = deque(maxlen=20)
        self._stderr_buffer = b""
        self._let_go = False
        self._process = QProcess(self)
        env = QProcessEnvironment.systemEnvironment()
        if not getattr(sys, "frozen", False):
            root = str(Path(__file__).resolve().parents[2])
            env.insert("PYTHONPATH", os.pathsep.join(filter(None, [root, env.value("PYTHONPATH")])))
        self._process.setProcessEnvironment(env)
        self._process.readyReadStandardOutput.connect(self._read_stdout)
        self._process.readyReadStandardError.connect(self._read_stderr)
        self._process.finished.connect(self._on_finished)
        self._process.errorOccurred.connect(self._on_error)

    @property
    def last_words(self) -> str:
        """What best says why it ended: the fatal error it reported (a crash prints a Python or
        llama.cpp stack after it), else the last line it wrote on stderr ("" if none)."""
        for line in reversed(self._stderr_tail):
            if any(headline in line for headline in CRASH_HEADLINES):
                return line.strip()
        return self._stderr_tail[-1] if self._stderr_tail else ""

    def start(self) -> None:
        """Run the program; a program that cannot run may report it before this returns."""
        program, args = self._command
        self._process.start(program, args)

    def write(self, data: bytes) -> None:
        if not self._let_go and self._process.state() != QProcess.ProcessState.NotRunning:
            self._process.write(data)

    def shutdown(self, goodbye: bytes, timeout_ms: int) -> None:
        """Say ``goodbye``, close its stdin and wait; then end it by force."""
        if self._say_goodbye(goodbye) and not self._process.waitForFinished(timeout_ms):
            self.kill()

    def let_go(self, goodbye: bytes, timeout_ms: int) -> None:
        """Say ``goodbye`` and close its stdin without waiting for it: it ends by itself, or by
        force after ``timeout_ms``, and this object is deleted once it has ended."""
        if not self._say_goodbye(goodbye):
            self.deleteLater()
            return
        self._process.finished.connect(self.deleteLater)
        QTimer.singleShot(timeout_ms, self, self._process.kill)

    def _say_goodbye(self, goodbye: bytes) -> bool:
        """Let go, and tell a running worker to end (False: it was not running)."""
        self._let_go = True
        if self._process.state() == QProcess.ProcessState.NotRunning:
            return False
        self._process.write(goodbye)
        self._process.closeWriteChannel()
        return True

    def kill(self) -> None:
        """End it now (and wait the moment that takes), hearing nothing more from it."""
        self._let_go = True
        if self._process.state() != QProcess.ProcessState.NotRunning:
            self._process.kill()
            self._process.waitForFinished(1000)

    def _read_stdout(self) -> None:
        self._buffer += bytes(self._process.readAllStandardOutput().data())
        *lines, self._buffer = self._buffer.split(b"\n")
        for line in lines:
            if self._let_go:
                return  # what it says after being let go is nobody's business
            if line.strip():
                self.line_received.emit(line)

    def _read_stderr(self) -> None:
        # Output arrives in chunks that need not end at a line's end: keep the unfinished tail for
        # the next chunk, so a line is logged whole.
        self._stderr_buffer += bytes(self._process.readAllStandardError().data())
        *lines, self._stderr_buffer = self._stderr_buffer.split(b"\n")
        if self._process.state() == QProcess.ProcessState.NotRunning and self._stderr_buffer:
            lines, self._stderr_buffer = [*lines, self._stderr_buffer], b""
        for raw in lines:
            line = raw.decode("utf-8", errors="replace").rstrip()
            if line.strip():
                self._stderr_tail.append(line)
                log.info("worker: %s", line)

    def _on_finished(self, exit_code: int, exit_status: QProcess.ExitStatus) -> None:
        if self._let_go:
            return
        self._read_stdout()  # its last words still count
        self._read_stderr()
        if self._let_go:
            return  # what it said made the supervisor let go of it
        self._let_go = True
        what = "it crashed" if exit_status == QProcess.ExitStatus.CrashExit else f"exit code {exit_code}"
        self.exited.emit(f"{what}; {self.last_words}" if self.last_words else what)

    def _on_error(self, error: QProcess.ProcessError) -> None:
        if not self._let_go and error == QProcess.ProcessError.FailedToStart:
            self._let_go = True
            self.failed_to_start.emit(self._process.errorString())
