"""Attachments in the chat window: files dropped anywhere on it, picked with the + button, pasted,
or recorded; shown as tiles on the messages that carry them; offered only where the loaded model
can see or hear."""

from __future__ import annotations

import dataclasses
import functools
import logging
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QEvent, QObject, Qt, QUrl
from PySide6.QtGui import QDesktopServices, QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QFileDialog, QMainWindow

from app.engine.prompt_fit import AUDIO_TOKENS_PER_S
from app.media.attachments import AUDIO_SUFFIXES, IMAGE_SUFFIXES
from app.media.recorder import NO_MICROPHONE
from app.storage.attachment_files import AttachmentFiles, StoredFile
from app.storage.document_text import DOCUMENT_SUFFIXES, DocumentError
from app.storage.documents import DocumentLibrary
from app.ui.background import BackgroundTasks
from app.ui.chat.composer import Composer, local_files
from app.ui.chat.document_prompt import WHOLE_DOCUMENT_SHARE
from app.ui.chat.intake import AttachmentIntake, PendingAttachment, clock
from app.ui.chat.picture_cost import detail_of
from app.ui.chat.picture_viewer import PictureViewer
from app.ui.chat.sound_playback import SoundPlayback

log = logging.getLogger(__name__)
SOUND_TEXT_MARGIN = 256  # tokens left beside a sound for the question and the template


class ChatAttachments(QObject):
    def __init__(
        self, window: QMainWindow, composer: Composer, folder: Path, notify: Callable[[str], None]
    ) -> None:
        super().__init__(window)
        self._window, self._composer, self._notify = window, composer, notify
        self.files = AttachmentFiles(folder)
        self.documents = DocumentLibrary(folder.parent / "documents")
        self.intake = AttachmentIntake(self.files, self)
        self.intake.documents = self.documents
        # The context the next answer has, and what of it is kept for the answer: documents that
        # outgrow it are warned of, sounds that cannot fit are refused, and recordings stop there.
        self.context_of: Callable[[], int] = lambda: 0
        self.answer_reserve_of: Callable[[], int] = lambda: 0
        composer.mic.max_seconds_of = self._seconds_that_fit
        self.intake.ready.connect(self._arrived)
        self.intake.refused.connect(notify)
        self.intake.preparing_changed.connect(composer.set_preparing)
        composer.attach_requested.connect(self.choose_files)
        composer.files_offered.connect(self.intake.add_paths)
        composer.image_pasted.connect(self.intake.add_image)
        composer.mic.recorded.connect(self.intake.add_recording)
        composer.mic.failed.connect(notify)
        window.setAcceptDrops(True)
        window.installEventFilter(self)
        self._tasks = BackgroundTasks(self)
        self._mic_probed = False
        self.playback = SoundPlayback(self)
        self.playback.failed.connect(notify)

    # --- the model's senses -------------------------------------------------------------------

    def set_senses(self, can_see: bool | None, can_hear: bool | None) -> None:
        self.intake.set_senses(can_see, can_hear)
        self._composer.set_senses(can_see, can_hear)
        for kind, able in (("image", can_see), ("audio", can_hear)):
            if able is False:
                gone = self._composer.remove_attachments(kind)
                if gone:
                    names = ", ".join(item.stored.name for item in gone)
                    self._notify(f"Taken off the message, as this model cannot take it: {names}.")
        if can_hear is not None and not self._mic_probed:
            # Only once a model is loaded (any model takes dictation): the audio stack
            # (PortAudio, numpy) costs start-up time that the first window need not wait for.
            self._mic_probed = True
            self.look_for_microphone(rescan=False)

    def can_rescan(self) -> bool:
        """Whether the sound system may start again: not under a recording or a sound playing,
        whose streams it would close."""
        mic = self._composer.mic
        return not (mic.recording or mic.busy or self.playback.playing or self.playback.opening)

    def look_for_microphone(self, rescan: bool = True) -> None:
        """Ask the sound system for microphones, off the UI thread; ``rescan`` finds one plugged
        in since the last look."""
        if not self.can_rescan():
            return
        work = functools.partial(_microphone_problem, rescan)
        self._tasks.run(work, self._composer.set_mic_problem, name="mic-probe")

    # --- bringing files in --------------------------------------------------------------------

    def _seconds_that_fit(self) -> float:
        """How many seconds of sound fit the chat's context beside the answer's room (and a
        little text)."""
        context = self.context_of()
        if not context:
            return float("inf")
        return max(1.0, (context - self.answer_reserve_of() - SOUND_TEXT_MARGIN) / AUDIO_TOKENS_PER_S)

    def _arrived(self, item: PendingAttachment) -> None:
        context = self.context_of()
        if item.seconds and item.seconds > self._seconds_that_fit():
            reserve = self.answer_reserve_of()
            self._notify(
                f"“{item.stored.name}” is {clock(item.seconds)} long: about "
                f"{int(item.seconds * AUDIO_TOKENS_PER_S):,} tokens, and this chat's context holds "
                f"{context:,}, of which {reserve:,} are kept for the answer. Attach a clip of at most "
                f"{clock(self._seconds_that_fit())}, or raise the context length."
            )
            return
        if item.tokens and context and item.tokens > context * WHOLE_DOCUMENT_SHARE:
            overflow = (
                f"Too long to read whole in this chat's context ({context:,} tokens): the model "
                "reads the passages that match each question, with their pages."
            )
            item = dataclasses.replace(item, warning=" ".join(filter(None, (overflow, item.warning))))
        if self.intake.allows(item.stored.kind):
            self._composer.add_attachment(item)
        else:  # the model changed while it was being prepared
            self._notify(f"“{item.stored.name}” was not attached: the loaded model cannot take it.")

    def choose_files(self) -> None:
        kinds: list[tuple[str, tuple[str, ...]]] = []
        if self.intake.can_see is not False:
            kinds.append(("Pictures", IMAGE_SUFFIXES))
        if self.intake.can_hear is not False:
            kinds.append(("Sounds", AUDIO_SUFFIXES))
        kinds.append(("Documents", DOCUMENT_SUFFIXES))
        patterns = [f"{label} ({' '.join('*' + s for s in suffixes)})" for label, suffixes in kinds]
        everything = " ".join("*" + s for _, suffixes in kinds for s in suffixes)
        filters = ";;".join([f"Everything Hearth reads ({everything})", *patterns])
        paths, _ = QFileDialog.getOpenFileNames(self._window, "Attach", "", filters)
        if paths:
            self.intake.add_paths([Path(p) for p in paths])

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self._window and event.type() in (QEvent.Type.DragEnter, QEvent.Type.DragMove):
            assert isinstance(event, QDragEnterEvent)
            if local_files(event.mimeData()):
                event.acceptProposedAction()
                return True
        if (
            watched is self._window
            and event.type() == QEvent.Type.WindowActivate
            and self._mic_probed
            and self._composer.mic_problem == NO_MICROPHONE
        ):
            self.look_for_microphone()  # perhaps one was plugged in while Hearth was behind
        if watched is self._window and event.type() == QEvent.Type.Drop:
            assert isinstance(event, QDropEvent)
            files = local_files(event.mimeData())
            if files:
                event.acceptProposedAction()
                self.intake.add_paths(files)
                return True
        return super().eventFilter(watched, event)

    # --- sending --------------------------------------------------------------------------------

    def pending(self) -> list[StoredFile]:
        """What is about to be sent, each picture with the detail it is sent at."""
        chat_budget = self._composer.chat_detail_of()
        return [
            dataclasses.replace(item.stored, detail=detail_of(item, chat_budget))
            if item.stored.kind == "image"
            else item.stored
            for item in self._composer.pending()
        ]

    def sent(self) -> None:
        self._composer.clear_attachments()

    # --- sent messages ------------------------------------------------------------------------

    def thumbnail(self, path: Path, done: Callable[[bytes], None]) -> None:
        """A small PNG of a sent picture, made off the UI thread (for the conversation view)."""
        self.intake.thumbnail(path, done)

    def open(self, path: Path, name: str = "") -> None:
        """Show a sent picture full size in Hearth's viewer, play or pause a sent sound in place,
        open a document with the system's own app."""
        if not path.exists():
            self._notify(f"“{name or path.name}” is no longer on this computer.")
            return
        if path.suffix.lower() in AUDIO_SUFFIXES:
            self.playback.toggle(path)
            return
        if path.suffix.lower() in IMAGE_SUFFIXES:
            viewer = PictureViewer(path, name or path.name, self._window)
            viewer.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            viewer.show()
            self.viewer = viewer
            return
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(path)))

    # --- housekeeping ---------------------------------------------------------------------------

    def prepare_documents(self, documents: list[tuple[str, Path, str]]) -> None:
        """Make ready the attached documents whose text is not kept yet (chats imported from an
        archive, a data folder restored without it), off the UI thread."""
        library = self.documents

        def work() -> int:
            made = 0
            for sha256, path, name in documents:
                if library.load(sha256) is None and path.is_file():
                    try:
                        library.prepare(sha256, path, name)
                        made += 1
                    except DocumentError as error:
                        log.warning("A document could not be prepared: %s", error)
            return made

        self._tasks.run(work, lambda _made: None, name="documents")

    def forget_unused(self, referenced: set[Path]) -> None:
        """Delete stored files no message (and no pending attachment) uses any more."""
        keep = referenced | {item.stored.path for item in self._composer.pending()}
        self._tasks.run(
            lambda: self.files.delete_unreferenced(keep), lambda _count: None, name="attachments-gc"
        )

    def shutdown(self) -> None:
        self.playback.close()
        self._composer.mic.shutdown()
        self.intake.close()
        self._tasks.close()


def _microphone_problem(rescan: bool) -> str:
    from app.media.recorder import input_problem

    return input_problem(rescan)
