"""The catalog as a Qt table (name, size, capabilities, fit, status) and its search/sort proxy.

A thin adapter: entries come from ``load_catalog``, fits from ``fitting.assess_catalog``, download
states from the ``DownloadQueue`` and "installed" from the models scan; all set on the GUI thread.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import IntEnum
from pathlib import Path
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
)

from app.library import fit as fitting
from app.library.catalog import CatalogEntry
from app.library.catalog_fits import CatalogFits, gigabytes
from app.library.errors import format_size
from app.library.fit import Fit, FitLevel
from app.library.jobs import JobState, catalog_job_id
from app.ui.library.download_queue import DownloadQueue

_Index = QModelIndex | QPersistentModelIndex

FIT_WORDS = {FitLevel.GREEN: "fits", FitLevel.AMBER: "tight", FitLevel.RED: "too big"}
CAPABILITY_ORDER = ("text", "vision", "audio")


class CatalogColumn(IntEnum):
    NAME = 0
    SIZE = 1
    CAPABILITIES = 2
    FIT = 3
    STATUS = 4


HEADERS = {
    CatalogColumn.NAME: "Model",
    CatalogColumn.SIZE: "Download",
    CatalogColumn.CAPABILITIES: "Understands",
    CatalogColumn.FIT: "Memory needed",
    CatalogColumn.STATUS: "Status",
}


class CatalogRole(IntEnum):
    ENTRY = Qt.ItemDataRole.UserRole + 1
    ID = Qt.ItemDataRole.UserRole + 2
    SORT = Qt.ItemDataRole.UserRole + 3
    SUBTITLE = Qt.ItemDataRole.UserRole + 4  # second line of the name column
    RECOMMENDED = Qt.ItemDataRole.UserRole + 5
    FIT = Qt.ItemDataRole.UserRole + 6  # a fit.Fit or None
    STATUS_KIND = Qt.ItemDataRole.UserRole + 7  # "", "installed", "running", "queued", "paused", "failed"
    PROGRESS = Qt.ItemDataRole.UserRole + 8  # 0.0-1.0, or -1 when there is no download


def describe_capabilities(capabilities: tuple[str, ...] | list[str]) -> str:
    known = [c for c in CAPABILITY_ORDER if c in capabilities]
    return " · ".join(known + [c for c in capabilities if c not in CAPABILITY_ORDER])


def describe_download_size(entry: CatalogEntry) -> str:
    if entry.download_size:
        return format_size(entry.download_size)
    if entry.model.size:
        # The projector's size is not published: the model alone is a lower bound.
        return f"≥ {format_size(entry.model.size)}" if entry.projector else format_size(entry.model.size)
    return "Unknown"


def fit_label(fit: Fit | None) -> str:
    if fit is None:
        return "Not estimated"
    return f"{gigabytes(fit.needed)} · {FIT_WORDS[fit.level]}"


class CatalogTableModel(QAbstractTableModel):
    def __init__(self, downloads: DownloadQueue, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._downloads = downloads
        self._entries: list[CatalogEntry] = []
        self._fits: CatalogFits | None = None
        self._installed: dict[str, Path] = {}
        self._assistants: dict[str, Path] = {}
        downloads.job_changed.connect(self._on_job)
        downloads.job_added.connect(self._on_job)
        downloads.job_removed.connect(self._on_job)

    # --- feeding -------------------------------------------------------------------------------

    def set_entries(self, entries: list[CatalogEntry]) -> None:
        self.beginResetModel()
        self._entries = list(entries)
        self.endResetModel()

    def set_fits(self, fits: CatalogFits) -> None:
        self._fits = fits
        self._all_changed()

    def set_installed(self, installed: dict[str, Path], assistants: dict[str, Path] | None = None) -> None:
        """Entry id -> installed model file, and -> its installed MTP assistant."""
        self._installed = dict(installed)
        self._assistants = dict(assistants or {})
        self._all_changed()

    # --- reading -------------------------------------------------------------------------------

    @property
    def entries(self) -> list[CatalogEntry]:
        return list(self._entries)

    @property
    def fits(self) -> CatalogFits | None:
        return self._fits

    def entry(self, row: int) -> CatalogEntry | None:
        return self._entries[row] if 0 <= row < len(self._entries) else None

    def row_of(self, entry_id: str) -> int:
        return next((row for row, e in enumerate(self._entries) if e.id == entry_id), -1)

    def fit_of(self, entry_id: str) -> Fit | None:
        return self._fits.fits.get(entry_id) if self._fits else None

    def installed_path(self, entry_id: str) -> Path | None:
        return self._installed.get(entry_id)

    def assistant_path(self, entry_id: str) -> Path | None:
        return self._assistants.get(entry_id)

    @property
    def recommended_id(self) -> str | None:
        return self._fits.recommended if self._fits else None

    # --- Qt --------------------------------------------------------------------------------------

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._entries)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(CatalogColumn)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return HEADERS.get(CatalogColumn(section)) if 0 <= section < len(CatalogColumn) else None
        return None

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._entries):
            return None
        entry = self._entries[index.row()]
        column = CatalogColumn(index.column())
        if role == CatalogRole.ENTRY:
            return entry
        if role == CatalogRole.ID:
            return entry.id
        if role == CatalogRole.RECOMMENDED:
            return entry.id == self.recommended_id
        if role == CatalogRole.FIT:
            return self.fit_of(entry.id)
        if role == CatalogRole.STATUS_KIND:
            return self._status(entry)[0]
        if role == CatalogRole.PROGRESS:
            return self._status(entry)[2]
        if role == CatalogRole.SUBTITLE and column == CatalogColumn.NAME:
            return " · ".join(p for p in (entry.publisher, entry.parameters) if p)
        if role == CatalogRole.SORT:
            return self._sort_key(entry, column)
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.AccessibleTextRole):
            return self._text(entry, column, accessible=role == Qt.ItemDataRole.AccessibleTextRole)
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(entry, column)
        return None

    def _text(self, entry: CatalogEntry, column: CatalogColumn, accessible: bool) -> str:
        if column == CatalogColumn.NAME:
            recommended = entry.id == self.recommended_id
            return f"{entry.display_name}, recommended" if accessible and recommended else entry.display_name
        if column == CatalogColumn.SIZE:
            return describe_download_size(entry)
        if column == CatalogColumn.CAPABILITIES:
            return describe_capabilities(entry.capabilities)
        if column == CatalogColumn.FIT:
            return fit_label(self.fit_of(entry.id))
        return self._status(entry)[1]

    def _tooltip(self, entry: CatalogEntry, column: CatalogColumn) -> str | None:
        if column == CatalogColumn.FIT:
            fit = self.fit_of(entry.id)
            return fit.explanation if fit else "Its memory need is not known before it is downloaded."
        if column == CatalogColumn.NAME:
            return f"{entry.repo_id}\n{entry.model.name}"
        if column == CatalogColumn.SIZE and not entry.download_size and entry.projector:
            return "The model file; its projector's size is not published."
        return None

    def _status(self, entry: CatalogEntry) -> tuple[str, str, float]:
        job = self._downloads.job(catalog_job_id(entry.id))
        if job is not None and job.state is not JobState.DONE:
            fraction = job.done / job.total if job.total else 0.0
            percent = f"{int(fraction * 100)}%"
            if job.state is JobState.RUNNING:
                words = (
                    "Checking…" if job.verifying else "Waiting…" if job.stalled else f"Downloading {percent}"
                )
                return "running", words, fraction
            if job.state is JobState.QUEUED:
                return "queued", "Waiting", fraction
            if job.state is JobState.PAUSED:
                return "paused", f"Paused at {percent}", fraction
            return "failed", "Stopped: see details", fraction
        if entry.id in self._installed:
            return "installed", "Installed", -1.0
        return "", "", -1.0

    def _sort_key(self, entry: CatalogEntry, column: CatalogColumn) -> Any:
        if column == CatalogColumn.NAME:
            return (fitting.SIZE_RANK.get(entry.size, 9), fitting.quantization_rank(entry.quantization))
        if column == CatalogColumn.SIZE:
            return entry.download_size or entry.model.size or 0
        if column == CatalogColumn.CAPABILITIES:
            return len(entry.capabilities)
        if column == CatalogColumn.FIT:
            fit = self.fit_of(entry.id)
            return fit.needed if fit else 1 << 62
        order = {"running": 0, "queued": 1, "paused": 2, "failed": 3, "installed": 4, "": 5}
        return order[self._status(entry)[0]]

    def _on_job(self, job_id: str) -> None:
        for row, entry in enumerate(self._entries):
            if catalog_job_id(entry.id) == job_id:
                self.dataChanged.emit(self.index(row, 0), self.index(row, len(CatalogColumn) - 1))

    def _all_changed(self) -> None:
        if self._entries:
            self.dataChanged.emit(
                self.index(0, 0), self.index(len(self._entries) - 1, len(CatalogColumn) - 1)
            )


class CatalogFilter(QSortFilterProxyModel):
    """Search by name, publisher, quantization or repo; optionally hide what does not fit."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._words: list[str] = []
        self._fitting_only = False
        self.setSortRole(CatalogRole.SORT)
        self.setDynamicSortFilter(True)

    def set_search(self, text: str) -> None:
        self._change(lambda: setattr(self, "_words", text.lower().split()))

    def set_fitting_only(self, on: bool) -> None:
        self._change(lambda: setattr(self, "_fitting_only", on))

    def _change(self, apply: Callable[[], None]) -> None:
        if hasattr(self, "endFilterChange"):  # Qt 6.10 and later
            self.beginFilterChange()
            apply()
            self.endFilterChange(QSortFilterProxyModel.Direction.Rows)
        else:
            apply()
            self.invalidateRowsFilter()

    def filterAcceptsRow(self, source_row: int, source_parent: _Index) -> bool:
        index = self.sourceModel().index(source_row, 0, source_parent)
        entry: CatalogEntry | None = index.data(CatalogRole.ENTRY)
        if entry is None:
            return False
        if self._fitting_only:
            fit: Fit | None = index.data(CatalogRole.FIT)
            if fit is not None and fit.level is FitLevel.RED:
                return False
        haystack = " ".join(
            (entry.display_name, entry.publisher, entry.quantization, entry.repo_id, *entry.capabilities)
        ).lower()
        return all(word in haystack for word in self._words)

    def lessThan(self, left: _Index, right: _Index) -> bool:
        a, b = left.data(CatalogRole.SORT), right.data(CatalogRole.SORT)
        try:
            return bool(a < b)
        except TypeError:
            return str(a) < str(b)
