"""The main window: conversations on the left, the chat in the middle, its settings on the right."""

from __future__ import annotations

import functools
import logging
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QByteArray, QItemSelectionModel, QModelIndex, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence, QShowEvent
from PySide6.QtWidgets import (
    QAbstractButton,
    QApplication,
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QListView,
    QMainWindow,
    QMenu,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSplitter,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app import APP_NAME
from app.core.generation import GenerationSettings
from app.core.paths import AppPaths
from app.core.presets import Preset, find_preset
from app.core.settings import RecentModel, Settings, WindowState, remember_model, save_settings
from app.engine import protocol as p
from app.engine.saved_chats import chat_key, forget_all_chats, forget_chat
from app.library.installed import InstalledModel, ModelRegistry, scan_installed
from app.library.jobs import ASSISTANT
from app.storage.chats import ChatStore, Message
from app.storage.faults import NOTHING_LOST, StorageError, storage_errors
from app.ui.about import show_about
from app.ui.announcer import Announcer, describe_finished
from app.ui.background import BackgroundTasks
from app.ui.chat.approval_bar import ApprovalBar
from app.ui.chat.attachments import ChatAttachments
from app.ui.chat.composer import Composer
from app.ui.chat.context_meter import ContextUse, pending_tokens
from app.ui.chat.controller import SETTINGS_KEPT, ChatController
from app.ui.chat.conversation_list import ConversationListModel, ConversationRole
from app.ui.chat.conversation_model import ConversationModel
from app.ui.chat.conversation_view import ConversationView
from app.ui.chat.dictation import Dictation
from app.ui.chat.dictation_glue import DictationGlue
from app.ui.chat.export_actions import ChatExportActions
from app.ui.chat.message_operations import MessageOperations
from app.ui.chat.mic_menu import MicMenu
from app.ui.chat.page_viewer import PageViewer
from app.ui.chat.presets_dialog import PresetsDialog
from app.ui.chat.push_to_talk import PushToTalk
from app.ui.chat.push_to_talk_dialog import PushToTalkDialog
from app.ui.chat.search_panel import SearchPanel
from app.ui.chat.settings_panel import ChatSettingsPanel
from app.ui.chat.tool_access import ToolAccessGlue
from app.ui.diagnostics import DiagnosticsReport
from app.ui.drafter_menu import AUTOMATIC, AssistantOffer, describe_drafter, draft_setting
from app.ui.elided_label import ElidedLabel
from app.ui.gpu_offload import GpuOffload
from app.ui.library.servers import is_remote, split_remote
from app.ui.local_api import LocalApi
from app.ui.local_api_panel import LocalApiControls
from app.ui.main_menus import MainMenus
from app.ui.saving import UNSAVED_KEPT, PendingSaves
from app.ui.shortcuts_dialog import ShortcutsDialog
from app.ui.supervisor import WorkerState, WorkerSupervisor
from app.ui.theme import apply_theme

CONTEXT_METER_SETTLE_MS = 300  # typing updates the meter once it pauses

if TYPE_CHECKING:
    from app.ui.library.manager import ModelManager

log = logging.getLogger(__name__)

UNDO_DELETE_MS = 8000
EMPTY_TITLE = "Start a conversation"
EMPTY_HINT = "Ask anything. Everything stays on this computer."
UNSAVED_BOX = "unsavedOnClose"


class MainWindow(QMainWindow):
    conversation_shown = Signal(int)
    """A conversation is now on screen (its id)."""

    def __init__(
        self,
        store: ChatStore,
        supervisor: WorkerSupervisor,
        settings: Settings,
        paths: AppPaths,
        models: ModelManager | None = None,
        diagnostics: DiagnosticsReport | None = None,
    ) -> None:
        super().__init__()
        self.models = models  # downloads and the Models window; None: model files only
        if models is not None:
            models.downloads.finished.connect(self._on_download_finished)
        self.diagnostics = diagnostics or DiagnosticsReport(paths, supervisor, parent=self)
        self.store = store
        self.supervisor = supervisor
        self.settings = settings
        self.paths = paths
        self.saves = PendingSaves(self)
        self.controller = ChatController(store, supervisor, self.saves, self)
        self.current_id: int | None = None
        self._pending_delete: int | None = None
        self._splitter_sizes: list[int] = []
        self._close_anyway = False
        self._closed = False
        self.setWindowTitle(APP_NAME)
        self.resize(1280, 800)
        self.setMinimumSize(720, 480)

        self._build_sidebar()
        self._build_center()
        self.settings_panel = ChatSettingsPanel()
        self.settings_panel.setVisible(False)
        self.settings_panel.settings_edited.connect(self._on_settings_edited)
        self.settings_panel.set_presets(settings.presets)
        self.settings_panel.save_preset_requested.connect(self.save_as_preset)
        self.settings_panel.manage_presets_requested.connect(self.manage_presets)
        self.tool_access = ToolAccessGlue(
            store, self.controller, self.approval_bar, self.settings_panel.shared_folders
        )

        self.splitter = splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.setChildrenCollapsible(False)
        splitter.setHandleWidth(1)
        splitter.addWidget(self.sidebar)
        splitter.addWidget(self.center)
        splitter.addWidget(self.settings_panel)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([260, 760, 280])
        self.setCentralWidget(splitter)
        self._build_status_bar()
        self.export_actions = ChatExportActions(
            self, self.paths, self._chat_to_export, self.show_notice, self._after_import
        )
        self.menus = MainMenus(self)
        self._restore_window_state()

        supervisor.state_changed.connect(self._on_worker_state)
        supervisor.load_progress.connect(self._on_load_progress)
        supervisor.model_loaded.connect(self._on_model_loaded)
        supervisor.model_unloaded.connect(self._update_model_button)
        supervisor.load_failed.connect(self._on_load_failed)
        supervisor.crashed.connect(
            lambda detail: self.show_notice("The engine stopped unexpectedly; restarting…")
        )
        supervisor.worker_error.connect(self.show_notice)
        self.announcer = Announcer(self.chat_view)
        supervisor.failed.connect(self._on_worker_failed)
        self.controller.message_added.connect(self._on_message_added)
        self.controller.memory_moved.connect(self._on_memory_moved)
        self.controller.answer_streamed.connect(self._on_answer_streamed)
        self.controller.answer_finished.connect(self._on_answer_finished)
        self.controller.tool_calls_changed.connect(self._on_tool_calls_changed)
        self.controller.busy_changed.connect(self._on_busy_changed)
        self.controller.notice.connect(self.show_notice)
        self.saves.notice.connect(self.show_notice)
        self.saves.trouble_changed.connect(self._on_save_trouble)

        conversations = self.store.list_conversations()
        if conversations:
            self.show_conversation(conversations[0].id)
        else:
            self.new_conversation()
        self._update_model_button()
        self._update_composer_block()

    # --- layout ----------------------------------------------------------------------------

    def _build_sidebar(self) -> None:
        self.sidebar = QFrame()
        self.sidebar.setObjectName("sidebar")
        self.sidebar.setMinimumWidth(180)
        self.sidebar.setMaximumWidth(380)
        brand = QLabel(APP_NAME)
        brand.setObjectName("brand")
        self.new_button = QPushButton("New chat")
        self.new_button.setObjectName("newChatButton")
        self.new_button.setToolTip("New chat (Ctrl+N)")
        self.new_button.clicked.connect(self.new_conversation)
        self.list_model = ConversationListModel(self.store, self)
        self.list_view = QListView()
        self.list_view.setObjectName("conversationList")
        self.list_view.setModel(self.list_model)
        self.list_view.setAccessibleName("Conversations")
        self.list_view.setUniformItemSizes(True)
        self.list_view.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.list_view.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.list_view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.list_view.customContextMenuRequested.connect(self._conversation_menu)
        self.list_view.selectionModel().currentChanged.connect(self._on_list_current_changed)
        layout = QVBoxLayout(self.sidebar)
        layout.setContentsMargins(10, 12, 10, 10)
        layout.setSpacing(8)
        layout.addWidget(brand)
        self.search = SearchPanel(self.paths.database, lambda: self.current_id)
        self.search.result_chosen.connect(self.open_search_result)
        self.search.active_changed.connect(lambda active: self.list_view.setVisible(not active))
        layout.addWidget(self.new_button)
        layout.addWidget(self.search, 0)
        layout.addWidget(self.list_view, 1)
        layout.setStretchFactor(self.search, 0)
        self.search.active_changed.connect(
            lambda active: layout.setStretchFactor(self.search, 1 if active else 0)
        )

    def _build_center(self) -> None:
        self.center = QWidget()
        header = QFrame()
        header.setObjectName("headerBar")
        self.title_label = ElidedLabel()
        self.title_label.setObjectName("chatTitle")
        self.model_button = QToolButton()
        self.model_button.setObjectName("modelButton")
        self.model_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.model_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        self.model_button.setAccessibleName("Model")
        self.model_menu = QMenu(self.model_button)
        self.model_menu.aboutToShow.connect(self._fill_model_menu)
        self.model_button.setMenu(self.model_menu)
        self.settings_button = QToolButton()
        self.settings_button.setObjectName("settingsButton")
        self.settings_button.setText("Settings")
        self.settings_button.setCheckable(True)
        self.settings_button.setToolTip("Chat settings (Ctrl+,)")
        self.settings_button.toggled.connect(self._toggle_settings_panel)
        row = QHBoxLayout(header)
        row.setContentsMargins(16, 8, 12, 8)
        row.addWidget(self.title_label, 1)
        row.addWidget(self.model_button)
        row.addWidget(self.settings_button)

        self.conversation = ConversationModel(self.store, self, overlay=self.controller.as_shown)
        self.chat_view = ConversationView(
            self.conversation, thumbnails=lambda path, done: self.attachments.thumbnail(path, done)
        )
        self.chat_view.set_empty_text(EMPTY_TITLE, EMPTY_HINT)
        self.chat_view.delete_requested.connect(self._delete_message)
        self.chat_view.attachment_opened.connect(lambda item: self.attachments.open(item.path, item.name))
        self.chat_view.notice.connect(lambda text: self.show_notice(text))
        self.composer = Composer()
        self.composer.send_requested.connect(self._send)
        self.composer.send_with_tool_requested.connect(lambda text: self._send(text, must_use_tool=True))
        self.composer.stop_requested.connect(self.controller.stop)
        self.composer.think_toggled.connect(self.set_think)
        self.attachments: ChatAttachments = ChatAttachments(
            self, self.composer, self.paths.attachments, self.show_notice
        )
        self.attachments.context_of = self._context_now
        self.composer.chat_detail_of = lambda: self._current_settings().image_budget
        self.attachments.answer_reserve_of = lambda: min(
            self._current_settings().max_tokens, self._context_now() // 4
        )
        self.push_to_talk = PushToTalk(self, self.composer.mic, self.settings.push_to_talk)
        self.composer.mic.device = self.settings.microphone
        self.composer.mic.silence_stop_s = self.settings.silence_stop_s
        self.mic_menu = MicMenu(
            self.composer.mic,
            self._microphone_chosen,
            self.attachments.can_rescan,
            lambda: (
                self.settings.dictate,
                bool(self.supervisor.loaded_model and self.supervisor.loaded_model.audio),
            ),
            self._dictation_chosen,
        )
        self.mic_menu.choose_push_to_talk = self._choose_push_to_talk
        self.composer.set_dictation(self.settings.dictate)
        self.dictation = DictationGlue(
            self,
            Dictation(
                self.controller, self.supervisor, self.paths.cache / "dictation", self._installed_models
            ),
            self.composer,
            lambda: self.current_id,
            self.show_notice,
            self.models,
        )
        self._meter_timer = QTimer(self, singleShot=True, interval=CONTEXT_METER_SETTLE_MS)
        self._meter_timer.timeout.connect(self.update_context_meter)
        self.composer.editor.textChanged.connect(self._meter_timer.start)
        self.composer.attachments_changed.connect(self.update_context_meter)
        self.controller.answer_finished.connect(lambda _message: self.update_context_meter())
        self.supervisor.model_loaded.connect(lambda _loaded: self.update_context_meter())
        self.supervisor.model_unloaded.connect(self.update_context_meter)
        self.attachments.intake.scanned_pages_of = lambda: self._current_settings().scanned_pages
        self.controller.documents = self.attachments.documents
        self.chat_view.page_requested.connect(self.show_cited_page)
        self.chat_view.sound_line = self.attachments.playback.line
        self.attachments.playback.changed.connect(self.chat_view.viewport().update)
        self.approval_bar = ApprovalBar()
        self.messages = MessageOperations(
            self.store,
            self.controller,
            self.conversation,
            self.chat_view,
            self.composer,
            self.show_notice,
            self,
        )
        layout = QVBoxLayout(self.center)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(header)
        layout.addWidget(self.chat_view, 1)
        layout.addWidget(self.approval_bar)
        layout.addWidget(self.composer)

    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        self.state_label = QLabel()
        self.state_label.setObjectName("workerState")
        self.progress = QProgressBar()
        self.progress.setRange(0, 100)
        self.progress.setMaximumWidth(160)
        self.progress.setTextVisible(False)
        self.progress.setVisible(False)
        self.speed_label = QLabel()
        self.speed_label.setObjectName("speedLabel")
        self.undo_button = QPushButton("Undo")
        self.undo_button.setVisible(False)
        self.undo_button.clicked.connect(self._undo_delete)
        self.save_trouble_label = QLabel()
        self.save_trouble_label.setObjectName("saveTrouble")
        self.save_trouble_label.setAccessibleName("Saving")
        self.save_trouble_label.setVisible(False)
        bar.addPermanentWidget(self.save_trouble_label)
        self.retry_button = QPushButton("Try again")
        self.retry_button.setToolTip("Start the engine again (and reload the model)")
        self.retry_button.setVisible(False)
        self.retry_button.clicked.connect(self.supervisor.retry)
        bar.addPermanentWidget(self.undo_button)
        bar.addPermanentWidget(self.retry_button)
        bar.addPermanentWidget(self.progress)
        bar.addPermanentWidget(self.speed_label)
        bar.addPermanentWidget(self.state_label)
        self.gpu = GpuOffload(lambda: self.settings, self.replace_settings, BackgroundTasks(self), self)
        self.local_api = LocalApiControls(
            LocalApi(self.supervisor, lambda: self.controller.busy, self.paths.cache / "api-pictures", self),
            lambda: self.settings,
            self.replace_settings,
            bar,
        )
        self.controller.busy_changed.connect(self._user_answer_changed)
        self._undo_timer = QTimer(self, singleShot=True, interval=UNDO_DELETE_MS)
        self._undo_timer.timeout.connect(self._commit_delete)

    def _chat_to_export(self) -> tuple[int, str] | None:
        """The chat on show, with a settings edit still pending saved first so it is exported."""
        self.settings_panel.flush()
        conversation = self.store.get_conversation(self.current_id) if self.current_id else None
        return (conversation.id, conversation.title) if conversation else None

    def _after_import(self) -> None:
        self.attachments.prepare_documents(self.store.document_attachments())
        self.list_model.refresh()
        if self.current_id is not None:
            self._select_in_list(self.current_id)

    # --- conversations ---------------------------------------------------------------------

    def new_conversation(self) -> None:
        self._new_conversation("no new chat was started")

    def _new_conversation(self, kept: str) -> bool:
        """Start a chat (or show the empty one there is); False, with a notice, if it can't be saved."""
        current = self.store.get_conversation(self.current_id) if self.current_id else None
        if current is not None and current.leaf_id is None:
            self.composer.focus_input()  # an empty chat is already there
            return True
        settings, system_prompt = self.settings.defaults, ""
        preset = find_preset(self.settings.presets, self.settings.default_preset)
        if preset is not None:
            settings, system_prompt = preset.applied_to(settings), preset.system_prompt
        try:
            conversation = self.store.create_conversation(
                model_path=self.supervisor.loaded_model.model_path if self.supervisor.loaded_model else "",
                system_prompt=system_prompt,
                settings=settings,
            )
        except StorageError as error:
            self.show_notice(error.explain(kept))
            return False
        self.list_model.refresh()
        self.show_conversation(conversation.id)
        return True

    def show_conversation(self, conversation_id: int) -> None:
        self.settings_panel.flush()  # first: an edit still settling may be to this very chat
        conversation = self.controller.conversation(conversation_id)
        if conversation is None:
            return
        if self.current_id is not None and conversation_id != self.current_id:
            self.supervisor.save_chat()  # the chat left resumes at once when the user comes back
        self.current_id = conversation_id
        self.title_label.setText(conversation.title)
        self.setWindowTitle(f"{conversation.title} — {APP_NAME}")
        self.settings_panel.set_values(conversation.settings, conversation.system_prompt)
        self.composer.refresh_picture_costs()  # the pictures waiting follow this chat's detail
        self.tool_access.show_chat(conversation_id)
        self.update_context_meter()
        self._show_think(conversation.settings.think)
        self._apply_context(conversation.settings.context_length)
        self.messages.cancel_edit()
        self.composer.end_edit()
        self.conversation.open(conversation_id)
        self._select_in_list(conversation_id)
        self._update_regenerate()
        self.composer.focus_input()
        self.conversation_shown.emit(conversation_id)

    def _select_in_list(self, conversation_id: int) -> None:
        row = self.list_model.row_of(conversation_id)
        if row >= 0:
            index = self.list_model.index(row)
            self.list_view.selectionModel().setCurrentIndex(
                index, QItemSelectionModel.SelectionFlag.ClearAndSelect
            )

    def _on_list_current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        conversation_id = current.data(ConversationRole.ID) if current.isValid() else None
        if conversation_id is not None and conversation_id != self.current_id:
            self.show_conversation(conversation_id)

    def _conversation_menu(self, pos) -> None:
        index = self.list_view.indexAt(pos)
        if not index.isValid():
            return
        conversation_id = index.data(ConversationRole.ID)
        menu = QMenu(self)
        menu.addAction("Rename…", lambda: self.rename_conversation(conversation_id))
        menu.addAction("Delete", lambda: self.delete_conversation(conversation_id))
        menu.exec(self.list_view.viewport().mapToGlobal(pos))

    def rename_current(self) -> None:
        if self.current_id is not None:
            self.rename_conversation(self.current_id)

    def rename_conversation(self, conversation_id: int) -> None:
        conversation = self.store.get_conversation(conversation_id)
        if conversation is None:
            return
        title, ok = QInputDialog.getText(self, "Rename chat", "Name:", text=conversation.title)
        if not ok:
            return
        try:
            self.store.rename_conversation(conversation_id, title)
        except StorageError as error:
            self.show_notice(error.explain("the chat keeps its name for now, so rename it again then"))
            return
        self._after_title_change(conversation_id)

    def _after_title_change(self, conversation_id: int) -> None:
        self.list_model.refresh()
        if conversation_id == self.current_id:
            conversation = self.store.get_conversation(conversation_id)
            if conversation is not None:
                self.title_label.setText(conversation.title)
                self.setWindowTitle(f"{conversation.title} — {APP_NAME}")
        if self.current_id is not None:
            self._select_in_list(self.current_id)

    def delete_current(self) -> None:
        if self.current_id is not None:
            self.delete_conversation(self.current_id)

    def delete_conversation(self, conversation_id: int) -> None:
        """Delete at once, with an Undo button for a few seconds (a soft delete until then)."""
        self._commit_delete()
        try:
            self.store.delete_conversation(conversation_id)
        except StorageError as error:
            self.show_notice(error.explain("the chat was not deleted"))
            return
        if self.controller.answering_conversation == conversation_id:
            self.controller.stop()
        self._pending_delete = conversation_id
        self.list_model.refresh()
        if conversation_id == self.current_id:
            self.current_id = None
            remaining = self.store.list_conversations()
            if remaining:
                self.show_conversation(remaining[0].id)
            else:
                self.new_conversation()
        self.undo_button.setVisible(True)
        self.statusBar().showMessage("Chat deleted.", UNDO_DELETE_MS)
        self._undo_timer.start()

    def _undo_delete(self) -> None:
        if self.messages.removed is not None:
            self._undo_timer.stop()
            if self.messages.undo_delete():
                self.undo_button.setVisible(False)
                self.statusBar().showMessage("Message restored.", 3000)
            return
        if self._pending_delete is None:
            return
        self._undo_timer.stop()
        try:
            self.store.restore_conversation(self._pending_delete)
        except StorageError as error:
            # Undo stays offered, without the countdown: the chat is not purged while the user waits.
            self.show_notice(error.explain("the chat is still deleted, so press Undo again then"))
            return
        conversation_id, self._pending_delete = self._pending_delete, None
        self.undo_button.setVisible(False)
        self.list_model.refresh()
        self.show_conversation(conversation_id)
        self.statusBar().showMessage("Chat restored.", 3000)

    def _commit_delete(self) -> None:
        self.undo_button.setVisible(False)
        self._undo_timer.stop()
        if self.messages.removed is not None:
            self.messages.removed = None
            self.attachments.forget_unused(self.store.referenced_attachment_paths())
        if self._pending_delete is not None:
            deleted, self._pending_delete = self._pending_delete, None
            forget_chat(self.paths.saved_chats, chat_key(deleted))
            self.supervisor.forget_chat(chat_key(deleted))
            try:
                self.store.purge_deleted()
            except StorageError as error:
                # Nothing the user sees changes: the chat stays hidden and goes at the next start.
                log.warning("Deleted chats could not be erased yet: %s", error)
                return
            self.attachments.forget_unused(self.store.referenced_attachment_paths())

    # --- messages --------------------------------------------------------------------------

    def _send(self, text: str, must_use_tool: bool = False) -> None:
        if self.current_id is None and not self._new_conversation(NOTHING_LOST):
            self.composer.set_text(text)  # nothing is lost
            return
        assert self.current_id is not None
        parent = self.messages.parent_for_send()
        sent = self.controller.send(
            self.current_id, text, self.attachments.pending(), parent_id=parent, must_use_tool=must_use_tool
        )
        if not sent:
            self.composer.set_text(text)  # nothing is lost, the attachments stay too
            return
        self.messages.sent()
        self.attachments.sent()
        self._after_title_change(self.current_id)

    def _delete_message(self, message_id: int) -> None:
        self._commit_delete()
        if self.messages.delete(message_id):
            self.undo_button.setVisible(True)
            self.statusBar().showMessage("Message deleted.", UNDO_DELETE_MS)
            self._undo_timer.start()

    def _on_memory_moved(self, conversation_id: int, message_id: int) -> None:
        if conversation_id == self.current_id:
            self.conversation.set_memory_start(message_id)

    def _on_message_added(self, message: Message) -> None:
        if message.conversation_id == self.current_id:
            self.conversation.append(message)
            self.chat_view.scroll_to_bottom()
            self._update_regenerate()

    def _on_answer_streamed(
        self, conversation_id: int, message_id: int, content: str, reasoning: str
    ) -> None:
        if conversation_id == self.current_id:
            self.chat_view.set_streaming_text(message_id, content, reasoning)

    def _on_tool_calls_changed(self, message: Message) -> None:
        if message.conversation_id == self.current_id:
            self.conversation.replace(message)

    def _on_answer_finished(self, message: Message) -> None:
        stats = message.stats
        if stats.get("tokens_per_s"):
            self.speed_label.setText(f"{stats['tokens_per_s']:.1f} tok/s")
        self.list_model.refresh()
        if self.current_id is not None:
            self._select_in_list(self.current_id)
        if message.conversation_id != self.current_id:
            return
        self.chat_view.set_streaming_text(message.id, message.content, message.reasoning)
        self.chat_view.flush()
        self.conversation.replace(message)
        self._update_regenerate()
        self.announcer.announce(
            describe_finished(message.content, str(message.status), str(stats.get("error", "")))
        )

    def _update_regenerate(self) -> None:
        self.chat_view.set_regenerate_enabled(not self.controller.busy)

    def _on_busy_changed(self, busy: bool) -> None:
        self.composer.set_busy(busy)
        self._update_regenerate()
        self._update_state_label()

    # --- models ----------------------------------------------------------------------------

    def _fill_model_menu(self) -> None:
        menu = self.model_menu
        menu.clear()
        loaded = self.supervisor.loaded_model
        for recent in self.settings.recent_models:
            act = menu.addAction(
                recent.name or Path(recent.path).name,
                functools.partial(self.load_model, recent.path, recent.projector, recent.name),
            )
            act.setCheckable(True)
            act.setChecked(loaded is not None and loaded.model_path == recent.path)
            act.setToolTip(recent.path)
        if self.settings.recent_models:
            menu.addSeparator()
        menu.addAction(self.menus.models_action)
        menu.addAction(self.menus.open_action)
        unload = menu.addAction("Unload model", self.supervisor.unload_model)
        unload.setEnabled(loaded is not None and not self.controller.busy)

    # Models window (downloads, catalog, installed models) ----------------------------------
    def show_models(self) -> None:
        if self.models is not None:
            self.models.show()

    def assistant_offer(self) -> AssistantOffer | None:
        """The MTP assistant the catalog pairs with the loaded model (for File › Drafter)."""
        loaded = self.supervisor.loaded_model
        if self.models is None or loaded is None or loaded.architecture == "remote":
            return None
        return self.models.assistant_offer(loaded.model_path)

    def _on_download_finished(self, job_id: str, path: str) -> None:
        """An MTP assistant that lands beside the loaded model drafts for it at once, unless the
        user chose another drafter for it (File › Drafter)."""
        job = self.models.downloads.job(job_id) if self.models is not None else None
        loaded = self.supervisor.loaded_model
        if job is None or job.role != ASSISTANT or loaded is None or loaded.drafter == "mtp":
            return
        if Path(loaded.model_path).parent != job.dest_dir:
            return
        if draft_setting(self.settings, loaded.model_path) != AUTOMATIC:
            return
        if self.controller.busy:
            self.show_notice(f"{Path(path).name} drafts for the model from its next load.")
            return
        self.reload_model()

    def open_models_if_first_run(self) -> None:
        """Welcome a new user with the Models window when no model is on this computer yet."""
        if self.models is not None:
            self.models.open_if_first_run()

    # ---------------------------------------------------------------------------------------

    def choose_model_file(self) -> None:
        start = str(Path(self.settings.last_model_path).parent) if self.settings.last_model_path else ""
        path, _ = QFileDialog.getOpenFileName(
            self, "Open a model", start, "GGUF models (*.gguf);;All files (*)"
        )
        if path:
            self.load_model(path)

    def load_model(self, path: str, projector: str = "auto", name: str = "") -> None:
        """Load a model for the chat, with its projector ("auto": the one that belongs to it)."""
        if self.controller.busy:
            self.show_notice("Stop the current answer before switching models.")
            return
        context = self._current_settings().context_length
        if is_remote(path):
            self._use_server(path, context, name)
            return
        self.model_button.setText(f"Loading {name or Path(path).name}…")  # before a failure can reset it

        def load(path: str, projector: str, name: str, gpu_layers: int, projector_gpu: bool) -> None:
            self.supervisor.load_model(
                path,
                context,
                projector,
                name,
                self.settings.threads,
                gpu_layers=gpu_layers,
                projector_gpu=projector_gpu,
                saved_chats=self._saved_chats(),
                draft_path=draft_setting(self.settings, path),
            )

        self.gpu.load(path, projector, name, context, load)

    def reload_model(self) -> None:
        """Load the model again, as its settings changed (threads, GPU offload, saved chats)."""
        loaded = self.supervisor.loaded_model
        if loaded is not None and not self.controller.busy:
            self.load_model(loaded.model_path, loaded.projector_path or "auto", loaded.name)

    def _use_server(self, path: str, context: int, name: str) -> None:
        """A server's model answers from now on; its key is read from the keyring off this thread."""
        models = self.models
        book = models.servers if models is not None else None
        if models is None or book is None:
            return
        self.model_button.setText(f"Connecting to {name or split_remote(path)[1]}…")
        models.tasks.run(
            lambda: book.remote_server(path),
            lambda server: self.supervisor.load_model(path, context, "", name, remote=server),
            name="server-key",
        )

    def _saved_chats(self) -> tuple[str, int]:
        """Where the engine keeps chats' states, and how many MB they may take."""
        megabytes = self.settings.saved_chats_gb * 1024
        return (str(self.paths.saved_chats), megabytes) if megabytes > 0 else ("", 0)

    def choose_saved_chats(self, gigabytes: int) -> None:
        """Keep up to this many GB of chats' states (0: none, and those kept are deleted); a loaded
        model loads again to follow."""
        if gigabytes == self.settings.saved_chats_gb:
            return
        self.settings = replace(self.settings, saved_chats_gb=gigabytes)
        self._save_settings()
        if gigabytes == 0:
            forget_all_chats(self.paths.saved_chats)
        self.reload_model()

    def default_context(self) -> int:
        return self.settings.defaults.context_length

    def _current_settings(self) -> GenerationSettings:
        if self.current_id is None:
            return self.settings.defaults
        return self.controller.settings_for(self.current_id)

    def _on_load_progress(self, fraction: float) -> None:
        self.progress.setVisible(fraction < 1.0)
        self.progress.setValue(int(fraction * 100))

    def _on_model_loaded(self, loaded: p.ModelLoaded) -> None:
        self.progress.setVisible(False)
        self.settings = remember_model(
            self.settings, RecentModel(loaded.model_path, loaded.projector_path or "auto", loaded.name)
        )
        self._save_settings()
        self._update_model_button()
        self._update_composer_block()
        ready = f"{loaded.name} is ready ({loaded.load_ms / 1000:.1f} s, context {loaded.context_length})."
        self.show_notice(f"{ready} {loaded.draft_problem}" if loaded.draft_problem else ready)

    def _on_load_failed(self, _reason: str, message: str) -> None:
        self.progress.setVisible(False)
        self._update_model_button()
        self._update_composer_block()
        self.show_notice(message)
        box = QMessageBox(
            QMessageBox.Icon.Warning,
            "The model could not be loaded",
            message,
            QMessageBox.StandardButton.Ok,
            self,
        )
        box.setWindowModality(Qt.WindowModality.WindowModal)
        box.open()

    def _update_model_button(self) -> None:
        loaded = self.supervisor.loaded_model
        self.attachments.set_senses(loaded.vision if loaded else None, loaded.audio if loaded else None)
        if loaded is not None:
            self.model_button.setText(loaded.name)
            abilities_of = (("sees images", loaded.vision), ("hears audio", loaded.audio))
            senses = [name for name, able in abilities_of if able]
            abilities = " and ".join(senses).capitalize() if senses else "Text only"
            self.model_button.setToolTip(
                f"{loaded.model_path}\n{loaded.architecture}, context {loaded.context_length}\n{abilities}\n"
                f"{self.gpu.describe(loaded)}\n{describe_drafter(loaded)}"
            )
        elif self.supervisor.state is WorkerState.LOADING:
            pass
        else:
            self.model_button.setText("Choose a model")
            self.model_button.setToolTip("Open a GGUF model file (Ctrl+O)")
        self._update_composer_block()

    def _update_composer_block(self) -> None:
        state = self.supervisor.state
        if self.supervisor.loaded_model is not None:
            self.composer.set_blocked(None)
        elif state is WorkerState.FAILED:  # the placeholder does not wrap: the details are in the status bar
            self.composer.set_blocked("The engine is not running: choose “Try again” below to restart it.")
        elif state is WorkerState.LOADING:
            self.composer.set_blocked("Loading the model…")
        else:
            self.composer.set_blocked("Choose a model to start chatting (Ctrl+O)")

    def _on_worker_state(self, state: WorkerState) -> None:
        self.retry_button.setVisible(state is WorkerState.FAILED)
        self._update_state_label()
        self._update_composer_block()

    def _on_worker_failed(self, message: str) -> None:
        self.progress.setVisible(False)
        self._update_model_button()
        self.show_notice(message)

    def _update_state_label(self) -> None:
        labels = {
            WorkerState.STOPPED: "Engine stopped",
            WorkerState.STARTING: "Starting engine…",
            WorkerState.IDLE: "Ready" if self.supervisor.loaded_model else "No model loaded",
            WorkerState.LOADING: "Loading model…",
            WorkerState.GENERATING: "Answering…",
            WorkerState.CRASHED: "Engine restarting…",
            WorkerState.FAILED: "Engine failed",
        }
        self.state_label.setText(labels[self.supervisor.state])
        self.state_label.setToolTip(self.supervisor.failure)

    # --- settings --------------------------------------------------------------------------

    def _toggle_settings_panel(self, visible: bool) -> None:
        self.settings_panel.setVisible(visible)

    def _on_settings_edited(self, settings: GenerationSettings, system_prompt: str) -> None:
        if self.current_id is None:
            return
        previous = self.controller.settings_for(self.current_id)
        self.controller.set_chat_settings(self.current_id, settings, system_prompt)
        self._show_think(settings.think)
        if previous.image_budget != settings.image_budget:
            self.composer.refresh_picture_costs()
        self.settings = replace(self.settings, defaults=replace(settings, seed=-1))
        self._save_settings()
        loaded = self.supervisor.loaded_model
        if (
            loaded is not None
            and previous.context_length != settings.context_length
            and not self.controller.busy
        ):
            self.load_model(loaded.model_path, loaded.projector_path, loaded.name)

    def _user_answer_changed(self, busy: bool) -> None:
        if not busy:  # a program's request may go now
            self.local_api.api.pump()

    def replace_settings(self, settings: Settings) -> None:
        self.settings = settings
        self._save_settings()

    def open_local_api(self) -> None:
        self.local_api.open_panel(
            self, lambda: self.supervisor.loaded_model.name if self.supervisor.loaded_model else ""
        )

    def _save_settings(self) -> None:
        self.saves.keep("app settings", self._write_settings, SETTINGS_KEPT)

    def _write_settings(self) -> None:
        # The settings of the moment it runs: a write that waited saves the latest ones.
        with storage_errors(self.paths.config):
            save_settings(self.paths.settings_file, self.settings)

    def _on_save_trouble(self, summary: str) -> None:
        self.save_trouble_label.setText(summary)
        self.save_trouble_label.setVisible(bool(summary))
        trouble = self.saves.trouble
        self.save_trouble_label.setToolTip(trouble.explain(UNSAVED_KEPT) if trouble else "")

    # --- misc ------------------------------------------------------------------------------

    def show_notice(self, text: str) -> None:
        self.statusBar().showMessage(text, 10_000)

    # --- chat settings, presets, thinking -----------------------------------------------------

    def think_on(self) -> bool:
        return self._current_settings().think

    def _show_think(self, on: bool) -> None:
        self.composer.set_think(on)
        self.menus.think_action.setChecked(on)
        self.menus.tools_action.setChecked(self._current_settings().tools)

    def set_tools(self, on: bool) -> None:
        """ "Use tools" from the Chat menu or the chat's settings."""
        self._change_setting(tools=on)

    def set_think(self, on: bool) -> None:
        """ "Think first" from the button by the message box, the Chat menu or Ctrl+T."""
        if self._change_setting(think=on):
            self._show_think(on)

    def _change_setting(self, **changes: Any) -> bool:
        """Change one of the current chat's settings as if the panel had (False: no chat)."""
        if self.current_id is None:
            return False
        settings = replace(self._current_settings(), **changes)
        conversation = self.store.get_conversation(self.current_id)
        prompt = conversation.system_prompt if conversation else ""
        self.settings_panel.set_values(settings, prompt)
        self._on_settings_edited(settings, prompt)
        return True

    def show_cited_page(self, answer_id: int, page: int) -> None:
        """Open the page an answer cites, in the latest PDF attached before it that has the page."""
        shown = self.controller.messages(self.current_id) if self.current_id is not None else []
        before = [m for m in shown[: next((i for i, m in enumerate(shown) if m.id == answer_id), len(shown))]]
        documents = self.attachments.documents
        for message in reversed(before):
            for attachment in reversed(message.attachments):
                text = documents.load(attachment.sha256) if attachment.kind == "document" else None
                if text is not None and text.format == "pdf" and page <= text.total_pages:
                    if not attachment.path.is_file():
                        self.show_notice(f"“{attachment.name}” is no longer on this computer.")
                        return
                    viewer = PageViewer(attachment.path, attachment.name, text.total_pages, page, self)
                    viewer.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
                    viewer.show()
                    self.page_viewer = viewer
                    return
        self.show_notice(f"No PDF attached before this answer has a page {page}.")

    def update_context_meter(self) -> None:
        """The meter by the message box: the chat as the model last read it, and what the message
        being written adds (``context_meter``)."""
        if self._closed:
            return
        loaded = self.supervisor.loaded_model
        settings = self._current_settings()
        context = loaded.context_length if loaded is not None else 0
        reserve = min(settings.max_tokens, context // 4)
        pending = pending_tokens(
            self.composer.text(), self.composer.pending(), settings.image_budget, context
        )
        use = ContextUse(self._chat_tokens(), pending, context, reserve)
        self.composer.context_meter.set_use(use)

    def _chat_tokens(self) -> int:
        """What the chat took of the context in its latest answer (0 before one)."""
        conversation = self.store.get_conversation(self.current_id) if self.current_id else None
        message_id = conversation.leaf_id if conversation else None
        for _step in range(3):  # the answer, or the question waiting for one, or its answer
            message = self.store.get_message(message_id) if message_id is not None else None
            if message is None:
                return 0
            stats = message.stats
            if message.role == "assistant" and stats.get("prompt_tokens"):
                return int(stats["prompt_tokens"]) + int(stats.get("completion_tokens", 0))
            message_id = message.parent_id
        return 0

    def _context_now(self) -> int:
        """The context the next answer has: the loaded model's, or the chat's setting."""
        loaded = self.supervisor.loaded_model
        return loaded.context_length if loaded is not None else self._current_settings().context_length

    def _apply_context(self, context_length: int) -> None:
        """A chat's own context length applies when it is shown: the model is reloaded if the one
        loaded holds another (not while an answer is being written)."""
        loaded = self.supervisor.loaded_model
        if loaded is None or self.controller.busy:
            return
        wanted = min(context_length, loaded.context_length_train or context_length)
        if wanted != loaded.context_length:
            self.load_model(loaded.model_path, loaded.projector_path or "auto", loaded.name)

    def save_as_preset(self) -> None:
        if self.current_id is None:
            return
        name, ok = QInputDialog.getText(self, "Save as preset", "Name of the new preset:")
        name = " ".join(name.split())
        if not ok or not name:
            return
        conversation = self.store.get_conversation(self.current_id)
        preset = Preset(name, conversation.system_prompt if conversation else "", self._current_settings())
        presets = (*(p for p in self.settings.presets if p.name != name), preset)
        self._set_presets(presets, self.settings.default_preset)
        self.show_notice(f"Saved the preset “{name}”.")

    def manage_presets(self) -> None:
        dialog = PresetsDialog(self.settings.presets, self.settings.default_preset, self)
        dialog.saved.connect(self._set_presets)
        dialog.setWindowModality(Qt.WindowModality.WindowModal)
        dialog.open()

    def _set_presets(self, presets: tuple, default: str) -> None:
        self.settings = replace(self.settings, presets=presets, default_preset=default)
        self._save_settings()
        self.settings_panel.set_presets(presets)

    # --- the window ------------------------------------------------------------------------

    def cycle_pane(self, step: int) -> None:
        """Move the keyboard between the chat list, the conversation, the message box and the
        settings panel (F6 and Shift+F6, as in most desktop apps)."""
        list_pane = self.search.results if self.search.active else self.list_view
        panes = [list_pane, self.chat_view, self.composer.editor, self.settings_panel.system_prompt]
        shown = [pane for pane in panes if pane.isVisibleTo(self)]
        focus = QApplication.focusWidget()
        current = -1
        if focus is not None:
            current = next(
                (i for i, pane in enumerate(shown) if focus is pane or pane.isAncestorOf(focus)), -1
            )
        if current < 0 and focus is not None and self.settings_panel.isAncestorOf(focus):
            current = len(shown) - 1
        target = shown[(current + step) % len(shown)] if shown else None
        if target is not None:
            target.setFocus(Qt.FocusReason.ShortcutFocusReason)

    def toggle_sidebar(self) -> None:
        self.sidebar.setVisible(not self.sidebar.isVisible())
        self.menus.sidebar_action.setChecked(self.sidebar.isVisible())

    def _installed_models(self) -> list[InstalledModel]:
        """Every model on this computer (reads their files: not for the UI thread)."""
        include_hf_cache = self.models.include_hf_cache if self.models else False
        return scan_installed(self.paths.models, ModelRegistry(self.paths.data), include_hf_cache)

    def _choose_push_to_talk(self) -> None:
        taken = {
            action.shortcut().toString(QKeySequence.SequenceFormat.PortableText)
            for action in self.findChildren(QAction)
            if not action.shortcut().isEmpty()
        }

        def chosen(keys: str) -> None:
            self.settings = replace(self.settings, push_to_talk=keys)
            self.push_to_talk.set_keys(keys)
            self._save_settings()

        PushToTalkDialog(self, self.push_to_talk.keys, taken, chosen).open()

    def choose_threads(self, threads: int) -> None:
        """Run the engine on this many threads (0: automatic); a loaded model loads again with them."""
        if threads == self.settings.threads:
            return
        self.settings = replace(self.settings, threads=threads)
        self._save_settings()
        self.reload_model()

    def _dictation_chosen(self, on: bool) -> None:
        self.settings = replace(self.settings, dictate=on)
        self.composer.set_dictation(on)
        self._save_settings()

    def _microphone_chosen(self, device: str, silence_stop_s: float) -> None:
        self.settings = replace(self.settings, microphone=device, silence_stop_s=silence_stop_s)
        self._save_settings()

    def choose_theme(self, mode: str) -> None:
        app = QApplication.instance()
        if isinstance(app, QApplication):
            apply_theme(app, mode)
        self.settings = replace(self.settings, theme=mode)
        self._save_settings()

    def show_shortcuts(self) -> None:
        dialog = ShortcutsDialog(self.menuBar(), self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()

    def show_about(self) -> None:
        show_about(self)

    def quit_app(self) -> None:
        app = QApplication.instance()
        self.close()
        if app is not None:
            app.quit()

    def _restore_window_state(self) -> None:
        state = self.settings.window
        if state.geometry:
            self.restoreGeometry(QByteArray.fromBase64(state.geometry.encode("ascii")))
        if len(state.splitter) == 3 and all(state.splitter[:2]):
            # Sizes only hold once the window has its real width: set them when it first shows.
            self._splitter_sizes = list(state.splitter)
        if state.settings_panel:
            self.settings_button.setChecked(True)

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        sizes, self._splitter_sizes = self._splitter_sizes, []
        if sizes:
            QTimer.singleShot(0, lambda: self.splitter.setSizes(sizes))

    def _remember_window_state(self) -> None:
        geometry = bytes(self.saveGeometry().toBase64().data()).decode("ascii")
        window = WindowState(geometry, tuple(self.splitter.sizes()), self.settings_panel.isVisible())
        if window != self.settings.window:
            self.settings = replace(self.settings, window=window)
            self._save_settings()

    def open_search_result(self, conversation_id: int, message_id: int) -> None:
        """Show a found message: its chat, on the branch that holds it, scrolled to and marked."""
        if not self.messages.bring_to_branch(conversation_id, message_id):
            return
        if conversation_id != self.current_id:
            self.show_conversation(conversation_id)
        self.chat_view.show_message(message_id)

    def closeEvent(self, event: QCloseEvent) -> None:
        self._remember_window_state()
        self.settings_panel.flush()
        trouble = None if self._close_anyway else self.controller.save_before_close()
        if trouble is not None:
            event.ignore()
            asking = self.findChild(QMessageBox, UNSAVED_BOX)
            if asking is None or not asking.isVisible():  # asked already: the answer is awaited
                self._ask_before_losing(trouble)
            return
        self._commit_delete()
        self._closed = True  # the chats close next: nothing reads them any more
        self._meter_timer.stop()
        self.controller.stop()
        self.attachments.shutdown()
        self.dictation.shutdown()
        self.search.shutdown()
        super().closeEvent(event)

    def _ask_before_losing(self, trouble: StorageError) -> None:
        """Closing now would lose what the data folder refused: say so, and let the user fix it."""
        box = QMessageBox(
            QMessageBox.Icon.Warning,
            "Not saved yet",
            f"Part of your chats is not saved yet: Hearth cannot write to its data folder because "
            f"{trouble.cause}. {trouble.remedy}, then choose Try again. If you close now, what was "
            "not saved is lost.",
            QMessageBox.StandardButton.NoButton,
            self,
        )
        box.setObjectName(UNSAVED_BOX)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        retry = box.addButton("Try again", QMessageBox.ButtonRole.AcceptRole)
        close = box.addButton("Close anyway", QMessageBox.ButtonRole.DestructiveRole)
        box.setDefaultButton(retry)
        box.setWindowModality(Qt.WindowModality.WindowModal)

        def chosen(button: QAbstractButton) -> None:
            if button is close:
                self._close_anyway = True
                self.saves.discard()
            QTimer.singleShot(0, self.close)

        box.buttonClicked.connect(chosen)
        box.open()
