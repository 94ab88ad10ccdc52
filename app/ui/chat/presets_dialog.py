"""The presets editor: named system prompts with their sampling settings, the one new chats start
with, and new, duplicated or deleted presets. Changes are kept only when the user saves."""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.core.presets import Preset

DEFAULT_MARK = " (new chats)"


class PresetsDialog(QDialog):
    saved = Signal(tuple, str)
    """The user saved: (the presets, the name of the one new chats start with, or "")."""

    def __init__(self, presets: tuple[Preset, ...], default: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("presetsDialog")
        self.setWindowTitle("Presets")
        self.setMinimumSize(640, 440)
        self._presets = list(presets)
        self._default = default
        self._loading = False

        self.list = QListWidget()
        self.list.setAccessibleName("Presets")
        self.list.currentRowChanged.connect(self._show)
        add = QPushButton("New")
        add.setAccessibleName("New preset")
        add.clicked.connect(self.add_preset)
        duplicate = QPushButton("Duplicate")
        duplicate.setAccessibleName("Duplicate preset")
        duplicate.clicked.connect(self.duplicate_preset)
        self.delete_button = QPushButton("Delete")
        self.delete_button.setAccessibleName("Delete preset")
        self.delete_button.clicked.connect(self.delete_preset)
        buttons = QHBoxLayout()
        for button in (add, duplicate, self.delete_button):
            buttons.addWidget(button)
        left = QVBoxLayout()
        left.addWidget(self.list, 1)
        left.addLayout(buttons)

        self.name = QLineEdit()
        self.name.setAccessibleName("Preset name")
        self.prompt = QPlainTextEdit()
        self.prompt.setAccessibleName("System prompt")
        self.prompt.setPlaceholderText(
            "What the model should know or how it should answer, for every message."
        )
        self.temperature = _double(0.0, 2.0, 0.05, "Temperature")
        self.top_p = _double(0.0, 1.0, 0.01, "Top-p")
        self.top_k = _int(0, 1000, 1, "Top-k")
        self.max_tokens = _int(1, 131072, 64, "Maximum answer length")
        self.think = QCheckBox("Think first")
        self.think.setAccessibleName("Think first")
        self.is_default = QCheckBox("New chats start with this preset")
        self.is_default.setAccessibleName("Use for new chats")
        form = QFormLayout()
        form.addRow("Name", self.name)
        form.addRow("System prompt", self.prompt)
        form.addRow("Temperature", self.temperature)
        form.addRow("Top-p", self.top_p)
        form.addRow("Top-k", self.top_k)
        form.addRow("Max tokens", self.max_tokens)
        form.addRow("", self.think)
        form.addRow("", self.is_default)
        note = QLabel(
            "A preset sets a chat's system prompt and sampling; the context length and picture "
            "detail stay as the chat has them."
        )
        note.setWordWrap(True)
        note.setObjectName("composerHint")
        right = QVBoxLayout()
        right.addLayout(form, 1)
        right.addWidget(note)

        row = QHBoxLayout()
        row.setSpacing(16)
        row.addLayout(left, 2)
        row.addLayout(right, 3)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.accepted.connect(self.save)
        self.buttons.rejected.connect(self.reject)
        title = QLabel("Presets")
        title.setObjectName("panelTitle")
        explain = QLabel("A system prompt with the settings that suit it, applied to a chat in one step.")
        explain.setObjectName("composerHint")
        explain.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(18, 16, 18, 14)
        layout.setSpacing(10)
        layout.addWidget(title)
        layout.addWidget(explain)
        layout.addLayout(row, 1)
        layout.addWidget(self.buttons)

        self.name.textEdited.connect(self._edited)
        self.prompt.textChanged.connect(self._edited)
        for box in (self.temperature, self.top_p, self.top_k, self.max_tokens):
            box.valueChanged.connect(self._edited)
        self.think.toggled.connect(self._edited)
        self.is_default.toggled.connect(self._default_toggled)
        self._fill_list()
        if self._presets:
            self.list.setCurrentRow(0)

    # --- the list --------------------------------------------------------------------------

    def _fill_list(self, select: int | None = None) -> None:
        row = self.list.currentRow() if select is None else select
        self.list.blockSignals(True)
        self.list.clear()
        for preset in self._presets:
            item = QListWidgetItem(preset.name + (DEFAULT_MARK if preset.name == self._default else ""))
            self.list.addItem(item)
        self.list.blockSignals(False)
        self.delete_button.setEnabled(bool(self._presets))
        if self._presets:
            self.list.setCurrentRow(max(0, min(row, len(self._presets) - 1)))
            self._show(self.list.currentRow())

    def _unique(self, name: str) -> str:
        names = {preset.name for preset in self._presets}
        if name not in names:
            return name
        number = 2
        while f"{name} {number}" in names:
            number += 1
        return f"{name} {number}"

    def add_preset(self) -> None:
        self._presets.append(Preset(self._unique("New preset")))
        self._fill_list(len(self._presets) - 1)
        self.name.setFocus()
        self.name.selectAll()

    def duplicate_preset(self) -> None:
        row = self.list.currentRow()
        if 0 <= row < len(self._presets):
            copy = replace(self._presets[row], name=self._unique(self._presets[row].name))
            self._presets.insert(row + 1, copy)
            self._fill_list(row + 1)

    def delete_preset(self) -> None:
        row = self.list.currentRow()
        if 0 <= row < len(self._presets):
            gone = self._presets.pop(row)
            if gone.name == self._default:
                self._default = ""
            self._fill_list(row)

    # --- one preset ------------------------------------------------------------------------

    def _show(self, row: int) -> None:
        if not 0 <= row < len(self._presets):
            return
        preset = self._presets[row]
        self._loading = True
        try:
            self.name.setText(preset.name)
            self.prompt.setPlainText(preset.system_prompt)
            settings = preset.settings
            self.temperature.setValue(settings.temperature)
            self.top_p.setValue(settings.top_p)
            self.top_k.setValue(settings.top_k)
            self.max_tokens.setValue(settings.max_tokens)
            self.think.setChecked(settings.think)
            self.is_default.setChecked(preset.name == self._default)
        finally:
            self._loading = False

    def _edited(self) -> None:
        row = self.list.currentRow()
        if self._loading or not 0 <= row < len(self._presets):
            return
        old = self._presets[row]
        name = " ".join(self.name.text().split()) or old.name
        if name != old.name and any(p.name == name for p in self._presets):
            name = old.name  # two presets cannot share a name
        settings = replace(
            old.settings,
            temperature=self.temperature.value(),
            top_p=self.top_p.value(),
            top_k=self.top_k.value(),
            max_tokens=self.max_tokens.value(),
            think=self.think.isChecked(),
        )
        self._presets[row] = Preset(name, self.prompt.toPlainText(), settings)
        if old.name == self._default:
            self._default = name
        item = self.list.item(row)
        if item is not None:
            item.setText(name + (DEFAULT_MARK if name == self._default else ""))

    def _default_toggled(self, checked: bool) -> None:
        row = self.list.currentRow()
        if self._loading or not 0 <= row < len(self._presets):
            return
        name = self._presets[row].name
        self._default = name if checked else ("" if self._default == name else self._default)
        self._fill_list(row)

    def save(self) -> None:
        self.saved.emit(tuple(self._presets), self._default)
        self.accept()

    def presets(self) -> tuple[Preset, ...]:
        return tuple(self._presets)


def _double(low: float, high: float, step: float, name: str) -> QDoubleSpinBox:
    box = QDoubleSpinBox()
    box.setRange(low, high)
    box.setSingleStep(step)
    box.setDecimals(2)
    box.setAccessibleName(name)
    return box


def _int(low: int, high: int, step: int, name: str) -> QSpinBox:
    box = QSpinBox()
    box.setRange(low, high)
    box.setSingleStep(step)
    box.setAccessibleName(name)
    return box
