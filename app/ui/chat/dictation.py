"""Dictation: what the user says into the microphone is written into the message box, to edit
before sending, whatever model the chat has.

A chat model that hears writes it down itself, asked after the chat so far so that its cache of
the chat is kept (it waits for an answer being written to end). Otherwise a hearing model that is
installed does, in a second worker (``Ears``), if the two fit in memory together; with none
installed, ``ears_missing`` offers the download."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from app.core.generation import GenerationSettings
from app.engine.saved_chats import chat_key
from app.library.ears import LoadedModel, choose_ears, fit_beside
from app.library.installed import InstalledModel
from app.library.machine import detect_machine
from app.ui.background import BackgroundTasks
from app.ui.chat.controller import ChatController
from app.ui.ears import Ears, Transcriptions, transcription_settings, transcription_turn, written_words
from app.ui.supervisor import WorkerSupervisor

log = logging.getLogger(__name__)


@dataclass
class _Recording:
    wav: bytes
    seconds: float
    conversation_id: int | None
    path: Path | None = None


class Dictation(QObject):
    heard = Signal(str)
    """The words said, for the message box."""
    failed = Signal(str)
    """Dictation did not work; the words say why."""
    working_changed = Signal(bool)
    """Words are being written down (True) or that ended (False)."""
    ears_missing = Signal()
    """No installed model can hear: offer to download one."""

    def __init__(
        self,
        controller: ChatController,
        supervisor: WorkerSupervisor,
        folder: Path,
        installed: Callable[[], list[InstalledModel]],
        ears: Ears | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._controller, self._worker, self._folder = controller, supervisor, folder
        self._installed = installed  # slow (reads model files): called off the UI thread
        self.ears = ears or Ears(parent=self)
        self._chat = Transcriptions(supervisor, self)
        self._tasks = BackgroundTasks(self)
        self._waiting: list[_Recording] = []  # for the chat's answer to end, in the order spoken
        self._running: dict[str, _Recording] = {}
        self._preparing = 0  # recordings being written to a file, or a hearing model looked for
        for source in (self._chat, self.ears):
            source.done.connect(self._done)
            source.failed.connect(self._failed)
        controller.busy_changed.connect(self._after_answer)

    @property
    def working(self) -> bool:
        return bool(self._running) or bool(self._waiting) or self._preparing > 0

    def dictate(self, wav: bytes, seconds: float, conversation_id: int | None) -> None:
        """Write down what was said in ``wav`` (a WAV file's bytes, ``seconds`` long)."""
        recording = _Recording(wav, seconds, conversation_id)
        self._preparing += 1
        self.working_changed.emit(True)
        loaded = self._worker.loaded_model
        if loaded is not None and loaded.audio:
            self._tasks.run(
                lambda: self._write(recording), self._with_chat_model, self._not_written, "dictation-file"
            )
            return
        beside = None
        if loaded is not None:
            projector = Path(loaded.projector_path) if loaded.projector_path else None
            beside = LoadedModel(Path(loaded.model_path), projector, loaded.context_length)

        def find() -> tuple[_Recording, InstalledModel | None, str]:
            ears = choose_ears(self._installed())
            problem = fit_beside(ears, beside, detect_machine()) if ears else ""
            return self._write(recording), ears, problem

        self._tasks.run(find, self._with_ears, self._not_written, "dictation-ears")

    def _write(self, recording: _Recording) -> _Recording:
        self._folder.mkdir(parents=True, exist_ok=True)
        recording.path = self._folder / f"dictation-{uuid.uuid4().hex}.wav"
        recording.path.write_bytes(recording.wav)
        return recording

    def _not_written(self, error: BaseException) -> None:
        self._preparing -= 1
        self._end(f"The recording could not be kept for dictation: {error}")

    def _with_chat_model(self, recording: _Recording) -> None:
        self._preparing -= 1
        self._waiting.append(recording)
        self._next_for_chat_model()

    def _after_answer(self, busy: bool) -> None:
        if not busy:
            self._next_for_chat_model()

    def _next_for_chat_model(self) -> None:
        """The chat's worker takes one request at a time: the next recording waits for the
        answer being written, and for the recording before it."""
        if self._waiting and not self._controller.busy and not self._chat.pending():
            self._ask_chat_model(self._waiting.pop(0))

    def _ask_chat_model(self, recording: _Recording) -> None:
        assert recording.path is not None
        loaded = self._worker.loaded_model
        if loaded is None or not loaded.audio:  # the model changed meanwhile
            self._forget(recording)
            self._end("The model changed before your words were written down; record them again.")
            self._next_for_chat_model()
            return
        chat = ""
        if recording.conversation_id is not None:
            history, settings, tools = self._controller.prompt_so_far(recording.conversation_id)
            chat = chat_key(recording.conversation_id)
        else:
            history, settings, tools = [], GenerationSettings(), []
        history.append(transcription_turn(recording.path))
        settings = transcription_settings(settings, recording.seconds)
        request_id = self._chat.start(history, settings, tools, chat=chat)
        self._running[request_id] = recording

    def _with_ears(self, found: tuple[_Recording, InstalledModel | None, str]) -> None:
        recording, ears, problem = found
        self._preparing -= 1
        if ears is None or problem:
            self._forget(recording)
            self._end(problem)
            if ears is None:
                self.ears_missing.emit()
            return
        assert recording.path is not None
        self._running[self.ears.transcribe(ears, recording.path, recording.seconds)] = recording

    def _done(self, request_id: str, text: str) -> None:
        recording = self._running.pop(request_id, None)
        if recording is None:
            return
        self._next_for_chat_model()
        self._forget(recording)
        words = written_words(text)
        if not words:
            self._end("No words were made out in the recording. Speak a little closer to the microphone.")
            return
        self._end()
        self.heard.emit(words)

    def _failed(self, request_id: str, message: str) -> None:
        recording = self._running.pop(request_id, None)
        self._next_for_chat_model()
        if recording is not None:
            self._forget(recording)
            self._end(message)

    def _forget(self, recording: _Recording) -> None:
        path = recording.path
        if path is not None:
            self._tasks.run(lambda: path.unlink(missing_ok=True), lambda _: None, name="dictation-forget")

    def _end(self, problem: str = "") -> None:
        if problem:
            self.failed.emit(problem)
        if not self.working:
            self.working_changed.emit(False)

    def shutdown(self) -> None:
        self._chat.cancel_all()
        self.ears.stop(wait=True)
        self._tasks.close()
