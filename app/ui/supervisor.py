"""The UI-side supervisor of the inference worker process.

It owns one worker (a ``WorkerProcess``: this same program run with ``--worker``), checks the
protocol version at the handshake, tracks a small state machine, and re-emits what the worker
says as Qt signals; the rest of the UI only sees those. If the worker dies it reports the
interrupted answer, starts a new worker and reloads the model that was loaded. When starting
over cannot help (the worker cannot be started, speaks another protocol version, does not greet,
or keeps dying) it stops in FAILED and waits for ``retry()``: every state has a way out.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace
from enum import Enum
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QObject, QTimer, Signal

from app.core.generation import GenerationSettings
from app.engine import protocol as p
from app.ui.worker_process import WorkerProcess, worker_command

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RestartPolicy:
    """How long to wait for a worker's greeting, and how to restart one that died."""

    handshake_timeout_ms: int = 30_000
    restart_delays_ms: tuple[int, ...] = (100, 1000, 3000, 10_000)
    stable_after_s: float = 60.0  # a worker that lived this long was healthy: crashes in a row start over
    # Five deaths in a row, each within a minute of its start, take about 15 s of backoff: long
    # enough to ride out a passing problem (memory pressure, a file replaced under us), short enough
    # not to leave the user watching an engine that cannot live. More restarts would only repeat it.
    max_quick_crashes: int = 5


class WorkerState(Enum):
    STOPPED = "stopped"
    STARTING = "starting"
    IDLE = "idle"
    LOADING = "loading"
    GENERATING = "generating"
    CRASHED = "crashed"  # a restart follows
    FAILED = "failed"  # given up: see ``failure``; ``retry()`` starts over


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
    failed = Signal(str)
    """The supervisor gave up on the worker (it could not be started, speaks another protocol
    version, did not greet in time, or kept dying): a message for the user. Nothing restarts it
    until ``retry()`` (or a new request)."""
    worker_error = Signal(str)
    """The worker reported a problem that belongs to no request."""
    chat_saved = Signal(object)
    """The worker saved (or had nothing to save of) the chat its cache held: a ``protocol.ChatSaved``."""

    def __init__(
        self,
        command: tuple[str, list[str]] | None = None,
        parent: QObject | None = None,
        *,
        policy: RestartPolicy | None = None,
    ) -> None:
        super().__init__(parent)
        self._command = command or worker_command()
        self._policy = policy or RestartPolicy()
        self._process: WorkerProcess | None = None
        self._state = WorkerState.STOPPED
        self._failure = ""
        self._outbox: list[p.Message] = []  # sent once the handshake is done
        self._handshaken = False
        # Answers asked for and not ended, in order: the worker answers one after the other (the
        # user's chat and, queued behind it, programs using the local API).
        self._requests: list[str] = []
        self._wanted_model: p.LoadModel | None = None
        self.loaded_model: p.ModelLoaded | None = None
        # Models whose load with a drafter stopped the engine: for this run they load without one,
        # and why is said in ModelLoaded.draft_problem.
        self._drafter_crashes: dict[str, str] = {}
        self.worker_pid = 0
        self._quick_crashes = 0
        self._started_at = 0.0
        self._handshake_timer = QTimer(self, singleShot=True)
        self._handshake_timer.timeout.connect(self._on_handshake_timeout)
        self._restart_timer = QTimer(self, singleShot=True)
        self._restart_timer.timeout.connect(self._restart)

    # --- public API ------------------------------------------------------------------------

    @property
    def state(self) -> WorkerState:
        return self._state

    @property
    def failure(self) -> str:
        """Why the supervisor gave up, in words for the user ("" unless FAILED)."""
        return self._failure if self._state is WorkerState.FAILED else ""

    @property
    def current_request(self) -> str:
        return self._requests[0] if self._requests else ""

    @property
    def requests(self) -> tuple[str, ...]:
        """The answers asked for and not ended yet, the one under way first."""
        return tuple(self._requests)

    def start(self) -> None:
        """Start a worker, unless one runs or is about to; after a failure, start over."""
        if self._process is not None or self._restart_timer.isActive():
            return
        if self._state is WorkerState.FAILED:
            self._quick_crashes = 0  # asked again: a fresh start, not one more crash in a row
        self._launch()

    def retry(self) -> None:
        """Start over after a failure ("Try again"): a fresh worker, the crash count forgotten,
        and the model the user wanted loaded again."""
        if self._process is not None:
            return
        self._restart_timer.stop()
        self._quick_crashes = 0
        self._requeue_wanted_model()
        self._launch()
        if self._wanted_model is not None:
            self._enter(WorkerState.LOADING)

    def stop(self, timeout_ms: int = 3000, wait: bool = True) -> None:
        """End the worker: politely first, then by force. ``wait=False`` returns at once (the
        process ends in the background), for a worker stopped while the app goes on."""
        self._handshake_timer.stop()
        self._restart_timer.stop()
        process, self._process = self._process, None
        if process is not None and not wait:
            process.setParent(QCoreApplication.instance())  # it may outlive this supervisor
            process.let_go(p.Shutdown().encode(), timeout_ms)
        elif process is not None:
            process.shutdown(p.Shutdown().encode(), timeout_ms)
            process.deleteLater()
        self._set_state(WorkerState.STOPPED)

    def load_model(
        self,
        model_path: str,
        context_length: int,
        projector_path: str = "auto",
        display_name: str = "",
        threads: int = 0,
        gpu_layers: int = 0,
        projector_gpu: bool = False,
        saved_chats: tuple[str, int] = ("", 0),
        remote: p.RemoteServer | None = None,
        draft_path: str = "",
    ) -> None:
        """Load a model; its projector (images, audio) is the one that belongs to it unless one is
        given ("" for none). ``threads``: 0 lets the engine follow the machine's load.
        ``saved_chats``: the folder chats' states are kept in, and the most they may take in MB
        (app.engine.saved_chats); ("", 0): none are kept. ``remote``: a server answers instead
        (app.engine.remote_engine); ``model_path`` then only names it. ``draft_path``: a drafter
        for speculative decoding (app.engine.speculative), "" for none."""
        if model_path in self._drafter_crashes:
            draft_path = ""
        self._wanted_model = p.LoadModel(
            model_path=model_path,
            context_length=context_length,
            threads=threads,
            gpu_layers=gpu_layers,
            projector_gpu=projector_gpu,
            projector_path=projector_path,
            display_name=display_name,
            saved_chats_folder=saved_chats[0],
            saved_chats_cap_mb=saved_chats[1],
            remote=remote or p.RemoteServer(),
            draft_path=draft_path,
        )
        self.loaded_model = None
        self._send(self._wanted_model)
        self._enter(WorkerState.LOADING)

    @property
    def model_chosen(self) -> bool:
        """A model is loaded or on its way."""
        return self._wanted_model is not None or self.loaded_model is not None

    def unload_model(self) -> None:
        self._wanted_model = None
        self.loaded_model = None
        if self._state is not WorkerState.FAILED:  # no worker, no model: nothing to start for
            self._send(p.UnloadModel())

    def generate(
        self,
        request_id: str,
        messages: list[p.ChatTurn],
        settings: GenerationSettings,
        tools: list[p.ToolSpec] | None = None,
        tool_choice: p.ToolChoice = p.ToolChoice.AUTO,
        chat: str = "",
    ) -> None:
        """Answer ``messages``; ``chat`` names the chat they are (``saved_chats.chat_key``), so
        that the engine can save and read back its cache."""
        self._requests.append(request_id)
        self._send(
            p.Generate(
                request_id=request_id,
                messages=messages,
                settings=settings,
                tools=tools or [],
                tool_choice=tool_choice,
                chat=chat,
            )
        )
        self._enter(WorkerState.GENERATING)

    def save_chat(self) -> None:
        """The user left the chat the engine's cache holds: have it saved (``chat_saved`` follows)."""
        if self.model_chosen and self._process is not None:
            self._send(p.SaveChat())

    def forget_chat(self, chat: str) -> None:
        """A chat was deleted: its saved states go, and its cache is never saved again."""
        if self.model_chosen and self._process is not None:
            self._send(p.ForgetChat(chat=chat))

    def cancel(self, request_id: str) -> None:
        """Ask the worker to stop this answer between two tokens; ``finished`` follows."""
        if request_id and self._state is not WorkerState.FAILED:
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

    def _enter(self, state: WorkerState) -> None:
        """Enter a busy state after a request, unless starting the worker already failed."""
        if self._state is not WorkerState.FAILED:
            self._set_state(state)

    # --- receiving -------------------------------------------------------------------------

    def _on_line(self, line: bytes) -> None:
        try:
            message = p.decode(line)
        except p.ProtocolError as exc:
            version = p.greeting_version(line)
            if not self._handshaken and version is not None and version != p.PROTOCOL_VERSION:
                self._give_up(self._version_mismatch(version))
                return
            log.warning("Malformed message from the worker: %s", exc)
            if self._handshaken:  # before its greeting it answers nothing; the timeout covers silence
                self._on_error(f"The engine sent a message Hearth cannot read ({exc}).")
            return
        self._dispatch(message)

    def _dispatch(self, message: p.Message) -> None:
        if isinstance(message, p.Hello):
            self._on_hello(message)
        elif isinstance(message, p.Delta):
            self.delta.emit(message.request_id, message.text, message.reasoning)
        elif isinstance(message, p.Done):
            self._request_ended(message.request_id)
            self.finished.emit(message)
        elif isinstance(message, p.ChatSaved):
            self.chat_saved.emit(message)
        elif isinstance(message, p.GenerationFailed):
            self._request_ended(message.request_id)
            self.generation_failed.emit(message.request_id, message.message)
        elif isinstance(message, p.LoadProgress):
            self.load_progress.emit(message.fraction)
        elif isinstance(message, p.ModelLoaded):
            crash = self._drafter_crashes.get(message.model_path, "")
            if crash and not message.drafter:
                message = replace(message, draft_problem=crash)
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
            self._on_error(message.message)

    def _request_ended(self, request_id: str) -> None:
        if request_id in self._requests:
            self._requests.remove(request_id)
        if not self._requests and self._state is WorkerState.GENERATING:
            self._set_state(WorkerState.IDLE)

    def _on_error(self, text: str) -> None:
        """The UI sends only what it encoded itself, so an error while a load or an answer is under
        way answers that request: end it, rather than wait for a reply that will never come."""
        if self._state is WorkerState.LOADING:
            wanted, self._wanted_model = self._wanted_model, None
            name = Path(wanted.model_path).name if wanted else "the model"
            self._set_state(WorkerState.IDLE)
            self.load_failed.emit("error", f"The engine could not load “{name}”: {text}")
        elif self._state is WorkerState.GENERATING and self._requests:
            request_id = self._requests[0]
            self._request_ended(request_id)
            self.generation_failed.emit(request_id, f"The engine could not answer: {text}")
        else:
            self.worker_error.emit(text)

    def _on_hello(self, hello: p.Hello) -> None:
        if self._handshaken:
            return
        self._handshake_timer.stop()
        if hello.protocol != p.PROTOCOL_VERSION:
            self._give_up(self._version_mismatch(hello.protocol))
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

    @staticmethod
    def _version_mismatch(version: int) -> str:
        return (
            f"Hearth's engine speaks protocol version {version}, but this window speaks version "
            f"{p.PROTOCOL_VERSION}: parts of Hearth come from different versions. Reinstall Hearth, "
            "then choose Try again."
        )

    # --- process lifetime ------------------------------------------------------------------

    def _launch(self) -> None:
        self._handshaken = False
        process = WorkerProcess(self._command, self)
        process.line_received.connect(self._on_line)
        process.exited.connect(self._on_exited)
        process.failed_to_start.connect(self._on_failed_to_start)
        self._process = process
        self._started_at = time.monotonic()
        self._set_state(WorkerState.STARTING)
        self._handshake_timer.start(self._policy.handshake_timeout_ms)
        process.start()

    def _on_exited(self, detail: str) -> None:
        self._discard_process()
        was = self._state
        log.warning("The worker stopped unexpectedly: %s", detail)
        policy = self._policy
        if time.monotonic() - self._started_at > policy.stable_after_s:
            self._quick_crashes = 0
        self._quick_crashes += 1
        giving_up = self._quick_crashes >= policy.max_quick_crashes
        if not giving_up:  # before anyone hears of the crash, so a new request waits for it
            delays = policy.restart_delays_ms
            self._restart_timer.start(delays[min(self._quick_crashes, len(delays)) - 1])
        self._set_state(WorkerState.CRASHED)
        requests, self._requests = self._requests, []
        for request_id in requests:
            self.interrupted.emit(request_id)
        self.loaded_model = None
        wanted = self._wanted_model
        if was is WorkerState.LOADING and wanted is not None and wanted.draft_path and not giving_up:
            # The drafter is the likelier culprit (llama.cpp has had crashes loading Gemma 4
            # assistants): the model is loaded again without one, and the user is told why.
            name = Path(wanted.model_path).name
            self._drafter_crashes[wanted.model_path] = (
                f"The engine stopped while loading a drafter for “{name}” ({detail}), so the model "
                "answers alone until Hearth is restarted."
            )
            self._wanted_model = replace(wanted, draft_path="")
        elif was is WorkerState.LOADING and wanted is not None:
            # A model that kills the engine while loading would do it again: don't retry it.
            path = Path(wanted.model_path).name
            self._wanted_model = None
            self.load_failed.emit("crashed", f"The engine stopped while loading “{path}” ({detail}).")
        if giving_up:
            self._give_up(
                f"Hearth's engine stopped {self._quick_crashes} times in a row ({detail}), so Hearth "
                "stopped restarting it. Choose Try again, or pick another model."
            )
        else:
            self.crashed.emit(detail)

    def _restart(self) -> None:
        if self._process is not None:
            return
        self._requeue_wanted_model()
        self._launch()

    def _requeue_wanted_model(self) -> None:
        """A new worker: no answer survives, the model the user wanted is loaded again."""
        self._outbox = [m for m in self._outbox if not isinstance(m, p.Generate)]
        if self._wanted_model is not None and not any(isinstance(m, p.LoadModel) for m in self._outbox):
            self._outbox.insert(0, self._wanted_model)

    def _on_failed_to_start(self, reason: str) -> None:
        self._give_up(
            f"Hearth could not start its engine ({self._command[0]}: {reason}). "
            "Reinstall Hearth, then choose Try again."
        )

    def _on_handshake_timeout(self) -> None:
        if self._process is None or self._handshaken:
            return
        seconds = self._policy.handshake_timeout_ms / 1000
        words = self._process.last_words
        last = f" Its last words: {words}" if words else ""
        self._give_up(
            f"Hearth's engine did not answer within {seconds:g} seconds of starting.{last} "
            "Choose Try again; if it keeps happening, reinstall Hearth."
        )

    def _give_up(self, message: str) -> None:
        """Stop trying until the user asks: restarting would only fail the same way again."""
        log.error("Giving up on the worker: %s", message)
        self._restart_timer.stop()
        self._discard_process()
        self._outbox = []  # the model the user wanted is kept, for retry()
        self.loaded_model = None
        requests, self._requests = self._requests, []
        self._failure = message
        self._set_state(WorkerState.FAILED)
        for request_id in requests:
            self.generation_failed.emit(request_id, message)
        self.failed.emit(message)

    def _discard_process(self) -> None:
        """Let go of the worker process, ending it if it still runs; nothing it says is heard."""
        process, self._process = self._process, None
        self._handshaken = False
        self._handshake_timer.stop()
        if process is not None:
            process.kill()
            process.deleteLater()

    def _set_state(self, state: WorkerState) -> None:
        if state is not self._state:
            self._state = state
            self.state_changed.emit(state)
