"""Runs the conversation: stores what the user sends, asks the worker for answers and saves
them while they stream, so a crash of anything loses at most the last second."""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal

from app.core.generation import GenerationSettings
from app.engine import protocol as p
from app.storage.attachment_files import StoredFile
from app.storage.chats import ChatStore, Message, MessageStatus
from app.ui.supervisor import WorkerSupervisor

SAVE_INTERVAL_MS = 500


@dataclass
class _Answer:
    """The answer being streamed."""

    request_id: str
    message_id: int
    conversation_id: int
    content: str = ""
    reasoning: str = ""
    dirty: bool = False
    started: float = field(default_factory=time.monotonic)


class ChatController(QObject):
    message_added = Signal(object)
    """A message was stored and belongs on screen: a ``Message``."""
    answer_streamed = Signal(int, int, str, str)
    """An answer grew: (conversation id, message id, full answer, full reasoning)."""
    answer_finished = Signal(object)
    """An answer ended, whatever the way: the final ``Message`` (status, stats)."""
    busy_changed = Signal(bool)
    """An answer started (True) or ended (False)."""
    notice = Signal(str)
    """Something the user should read in the status line."""

    def __init__(self, store: ChatStore, supervisor: WorkerSupervisor, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._store = store
        self._worker = supervisor
        self._answer: _Answer | None = None
        self._save_timer = QTimer(self, interval=SAVE_INTERVAL_MS)
        self._save_timer.timeout.connect(self._save_progress)
        supervisor.delta.connect(self._on_delta)
        supervisor.finished.connect(self._on_finished)
        supervisor.generation_failed.connect(self._on_failed)
        supervisor.interrupted.connect(self._on_interrupted)

    @property
    def busy(self) -> bool:
        return self._answer is not None

    @property
    def answering_conversation(self) -> int | None:
        return self._answer.conversation_id if self._answer else None

    @property
    def answering_message(self) -> int | None:
        return self._answer.message_id if self._answer else None

    # --- user actions ----------------------------------------------------------------------

    def send(self, conversation_id: int, text: str, attachments: Sequence[StoredFile] = ()) -> bool:
        """Store the user's message and start the answer. False (with a notice) if it can't."""
        if not text.strip() and not attachments:
            self.notice.emit("Type a message first.")
            return False
        if self._answer is not None:
            self.notice.emit("Wait for the current answer to finish, or stop it.")
            return False
        user = self._store.add_message(conversation_id, "user", text, attachments=attachments)
        self.message_added.emit(user)
        self._start_answer(conversation_id)
        return True

    def regenerate(self, conversation_id: int, message_id: int) -> None:
        """Replace the answer ``message_id`` (and anything after it) with a new one."""
        if self._answer is not None:
            return
        self._store.delete_messages_from(message_id)
        self._start_answer(conversation_id)

    def stop(self) -> None:
        if self._answer is not None:
            self._worker.cancel(self._answer.request_id)

    # --- streaming -------------------------------------------------------------------------

    def _start_answer(self, conversation_id: int) -> None:
        conversation = self._store.get_conversation(conversation_id)
        if conversation is None:
            return
        history = self._prompt_messages(conversation_id, conversation.system_prompt)
        loaded = self._worker.loaded_model
        if loaded is not None:
            self._store.set_model(conversation_id, loaded.model_path)
        message = self._store.add_message(conversation_id, "assistant", "", status=MessageStatus.STREAMING)
        self._answer = _Answer(uuid.uuid4().hex, message.id, conversation_id)
        self.message_added.emit(message)
        self.busy_changed.emit(True)
        self._save_timer.start()
        self._worker.generate(self._answer.request_id, history, conversation.settings)

    def _prompt_messages(self, conversation_id: int, system_prompt: str) -> list[p.ChatTurn]:
        history: list[p.ChatTurn] = []
        if system_prompt.strip():
            history.append(p.ChatTurn(p.Role.SYSTEM, system_prompt.strip()))
        for message in self._store.messages(conversation_id):
            if message.role not in (p.Role.USER, p.Role.ASSISTANT) or message.status == MessageStatus.ERROR:
                continue
            if message.role == "assistant" and not message.content.strip():
                continue
            history.append(self._turn(message))
        return history

    def _turn(self, message: Message) -> p.ChatTurn:
        """Attach what the loaded model can take; name the rest in words. One picture from an
        earlier model (or a file since deleted) must not make the whole chat fail."""
        loaded = self._worker.loaded_model
        kept: list[p.MediaRef] = []
        missing: list[str] = []
        for attachment in message.attachments:
            able = loaded is None or (loaded.vision if attachment.kind == "image" else loaded.audio)
            if able and attachment.path.is_file():
                kept.append(p.MediaRef(p.MediaKind(attachment.kind), str(attachment.path)))
            else:
                thing = "picture" if attachment.kind == "image" else "sound clip"
                missing.append(f"[A {thing}, “{attachment.name}”, was attached here but is not available.]")
        content = "\n".join([*missing, message.content]).strip() if missing else message.content
        return p.ChatTurn(p.Role(message.role), content, kept)

    def _on_delta(self, request_id: str, text: str, reasoning: str) -> None:
        answer = self._answer
        if answer is None or answer.request_id != request_id:
            return
        answer.content += text
        answer.reasoning += reasoning
        answer.dirty = True
        self.answer_streamed.emit(answer.conversation_id, answer.message_id, answer.content, answer.reasoning)

    def _save_progress(self) -> None:
        answer = self._answer
        if answer is not None and answer.dirty:
            self._store.update_message(answer.message_id, content=answer.content, reasoning=answer.reasoning)
            answer.dirty = False

    def _on_finished(self, done: p.Done) -> None:
        answer = self._answer
        if answer is None or answer.request_id != done.request_id:
            return
        status = (
            MessageStatus.STOPPED if done.stop_reason is p.StopReason.CANCELLED else MessageStatus.COMPLETE
        )
        stats = {
            "stop_reason": str(done.stop_reason),
            "prompt_tokens": done.prompt_tokens,
            "completion_tokens": done.completion_tokens,
            "ttft_ms": round(done.ttft_ms, 1),
            "tokens_per_s": round(done.tokens_per_s, 2),
            "total_ms": round(done.total_ms, 1),
            "dropped_turns": done.dropped_turns,
        }
        loaded = self._worker.loaded_model
        if loaded is not None:
            stats["model"] = loaded.name
        if done.dropped_turns:
            self.notice.emit(
                f"The conversation no longer fits the context: the oldest {done.dropped_turns} "
                "message(s) were left out of this answer."
            )
        self._finish(status, stats)

    def _on_failed(self, request_id: str, message: str) -> None:
        if self._answer is not None and self._answer.request_id == request_id:
            self.notice.emit(message)
            self._finish(MessageStatus.ERROR, {"error": message})

    def _on_interrupted(self, request_id: str) -> None:
        if self._answer is not None and self._answer.request_id == request_id:
            self.notice.emit(
                "The engine stopped unexpectedly; it is restarting. The partial answer was kept."
            )
            self._finish(MessageStatus.INTERRUPTED, {"stop_reason": "interrupted"})

    def _finish(self, status: MessageStatus, stats: dict[str, Any]) -> None:
        answer = self._answer
        assert answer is not None
        self._answer = None
        self._save_timer.stop()
        self._store.update_message(
            answer.message_id, content=answer.content, reasoning=answer.reasoning, status=status, stats=stats
        )
        final = self._store.get_message(answer.message_id)
        self.busy_changed.emit(False)
        if final is not None:
            self.answer_finished.emit(final)

    def settings_for(self, conversation_id: int) -> GenerationSettings:
        conversation = self._store.get_conversation(conversation_id)
        return conversation.settings if conversation else GenerationSettings()


__all__ = ["ChatController", "Message"]
