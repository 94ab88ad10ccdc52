"""The Discover tab's right-hand pane: one catalog entry, how well it fits, and its download."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, SignalInstance
from PySide6.QtWidgets import (
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from app.library.catalog import CatalogEntry
from app.library.catalog_fits import gigabytes
from app.library.errors import format_size
from app.library.fit import Fit
from app.library.jobs import assistant_job_id, catalog_job_id
from app.ui.library.catalog_table import describe_capabilities, describe_download_size
from app.ui.library.download_queue import DownloadQueue
from app.ui.library.job_panel import JobPanel

FIT_HEADLINES = {
    "green": "Fits this computer",
    "amber": "Fits, but tightly",
    "red": "Too big for this computer",
}


def _label(text: str = "", name: str = "", wrap: bool = False) -> QLabel:
    label = QLabel(text)
    if name:
        label.setObjectName(name)
    label.setWordWrap(wrap)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label


class EntryDetails(QFrame):
    def __init__(self, queue: DownloadQueue, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("detailsPane")
        self.setMinimumWidth(280)
        self.setMaximumWidth(440)
        self.entry: CatalogEntry | None = None

        self.title = _label(name="detailsTitle", wrap=True)
        self.subtitle = _label(name="detailsSubtitle", wrap=True)
        self.recommended = QLabel("Recommended for this computer")
        self.recommended.setObjectName("recommendedBadge")
        self.recommended.setSizePolicy(QSizePolicy.Policy.Maximum, QSizePolicy.Policy.Fixed)
        badge_row = QHBoxLayout()
        badge_row.setContentsMargins(0, 0, 0, 0)
        badge_row.addWidget(self.recommended)
        badge_row.addStretch(1)

        self.download_size = _label(name="factValue")
        self.capabilities = _label(name="factValue")
        self.context = _label(name="factValue")
        self.disk = _label(name="factValue", wrap=True)
        facts = QFormLayout()
        facts.setContentsMargins(0, 4, 0, 4)
        facts.setHorizontalSpacing(14)
        facts.setVerticalSpacing(6)
        facts.setLabelAlignment(Qt.AlignmentFlag.AlignLeft)
        for text, value in (
            ("Download", self.download_size),
            ("Understands", self.capabilities),
            ("Context", self.context),
            ("Disk", self.disk),
        ):
            label = _label(text, "factLabel")
            facts.addRow(label, value)

        self.fit_box = QFrame()
        self.fit_box.setObjectName("fitBox")
        self.fit_headline = _label(name="fitHeadline", wrap=True)
        self.fit_text = _label(name="fitText", wrap=True)
        fit_layout = QVBoxLayout(self.fit_box)
        fit_layout.setContentsMargins(12, 10, 12, 10)
        fit_layout.setSpacing(4)
        fit_layout.addWidget(self.fit_headline)
        fit_layout.addWidget(self.fit_text)

        self.job_panel = JobPanel(queue)

        # The MTP assistant the catalog pairs with the model, downloaded on request.
        self.assistant_box = QFrame()
        self.assistant_box.setObjectName("assistantBox")
        self.assistant_headline = _label("Faster answers", "assistantHeadline")
        self.assistant_text = _label(name="assistantText", wrap=True)
        self.assistant_panel = JobPanel(
            queue,
            usable=False,
            installed_text="Installed beside the model: it drafts whenever the model is loaded.",
            download_text="Download assistant",
        )
        assistant_layout = QVBoxLayout(self.assistant_box)
        assistant_layout.setContentsMargins(0, 6, 0, 0)
        assistant_layout.setSpacing(6)
        assistant_layout.addWidget(self.assistant_headline)
        assistant_layout.addWidget(self.assistant_text)
        assistant_layout.addWidget(self.assistant_panel)

        self.source = _label(name="sourceNote", wrap=True)
        self.placeholder = _label("Select a model to see whether it fits this computer.", "mutedNote", True)

        body = QWidget()
        layout = QVBoxLayout(body)
        layout.setContentsMargins(18, 16, 18, 16)
        layout.setSpacing(10)
        layout.addWidget(self.placeholder)
        layout.addWidget(self.title)
        layout.addWidget(self.subtitle)
        layout.addLayout(badge_row)
        layout.addLayout(facts)
        layout.addWidget(self.fit_box)
        layout.addWidget(self.job_panel)
        layout.addWidget(self.assistant_box)
        layout.addSpacing(6)
        layout.addWidget(self.source)
        layout.addStretch(1)
        self._content = [self.title, self.subtitle, self.fit_box, self.job_panel, self.source]
        self._facts = facts

        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(body)
        scroll.viewport().setAutoFillBackground(False)
        body.setAutoFillBackground(False)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(scroll)
        self.show_entry(None, None, False, None, 0)

    @property
    def assistant_download_requested(self) -> SignalInstance:
        return self.assistant_panel.download_requested

    def show_entry(
        self,
        entry: CatalogEntry | None,
        fit: Fit | None,
        recommended: bool,
        installed: Path | None,
        free_disk: int,
        assistant: Path | None = None,
    ) -> None:
        """``installed``: the entry's model file, if downloaded; ``assistant``: its MTP assistant's."""
        self.entry = entry
        self.placeholder.setVisible(entry is None)
        for widget in self._content:
            widget.setVisible(entry is not None)
        self.recommended.setVisible(entry is not None and recommended)
        for row in range(self._facts.rowCount()):
            self._facts.setRowVisible(row, entry is not None)
        self._show_assistant(entry, assistant)
        if entry is None:
            self.job_panel.show_job(None, None)
            return
        self.title.setText(entry.display_name)
        self.subtitle.setText(" · ".join(p for p in (entry.publisher, entry.parameters) if p))
        self.download_size.setText(describe_download_size(entry))
        self.capabilities.setText(describe_capabilities(entry.capabilities))
        self.context.setText(f"up to {entry.context_length:,} tokens" if entry.context_length else "unknown")
        needed = entry.download_size or entry.model.size or 0
        if installed is not None:
            self.disk.setText("Installed")
        elif free_disk and needed and needed > free_disk:
            self.disk.setText(f"Not enough room: needs {format_size(needed)}, {format_size(free_disk)} free")
        elif free_disk:
            self.disk.setText(f"{format_size(free_disk)} free")
        else:
            self.disk.setText("—")
        self._show_fit(fit)
        revision = f" @ {entry.revision[:10]}" if entry.revision else ""
        self.source.setText(f"{entry.repo_id}{revision}\n{entry.model.name}")
        note = self._download_note(entry, fit)
        self.job_panel.show_job(catalog_job_id(entry.id), installed, note)

    def _show_assistant(self, entry: CatalogEntry | None, installed: Path | None) -> None:
        paired = entry.assistant if entry is not None else None
        self.assistant_box.setVisible(paired is not None)
        if entry is None or paired is None:
            self.assistant_panel.show_job(None, None)
            return
        size = format_size(paired.file.size) if paired.file.size else "size learnt at download"
        self.assistant_text.setText(
            "Its MTP assistant guesses a few tokens ahead and the model checks them: the same answer, "
            f"sooner.\n{paired.display_name} ({size}), saved beside the model and checked with sha256."
        )
        self.assistant_panel.show_job(
            assistant_job_id(entry.repo_id, entry.model.name, paired.file.name), installed
        )

    def _show_fit(self, fit: Fit | None) -> None:
        level = str(fit.level) if fit else "unknown"
        self.fit_box.setProperty("level", level)
        for widget in (self.fit_box, self.fit_headline, self.fit_text):
            widget.style().unpolish(widget)
            widget.style().polish(widget)
        if fit is None:
            self.fit_headline.setText("Memory need not estimated")
            self.fit_text.setText(
                "Hearth can only tell how much memory this model needs once it is on this computer."
            )
            return
        numbers = f"needs {gigabytes(fit.needed)}"
        if fit.available:
            numbers += f" of {gigabytes(fit.available)} free"
        self.fit_headline.setText(f"{FIT_HEADLINES[level]} · {numbers}")
        self.fit_text.setText(fit.explanation)

    @staticmethod
    def _download_note(entry: CatalogEntry, fit: Fit | None) -> str:
        size = describe_download_size(entry)
        with_projector = " with its projector" if entry.projector else ""
        if fit is not None and str(fit.level) == "red":
            return f"{size}{with_projector}. It would not load on this computer as it is now."
        return f"{size}{with_projector}, checked with sha256 before use."
