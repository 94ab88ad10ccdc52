"""The folders a chat shares with the model's file tools: a short list in the chat's settings,
with buttons to share one more and to stop sharing one."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QPushButton,
    QVBoxLayout,
    QWidget,
)


class SharedFolders(QWidget):
    edited = Signal(object)
    """The list changed: a tuple of folder paths."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.list = QListWidget()
        self.list.setAccessibleName("Folders the model may read")
        self.list.setMaximumHeight(84)
        self.empty = QLabel("None: the model cannot read your files in this chat.")
        self.empty.setObjectName("composerHint")
        self.empty.setWordWrap(True)
        self.add_button = QPushButton("Share a folder…")
        self.add_button.setToolTip("Let the model read the files in a folder (it asks you first)")
        self.add_button.clicked.connect(self._choose)
        self.remove_button = QPushButton("Stop sharing")
        self.remove_button.setToolTip("The model can no longer read the chosen folder")
        self.remove_button.clicked.connect(self._remove)
        buttons = QHBoxLayout()
        buttons.setContentsMargins(0, 0, 0, 0)
        buttons.addWidget(self.add_button)
        buttons.addWidget(self.remove_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(6)
        layout.addWidget(QLabel("Folders the model may read"))
        layout.addWidget(self.list)
        layout.addWidget(self.empty)
        layout.addLayout(buttons)
        self.list.currentRowChanged.connect(lambda _row: self._update())
        self._update()

    def folders(self) -> tuple[str, ...]:
        return tuple(self.list.item(i).text() for i in range(self.list.count()))

    def set_folders(self, folders: tuple[str, ...]) -> None:
        self.list.clear()
        self.list.addItems(list(folders))
        self._update()

    def share(self, folder: str) -> None:
        if folder and folder not in self.folders():
            self.list.addItem(folder)
            self._update()
            self.edited.emit(self.folders())

    def _choose(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Share a folder with the model")
        self.share(folder)

    def _remove(self) -> None:
        row = self.list.currentRow()
        if row >= 0:
            self.list.takeItem(row)
            self._update()
            self.edited.emit(self.folders())

    def _update(self) -> None:
        has_any = self.list.count() > 0
        self.list.setVisible(has_any)
        self.empty.setVisible(not has_any)
        self.remove_button.setEnabled(self.list.currentRow() >= 0)
