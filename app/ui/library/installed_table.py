"""The models on this computer as a Qt table: name, size on disk, last used, capabilities, source.

Rows come from ``scan_installed`` (run off the UI thread); the model only holds its result.
"""

from __future__ import annotations

from enum import IntEnum
from pathlib import Path
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, QPersistentModelIndex, Qt

from app.library.errors import format_size
from app.library.installed import InstalledModel
from app.ui.chat.conversation_list import describe_age

_Index = QModelIndex | QPersistentModelIndex

SOURCES = {
    "downloaded": "Downloaded",
    "imported": "Imported",
    "huggingface-cache": "Hugging Face cache",
}


class InstalledColumn(IntEnum):
    NAME = 0
    SIZE = 1
    LAST_USED = 2
    CAPABILITIES = 3
    SOURCE = 4


HEADERS = {
    InstalledColumn.NAME: "Model",
    InstalledColumn.SIZE: "On disk",
    InstalledColumn.LAST_USED: "Last used",
    InstalledColumn.CAPABILITIES: "Understands",
    InstalledColumn.SOURCE: "Source",
}


class InstalledRole(IntEnum):
    MODEL = Qt.ItemDataRole.UserRole + 1
    SUBTITLE = Qt.ItemDataRole.UserRole + 2
    LOADED = Qt.ItemDataRole.UserRole + 3
    SORT = Qt.ItemDataRole.UserRole + 4


def capabilities_of(model: InstalledModel) -> str:
    return " · ".join(["text"] + (["vision"] if model.vision else []) + (["audio"] if model.audio else []))


def same_file(a: str | Path | None, b: str | Path | None) -> bool:
    if not a or not b:
        return False
    try:
        return Path(a).resolve() == Path(b).resolve()
    except OSError:
        return str(a) == str(b)


class InstalledTableModel(QAbstractTableModel):
    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._rows: list[InstalledModel] = []
        self._loaded: str | None = None
        self.scanned = False  # False until the first scan has arrived

    def set_models(self, models: list[InstalledModel]) -> None:
        self.beginResetModel()
        self._rows = list(models)
        self.scanned = True
        self.endResetModel()

    def set_loaded(self, path: str | None) -> None:
        self._loaded = path
        if self._rows:
            self.dataChanged.emit(self.index(0, 0), self.index(len(self._rows) - 1, len(InstalledColumn) - 1))

    @property
    def models(self) -> list[InstalledModel]:
        return list(self._rows)

    def model_at(self, row: int) -> InstalledModel | None:
        return self._rows[row] if 0 <= row < len(self._rows) else None

    def row_of(self, path: str | Path) -> int:
        return next((row for row, m in enumerate(self._rows) if same_file(m.path, path)), -1)

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(InstalledColumn)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return HEADERS.get(InstalledColumn(section)) if 0 <= section < len(InstalledColumn) else None
        return None

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        model = self._rows[index.row()]
        column = InstalledColumn(index.column())
        loaded = same_file(model.path, self._loaded)
        if role == InstalledRole.MODEL:
            return model
        if role == InstalledRole.LOADED:
            return loaded
        if role == InstalledRole.SUBTITLE and column == InstalledColumn.NAME:
            note = " · in use" if loaded else ""
            return f"{model.path.name}{note}"
        if role == InstalledRole.SORT:
            return self._sort_key(model, column)
        if role == Qt.ItemDataRole.ToolTipRole:
            projector = f"\nProjector: {model.projector}" if model.projector else "\nNo projector: text only"
            return f"{model.path}{projector}\n{model.architecture}, context {model.context_length}"
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.AccessibleTextRole):
            return self._text(model, column, loaded)
        return None

    def _text(self, model: InstalledModel, column: InstalledColumn, loaded: bool) -> str:
        if column == InstalledColumn.NAME:
            return model.name or model.path.stem
        if column == InstalledColumn.SIZE:
            return format_size(model.size_bytes)
        if column == InstalledColumn.LAST_USED:
            if loaded:
                return "In use now"
            return describe_age(model.last_used) if model.last_used else "Never"
        if column == InstalledColumn.CAPABILITIES:
            return capabilities_of(model)
        return SOURCES.get(model.source, model.source)

    @staticmethod
    def _sort_key(model: InstalledModel, column: InstalledColumn) -> Any:
        if column == InstalledColumn.NAME:
            return (model.name or model.path.stem).lower()
        if column == InstalledColumn.SIZE:
            return model.size_bytes
        if column == InstalledColumn.LAST_USED:
            return model.last_used
        if column == InstalledColumn.CAPABILITIES:
            return int(model.vision) + int(model.audio)
        return model.source
