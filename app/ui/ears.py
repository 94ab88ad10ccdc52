"""Writing down speech with a model that hears.

``Transcriptions`` asks a worker for the words said in a recording and collects them, apart from
the chat's answers (each has its own request id). ``Ears`` is a second worker process that holds
a hearing model (Gemma 4 E2B or E4B) for dictation when the chat's model cannot hear: loaded when
first needed, and stopped after a while unused, which gives all its memory back."""

from __future__ import annotations

import logging
import uuid
from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal

from app.core.generation import GenerationSettings
from app.engine import protocol as p
from app.library.ears import EARS_CONTEXT
from app.library.installed import InstalledModel
from app.ui.supervisor import RestartPolicy, WorkerSupervisor

log = logging.getLogger(__name__)

EARS_IDLE_MS = 120_000
TRANSCRIBE = (
    "Write down exactly what is said in this recording, in the language it is spoken in, with "
    "punctuation. Write only the words that are said: no answer, no comment, no quotation marks."
)
WORDS_PER_SECOND = 4  # fast speech; tokens are shorter than words, hence the room below
TOKENS_PER_WORD = 2


def transcription_turn(recording: Path) -> p.ChatTurn:
    return p.ChatTurn(p.Role.USER, TRANSCRIBE, attachments=[p.MediaRef(p.MediaKind.AUDIO, str(recording))])


def transcription_settings(base: GenerationSettings, seconds: float) -> GenerationSettings:
    """The chat's settings (its prompt stays the same, so the worker's cache is kept), writing
    the most likely words, with room for what can be said in ``seconds`` (and for thinking, if
    the chat thinks)."""
    room = int(seconds * WORDS_PER_SECOND * TOKENS_PER_WORD) + 64 + (2048 if base.think else 0)
    return replace(base, temperature=0.0, top_k=1, seed=0, max_tokens=room)


def written_words(text: str) -> str:
    """The model's transcription as it goes in the message box: without quotes around it, or
    control characters (a confused model can write those)."""
    words = "".join(c for c in text if c.isprintable() or c in "\n\t").strip()
    for quote in ('"', "“”", "«»", "'"):
        opening, closing = quote[0], quote[-1]
        if len(words) > 1 and words[0] == opening and words[-1] == closing:
            words = words[1:-1].strip()
    return words


class Transcriptions(QObject):
    """Transcriptions on one worker; the rest of what it does is someone else's."""

    done = Signal(str, str)
    """(request id, the words written down)."""
    failed = Signal(str, str)
    """(request id, why, in words for the user)."""

    def __init__(self, supervisor: WorkerSupervisor, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._worker = supervisor
        self._texts: dict[str, str] = {}
        supervisor.delta.connect(self._on_delta)
        supervisor.finished.connect(self._on_finished)
        supervisor.generation_failed.connect(self._on_failed)
        supervisor.interrupted.connect(
            lambda request_id: self._on_failed(
                request_id, "The engine stopped while writing down what you said."
            )
        )

    def pending(self) -> list[str]:
        """The request ids still being written down."""
        return list(self._texts)

    def start(
        self,
        history: list[p.ChatTurn],
        settings: GenerationSettings,
        tools: list[p.ToolSpec] | None = None,
        chat: str = "",
    ) -> str:
        request_id = "dictation-" + uuid.uuid4().hex
        self._texts[request_id] = ""
        # The tools stay described where the chat offers them (the prompt is the chat's), but none
        # may be called.
        self._worker.generate(request_id, history, settings, tools or [], p.ToolChoice.NONE, chat=chat)
        return request_id

    def cancel_all(self) -> None:
        for request_id in list(self._texts):
            self._worker.cancel(request_id)

    def _on_delta(self, request_id: str, text: str, _reasoning: str) -> None:
        if request_id in self._texts:
            self._texts[request_id] += text

    def _on_finished(self, done: p.Done) -> None:
        text = self._texts.pop(done.request_id, None)
        if text is not None:
            self.done.emit(done.request_id, text)

    def _on_failed(self, request_id: str, message: str) -> None:
        if self._texts.pop(request_id, None) is not None:
            self.failed.emit(request_id, message)


class Ears(QObject):
    """A second worker for dictation, with a hearing model loaded on demand."""

    loaded_changed = Signal(bool)
    """The hearing model is ready (True) or its worker was stopped (False)."""
    done = Signal(str, str)
    failed = Signal(str, str)

    def __init__(
        self,
        command: tuple[str, list[str]] | None = None,
        parent: QObject | None = None,
        idle_ms: int = EARS_IDLE_MS,
    ) -> None:
        super().__init__(parent)
        self._command = command
        self._worker: WorkerSupervisor | None = None
        self._transcriptions: Transcriptions | None = None
        self._model: Path | None = None
        self._idle = QTimer(self, singleShot=True, interval=idle_ms)
        self._idle.timeout.connect(self.stop)

    @property
    def loaded(self) -> bool:
        return self._worker is not None and self._worker.loaded_model is not None

    @property
    def worker(self) -> WorkerSupervisor | None:
        return self._worker

    def transcribe(self, model: InstalledModel, recording: Path, seconds: float) -> str:
        """Start writing down ``recording`` with ``model`` (loaded first if need be); ``done`` or
        ``failed`` follows with the returned request id."""
        self._idle.stop()
        if self._worker is not None and self._model != model.path:
            self.stop()
        if self._worker is None:
            self._start(model)
        assert self._transcriptions is not None
        settings = transcription_settings(GenerationSettings(context_length=EARS_CONTEXT), seconds)
        return self._transcriptions.start([transcription_turn(recording)], settings)

    def _start(self, model: InstalledModel) -> None:
        # One try: a hearing model that crashes is not worth a round of restarts for dictation.
        worker = WorkerSupervisor(self._command, self, policy=RestartPolicy(max_quick_crashes=1))
        transcriptions = Transcriptions(worker, self)
        transcriptions.done.connect(self._finished)
        transcriptions.failed.connect(self._failed)
        worker.model_loaded.connect(lambda _loaded: self.loaded_changed.emit(True))
        worker.load_failed.connect(lambda _code, message: self._give_up(message))
        worker.failed.connect(self._give_up)
        self._worker, self._transcriptions, self._model = worker, transcriptions, model.path
        projector = str(model.projector) if model.projector else "auto"
        worker.load_model(str(model.path), EARS_CONTEXT, projector, model.name)

    def _finished(self, request_id: str, text: str) -> None:
        self._idle.start()
        self.done.emit(request_id, text)

    def _failed(self, request_id: str, message: str) -> None:
        self._idle.start()
        self.failed.emit(request_id, message)

    def _give_up(self, message: str) -> None:
        """The hearing model could not be loaded (or its worker kept dying): what waits for it
        fails with the reason, and the next dictation starts afresh."""
        transcriptions = self._transcriptions
        pending = transcriptions.pending() if transcriptions else []
        self.stop()
        for request_id in pending:
            self.failed.emit(request_id, f"The model that writes down dictation could not start: {message}")

    def stop(self, wait: bool = False) -> None:
        """Stop the worker (its memory goes back to the system); ``wait``: until it has ended (on
        the way out), else it ends in the background."""
        self._idle.stop()
        worker, self._worker = self._worker, None
        transcriptions, self._transcriptions = self._transcriptions, None
        self._model = None
        if worker is None:
            return
        was_loaded = worker.loaded_model is not None
        if transcriptions is not None:
            transcriptions.deleteLater()
        worker.stop(wait=wait)
        worker.deleteLater()
        if was_loaded:
            self.loaded_changed.emit(False)
