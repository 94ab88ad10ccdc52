"""The Discover tab: the curated catalog with fit badges, a search, and the selected entry's details."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QEvent, QItemSelectionModel, QModelIndex, QObject, Qt, Signal
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from app.library.catalog import CatalogEntry
from app.ui.library.catalog_table import CatalogColumn, CatalogFilter, CatalogRole, CatalogTableModel
from app.ui.library.delegates import FitDelegate, NameDelegate, StatusDelegate
from app.ui.library.download_queue import DownloadQueue
from app.ui.library.entry_details import EntryDetails


def model_table(name: str = "modelTable") -> QTableView:
    """A read-only, row-selecting table styled like the rest of the Models window."""
    table = QTableView()
    table.setObjectName(name)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setShowGrid(False)
    table.setWordWrap(False)
    table.setSortingEnabled(True)
    table.setMouseTracking(True)
    table.verticalHeader().setVisible(False)
    table.verticalHeader().setDefaultSectionSize(54)
    table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
    table.horizontalHeader().setHighlightSections(False)
    table.horizontalHeader().setAccessibleName("Columns: choose one to sort by it")
    table.horizontalHeader().setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
    table.setHorizontalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
    table.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
    return table


COLUMN_WIDTHS = {
    CatalogColumn.SIZE: 96,
    CatalogColumn.CAPABILITIES: 140,
    CatalogColumn.FIT: 170,
    CatalogColumn.STATUS: 150,
}
# On narrow windows these columns go first (their content is in the details pane too).
OPTIONAL_COLUMNS = ((CatalogColumn.CAPABILITIES, 760), (CatalogColumn.STATUS, 620))


class DiscoverTab(QWidget):
    download_requested = Signal(object)
    """Download this ``CatalogEntry``."""
    assistant_requested = Signal(object)
    """Download the MTP assistant the catalog pairs with this ``CatalogEntry``."""
    use_requested = Signal(str)
    """Load the model at this path."""
    token_requested = Signal()
    """The user wants to give an access token (a gated model)."""

    def __init__(self, model: CatalogTableModel, queue: DownloadQueue, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.proxy = CatalogFilter(self)
        self.proxy.setSourceModel(model)

        self.search = QLineEdit()
        self.search.setObjectName("searchField")
        self.search.setPlaceholderText("Search models, sizes, publishers…")
        self.search.setClearButtonEnabled(True)
        self.search.setAccessibleName("Search the catalog")
        self.search.textChanged.connect(self.proxy.set_search)
        self.fitting_only = QCheckBox("Only what fits")
        self.fitting_only.setToolTip("Hide the models that are too big for this computer")
        self.fitting_only.toggled.connect(self.proxy.set_fitting_only)
        self.machine_line = QLabel("Looking at this computer…")
        self.machine_line.setObjectName("machineLine")
        self.machine_line.setWordWrap(True)

        self.table = model_table()
        self.table.setAccessibleName("Model catalog")
        self.table.setModel(self.proxy)
        self.table.setItemDelegateForColumn(
            CatalogColumn.NAME, NameDelegate(CatalogRole.SUBTITLE, CatalogRole.RECOMMENDED, self.table)
        )
        self.table.setItemDelegateForColumn(CatalogColumn.FIT, FitDelegate(CatalogRole.FIT, self.table))
        self.table.setItemDelegateForColumn(
            CatalogColumn.STATUS, StatusDelegate(CatalogRole.STATUS_KIND, CatalogRole.PROGRESS, self.table)
        )
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(CatalogColumn.NAME, QHeaderView.ResizeMode.Stretch)
        for column, width in COLUMN_WIDTHS.items():
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.Interactive)
            header.resizeSection(column, width)
        self.table.sortByColumn(CatalogColumn.NAME, Qt.SortOrder.AscendingOrder)
        self.table.viewport().installEventFilter(self)
        self.table.selectionModel().currentRowChanged.connect(self._on_current)
        model.dataChanged.connect(self._on_data_changed)
        model.modelReset.connect(self._show_current)

        self.details = EntryDetails(queue)
        self.details.job_panel.download_requested.connect(self._download)
        self.details.job_panel.use_requested.connect(self.use_requested)
        self.details.job_panel.token_requested.connect(self.token_requested)
        self.details.assistant_download_requested.connect(self._download_assistant)
        self.details.assistant_panel.token_requested.connect(self.token_requested)

        top = QHBoxLayout()
        top.setSpacing(10)
        top.addWidget(self.search, 1)
        top.addWidget(self.fitting_only)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.setSpacing(8)
        left_layout.addLayout(top)
        left_layout.addWidget(self.table, 1)
        left_layout.addWidget(self.machine_line)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.setObjectName("discoverSplitter")
        self.splitter.setChildrenCollapsible(False)
        self.splitter.setHandleWidth(12)
        self.splitter.addWidget(left)
        self.splitter.addWidget(self.details)
        self.splitter.setStretchFactor(0, 1)
        self.splitter.setStretchFactor(1, 0)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 12, 16, 14)
        layout.addWidget(self.splitter)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        details = max(280, min(400, int(event.size().width() * 0.34)))
        self.splitter.setSizes([max(event.size().width() - details, 1), details])

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        # The viewport, not the table: its size is final when its own resize event comes.
        if watched is self.table.viewport() and event.type() == QEvent.Type.Resize:
            self._fit_columns()
        return False

    def _fit_columns(self) -> None:
        """Hide the least needed columns when the table is too narrow to show them all."""
        width = self.table.viewport().width()
        for column, needs in OPTIONAL_COLUMNS:
            self.table.setColumnHidden(column, width < needs)

    # --- selection ------------------------------------------------------------------------------

    def current_entry(self) -> CatalogEntry | None:
        index = self.table.currentIndex()
        return index.data(CatalogRole.ENTRY) if index.isValid() else None

    def select_entry(self, entry_id: str) -> bool:
        row = self.model.row_of(entry_id)
        if row < 0:
            return False
        index = self.proxy.mapFromSource(self.model.index(row, 0))
        if not index.isValid():
            self.search.clear()
            self.fitting_only.setChecked(False)
            index = self.proxy.mapFromSource(self.model.index(row, 0))
        flags = QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows
        self.table.selectionModel().setCurrentIndex(index, flags)
        self.table.scrollTo(index)
        return True

    def _on_current(self, current: QModelIndex, _previous: QModelIndex) -> None:
        self._show_current()

    def _on_data_changed(self, top_left: QModelIndex, bottom_right: QModelIndex) -> None:
        entry = self.details.entry
        if entry is None:
            return
        row = self.model.row_of(entry.id)
        if top_left.row() <= row <= bottom_right.row() and self.details.job_panel.job is None:
            self._show_current()  # fit or installed state changed; job progress updates itself

    def _show_current(self) -> None:
        entry = self.current_entry()
        fits = self.model.fits
        self.details.show_entry(
            entry,
            self.model.fit_of(entry.id) if entry else None,
            entry is not None and entry.id == self.model.recommended_id,
            self.model.installed_path(entry.id) if entry else None,
            fits.free_disk if fits else 0,
            self.model.assistant_path(entry.id) if entry else None,
        )

    def _download(self) -> None:
        entry = self.details.entry
        if entry is not None:
            self.download_requested.emit(entry)

    def _download_assistant(self) -> None:
        entry = self.details.entry
        if entry is not None:
            self.assistant_requested.emit(entry)

    def installed_path_of_current(self) -> Path | None:
        entry = self.current_entry()
        return self.model.installed_path(entry.id) if entry else None
