"""The UI-side supervisor of the inference worker process.

It owns one worker (a ``QProcess`` running this same program with ``--worker``), checks the
protocol version at the handshake, tracks a small state machine, and re-emits what the worker
says as Qt signals; the rest of the UI only sees those. If the worker dies it reports the
interrupted answer, starts a new worker and reloads the model that was loaded.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections import deque
from enum import Enum
from pathlib import Path

from PySide6.QtCore import QObject, QProcess, QProcessEnvironment, QTimer, Signal

from app.core.generation import GenerationSettings
from app.engine import protocol as p

log = logging.getLogger(__name__)

HANDSHAKE_TIMEOUT_MS = 30_000
RESTART_DELAYS_MS = (100, 1000, 3000, 10_000)
STABLE_AFTER_S = 60.0


class WorkerState(Enum):
    STOPPED = "stopped"
    STARTING = "starting"
    IDLE = "idle"
    LOADING = "loading"
    GENERATING = "generating"
    CRASHED = "crashed"


def worker_command() -> tuple[str, list[str]]:
    """How to start a worker: the same executable, told to act as one."""
    if getattr(sys, "frozen", False):
        return sys.executable, ["--worker"]
    return sys.executable, ["-m", "app", "--worker"]


class WorkerSupervisor(QObject):
    state_changed = Signal(object)
    """The ``WorkerState`` changed."""
    load_progress = Signal(float)
    """Model load progress, 0.0 to 1.0."""
    model_loaded = Signal(object)
    """A model is ready: a ``protocol.ModelLoaded`` record."""
    model_unloaded = Signal()
    """No model is loaded any more."""
    load_failed = Signal(str, str)
    """A load failed: (reason code, message for the user)."""
    delta = Signal(str, str, str)
    """New text of an answer: (request id, answer text, reasoning text)."""
    finished = Signal(object)
    """An answer ended (completed, stopped or hit its length): a ``protocol.Done`` record."""
    generation_failed = Signal(str, str)
    """An answer could not be produced: (request id, message for the user)."""
    interrupted = Signal(str)
    """The worker died while answering this request id; what arrived so far is all there is."""
    crashed = Signal(str)
    """The worker process died unexpectedly: a description. A restart follows."""
    worker_error = Signal(str)
    """The worker reported a problem that belongs to no request."""

    def __init__(self, command: tuple[str, list[str]] | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._command = command or worker_command()
        self._process: QProcess | None = None
        self._state = WorkerState.STOPPED
        self._buffer = b""
        self._stderr_tail: deque[str] = deque(maxlen=20)
        self._outbox: list[p.Message] = []  # sent once the handshake is done
        self._handshaken = False
        self._stopping = False
        self._request_id = ""
        self._wanted_model: p.LoadModel | None = None
        self.loaded_model: p.ModelLoaded | None = None
        self.worker_pid = 0
        self._crashes = 0
        self._started_at = 0.0
        self._handshake_timer = QTimer(self)
        self._handshake_timer.setSingleShot(True)
        self._handshake_timer.setInterval(HANDSHAKE_TIMEOUT_MS)
        self._handshake_timer.timeout.connect(self._on_handshake_timeout)

    # --- public API ------------------------------------------------------------------------

    @property
    def state(self) -> WorkerState:
        return self._state

    @property
    def current_request(self) -> str:
        return self._request_id

    def start(self) -> None:
        if self._process is not None:
            return
        self._stopping = False
        self._handshaken = False
        self._buffer = b""
        process = QProcess(self)
        env = QProcessEnvironment.systemEnvironment()
        if not getattr(sys, "frozen", False):
            root = str(Path(__file__).resolve().parents[2])
            env.insert("PYTHONPATH", os.pathsep.join(filter(None, [root, env.value("PYTHONPATH")])))
        process.setProcessEnvironment(env)
        process.readyReadStandardOutput.connect(self._on_stdout)
        process.readyReadStandardError.connect(self._on_stderr)
        process.finished.connect(self._on_finished)
        process.errorOccurred.connect(self._on_process_error)
        self._process = process
        self._started_at = time.monotonic()
        self._set_state(WorkerState.STARTING)
        program, args = self._command
        process.start(program, args)
        self._handshake_timer.start()

    def stop(self, timeout_ms: int = 3000) -> None:
        """End the worker: politely first, then by force."""
        self._stopping = True
        self._handshake_timer.stop()
        process = self._process
        if process is None:
            self._set_state(WorkerState.STOPPED)
            return
        if process.state() != QProcess.ProcessState.NotRunning:
            process.write(p.Shutdown().encode())
            process.closeWriteChannel()
            if not process.waitForFinished(timeout_ms):
                process.kill()
                process.waitForFinished(1000)
        self._process = None
        self._set_state(WorkerState.STOPPED)

    def load_model(
        self, model_path: str, context_length: int, projector_path: str = "auto", display_name: str = ""
    ) -> None:
        """Load a model; its projector (images, audio) is the one that belongs to it unless one is
        given ("" for none)."""
        self._wanted_model = p.LoadModel(
            model_path=model_path,
            context_length=context_length,
            projector_path=projector_path,
            display_name=display_name,
        )
        self.loaded_model = None
        self._send(self._wanted_model)
        self._set_state(WorkerState.LOADING)

    @property
    def model_chosen(self) -> bool:
        """A model is loaded or on its way."""
        return self._wanted_model is not None or self.loaded_model is not None

    def unload_model(self) -> None:
        self._wanted_model = None
        self.loaded_model = None
        self._send(p.UnloadModel())

    def generate(self, request_id: str, messages: list[p.ChatTurn], settings: GenerationSettings) -> None:
        self._request_id = request_id
        self._send(p.Generate(request_id=request_id, messages=messages, settings=settings))
        self._set_state(WorkerState.GENERATING)

    def cancel(self, request_id: str) -> None:
        """Ask the worker to stop this answer between two tokens; ``finished`` follows."""
        if request_id:
            self._send(p.Cancel(request_id=request_id))

    # --- sending ---------------------------------------------------------------------------

    def _send(self, message: p.Message) -> None:
        if self._process is None:
            self._outbox.append(message)
            self.start()
            return
        if not self._handshaken:
            self._outbox.append(message)
            return
        self._process.write(message.encode())

    # --- receiving -------------------------------------------------------------------------

    def _on_stdout(self) -> None:
        if self._process is None:
            return
        self._buffer += bytes(self._process.readAllStandardOutput().data())
        *lines, self._buffer = self._buffer.split(b"\n")
        for line in lines:
            if not line.strip():
                continue
            try:
                message = p.decode(line)
            except p.ProtocolError as exc:
                log.warning("Malformed message from the worker: %s", exc)
                continue
            self._dispatch(message)

    def _on_stderr(self) -> None:
        if self._process is None:
            return
        text = bytes(self._process.readAllStandardError().data()).decode("utf-8", errors="replace")
        for line in text.splitlines():
            if line.strip():
                self._stderr_tail.append(line)
                log.info("worker: %s", line)

    def _dispatch(self, message: p.Message) -> None:
        if isinstance(message, p.Hello):
            self._on_hello(message)
        elif isinstance(message, p.Delta):
            self.delta.emit(message.request_id, message.text, message.reasoning)
        elif isinstance(message, p.Done):
            self._request_id = ""
            self._set_state(WorkerState.IDLE)
            self.finished.emit(message)
        elif isinstance(message, p.GenerationFailed):
            self._request_id = ""
            self._set_state(WorkerState.IDLE)
            self.generation_failed.emit(message.request_id, message.message)
        elif isinstance(message, p.LoadProgress):
            self.load_progress.emit(message.fraction)
        elif isinstance(message, p.ModelLoaded):
            self.loaded_model = message
            self._set_state(WorkerState.IDLE)
            self.model_loaded.emit(message)
        elif isinstance(message, p.LoadFailed):
            self._wanted_model = None
            self._set_state(WorkerState.IDLE)
            self.load_failed.emit(message.reason, message.message)
        elif isinstance(message, p.ModelUnloaded):
            self._set_state(WorkerState.IDLE)
            self.model_unloaded.emit()
        elif isinstance(message, p.Error):
            self.worker_error.emit(message.message)

    def _on_hello(self, hello: p.Hello) -> None:
        self._handshake_timer.stop()
        if hello.protocol != p.PROTOCOL_VERSION:
            self._fail_start(
                f"The inference engine speaks protocol {hello.protocol}, but this window needs "
                f"{p.PROTOCOL_VERSION}. Reinstall Hearth."
            )
            return
        self._handshaken = True
        self.worker_pid = hello.pid
        pending, self._outbox = self._outbox, []
        busy = WorkerState.IDLE
        for message in pending:
            if isinstance(message, p.LoadModel):
                busy = WorkerState.LOADING
            elif isinstance(message, p.Generate):
                busy = WorkerState.GENERATING
            assert self._process is not None
            self._process.write(message.encode())
        self._set_state(busy)

    # --- process lifetime ------------------------------------------------------------------

    def _on_finished(self, exit_code: int, exit_status: QProcess.ExitStatus) -> None:
        if self._stopping:
            return
        self._process = None
        self._handshake_timer.stop()
        was = self._state
        detail = self._describe_exit(exit_code, exit_status)
        log.warning("The worker stopped unexpectedly: %s", detail)
        self._set_state(WorkerState.CRASHED)
        if self._request_id:
            request_id, self._request_id = self._request_id, ""
            self.interrupted.emit(request_id)
        self.loaded_model = None
        if was is WorkerState.LOADING and self._wanted_model is not None:
            # A model that kills the engine while loading would do it again: don't retry it.
            path = Path(self._wanted_model.model_path).name
            self._wanted_model = None
            self.load_failed.emit("crashed", f"The engine stopped while loading “{path}” ({detail}).")
        self.crashed.emit(detail)
        self._schedule_restart()

    def _schedule_restart(self) -> None:
        if time.monotonic() - self._started_at > STABLE_AFTER_S:
            self._crashes = 0
        delay = RESTART_DELAYS_MS[min(self._crashes, len(RESTART_DELAYS_MS) - 1)]
        self._crashes += 1
        QTimer.singleShot(delay, self._restart)

    def _restart(self) -> None:
        if self._stopping or self._process is not None:
            return
        self._outbox = [m for m in self._outbox if not isinstance(m, p.Generate)]
        if self._wanted_model is not None and not any(isinstance(m, p.LoadModel) for m in self._outbox):
            self._outbox.insert(0, self._wanted_model)
        self.start()

    def _on_process_error(self, error: QProcess.ProcessError) -> None:
        if error == QProcess.ProcessError.FailedToStart:
            self._fail_start(f"The inference engine could not be started ({self._command[0]}).")

    def _on_handshake_timeout(self) -> None:
        self._fail_start("The inference engine did not answer in time.")

    def _fail_start(self, message: str) -> None:
        log.error("%s", message)
        self.worker_error.emit(message)
        if self._process is not None:
            self._process.kill()  # _on_finished restarts it with backoff

    def _describe_exit(self, exit_code: int, exit_status: QProcess.ExitStatus) -> str:
        crashed = exit_status == QProcess.ExitStatus.CrashExit
        what = "it crashed" if crashed else f"exit code {exit_code}"
        last = self._stderr_tail[-1] if self._stderr_tail else ""
        return f"{what}; {last}" if last else what

    def _set_state(self, state: WorkerState) -> None:
        if state is not self._state:
            self._state = state
            self.state_changed.emit(state)
