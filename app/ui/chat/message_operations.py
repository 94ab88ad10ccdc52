"""What the user does to one message of the chat on show: edit a question (it is sent again as a new
version), ask for another answer, flip between versions, pin, delete (with Undo), and open a search
result on the branch that holds it. Every write may be refused by the disk: the chat then stays as
it was and the user is told why."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject

from app.storage.chats import CURRENT_LEAF, ChatStore, Message, RemovedMessage
from app.storage.faults import StorageError
from app.ui.chat.composer import Composer
from app.ui.chat.controller import ChatController
from app.ui.chat.conversation_model import ConversationModel
from app.ui.chat.conversation_view import ConversationView


class MessageOperations(QObject):
    def __init__(
        self,
        store: ChatStore,
        controller: ChatController,
        conversation: ConversationModel,
        view: ConversationView,
        composer: Composer,
        notify: Callable[[str], None],
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._store, self._controller = store, controller
        self._conversation, self._view, self._composer = conversation, view, composer
        self._notify = notify
        self.editing: Message | None = None  # the question being edited in the message box
        self.removed: RemovedMessage | None = None  # the message deleted last, until Undo expires
        view.regenerate_requested.connect(self.regenerate)
        view.edit_requested.connect(self.edit)
        view.alternative_requested.connect(self.show_alternative)
        view.pin_requested.connect(self.pin)
        composer.edit_cancelled.connect(self.cancel_edit)

    @property
    def _chat(self) -> int | None:
        return self._conversation.conversation_id

    # --- questions and answers -------------------------------------------------------------

    def parent_for_send(self) -> int | None:
        """Where the message being sent goes: where the edited question was, or the end."""
        return self.editing.parent_id if self.editing is not None else CURRENT_LEAF

    def sent(self) -> None:
        if self.editing is not None:
            self.editing = None
            self._composer.end_edit()

    def edit(self, message_id: int) -> None:
        """Put an earlier question in the message box; sending it asks again as a new version."""
        message = self._store.get_message(message_id)
        if message is None or message.role != "user":
            return
        if self._composer.text().strip() and not self._composer.editing:
            self._notify("Send or clear what is in the message box before editing a question.")
            return
        self.editing = message
        self._composer.begin_edit(message.content)
        if message.attachments:
            self._notify("The pictures and sounds of that question are not sent again with the edit.")

    def cancel_edit(self) -> None:
        self.editing = None

    def regenerate(self, message_id: int) -> None:
        if self._chat is not None and not self._controller.busy:
            self._controller.regenerate(self._chat, message_id)

    def show_alternative(self, message_id: int, step: int) -> None:
        """Show the previous or next version of a question or answer, and what followed it."""
        if self._controller.busy:
            self._notify("Wait for the answer to finish, or stop it, before switching versions.")
            return
        siblings = self._store.siblings([message_id]).get(message_id, ())
        if self._chat is None or message_id not in siblings:
            return
        position = siblings.index(message_id) + step
        if not 0 <= position < len(siblings):
            return
        target = siblings[position]
        try:
            self._store.show_branch(self._chat, target)
        except StorageError as error:
            self._notify(error.explain("the chat stays as it was"))
            return
        self._conversation.reload(around=target)
        self._view.show_message(target, highlight=False)

    def pin(self, message_id: int, pinned: bool) -> None:
        try:
            self._store.set_pinned(message_id, pinned)
        except StorageError as error:
            self._notify(error.explain("the message is as it was"))
            return
        message = self._store.get_message(message_id)
        if message is not None:
            self._conversation.replace(message)
        self._notify(
            "Pinned: the model always reads this message and its answer, however long the chat grows."
            if pinned
            else "Unpinned."
        )

    # --- deleting --------------------------------------------------------------------------

    def delete(self, message_id: int) -> bool:
        """Delete one message, keeping what Undo needs; False (and the user told why) if not."""
        if self._controller.answering_message == message_id:
            self._notify("Stop the answer before deleting it.")
            return False
        try:
            removed = self._store.delete_message(message_id)
        except StorageError as error:
            self._notify(error.explain("the message is still there"))
            return False
        if removed is None:
            return False
        self.removed = removed
        path = self._conversation.path
        index = path.index(message_id) if message_id in path else -1
        self._conversation.reload(around=path[index - 1] if index > 0 else None)
        return True

    def undo_delete(self) -> bool:
        """Put the deleted message back; False (and the user told why) if the disk refuses."""
        if self.removed is None:
            return False
        try:
            self._store.restore_message(self.removed)
        except StorageError as error:
            self._notify(error.explain("the message is still deleted, so press Undo again then"))
            return False
        message, self.removed = self.removed.message, None
        if message.conversation_id == self._chat:
            self._conversation.reload(around=message.id)
            self._view.show_message(message.id, highlight=False)
        return True

    # --- search results --------------------------------------------------------------------

    def bring_to_branch(self, conversation_id: int, message_id: int) -> bool:
        """Make the branch on show the one that holds ``message_id``; False if it cannot be now."""
        if message_id in self._store.path_ids(conversation_id):
            return True
        if self._controller.answering_conversation == conversation_id:
            self._notify("That message is on another version of this chat: wait for the answer first.")
            return False
        try:
            self._store.show_branch(conversation_id, message_id)
        except StorageError as error:
            self._notify(error.explain("the chat stays as it was"))
            return False
        if conversation_id == self._chat:
            self._conversation.reload(around=message_id)
        return True
