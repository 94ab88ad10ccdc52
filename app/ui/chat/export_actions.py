"""File ▸ Export this chat…, Export all chats… and Import chats…: a file dialog, the work off the UI
thread, then a notice saying what happened."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QEvent, QObject
from PySide6.QtWidgets import QFileDialog, QWidget

from app.core.paths import AppPaths
from app.storage.archive_format import ArchiveError
from app.storage.export import ExportResult, export_chats
from app.storage.export_markdown import safe_title
from app.storage.import_chats import ImportResult, import_chats
from app.ui.background import BackgroundTasks

log = logging.getLogger(__name__)

ZIP_FILTER = "Zip archives (*.zip);;All files (*)"


class ChatExportActions(QObject):
    """``current_chat`` gives the id and title of the chat on show (None: no chat); ``notice``
    shows a line in the status bar; ``imported`` runs after chats were added."""

    def __init__(
        self,
        window: QWidget,
        paths: AppPaths,
        current_chat: Callable[[], tuple[int, str] | None],
        notice: Callable[[str], None],
        imported: Callable[[], None],
    ) -> None:
        super().__init__(window)
        self._window = window
        self._paths = paths
        self._current_chat = current_chat
        self._notice = notice
        self._imported = imported
        self._tasks = BackgroundTasks(self)
        # Closing the window waits a moment for an export to finish its file, then drops the result.
        window.installEventFilter(self)

    # --- the dialogs (tests replace these) ---------------------------------------------------

    def choose_export_target(self, suggested_name: str) -> Path | None:
        path, _ = QFileDialog.getSaveFileName(
            self._window, "Export chats", str(Path.home() / suggested_name), ZIP_FILTER
        )
        if not path:
            return None
        target = Path(path)
        return target if target.suffix.lower() == ".zip" else target.with_name(target.name + ".zip")

    def choose_archive(self) -> Path | None:
        path, _ = QFileDialog.getOpenFileName(self._window, "Import chats", str(Path.home()), ZIP_FILTER)
        return Path(path) if path else None

    # --- actions ---------------------------------------------------------------------------

    def export_current(self) -> None:
        chat = self._current_chat()
        if chat is None:
            self._notice("Open a chat to export it.")
            return
        chat_id, title = chat
        self._export([chat_id], f"{safe_title(title) or 'Hearth chat'}.zip")

    def export_all(self) -> None:
        self._export(None, f"Hearth chats {time.strftime('%Y-%m-%d')}.zip")

    def import_archive(self) -> None:
        if self._tasks.busy():
            self._notice("Wait for the export or import under way to finish.")
            return
        source = self.choose_archive()
        if source is None:
            return
        paths = self._paths
        self._notice(f"Importing chats from {source.name}…")
        self._tasks.run(
            lambda: import_chats(source, paths.database, paths.attachments),
            self._import_done,
            lambda exc: self._failed("imported", exc),
            name="import",
        )

    def shutdown(self) -> None:
        self._tasks.close()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self._window and event.type() == QEvent.Type.Close:
            self.shutdown()
        return super().eventFilter(watched, event)

    # --- results ---------------------------------------------------------------------------

    def _export(self, chat_ids: list[int] | None, suggested_name: str) -> None:
        if self._tasks.busy():
            self._notice("Wait for the export or import under way to finish.")
            return
        target = self.choose_export_target(suggested_name)
        if target is None:
            return
        paths = self._paths
        self._notice(f"Exporting to {target.name}…")
        self._tasks.run(
            lambda: export_chats(paths.database, paths.attachments, target, chat_ids),
            self._export_done,
            lambda exc: self._failed("exported", exc),
            name="export",
        )

    def _export_done(self, result: ExportResult) -> None:
        text = f"Exported {_count(result.conversations, 'chat')} to {result.path}."
        if result.missing == 1:
            text += " One picture or sound was missing from Hearth's data folder, so it is not in it."
        elif result.missing:
            text += (
                f" {result.missing} pictures or sounds were missing from Hearth's data folder,"
                " so they are not in it."
            )
        self._notice(text)

    def _import_done(self, result: ImportResult) -> None:
        self._imported()
        self._notice(f"Imported {_count(result.conversations, 'chat')}.")

    def _failed(self, what: str, exc: BaseException) -> None:
        if not isinstance(exc, ArchiveError):
            log.error("Chats could not be %s", what, exc_info=exc)
        reason = str(exc) if isinstance(exc, ArchiveError) else f"something went wrong ({exc})"
        self._notice(f"Nothing was {what}: {reason}")


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
