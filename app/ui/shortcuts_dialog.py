"""The keyboard shortcuts, all in one place (Help › Keyboard shortcuts): the menus' own, and the
keys of the conversation and the message box, which no menu shows."""

from __future__ import annotations

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QMenu,
    QMenuBar,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

IN_THE_CONVERSATION = (
    ("Go to the chat list, the conversation, the message box, the settings", "F6, Shift+F6"),
    ("Move to the previous or next message", "Up, Down"),
    ("First or last message of the chat", "Ctrl+Home, Ctrl+End"),
    ("Actions for the message", "Menu, Shift+F10"),
    ("Copy the selected text, or the message", "Ctrl+C"),
    ("Show or hide the reasoning", "Enter"),
    ("Edit a question and ask again", "Ctrl+E"),
    ("Write another answer", "Ctrl+R"),
    ("Previous or next version", "Alt+Left, Alt+Right"),
    ("Pin the message, so the model always reads it", "Ctrl+P"),
    ("Delete the message", "Delete"),
)
IN_THE_MESSAGE_BOX = (
    ("Send", "Enter"),
    ("New line", "Shift+Enter"),
    ("Stop the answer, cancel an edit or a recording", "Escape"),
)


def menu_shortcuts(bar: QMenuBar) -> list[tuple[str, str, str]]:
    """(menu, action, keys) for every menu action that has keys, in menu order."""
    found: list[tuple[str, str, str]] = []

    def walk(menu_title: str, actions: list[QAction]) -> None:
        for action in actions:
            submenu = action.menu()
            if isinstance(submenu, QMenu):
                walk(menu_title, submenu.actions())
            elif not action.isSeparator() and not action.shortcut().isEmpty():
                keys = action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
                found.append((menu_title, action.text().replace("&", ""), keys))

    for top in bar.actions():
        menu = top.menu()
        if isinstance(menu, QMenu):
            walk(top.text().replace("&", ""), menu.actions())
    return found


class ShortcutsDialog(QDialog):
    def __init__(self, bar: QMenuBar, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("shortcutsDialog")
        self.setWindowTitle("Keyboard shortcuts")
        self.resize(560, 620)
        rows = [(f"{menu}: {name}", keys) for menu, name, keys in menu_shortcuts(bar)]
        rows += [(f"Conversation: {name}", keys) for name, keys in IN_THE_CONVERSATION]
        rows += [(f"Message box: {name}", keys) for name, keys in IN_THE_MESSAGE_BOX]
        self.table = QTableWidget(len(rows), 2)
        self.table.setAccessibleName("Keyboard shortcuts")
        self.table.setHorizontalHeaderLabels(["What", "Keys"])
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setAccessibleName("Columns")
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        for row, (what, keys) in enumerate(rows):
            self.table.setItem(row, 0, QTableWidgetItem(what))
            self.table.setItem(row, 1, QTableWidgetItem(keys))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table)
        layout.addWidget(buttons)

    def rows(self) -> list[tuple[str, str]]:
        def text(row: int, column: int) -> str:
            item = self.table.item(row, column)
            return item.text() if item is not None else ""

        return [(text(row, 0), text(row, 1)) for row in range(self.table.rowCount())]
