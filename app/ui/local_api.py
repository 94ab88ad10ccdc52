"""The local API: other programs on this computer use the model Hearth has loaded.

The HTTP side (``api_server``) runs on threads of its own; this object, on the UI thread, runs
its requests on the UI's worker one at a time, and only when the user's own chat is not asking:
the user always goes first, and a program's request waits in line behind them. A request whose
client went away leaves the line, or is stopped if under way.
"""

from __future__ import annotations

import collections
import logging
import secrets
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from app.engine import protocol as p
from app.ui.api_server import ApiJob, ApiServer
from app.ui.supervisor import WorkerSupervisor

log = logging.getLogger(__name__)

DEFAULT_PORT = 39281


def new_token() -> str:
    return "hearth-" + secrets.token_urlsafe(24)


class LocalApi(QObject):
    in_use_changed = Signal()
    """A program's request started or ended, or one joined or left the line."""
    _arrived = Signal(object)  # an ApiJob, from an HTTP thread
    _dropped = Signal(object)  # an ApiJob whose client went away or was answered

    def __init__(
        self,
        supervisor: WorkerSupervisor,
        user_busy: Callable[[], bool],
        pictures: Path,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._supervisor = supervisor
        self._user_busy = user_busy
        self._pictures = pictures
        self._server: ApiServer | None = None
        self._line: collections.deque[ApiJob] = collections.deque()
        self._job: ApiJob | None = None
        self._arrived.connect(self._on_arrived)
        self._dropped.connect(self._on_dropped)
        supervisor.delta.connect(self._on_delta)
        supervisor.finished.connect(self._on_finished)
        supervisor.generation_failed.connect(self._on_failed)
        supervisor.interrupted.connect(
            lambda request_id: self._on_failed(request_id, "Hearth's engine stopped.")
        )
        supervisor.model_loaded.connect(lambda _loaded: self._pump())
        supervisor.model_unloaded.connect(self._fail_waiting)

    # --- serving ---------------------------------------------------------------------------

    @property
    def serving(self) -> bool:
        return self._server is not None

    @property
    def address(self) -> str:
        return self._server.address if self._server else ""

    @property
    def answering(self) -> bool:
        """A program's answer is under way."""
        return self._job is not None

    @property
    def waiting(self) -> int:
        return len(self._line)

    def serve(self, port: int, token: str) -> str:
        """Start serving (or serve again on another port or token); returns "" or why it could not."""
        self.stop()
        try:
            self._server = ApiServer(
                port, token, self._model_name, self._arrived.emit, self._dropped.emit, self._pictures
            )
        except OSError as exc:
            log.warning("the local API could not listen on port %s: %s", port, exc)
            return f"Port {port} cannot be used ({exc.strerror or exc}). Choose another port."
        log.info("local API serving on %s", self._server.address)
        self.in_use_changed.emit()
        return ""

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.close()
        self._server = None
        self._fail_waiting()
        if self._job is not None:
            self._supervisor.cancel(self._job.id)
        self.in_use_changed.emit()

    def _model_name(self) -> str:
        # Read from HTTP threads: one attribute read, and the record itself never changes.
        loaded = self._supervisor.loaded_model
        return loaded.name if loaded is not None else ""

    # --- the line --------------------------------------------------------------------------

    def pump(self) -> None:
        """Start the next program's request if the engine is free of the user's (call when the
        user's answer ends)."""
        self._pump()

    def _pump(self) -> None:
        supervisor = self._supervisor
        if self._job is not None or not self._line or supervisor.loaded_model is None:
            return
        if self._user_busy() or supervisor.requests:
            return  # the user first: asked again when their answer ends
        job = self._job = self._line.popleft()
        try:
            supervisor.generate(job.id, job.messages, job.settings)
        except Exception as exc:  # its program is told, never left waiting, and the line moves on
            log.exception("a local API request could not be sent to the engine")
            self._job = None
            job.events.put(("failed", f"Hearth could not start this answer: {exc}"))
            self._pump()
            return
        self.in_use_changed.emit()

    def _on_arrived(self, job: ApiJob) -> None:
        if job.cancelled.is_set():
            return
        self._line.append(job)
        self.in_use_changed.emit()
        self._pump()

    def _on_dropped(self, job: ApiJob) -> None:
        if job in self._line:
            self._line.remove(job)
            self.in_use_changed.emit()
        elif self._job is job:
            self._supervisor.cancel(job.id)  # its Done ends it

    def _fail_waiting(self) -> None:
        while self._line:
            self._line.popleft().events.put(("failed", "The model was unloaded in Hearth."))
        self.in_use_changed.emit()

    # --- the engine's answers ------------------------------------------------------------

    def _on_delta(self, request_id: str, text: str, reasoning: str) -> None:
        if self._job is not None and self._job.id == request_id:
            self._job.events.put(("delta", text, reasoning))

    def _on_finished(self, done: p.Done) -> None:
        if self._job is not None and self._job.id == done.request_id:
            self._end(("done", done))
        else:
            self._pump()  # the user's answer ended: a program's may start

    def _on_failed(self, request_id: str, message: str) -> None:
        if self._job is not None and self._job.id == request_id:
            self._end(("failed", message))
        else:
            self._pump()

    def _end(self, event: tuple[object, ...]) -> None:
        assert self._job is not None
        self._job.events.put(event)
        self._job = None
        self.in_use_changed.emit()
        self._pump()
