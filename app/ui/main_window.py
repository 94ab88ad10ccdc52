"""The main window: conversations on the left, the chat in the middle, its settings on the right."""

from __future__ import annotations

import functools
import logging
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QItemSelectionModel, QModelIndex, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
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
from app.core.settings import RecentModel, Settings, remember_model, save_settings
from app.engine import protocol as p
from app.storage.chats import ChatStore, Message, MessageStatus
from app.ui.chat.attachments import ChatAttachments
from app.ui.chat.chat_view import ChatView
from app.ui.chat.composer import Composer
from app.ui.chat.controller import ChatController
from app.ui.chat.conversation_list import ConversationListModel, ConversationRole
from app.ui.chat.settings_panel import ChatSettingsPanel
from app.ui.elided_label import ElidedLabel
from app.ui.supervisor import WorkerState, WorkerSupervisor

if TYPE_CHECKING:
    from app.ui.library.manager import ModelManager

log = logging.getLogger(__name__)

UNDO_DELETE_MS = 8000
EMPTY_TITLE = "Start a conversation"
EMPTY_HINT = "Ask anything. Everything stays on this computer."


def describe_stats(stats: dict) -> str:
    parts = []
    if stats.get("completion_tokens"):
        parts.append(f"{stats['completion_tokens']} tokens")
    if stats.get("tokens_per_s"):
        parts.append(f"{stats['tokens_per_s']:.1f} tok/s")
    if stats.get("ttft_ms"):
        parts.append(f"first token {stats['ttft_ms'] / 1000:.2f} s")
    if stats.get("stop_reason") == "length":
        parts.append("reached the length limit")
    return " · ".join(parts)


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
    ) -> None:
        super().__init__()
        self.models = models  # downloads and the Models window; None: model files only
        self.store = store
        self.supervisor = supervisor
        self.settings = settings
        self.paths = paths
        self.controller = ChatController(store, supervisor, self)
        self.current_id: int | None = None
        self._pending_delete: int | None = None
        self.setWindowTitle(APP_NAME)
        self.resize(1280, 800)
        self.setMinimumSize(720, 480)

        self._build_sidebar()
        self._build_center()
        self.settings_panel = ChatSettingsPanel()
        self.settings_panel.setVisible(False)
        self.settings_panel.settings_edited.connect(self._on_settings_edited)

        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.setChildrenCollapsible(False)
        splitter.setHandleWidth(1)
        splitter.addWidget(self.sidebar)
        splitter.addWidget(self.center)
        splitter.addWidget(self.settings_panel)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([260, 760, 280])
        self.setCentralWidget(splitter)
        self._build_status_bar()
        self._build_actions()

        supervisor.state_changed.connect(self._on_worker_state)
        supervisor.load_progress.connect(self._on_load_progress)
        supervisor.model_loaded.connect(self._on_model_loaded)
        supervisor.model_unloaded.connect(self._update_model_button)
        supervisor.load_failed.connect(self._on_load_failed)
        supervisor.crashed.connect(
            lambda detail: self.show_notice("The engine stopped unexpectedly; restarting…")
        )
        supervisor.worker_error.connect(self.show_notice)
        supervisor.failed.connect(self._on_worker_failed)
        self.controller.message_added.connect(self._on_message_added)
        self.controller.answer_streamed.connect(self._on_answer_streamed)
        self.controller.answer_finished.connect(self._on_answer_finished)
        self.controller.busy_changed.connect(self._on_busy_changed)
        self.controller.notice.connect(self.show_notice)

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
        layout.addWidget(self.new_button)
        layout.addWidget(self.list_view, 1)

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

        self.chat_view = ChatView()
        self.chat_view.set_empty_text(EMPTY_TITLE, EMPTY_HINT)
        self.chat_view.regenerate_requested.connect(self._regenerate)
        self.composer = Composer()
        self.composer.send_requested.connect(self._send)
        self.composer.stop_requested.connect(self.controller.stop)
        self.attachments = ChatAttachments(self, self.composer, self.paths.attachments, self.show_notice)
        layout = QVBoxLayout(self.center)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(header)
        layout.addWidget(self.chat_view, 1)
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
        self.retry_button = QPushButton("Try again")
        self.retry_button.setToolTip("Start the engine again (and reload the model)")
        self.retry_button.setVisible(False)
        self.retry_button.clicked.connect(self.supervisor.retry)
        bar.addPermanentWidget(self.undo_button)
        bar.addPermanentWidget(self.retry_button)
        bar.addPermanentWidget(self.progress)
        bar.addPermanentWidget(self.speed_label)
        bar.addPermanentWidget(self.state_label)
        self._undo_timer = QTimer(self, singleShot=True, interval=UNDO_DELETE_MS)
        self._undo_timer.timeout.connect(self._commit_delete)

    def _build_actions(self) -> None:
        def action(
            text: str,
            shortcut: QKeySequence | QKeySequence.StandardKey | str,
            slot,
            context=Qt.ShortcutContext.WindowShortcut,
        ) -> QAction:
            act = QAction(text, self)
            act.setShortcut(QKeySequence(shortcut))
            act.setShortcutContext(context)
            act.triggered.connect(slot)
            self.addAction(act)
            return act

        self.new_action = action("New chat", QKeySequence.StandardKey.New, self.new_conversation)
        self.open_action = action("Open model file…", QKeySequence.StandardKey.Open, self.choose_model_file)
        self.models_action = action("Models…", "Ctrl+M", self.show_models)
        self.models_action.setEnabled(self.models is not None)
        self.settings_action = action("Chat settings", "Ctrl+,", self.settings_button.toggle)
        action("Rename chat", "F2", self.rename_current)
        delete = action(
            "Delete chat",
            QKeySequence.StandardKey.Delete,
            self.delete_current,
            Qt.ShortcutContext.WidgetShortcut,
        )
        self.list_view.addAction(delete)
        action("Focus message box", "Ctrl+L", self.composer.focus_input)
        action("Attach pictures or sounds…", "Ctrl+Shift+A", self.composer.request_attach)
        action("Record a voice message", "Ctrl+Shift+R", self.composer.toggle_recording)

    # --- conversations ---------------------------------------------------------------------

    def new_conversation(self) -> None:
        current = self.store.get_conversation(self.current_id) if self.current_id else None
        if current is not None and not self.store.messages(current.id):
            self.composer.focus_input()  # an empty chat is already there
            return
        conversation = self.store.create_conversation(
            model_path=self.supervisor.loaded_model.model_path if self.supervisor.loaded_model else "",
            settings=self.settings.defaults,
        )
        self.list_model.refresh()
        self.show_conversation(conversation.id)

    def show_conversation(self, conversation_id: int) -> None:
        conversation = self.store.get_conversation(conversation_id)
        if conversation is None:
            return
        self.settings_panel.flush()
        self.current_id = conversation_id
        self.title_label.setText(conversation.title)
        self.setWindowTitle(f"{conversation.title} — {APP_NAME}")
        self.settings_panel.set_values(conversation.settings, conversation.system_prompt)
        self.chat_view.clear()
        for message in self.store.messages(conversation_id):
            self._add_message_widget(message)
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
        if ok:
            self.store.rename_conversation(conversation_id, title)
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
        if self.controller.answering_conversation == conversation_id:
            self.controller.stop()
        self._commit_delete()
        self.store.delete_conversation(conversation_id)
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
        if self._pending_delete is None:
            return
        conversation_id, self._pending_delete = self._pending_delete, None
        self._undo_timer.stop()
        self.undo_button.setVisible(False)
        self.store.restore_conversation(conversation_id)
        self.list_model.refresh()
        self.show_conversation(conversation_id)
        self.statusBar().showMessage("Chat restored.", 3000)

    def _commit_delete(self) -> None:
        self.undo_button.setVisible(False)
        self._undo_timer.stop()
        if self._pending_delete is not None:
            self._pending_delete = None
            self.store.purge_deleted()
            self.attachments.forget_unused(self.store.referenced_attachment_paths())

    # --- messages --------------------------------------------------------------------------

    def _send(self, text: str) -> None:
        if self.current_id is None:
            self.new_conversation()
        assert self.current_id is not None
        if not self.controller.send(self.current_id, text, self.attachments.pending()):
            self.composer.set_text(text)  # nothing is lost
            return
        self.attachments.sent()
        self._after_title_change(self.current_id)

    def _regenerate(self, message_id: int) -> None:
        if self.current_id is None or self.controller.busy:
            return
        self.chat_view.remove_from(message_id)
        self.controller.regenerate(self.current_id, message_id)

    def _add_message_widget(self, message: Message) -> None:
        widget = self.chat_view.add_message(
            message.id, message.role, message.content, message.reasoning, str(message.status)
        )
        if message.attachments:
            self.attachments.show_on(widget, message)
        if message.status == MessageStatus.ERROR:
            widget.set_status("error", message.stats.get("error", "The answer failed."))
        if message.role == "assistant":
            widget.set_footer(describe_stats(message.stats))

    def _on_message_added(self, message: Message) -> None:
        if message.conversation_id == self.current_id:
            self._add_message_widget(message)
            self._update_regenerate()

    def _on_answer_streamed(
        self, conversation_id: int, message_id: int, content: str, reasoning: str
    ) -> None:
        if conversation_id == self.current_id:
            self.chat_view.set_streaming_text(message_id, content, reasoning)

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
        widget = self.chat_view.message(message.id)
        if widget is not None:
            detail = stats.get("error", "")
            widget.set_status(str(message.status), detail)
            widget.set_footer(describe_stats(stats))
        self._update_regenerate()

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
        menu.addAction(self.models_action)
        menu.addAction(self.open_action)
        unload = menu.addAction("Unload model", self.supervisor.unload_model)
        unload.setEnabled(loaded is not None and not self.controller.busy)

    # Models window (downloads, catalog, installed models) ----------------------------------
    def show_models(self) -> None:
        if self.models is not None:
            self.models.show()

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
        self.model_button.setText(f"Loading {name or Path(path).name}…")  # before a failure can reset it
        self.supervisor.load_model(path, context, projector, name)

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
        self.show_notice(
            f"{loaded.name} is ready ({loaded.load_ms / 1000:.1f} s, context {loaded.context_length})."
        )

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
                f"{loaded.model_path}\n{loaded.architecture}, context {loaded.context_length}\n{abilities}"
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
        self.store.set_settings(self.current_id, settings)
        self.store.set_system_prompt(self.current_id, system_prompt)
        self.settings = replace(self.settings, defaults=replace(settings, seed=-1))
        self._save_settings()
        loaded = self.supervisor.loaded_model
        if (
            loaded is not None
            and previous.context_length != settings.context_length
            and not self.controller.busy
        ):
            self.load_model(loaded.model_path, loaded.projector_path, loaded.name)

    def _save_settings(self) -> None:
        try:
            save_settings(self.paths.settings_file, self.settings)
        except OSError as exc:
            log.warning("Could not save settings: %s", exc)

    # --- misc ------------------------------------------------------------------------------

    def show_notice(self, text: str) -> None:
        self.statusBar().showMessage(text, 10_000)

    def closeEvent(self, event: QCloseEvent) -> None:
        self.settings_panel.flush()
        self._commit_delete()
        self.controller.stop()
        self.attachments.shutdown()
        super().closeEvent(event)
