"""The main window's actions and menu bar: File, Edit, View, Chat and Help, with the usual keys.
Each action is also a shortcut of the window, so it works with the menu closed."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QMenu

from app import APP_NAME
from app.engine.saved_chats import saved_bytes
from app.library.fit import gb
from app.ui.drafter_menu import fill_drafter_menu

if TYPE_CHECKING:
    from app.ui.main_window import MainWindow

SAVED_CHATS_GB = (1, 4, 16, 64)
THEMES = (("system", "Like the system"), ("light", "Light"), ("dark", "Dark"))


class MainMenus(QObject):
    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self._window = window
        self._make_actions(window)
        self._make_menus(window)

    def _action(
        self,
        text: str,
        keys: QKeySequence | QKeySequence.StandardKey | str,
        slot: Callable[[], object],
        context: Qt.ShortcutContext = Qt.ShortcutContext.WindowShortcut,
    ) -> QAction:
        action = QAction(text, self._window)
        action.setShortcut(QKeySequence(keys))
        action.setShortcutContext(context)
        action.triggered.connect(slot)
        self._window.addAction(action)
        return action

    def _make_actions(self, window: MainWindow) -> None:
        action = self._action
        self.new_action = action("New chat", QKeySequence.StandardKey.New, window.new_conversation)
        self.open_action = action("Open model file…", QKeySequence.StandardKey.Open, window.choose_model_file)
        self.models_action = action("Models…", "Ctrl+M", window.show_models)
        self.models_action.setEnabled(window.models is not None)
        self.settings_action = action("Chat settings", "Ctrl+,", window.settings_button.toggle)
        self.settings_action.setCheckable(True)
        window.settings_button.toggled.connect(self.settings_action.setChecked)
        self.rename_action = action("Rename chat…", "F2", window.rename_current)
        # Delete in the chat list deletes the chat; elsewhere Delete belongs to whoever has focus.
        delete_in_list = action(
            "Delete chat",
            QKeySequence.StandardKey.Delete,
            window.delete_current,
            Qt.ShortcutContext.WidgetShortcut,
        )
        window.list_view.addAction(delete_in_list)
        self.delete_chat_action = action("Delete chat", "", window.delete_current)
        self.focus_action = action("Focus message box", "Ctrl+L", window.composer.focus_input)
        self.next_pane_action = action("Next pane", "F6", lambda: window.cycle_pane(1))
        self.previous_pane_action = action("Previous pane", "Shift+F6", lambda: window.cycle_pane(-1))
        self.attach_action = action(
            "Attach pictures, sounds or documents…", "Ctrl+Shift+A", window.composer.request_attach
        )
        self.record_action = action(
            "Record a voice message", "Ctrl+Shift+R", window.composer.toggle_recording
        )
        self.think_action = action("Think first", "Ctrl+T", lambda: window.set_think(not window.think_on()))
        self.think_action.setCheckable(True)
        self.tools_action = action("Use tools", "", lambda: window.set_tools(self.tools_action.isChecked()))
        self.tools_action.setCheckable(True)
        self.tools_action.setToolTip("Let the model use the calculator, the clock and unit conversion")
        self.tool_send_action = action(
            "Send, answering with a tool",
            "Ctrl+Shift+Return",
            lambda: window.composer.submit(must_use_tool=True),
        )
        self.stop_action = action("Stop the answer", "Ctrl+.", window.controller.stop)
        self.presets_action = action("Presets…", "", window.manage_presets)
        self.sidebar_action = action("Chat list", "Ctrl+Shift+L", window.toggle_sidebar)
        self.sidebar_action.setCheckable(True)
        self.sidebar_action.setChecked(True)
        self.quit_action = action("Quit", "Ctrl+Q", window.quit_app)
        self.quit_action.setMenuRole(QAction.MenuRole.QuitRole)
        self.shortcuts_action = action("Keyboard shortcuts", "Ctrl+/", window.show_shortcuts)
        self.about_action = action(f"About {APP_NAME}", "", window.show_about)
        self.about_action.setMenuRole(QAction.MenuRole.AboutRole)
        self.find_action = action(
            "Find in this chat", QKeySequence.StandardKey.Find, lambda: window.search.start(True)
        )
        self.find_all_action = action("Search all chats", "Ctrl+Shift+F", lambda: window.search.start(False))

    def _choices(self, menu: QMenu, choices: list[tuple[Any, str]], current: Any) -> QActionGroup:
        """One checkable entry per (value, label), the current value checked."""
        group = QActionGroup(self)
        for value, label in choices:
            choice = menu.addAction(label)
            choice.setCheckable(True)
            choice.setChecked(current == value)
            choice.setData(value)
            group.addAction(choice)
        return group

    def _make_menus(self, window: MainWindow) -> None:
        """The menu bar; Help stays the last menu."""
        bar = window.menuBar()
        exports = window.export_actions
        file_menu = bar.addMenu("&File")
        _fill(file_menu, [self.new_action, None, self.open_action, self.models_action])
        # Automatic (the performance cores, fewer while other programs keep some busy), or a number.
        threads_menu = file_menu.addMenu("Processor &threads")
        automatic = [(0, "Automatic: a thread per performance core, fewer while the computer is busy")]
        numbers = [(n, f"{n}") for n in range(1, (os.cpu_count() or 1) + 1)]
        self.threads_actions = self._choices(threads_menu, automatic + numbers, window.settings.threads)
        threads_menu.insertSeparator(threads_menu.actions()[1])
        self.threads_actions.triggered.connect(lambda choice: window.choose_threads(int(choice.data())))
        # Chats' saved KV states: the most they may take on disk (app.engine.saved_chats).
        saved_menu = file_menu.addMenu("&Chats ready to resume")
        sizes = [(0, "Off: a chat is read again when you come back to it")]
        sizes += [(gb, f"Keep up to {gb} GB") for gb in SAVED_CHATS_GB]
        self.saved_chats_actions = self._choices(saved_menu, sizes, window.settings.saved_chats_gb)
        saved_menu.insertSeparator(saved_menu.actions()[1])
        self.saved_chats_actions.triggered.connect(
            lambda choice: window.choose_saved_chats(int(choice.data()))
        )
        saved_menu.addSeparator()
        self.saved_chats_used = saved_menu.addAction("")
        self.saved_chats_used.setEnabled(False)
        saved_menu.aboutToShow.connect(
            lambda: self.saved_chats_used.setText(f"In use now: {gb(saved_bytes(window.paths.saved_chats))}")
        )
        self.gpu_menu = file_menu.addMenu("&GPU offload")
        self.gpu_menu.aboutToShow.connect(
            lambda: window.gpu.fill_menu(
                self.gpu_menu,
                window.supervisor.loaded_model.model_path
                if window.supervisor.loaded_model and window.supervisor.loaded_model.architecture != "remote"
                else "",
                window.reload_model,
                window,
            )
        )
        self.drafter_menu = file_menu.addMenu("&Drafter")
        self.drafter_menu.aboutToShow.connect(
            lambda: fill_drafter_menu(
                self.drafter_menu,
                window.supervisor.loaded_model,
                window.settings,
                window.replace_settings,
                window.reload_model,
                window,
                window.assistant_offer(),
            )
        )
        self.local_api_action = file_menu.addAction("&Local API…", window.open_local_api)
        file_menu.addSeparator()
        self.export_chat_action = file_menu.addAction("Export this chat…", exports.export_current)
        self.export_all_action = file_menu.addAction("Export all chats…", exports.export_all)
        file_menu.addSeparator()
        self.import_chats_action = file_menu.addAction("Import chats…", exports.import_archive)
        _fill(file_menu, [None, self.quit_action])
        edit_menu = bar.addMenu("&Edit")
        _fill(
            edit_menu,
            [self.find_action, self.find_all_action, None, self.rename_action, self.delete_chat_action],
        )
        view_menu = bar.addMenu("&View")
        _fill(view_menu, [self.sidebar_action, self.settings_action])
        theme_menu = view_menu.addMenu("&Theme")
        self.theme_actions = self._choices(theme_menu, list(THEMES), window.settings.theme)
        self.theme_actions.triggered.connect(lambda choice: window.choose_theme(choice.data()))
        _fill(view_menu, [None, self.focus_action, self.next_pane_action, self.previous_pane_action])
        chat_menu = bar.addMenu("&Chat")
        _fill(
            chat_menu,
            [
                self.think_action,
                self.tools_action,
                self.presets_action,
                None,
                self.tool_send_action,
                self.attach_action,
                self.record_action,
                None,
            ],
        )
        chat_menu.addAction(self.stop_action)
        help_menu = bar.addMenu("&Help")
        _fill(help_menu, [self.shortcuts_action, None])
        diagnostics = window.diagnostics
        self.open_logs_action = help_menu.addAction("Open logs folder", diagnostics.open_logs_folder)
        self.copy_diagnostics_action = help_menu.addAction("Copy diagnostics", diagnostics.copy_to_clipboard)
        self.copy_diagnostics_action.setToolTip(
            "Copy versions, this computer's details and recent errors for a bug report (no chat content)"
        )
        diagnostics.notice.connect(window.show_notice)
        _fill(help_menu, [None, self.about_action])


def _fill(menu: QMenu, items: list[QAction | None]) -> None:
    """Add actions in order; None is a separator."""
    for item in items:
        if item is None:
            menu.addSeparator()
        else:
            menu.addAction(item)
