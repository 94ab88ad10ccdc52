"""Runs the conversation: stores what the user sends, asks the worker for answers and saves
them while they stream, so a crash of anything loses at most the last second.

When the data folder refuses a write (disk full, read-only, locked by another copy of Hearth), a
question is not sent (it stays in the message box); an answer or a setting is kept in memory, shown
as it is, and written as soon as the folder takes writes again."""

from __future__ import annotations

import dataclasses
import functools
import logging
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal

from app.core.gemma4 import MAX_IMAGE_TOKENS
from app.core.generation import GenerationSettings
from app.engine import protocol as p
from app.engine.context_window import turns_to_send
from app.engine.saved_chats import chat_key
from app.storage.attachment_files import StoredFile
from app.storage.chats import CURRENT_LEAF, Attachment, ChatStore, Conversation, Message, MessageStatus
from app.storage.documents import CHARS_PER_TOKEN, DocumentLibrary, estimate_tokens
from app.storage.faults import NOTHING_LOST, StorageError
from app.storage.tool_records import CallState, ToolCallRecord
from app.tools.builtin import builtin_tools
from app.tools.context import ToolContext
from app.tools.registry import ToolResult
from app.ui.chat.document_prompt import PASSAGES_SHARE, WHOLE_DOCUMENT_SHARE, document_part, passages_text
from app.ui.chat.tool_rounds import Approval, ToolRunner, rounds_to_send
from app.ui.saving import PendingSaves
from app.ui.supervisor import WorkerSupervisor

log = logging.getLogger(__name__)

SAVE_INTERVAL_MS = 500
# How much of a chat may go to the worker at most, in contexts' worth of (estimated) tokens: it
# chooses exactly what fits; this only spares it reading what it could never keep.
SEND_LIMIT_CONTEXTS = 2
MIN_TURN_TOKENS = 4
ANSWER_KEPT = "the answer stays on screen and will be saved as soon as Hearth can"
SETTINGS_KEPT = "your settings stay as you set them and will be saved as soon as Hearth can"


@dataclass
class _Answer:
    """An answer being streamed, or finished but not saved yet."""

    request_id: str
    stored: Message  # as first stored: empty, streaming
    content: str = ""
    reasoning: str = ""
    status: MessageStatus = MessageStatus.STREAMING
    stats: dict[str, Any] | None = None
    dirty: bool = False
    started: float = field(default_factory=time.monotonic)
    # The tool loop: what the answer was asked with, and the calls it made so far.
    history: list[p.ChatTurn] = field(default_factory=list)
    settings: GenerationSettings = field(default_factory=GenerationSettings)
    tools: list[p.ToolSpec] = field(default_factory=list)
    calls: list[ToolCallRecord] = field(default_factory=list)
    rounds: int = 0
    round_calls: list[p.ToolCall] = field(default_factory=list)  # the round running or waiting
    round_refused: set[int] = field(default_factory=set)  # its calls the user did not allow
    tools_running: bool = False  # (or waiting for the user's leave to read files)
    files_allowed: bool = False  # the user allowed reading files for this answer
    thoughts: dict[int, str] = field(default_factory=dict)  # the reasoning before each round's calls
    thought_mark: int = 0  # how much of ``reasoning`` went to earlier rounds

    @property
    def message_id(self) -> int:
        return self.stored.id

    @property
    def conversation_id(self) -> int:
        return self.stored.conversation_id

    def as_message(self) -> Message:
        return dataclasses.replace(
            self.stored,
            content=self.content,
            reasoning=self.reasoning,
            status=self.status,
            stats=self.stats or {},
            updated_at=time.time(),
            tool_calls=tuple(self.calls),
        )


class ChatController(QObject):
    message_added = Signal(object)
    """A message was stored and belongs on screen: a ``Message``."""
    answer_streamed = Signal(int, int, str, str)
    """An answer grew: (conversation id, message id, full answer, full reasoning)."""
    answer_finished = Signal(object)
    """An answer ended, whatever the way: the final ``Message`` (status, stats)."""
    busy_changed = Signal(bool)
    """An answer started (True) or ended (False)."""
    memory_moved = Signal(int, int)
    """The model of a long chat now reads from this message on: (conversation id, message id)."""
    notice = Signal(str)
    """Something the user should read in the status line (refused writes: ``PendingSaves.notice``)."""
    tool_calls_changed = Signal(object)
    """An answer's tool calls started or ended: the ``Message`` as it is now."""
    approval_needed = Signal(object, object)
    """Calls that read files wait for the user's leave (``approve``): the ``Message``, and the
    ``ToolCallRecord``s that read files."""

    def __init__(
        self,
        store: ChatStore,
        supervisor: WorkerSupervisor,
        saves: PendingSaves,
        parent: QObject | None = None,
        tools: ToolRunner | None = None,
    ) -> None:
        super().__init__(parent)
        self.tools = tools or ToolRunner(builtin_tools(), parent=self)
        self.documents: DocumentLibrary | None = None  # attached documents, ready for the model
        self._prompt_context = GenerationSettings().context_length  # ...for a context this long
        self._prompt_scans = GenerationSettings().scanned_pages  # ...reading this many scanned pages
        self.tools.finished.connect(self._on_tools_done)
        self._store = store
        self._worker = supervisor
        self._saves = saves
        self._answer: _Answer | None = None
        self._save_timer = QTimer(self, interval=SAVE_INTERVAL_MS)
        self._save_timer.timeout.connect(self._save_progress)
        # What the user sees but the database does not have yet, while its writes wait in ``saves``.
        self._held_answers: dict[int, _Answer] = {}
        self._held_settings: dict[int, tuple[GenerationSettings, str]] = {}
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

    def send(
        self,
        conversation_id: int,
        text: str,
        attachments: Sequence[StoredFile] = (),
        parent_id: int | None = CURRENT_LEAF,
        must_use_tool: bool = False,
    ) -> bool:
        """Store the user's message and start the answer. False (with a notice) if it can't: then
        nothing was stored, and the caller keeps the message for the user. ``parent_id`` places it
        elsewhere than at the end of the branch on show: an edited question goes where the one it
        replaces was, as its alternative. ``must_use_tool``: the answer starts with a tool call
        (when the chat offers tools and the model can call them)."""
        if not text.strip() and not attachments:
            self.notice.emit("Type a message first.")
            return False
        if self._answer is not None:
            self.notice.emit("Wait for the current answer to finish, or stop it.")
            return False
        if self._saves.waiting:
            self._saves.retry()  # earlier answers first, so the chat is saved in its order
        try:
            # The question and the answer's place together: a question saved without it would
            # wait for an answer that never comes.
            with self._store.atomic():
                user = self._store.add_message(
                    conversation_id, "user", text, attachments=attachments, parent_id=parent_id
                )
                placeholder = self._add_placeholder(conversation_id, user.id)
        except StorageError as error:
            log.warning("A message could not be saved: %s", error)
            self.notice.emit(error.explain(NOTHING_LOST))
            return False
        self.message_added.emit(user)
        self._start_answer(placeholder, must_use_tool)
        return True

    def regenerate(self, conversation_id: int, message_id: int) -> bool:
        """Write another answer to the question that ``message_id`` answers; the first one is kept
        as an alternative. False (with a notice) if it can't; the chat is then as it was."""
        if self._answer is not None:
            return False
        answer = self._store.get_message(message_id)
        if answer is None or answer.role != "assistant":
            return False
        try:
            with self._store.atomic():
                placeholder = self._add_placeholder(conversation_id, answer.parent_id)
        except StorageError as error:
            log.warning("An answer could not be started: %s", error)
            self.notice.emit(error.explain("the chat is as it was"))
            return False
        self._start_answer(placeholder)
        return True

    def stop(self) -> None:
        answer = self._answer
        if answer is None:
            return
        if answer.tools_running:  # the worker is idle: the answer stops here, its calls unanswered
            answer.calls = [
                replace(c, state=CallState.CANCELLED, result="Stopped.") if not c.finished else c
                for c in answer.calls
            ]
            self._finish(MessageStatus.STOPPED, {**(answer.stats or {}), "stop_reason": "cancelled"})
            return
        self._worker.cancel(answer.request_id)

    # --- streaming -------------------------------------------------------------------------

    def _add_placeholder(self, conversation_id: int, parent_id: int | None) -> Message:
        """Store the empty answer the stream will fill, after ``parent_id`` (inside the caller's
        ``atomic`` block)."""
        loaded = self._worker.loaded_model
        if loaded is not None:
            self._store.set_model(conversation_id, loaded.model_path)
        return self._store.add_message(
            conversation_id, "assistant", "", status=MessageStatus.STREAMING, parent_id=parent_id
        )

    def _start_answer(self, placeholder: Message, must_use_tool: bool = False) -> None:
        """Answer the branch that ends at the placeholder's parent."""
        history, settings, tools = self._asked_with(placeholder.conversation_id, placeholder.parent_id)
        self._answer = _Answer(uuid.uuid4().hex, placeholder, history=history, settings=settings, tools=tools)
        self.message_added.emit(placeholder)
        self.busy_changed.emit(True)
        self._save_timer.start()
        choice = p.ToolChoice.REQUIRED if must_use_tool else p.ToolChoice.AUTO
        self._worker.generate(
            self._answer.request_id,
            history,
            settings,
            tools,
            choice,
            chat=chat_key(placeholder.conversation_id),
        )

    def prompt_so_far(
        self, conversation_id: int
    ) -> tuple[list[p.ChatTurn], GenerationSettings, list[p.ToolSpec]]:
        """What the next answer in this chat would be asked with, up to the end of the branch on
        show: a request that starts the same way (dictation) leaves the worker's cache of the chat
        as it is, so the next answer need not read the chat again."""
        conversation = self.conversation(conversation_id)
        return self._asked_with(conversation_id, conversation.leaf_id if conversation else None)

    def _asked_with(
        self, conversation_id: int, upto: int | None
    ) -> tuple[list[p.ChatTurn], GenerationSettings, list[p.ToolSpec]]:
        """The prompt, settings and tools of an answer to the branch that ends at ``upto``."""
        conversation = self.conversation(conversation_id)
        settings = conversation.settings if conversation else GenerationSettings()
        system_prompt = conversation.system_prompt if conversation else ""
        history = self._prompt_messages(conversation_id, system_prompt, upto)
        loaded = self._worker.loaded_model
        tools = self.tools.specs() if settings.tools and loaded is not None and loaded.tools else []
        return history, settings, tools

    def _prompt_messages(
        self, conversation_id: int, system_prompt: str, upto: int | None
    ) -> list[p.ChatTurn]:
        history: list[p.ChatTurn] = []
        if system_prompt.strip():
            history.append(p.ChatTurn(p.Role.SYSTEM, system_prompt.strip()))
        if upto is None:
            return history
        # Only what the model may still see goes to it: from the start of its memory of the chat
        # on, and the pinned exchanges before it. The rest is never read from the database, sent
        # or rendered, so a turn costs the same in a chat of ten messages or ten thousand.
        conversation = self._store.get_conversation(conversation_id)
        memory_start = conversation.memory_start_id if conversation else None
        context = self._context_length(conversation.settings if conversation else GenerationSettings())
        self._prompt_context = context
        self._prompt_scans = (conversation.settings if conversation else GenerationSettings()).scanned_pages
        limit = SEND_LIMIT_CONTEXTS * context
        # Every turn takes a few tokens of the template's at least: this many cover the limit.
        tail = self._store.path_tail(upto, memory_start, limit // MIN_TURN_TOKENS)
        sizes = self._store.message_sizes(tail)
        sending = turns_to_send(sizes, 0, limit) if len(sizes) == len(tail) else None
        chosen = [tail[i] for i in sending.indices] if sending is not None else tail
        first = chosen[0] if chosen else upto
        pinned_before = [i for i in self._store.pinned_before(first) if i not in chosen]
        pinned = set(pinned_before) | {tail[i] for i in (sending.pinned if sending else ())}
        pinned |= {i for i, size in zip(tail, sizes, strict=False) if size.pinned}
        sent = [
            message
            for message in map(self.as_shown, self._store.messages_by_ids([*pinned_before, *chosen]))
            if message.role in (p.Role.USER, p.Role.ASSISTANT)
            and message.status != MessageStatus.ERROR
            and (message.role == "user" or message.content.strip())
        ]
        history += [self._turn(message, pinned=message.id in pinned) for message in sent]
        return self._with_passages_for_the_question(history, sent, context)

    def _with_passages_for_the_question(
        self, history: list[p.ChatTurn], sent: list[Message], context: int
    ) -> list[p.ChatTurn]:
        """The latest question also gets the passages that match it from the long documents
        attached earlier in the chat (its own documents are in it already)."""
        if self.documents is None or len(sent) < 2 or sent[-1].role != "user" or not history:
            return history
        question = sent[-1].content
        earlier = [
            a
            for m in sent[:-1]
            for a in m.attachments
            if a.kind == "document" and not self._fits_whole(a, context)
        ]
        if not earlier or not question.strip():
            return history
        share = int(context * PASSAGES_SHARE * CHARS_PER_TOKEN) // len(earlier)
        texts = [passages_text(self.documents, a, question, share) for a in dict.fromkeys(earlier)]
        latest = history[-1]
        content = "\n\n".join([*texts, latest.content])
        return [*history[:-1], dataclasses.replace(latest, content=content, tokens=0)]

    def _fits_whole(self, attachment: Attachment, context: int) -> bool:
        text = self.documents.load(attachment.sha256) if self.documents else None
        return text is None or estimate_tokens(text.chars) <= context * WHOLE_DOCUMENT_SHARE

    def _context_length(self, settings: GenerationSettings) -> int:
        loaded = self._worker.loaded_model
        return loaded.context_length if loaded is not None else settings.context_length

    def _turn(self, message: Message, pinned: bool = False) -> p.ChatTurn:
        """Attach what the loaded model can take; name the rest in words. One picture from an
        earlier model (or a file since deleted) must not make the whole chat fail."""
        loaded = self._worker.loaded_model
        kept: list[p.MediaRef] = []
        missing: list[str] = []
        documents: list[str] = []
        for attachment in message.attachments:
            if attachment.kind == "document":
                documents.append(self._document(attachment, message.content, kept))
                continue
            able = loaded is None or (loaded.vision if attachment.kind == "image" else loaded.audio)
            if able and attachment.path.is_file():
                kept.append(
                    p.MediaRef(p.MediaKind(attachment.kind), str(attachment.path), detail=attachment.detail)
                )
            else:
                thing = "picture" if attachment.kind == "image" else "sound clip"
                missing.append(f"[A {thing}, “{attachment.name}”, was attached here but is not available.]")
        added = [*missing, *documents]
        content = "\n\n".join([*added, message.content]).strip() if added else message.content
        return p.ChatTurn(
            p.Role(message.role),
            content,
            kept,
            id=message.id,
            pinned=pinned,
            # A count from the text as stored; words added about attachments change it.
            tokens=(message.token_count or 0) if not added else 0,
            # A model that cannot call tools reads only the answers' words.
            tool_steps=rounds_to_send(message.tool_calls) if loaded is not None and loaded.tools else [],
        )

    def _document(self, attachment: Attachment, question: str, media: list[p.MediaRef]) -> str:
        """A document's text for the model (``document_prompt``); its scanned pages join ``media``."""
        if self.documents is None:
            return f"[A document, “{attachment.name}”, was attached here but is not available.]"
        loaded = self._worker.loaded_model
        can_see = loaded is None or loaded.vision
        part = document_part(
            self.documents, attachment, question, self._prompt_context, can_see, self._prompt_scans
        )
        # Scanned pages are read at the most detail a picture can have.
        media += [p.MediaRef(p.MediaKind.IMAGE, str(path), detail=MAX_IMAGE_TOKENS) for path in part.scans]
        return part.text

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
        if answer is None or not answer.dirty:
            return
        answer.dirty = False
        write = functools.partial(self._write_answer, answer)
        if self._saves.trouble is not None:
            self._saves.hold(("answer", answer.message_id), write)  # tried again at the retry pace
        else:
            self._saves.keep(("answer", answer.message_id), write, ANSWER_KEPT)

    def _write_answer(self, answer: _Answer) -> None:
        """Write the answer as it is now: a held write saves the latest text, not the text of
        the moment it was refused."""
        self._store.update_message(
            answer.message_id,
            content=answer.content,
            reasoning=answer.reasoning,
            status=answer.status,
            stats=answer.stats,
            tool_calls=answer.calls,
        )

    def _on_finished(self, done: p.Done) -> None:
        answer = self._answer
        if answer is None or answer.request_id != done.request_id:
            return
        if done.stop_reason is p.StopReason.TOOL_CALL and answer.tools:
            self._remember_sizes(answer.conversation_id, done)
            limit = answer.settings.max_tool_rounds
            if answer.rounds >= limit:  # the grammar forbade calls, but a model may write one anyway
                self.notice.emit(
                    f"The model wanted more tools than this chat allows in one answer ({limit} rounds). "
                    "Raise “Tool rounds” in the chat's settings to let it go on."
                )
            elif self._run_tools(answer, done):
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
        if done.draft_steps:
            stats["accepted_per_step"] = round(done.draft_accepted / done.draft_steps, 2)
        if answer.calls:
            stats["tool_calls"] = len(answer.calls)
            stats["total_ms"] = round((time.monotonic() - answer.started) * 1000, 1)
        loaded = self._worker.loaded_model
        if loaded is not None:
            stats["model"] = loaded.name
        self._remember_sizes(answer.conversation_id, done)
        self._finish(status, stats)

    def _remember_sizes(self, conversation_id: int, done: p.Done) -> None:
        """Keep the token counts the model made, and where its memory of the chat now starts.
        Losing them costs only a recount later: a refused write here is logged, not told."""
        try:
            self._store.set_token_counts([(t.id, t.tokens) for t in done.turn_tokens])
            if done.memory_start_id:
                self._store.set_memory_start(conversation_id, done.memory_start_id)
        except StorageError as error:
            log.warning("Token counts not saved: %s", error)
        if done.memory_start_id:
            self.memory_moved.emit(conversation_id, done.memory_start_id)
            self.notice.emit(
                "This chat is now longer than the model's context: it reads on from the marked "
                "message. Pin messages it must always read (Ctrl+P)."
            )

    # --- the tool loop ---------------------------------------------------------------------

    def _run_tools(self, answer: _Answer, done: p.Done) -> bool:
        """Start the round of calls the model just made (after asking the user, for calls that
        read files); False if there is none to run (the answer then ends as it is)."""
        number = answer.rounds
        answer.thoughts[number] = answer.reasoning[answer.thought_mark :].strip()
        answer.thought_mark = len(answer.reasoning)
        unreadable = [
            ToolCallRecord(number, "", {}, CallState.FAILED, f"Hearth could not read this call: {problem}")
            for problem in done.tool_call_errors
        ]
        asking = self._must_ask(answer, done.tool_calls)
        state = CallState.WAITING if asking else CallState.RUNNING
        made = [ToolCallRecord(number, call.name, call.arguments, state) for call in done.tool_calls]
        answer.calls += [*made, *unreadable]
        answer.dirty = True
        answer.round_calls = list(done.tool_calls)
        self.tool_calls_changed.emit(answer.as_message())
        if not made:
            return False
        answer.tools_running = True
        if asking:
            self.approval_needed.emit(answer.as_message(), [c for c in made if self._reads_files(c.name)])
        else:
            self._start_round(answer, denied=False)
        return True

    def _reads_files(self, name: str) -> bool:
        tool = self.tools.registry.tools.get(name)
        return tool is not None and tool.reads_files

    def _must_ask(self, answer: _Answer, calls: list[p.ToolCall]) -> bool:
        if answer.files_allowed or not any(self._reads_files(call.name) for call in calls):
            return False
        return not self._store.tool_access(answer.conversation_id).always_read

    def approve(self, choice: Approval) -> None:
        """The user's answer to ``approval_needed``: the waiting round runs (or its file calls
        are refused and the rest run)."""
        answer = self._answer
        if answer is None or not any(c.state is CallState.WAITING for c in answer.calls):
            return
        if choice is Approval.ALWAYS:
            access = self._store.tool_access(answer.conversation_id)
            try:
                self._store.set_tool_access(answer.conversation_id, replace(access, always_read=True))
            except StorageError as error:
                self.notice.emit(error.explain("reading files is allowed for this answer only"))
        answer.files_allowed = choice is not Approval.DENY
        answer.calls = [
            replace(c, state=CallState.RUNNING) if c.state is CallState.WAITING else c for c in answer.calls
        ]
        self.tool_calls_changed.emit(answer.as_message())
        self._start_round(answer, denied=choice is Approval.DENY)

    def _start_round(self, answer: _Answer, denied: bool) -> None:
        refused = {i for i, call in enumerate(answer.round_calls) if denied and self._reads_files(call.name)}
        answer.round_refused = refused
        folders = tuple(Path(f) for f in self._store.tool_access(answer.conversation_id).folders)
        context = ToolContext(answer.conversation_id, folders, self._store.database_path)
        self.tools.run((answer.request_id, answer.rounds), answer.round_calls, context, refused)

    def _on_tools_done(self, ticket: tuple[str, int], results: list[ToolResult]) -> None:
        answer = self._answer
        request_id, number = ticket
        if answer is None or answer.request_id != request_id or not answer.tools_running:
            return  # stopped meanwhile
        answer.tools_running = False
        pending = iter(enumerate(results))
        answer.calls = [
            self._with_result(call, *next(pending), answer.round_refused)
            if call.round == number and call.name
            else call
            for call in answer.calls
        ]
        answer.rounds += 1
        answer.dirty = True
        self.tool_calls_changed.emit(answer.as_message())
        # The last round allowed: the model must answer in words now.
        choice = p.ToolChoice.NONE if answer.rounds >= answer.settings.max_tool_rounds else p.ToolChoice.AUTO
        steps = rounds_to_send(answer.calls, answer.thoughts)
        under_way = p.ChatTurn(p.Role.ASSISTANT, "", tool_steps=steps)
        answer.request_id = uuid.uuid4().hex
        self._worker.generate(
            answer.request_id,
            [*answer.history, under_way],
            answer.settings,
            answer.tools,
            choice,
            chat=chat_key(answer.conversation_id),
        )

    @staticmethod
    def _with_result(
        call: ToolCallRecord, index: int, result: ToolResult, refused: set[int]
    ) -> ToolCallRecord:
        state = CallState.DENIED if index in refused else CallState.DONE if result.ok else CallState.FAILED
        return replace(call, state=state, result=result.text, elapsed_ms=round(result.elapsed_ms, 1))

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
        answer.status, answer.stats = status, stats
        write = functools.partial(self._write_answer, answer)
        if not self._saves.keep(("answer", answer.message_id), write, ANSWER_KEPT):
            self._held_answers[answer.message_id] = answer
        self.busy_changed.emit(False)
        self.answer_finished.emit(answer.as_message())

    # --- the chat as the user sees it: stored, or waiting to be ------------------------------

    def conversation(self, conversation_id: int) -> Conversation | None:
        """The conversation as stored, with settings the user changed that wait to be saved."""
        self._forget_saved()
        conversation = self._store.get_conversation(conversation_id)
        held = self._held_settings.get(conversation_id)
        if conversation is not None and held is not None:
            conversation = dataclasses.replace(conversation, settings=held[0], system_prompt=held[1])
        return conversation

    def messages(self, conversation_id: int) -> list[Message]:
        """The branch on show as stored, with answers as they are in memory where they wait to be
        saved."""
        return [self.as_shown(m) for m in self._store.messages(conversation_id)]

    def as_shown(self, message: Message) -> Message:
        """A stored message, or the answer as it is in memory while its writes wait (or stream)."""
        self._forget_saved()
        if self._answer is not None and self._answer.message_id == message.id:
            return self._answer.as_message()
        held = self._held_answers.get(message.id)
        return held.as_message() if held is not None else message

    def settings_for(self, conversation_id: int) -> GenerationSettings:
        conversation = self.conversation(conversation_id)
        return conversation.settings if conversation else GenerationSettings()

    def set_chat_settings(
        self, conversation_id: int, settings: GenerationSettings, system_prompt: str
    ) -> bool:
        """Save a chat's settings, or keep them until they can be (True: saved now)."""

        def write() -> None:
            with self._store.atomic():
                self._store.set_settings(conversation_id, settings)
                self._store.set_system_prompt(conversation_id, system_prompt)

        self._forget_saved()
        self._held_settings[conversation_id] = (settings, system_prompt)
        saved = self._saves.keep(("settings", conversation_id), write, SETTINGS_KEPT)
        if saved:
            del self._held_settings[conversation_id]
        return saved

    def save_before_close(self) -> StorageError | None:
        """Write everything kept in memory, the answer streaming included; what still stops it, if
        anything (the user should hear of it before the app closes)."""
        if self._answer is not None:
            write = functools.partial(self._write_answer, self._answer)
            self._saves.hold(("answer", self._answer.message_id), write)
        if self._saves.waiting:
            self._saves.retry()
        return self._saves.trouble

    def _forget_saved(self) -> None:
        """Drop the in-memory copies whose writes went through meanwhile."""
        self._held_answers = {i: a for i, a in self._held_answers.items() if ("answer", i) in self._saves}
        self._held_settings = {i: s for i, s in self._held_settings.items() if ("settings", i) in self._saves}
