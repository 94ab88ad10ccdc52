"""Turns what the user drops, pastes, picks or records into attachments: checked, converted where
the model cannot read the format, copied into Hearth's own folder and thumbnailed, all off the
UI thread (a phone photo takes a noticeable moment to decode)."""

from __future__ import annotations

import dataclasses
import functools
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QBuffer, QIODevice, QObject, Signal
from PySide6.QtGui import QImage

from app.core.gemma4 import MAX_IMAGE_TOKENS
from app.storage.attachment_files import AttachmentFiles, StoredFile
from app.storage.document_text import is_document
from app.storage.documents import MAX_SCANNED_PAGES, DocumentLibrary
from app.ui.background import BackgroundTasks

THUMBNAIL_THREADS = 2
READABLE = (
    "pictures (PNG, JPEG, WebP, GIF, BMP, TIFF, AVIF, HEIC), sounds (WAV, MP3, FLAC, OGG, Opus, M4A, "
    "WebM) and documents (PDF, Word, HTML, text)"
)


@dataclass(frozen=True)
class PendingAttachment:
    stored: StoredFile
    detail: str  # "1920 × 1080", "0:12"
    thumbnail: bytes | None  # PNG, for pictures
    order: int = 0  # when it was asked for: files prepared in parallel still line up as dropped
    tokens: int = 0  # documents: about how many tokens their text takes
    seconds: float | None = None  # sounds: how long, when known
    warning: str = ""  # what the user should know before sending it
    size: tuple[int, int] | None = None  # pictures: width and height as stored (as the model gets them)
    auto_detail: int = 0  # pictures: the visual tokens "Automatic" gives them
    chosen_detail: int = 0  # pictures: the detail the user chose for this one; 0: the chat's


def clock(seconds: float) -> str:
    """``m:ss``, the whole seconds gone (a running clock never shows a second not yet reached)."""
    whole = int(seconds)
    return f"{whole // 60}:{whole % 60:02d}"


def describe_duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    whole = round(seconds)
    return f"{whole // 60}:{whole % 60:02d}"


def describe_scans(count: int, read: int) -> str:
    """What happens to a document's scanned pages, in words."""
    if read >= count:
        return (
            f"Its {count} scanned page goes to the model as a picture."
            if count == 1
            else (f"Its {count} scanned pages go to the model as pictures.")
        )
    setting = "(Scanned pages, in the chat's settings)"
    if read == 0:
        return f"Its {count} scanned page{'s' if count != 1 else ''} will not be read {setting}."
    return f"The first {read} of its {count} scanned pages go to the model as pictures {setting}."


class AttachmentIntake(QObject):
    ready = Signal(object)
    """An attachment is stored and can go with the next message: a ``PendingAttachment``."""
    refused = Signal(str)
    """Something could not be attached; the words say what and why."""
    preparing_changed = Signal(bool)
    """Attachments are being prepared (True), or all are done (False)."""

    def __init__(self, files: AttachmentFiles, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._files = files
        self._tasks = BackgroundTasks(self)
        self._thumbnails: dict[Path, bytes] = {}
        self._waiting: dict[Path, list[Callable[[bytes], None]]] = {}
        self._thumbnail_queue: list[Path] = []
        self._thumbnailing = 0
        self._preparing = 0
        self._asked = 0
        self.can_see: bool | None = None  # None: no model loaded, so anything may go
        self.can_hear: bool | None = None
        self.documents: DocumentLibrary | None = None  # where documents are prepared
        # How many scanned pages of a document are read as pictures (the chat's setting).
        self.scanned_pages_of: Callable[[], int] = lambda: MAX_SCANNED_PAGES

    def set_senses(self, can_see: bool | None, can_hear: bool | None) -> None:
        self.can_see, self.can_hear = can_see, can_hear

    # --- bringing things in ----------------------------------------------------------------

    def add_paths(self, paths: list[Path]) -> None:
        from app.media.attachments import kind_of

        for path in dict.fromkeys(paths):  # a file dropped twice in one go counts once
            if is_document(path) and self.documents is not None:
                work = functools.partial(self._take_document, path, self.documents, self.scanned_pages_of())
                self._prepare(work, "document")
                continue
            kind = kind_of(path)
            if kind is None:
                self.refused.emit(f"“{path.name}” cannot be attached: Hearth reads {READABLE}.")
                continue
            refusal = self._refusal(kind)
            if refusal:
                self.refused.emit(refusal)
                continue
            self._prepare(functools.partial(self._take_file, path), "attach")

    def add_image(self, image: QImage) -> None:
        """A pasted picture (a screenshot, usually)."""
        refusal = self._refusal("image")
        if refusal:
            self.refused.emit(refusal)
            return
        name = f"Pasted image {time.strftime('%H.%M.%S')}.png"
        copy = image.copy()  # implicitly shared, and read-only on the other thread
        self._prepare(lambda: self._take_image(copy, name), "paste")

    def add_recording(self, wav: bytes, seconds: float) -> None:
        refusal = self._refusal("audio")
        if refusal:
            self.refused.emit(refusal)
            return
        name = f"Recording {time.strftime('%H.%M')}.wav"
        detail = describe_duration(seconds)

        def work() -> PendingAttachment:
            stored = self._files.import_bytes(wav, "audio", name, ".wav")
            return PendingAttachment(stored, detail, None, seconds=seconds)

        self._prepare(work, "recording")

    @property
    def preparing(self) -> bool:
        return self._preparing > 0

    def _prepare(self, work: Callable[[], PendingAttachment], name: str) -> None:
        self._asked += 1
        order = self._asked
        self._preparing += 1
        if self._preparing == 1:
            self.preparing_changed.emit(True)

        def done(item: PendingAttachment) -> None:
            self.ready.emit(dataclasses.replace(item, order=order))
            self._prepared()

        def failed(error: BaseException) -> None:
            self._prepared()
            self._failed(error)

        self._tasks.run(work, done, failed, name)

    def _prepared(self) -> None:
        self._preparing -= 1
        if self._preparing == 0:
            self.preparing_changed.emit(False)

    def allows(self, kind: str) -> bool:
        return not self._refusal(kind)

    def _refusal(self, kind: str) -> str:
        if kind == "image" and self.can_see is False:
            return "The loaded model cannot see pictures. Gemma 4 with its projector file can."
        if kind == "audio" and self.can_hear is False:
            return "The loaded model cannot hear. Gemma 4 E2B and E4B with their projector can."
        return ""

    def _failed(self, error: BaseException) -> None:
        self.refused.emit(str(error))

    # --- on a background thread -------------------------------------------------------------

    def _take_file(self, path: Path) -> PendingAttachment:
        from app.media.attachments import check_media, picture_preview

        checked = check_media(path)
        if checked.converted is not None:
            name = Path(path.name).with_suffix(checked.suffix).name
            stored = self._files.import_bytes(checked.converted, checked.kind, name, checked.suffix)
        else:
            stored = self._files.import_file(path, checked.kind, path.name)
        if checked.kind == "image":
            detail = f"{checked.width} × {checked.height}" if checked.width and checked.height else ""
            if checked.original_size is not None:
                self._files.keep_original(stored, path)
                width, height = checked.original_size
                detail = f"{width} × {height}, sent at {detail}"
            preview = checked.preview or picture_preview(stored.path)
            return PendingAttachment(
                stored,
                detail,
                preview.thumbnail,
                warning=checked.note,
                size=(preview.width, preview.height),
                auto_detail=preview.auto_detail,
            )
        return PendingAttachment(
            stored, describe_duration(checked.duration_s), None, seconds=checked.duration_s
        )

    def _take_document(self, path: Path, documents: DocumentLibrary, max_scans: int) -> PendingAttachment:
        from app.storage.document_text import read_document

        text = read_document(path)  # refused in words before anything is stored
        stored = self._files.import_file(path, "document", path.name)
        prepared = documents.prepare(stored.sha256, stored.path, stored.name, max_scans, text)
        text = prepared.text
        # Scanned pages are read as pictures, at the most detail.
        tokens = prepared.tokens + len(prepared.scans) * MAX_IMAGE_TOKENS
        pages = (
            f"{text.total_pages:,} page{'s' if text.total_pages != 1 else ''} · "
            if text.format == "pdf"
            else ""
        )
        detail = f"{pages}about {tokens:,} tokens"
        notes = [text.note] if text.note else []
        if text.scanned:
            notes.append(describe_scans(len(text.scanned), max_scans))
        return PendingAttachment(stored, detail, None, tokens=tokens, warning=" ".join(notes))

    def _take_image(self, image: QImage, name: str) -> PendingAttachment:
        from app.media.attachments import picture_preview

        buffer = QBuffer()
        buffer.open(QIODevice.OpenModeFlag.WriteOnly)
        # A str format is what works at run time; the stubs only list bytes.
        if not image.save(buffer, "PNG"):  # type: ignore[call-overload]
            raise ValueError("The pasted picture could not be read.")
        data = bytes(buffer.data().data())
        stored = self._files.import_bytes(data, "image", name, ".png")
        preview = picture_preview(data)
        return PendingAttachment(
            stored,
            f"{image.width()} × {image.height()}",
            preview.thumbnail,
            size=(preview.width, preview.height),
            auto_detail=preview.auto_detail,
        )

    # --- thumbnails of sent pictures ----------------------------------------------------------

    def thumbnail(self, path: Path, done: Callable[[bytes], None]) -> None:
        """Call ``done(png)`` with a thumbnail of ``path``, made once per run of the app; a chat
        full of photos is thumbnailed a few at a time, newest requests last."""
        known = self._thumbnails.get(path)
        if known is not None:
            done(known)
            return
        waiting = self._waiting.setdefault(path, [])
        waiting.append(done)
        if len(waiting) == 1:
            self._thumbnail_queue.append(path)
            self._next_thumbnail()

    def _next_thumbnail(self) -> None:
        while self._thumbnail_queue and self._thumbnailing < THUMBNAIL_THREADS:
            path = self._thumbnail_queue.pop(0)
            self._thumbnailing += 1

            def made(png: bytes, path: Path = path) -> None:
                self._thumbnails[path] = png
                for callback in self._waiting.pop(path, []):
                    callback(png)
                self._thumbnail_done()

            def failed(_error: BaseException, path: Path = path) -> None:
                self._waiting.pop(path, None)
                self._thumbnail_done()

            self._tasks.run(functools.partial(_thumbnail_of, path), made, failed, "thumbnail")

    def _thumbnail_done(self) -> None:
        self._thumbnailing -= 1
        self._next_thumbnail()

    def close(self) -> None:
        self._tasks.close()


def _thumbnail_of(path: Path) -> bytes:
    from app.media.attachments import thumbnail_png

    return thumbnail_png(path)
