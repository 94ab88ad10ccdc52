"""The Installed tab: the models on this computer with Use, Reveal, Delete and Import."""

from __future__ import annotations

from PySide6.QtCore import QItemSelectionModel, QModelIndex, QSortFilterProxyModel, Qt, Signal, SignalInstance
from PySide6.QtWidgets import (
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from app.library.installed import InstalledModel
from app.ui.library.delegates import NameDelegate
from app.ui.library.discover_tab import model_table
from app.ui.library.installed_table import InstalledColumn, InstalledRole, InstalledTableModel

EMPTY_TEXT = "No models on this computer yet.\nPick one in Discover, or import a .gguf file you already have."


class InstalledTab(QWidget):
    use_requested = Signal(object)
    """Load this ``InstalledModel``."""
    reveal_requested = Signal(object)
    """Show this ``InstalledModel``'s folder in the file manager."""
    delete_requested = Signal(object)
    """Delete this ``InstalledModel`` (after asking)."""
    import_requested = Signal()
    """Import a .gguf file from somewhere on this computer."""
    refresh_requested = Signal()
    """Look at the models folder again."""

    def __init__(self, model: InstalledTableModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(model)
        self.proxy.setSortRole(InstalledRole.SORT)

        self.table = model_table()
        self.table.setAccessibleName("Installed models")
        self.table.setModel(self.proxy)
        self.table.setItemDelegateForColumn(
            InstalledColumn.NAME, NameDelegate(InstalledRole.SUBTITLE, None, self.table)
        )
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(InstalledColumn.NAME, QHeaderView.ResizeMode.Stretch)
        for column, width in (
            (InstalledColumn.SIZE, 96),
            (InstalledColumn.LAST_USED, 120),
            (InstalledColumn.CAPABILITIES, 150),
            (InstalledColumn.SOURCE, 150),
        ):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.Interactive)
            header.resizeSection(column, width)
        self.table.sortByColumn(InstalledColumn.LAST_USED, Qt.SortOrder.DescendingOrder)
        self.table.doubleClicked.connect(lambda _index: self._emit(self.use_requested))
        self.table.selectionModel().currentRowChanged.connect(self._update_buttons)
        model.modelReset.connect(self._on_reset)
        model.dataChanged.connect(lambda *_: self._update_buttons())

        self.empty = QLabel(EMPTY_TEXT)
        self.empty.setObjectName("emptyState")
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.scanning = QLabel("Looking for models on this computer…")
        self.scanning.setObjectName("emptyState")
        self.scanning.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.scanning)
        self.stack.addWidget(self.empty)
        self.stack.addWidget(self.table)

        self.use_button = QPushButton("Use")
        self.use_button.setObjectName("primaryButton")
        self.use_button.setToolTip("Load this model and start chatting")
        self.use_button.clicked.connect(lambda: self._emit(self.use_requested))
        self.reveal_button = QPushButton("Show in folder")
        self.reveal_button.setToolTip("Open the folder that holds this model in the file manager")
        self.reveal_button.clicked.connect(lambda: self._emit(self.reveal_requested))
        self.delete_button = QPushButton("Delete…")
        self.delete_button.setObjectName("dangerButton")
        self.delete_button.clicked.connect(lambda: self._emit(self.delete_requested))
        self.import_button = QPushButton("Import a .gguf file…")
        self.import_button.clicked.connect(self.import_requested)
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.clicked.connect(self.refresh_requested)
        self.note = QLabel()
        self.note.setObjectName("mutedNote")
        self.note.setWordWrap(True)

        buttons = QHBoxLayout()
        buttons.setSpacing(8)
        buttons.addWidget(self.import_button)
        buttons.addWidget(self.refresh_button)
        buttons.addStretch(1)
        buttons.addWidget(self.delete_button)
        buttons.addWidget(self.reveal_button)
        buttons.addWidget(self.use_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 12, 16, 14)
        layout.setSpacing(10)
        layout.addWidget(self.stack, 1)
        layout.addWidget(self.note)
        layout.addLayout(buttons)
        self._on_reset()

    def current_model(self) -> InstalledModel | None:
        index = self.table.currentIndex()
        return index.data(InstalledRole.MODEL) if index.isValid() else None

    def select_path(self, path: str) -> bool:
        row = self.model.row_of(path)
        if row < 0:
            return False
        index = self.proxy.mapFromSource(self.model.index(row, 0))
        flags = QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows
        self.table.selectionModel().setCurrentIndex(index, flags)
        return True

    def set_note(self, text: str) -> None:
        self.note.setText(text)
        self.note.setVisible(bool(text))

    def _emit(self, signal: SignalInstance) -> None:
        model = self.current_model()
        if model is not None:
            signal.emit(model)

    def _on_reset(self) -> None:
        if not self.model.scanned:
            self.stack.setCurrentWidget(self.scanning)
        else:
            self.stack.setCurrentWidget(self.table if self.model.rowCount() else self.empty)
        if self.model.rowCount() and not self.table.currentIndex().isValid():
            self.table.selectRow(0)
        self._update_buttons()
        self.set_note(self.note.text())

    def _update_buttons(self, *_args: QModelIndex) -> None:
        model = self.current_model()
        loaded = bool(self.table.currentIndex().data(InstalledRole.LOADED)) if model else False
        self.use_button.setEnabled(model is not None and not loaded)
        self.use_button.setText("In use" if loaded else "Use")
        self.reveal_button.setEnabled(model is not None)
        source = model.source if model else "downloaded"
        self.delete_button.setText("Delete…" if source == "downloaded" else "Remove…")
        self.delete_button.setEnabled(model is not None and not loaded and source != "huggingface-cache")
        if loaded:
            tip = "This model is loaded: switch to another model or unload it first"
        elif source == "imported":
            tip = "Removes it from this list; the file itself stays where it is"
        elif source == "huggingface-cache":
            tip = "Files in the Hugging Face cache belong to the tools that downloaded them"
        else:
            tip = "Delete the model's files from this computer"
        self.delete_button.setToolTip(tip)
