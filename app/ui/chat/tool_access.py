"""What the window does for the tools' access to files: it asks the user (``ApprovalBar``) when
an answer's tools would read files, and keeps each chat's shared folders (``SharedFolders``)."""

from __future__ import annotations

import logging

from PySide6.QtCore import QObject

from app.storage.chats import ChatStore, Message
from app.storage.faults import StorageError
from app.storage.tool_records import ToolAccess, ToolCallRecord
from app.ui.chat.approval_bar import ApprovalBar
from app.ui.chat.controller import ChatController
from app.ui.chat.shared_folders import SharedFolders

log = logging.getLogger(__name__)


class ToolAccessGlue(QObject):
    def __init__(
        self, store: ChatStore, controller: ChatController, bar: ApprovalBar, folders: SharedFolders
    ) -> None:
        super().__init__(controller)
        self._store, self._controller, self.bar, self.folders = store, controller, bar, folders
        self._conversation_id: int | None = None
        controller.approval_needed.connect(self._ask)
        controller.busy_changed.connect(lambda busy: None if busy else bar.setVisible(False))
        bar.chosen.connect(controller.approve)
        folders.edited.connect(self._save_folders)

    def show_chat(self, conversation_id: int) -> None:
        self._conversation_id = conversation_id
        self.folders.set_folders(self._store.tool_access(conversation_id).folders)

    def _ask(self, message: Message, calls: list[ToolCallRecord]) -> None:
        self.bar.ask(calls, self._store.tool_access(message.conversation_id).folders)

    def _save_folders(self, folders: tuple[str, ...]) -> None:
        if self._conversation_id is None:
            return
        access = self._store.tool_access(self._conversation_id)
        try:
            self._store.set_tool_access(self._conversation_id, ToolAccess(folders, access.always_read))
        except StorageError as error:
            log.warning("Shared folders not saved: %s", error)
            self._controller.notice.emit(error.explain("the folders are as they were"))
            self.folders.set_folders(access.folders)
