"""The per-chat settings panel: system prompt, "think first", sampling settings and how much detail
the model takes from each picture."""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.core.gemma4 import AUTO_IMAGE_BUDGET, IMAGE_BUDGETS
from app.core.generation import GenerationSettings
from app.core.presets import Preset, find_preset
from app.ui.chat.shared_folders import SharedFolders

EDIT_SETTLE_MS = 400
# Gemma 4's visual token budgets, and the choice by each picture's look (app.media.picture_detail).
PICTURE_DETAIL = (
    (AUTO_IMAGE_BUDGET, "Automatic"),
    *((budget, f"{budget:,} tokens") for budget in IMAGE_BUDGETS),
)


CUSTOM = "Custom"


class ChatSettingsPanel(QFrame):
    settings_edited = Signal(object, str)
    """The user changed this chat's settings: (``GenerationSettings``, system prompt)."""
    save_preset_requested = Signal()
    """The user wants this chat's settings kept as a new preset."""
    manage_presets_requested = Signal()
    """The user wants to edit the presets."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("settingsPanel")
        self._loading = False
        self._settle = QTimer(self, singleShot=True, interval=EDIT_SETTLE_MS)
        self._settle.timeout.connect(self._emit)

        title = QLabel("Chat settings")
        title.setObjectName("panelTitle")
        self._presets: tuple[Preset, ...] = ()
        self.preset = QComboBox()
        self.preset.setAccessibleName("Preset")
        self.preset.setToolTip("Apply a preset's system prompt and sampling settings to this chat")
        self.preset.activated.connect(self._preset_chosen)
        save_preset = QPushButton("Save as preset…")
        save_preset.setAccessibleName("Save these settings as a preset")
        save_preset.clicked.connect(self.save_preset_requested.emit)
        manage = QPushButton("Presets…")
        manage.setAccessibleName("Edit presets")
        manage.clicked.connect(self.manage_presets_requested.emit)
        preset_buttons = QHBoxLayout()
        preset_buttons.setContentsMargins(0, 0, 0, 0)
        preset_buttons.addWidget(save_preset)
        preset_buttons.addWidget(manage)
        self.system_prompt = QPlainTextEdit()
        self.system_prompt.setPlaceholderText("e.g. You are a concise assistant. Answer in English.")
        self.system_prompt.setAccessibleName("System prompt")
        self.system_prompt.setFixedHeight(110)
        self.think = QCheckBox("Think first")
        self.think.setToolTip("Let models that can reason (Gemma 4) think before answering.")
        self.think.setAccessibleName("Think first")
        self.tools = QCheckBox("Use tools")
        self.tools.setToolTip(
            "Let Gemma 4 use the calculator, the clock and unit conversion while it answers.\n"
            "Each call shows as a card above the answer."
        )
        self.tools.setAccessibleName("Use tools")
        self.speculative = QCheckBox("Draft ahead")
        self.speculative.setToolTip(
            "When the model was loaded with a drafter (its MTP assistant, or a smaller model of\n"
            "the same family), let the drafter guess the next tokens for the model to check.\n"
            "The answer is the one the model gives alone; only the speed changes."
        )
        self.speculative.setAccessibleName("Draft ahead")
        self.shared_folders = SharedFolders()
        self.scanned_pages = self._int(
            0, 100, 1, "Scanned pages read", "Pages of a PDF with no text that the model reads as pictures"
        )
        self.tool_rounds = self._int(
            1, 32, 1, "Tool rounds per answer", "How many rounds of tool calls one answer may make"
        )
        self.temperature = self._double(
            0.0, 2.0, 0.05, "Temperature", "Higher is more varied, 0 is deterministic"
        )
        self.top_p = self._double(
            0.0, 1.0, 0.01, "Top-p", "Sample only from the most likely tokens summing to p"
        )
        self.top_k = self._int(0, 1000, 1, "Top-k", "Sample only from the k most likely tokens (0: all)")
        self.max_tokens = self._int(1, 131072, 64, "Maximum answer length", "In tokens")
        self.context_length = self._int(
            256, 262144, 1024, "Context length", "Tokens the model can see; changing it reloads the model"
        )
        self.image_budget = QComboBox()
        self.image_budget.setAccessibleName("Picture detail")
        self.image_budget.setToolTip(
            "How many tokens Gemma 4 spends on each new picture: more reads small text better,\n"
            "fewer answers sooner and leaves more of the context for the conversation.\n"
            "Automatic gives screenshots and pages of text more, and photos less. A picture's\n"
            "own detail can be chosen from its tile before it is sent."
        )
        for budget, label in PICTURE_DETAIL:
            self.image_budget.addItem(label, budget)
        reset = QPushButton("Reset to defaults")
        reset.clicked.connect(lambda: self.set_values(GenerationSettings(), self.system_prompt.toPlainText()))
        reset.clicked.connect(self._emit)

        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignLeft)
        form.addRow("Temperature", self.temperature)
        form.addRow("Top-p", self.top_p)
        form.addRow("Top-k", self.top_k)
        form.addRow("Max tokens", self.max_tokens)
        form.addRow("Context", self.context_length)
        form.addRow("Pictures", self.image_budget)
        form.addRow("Tool rounds", self.tool_rounds)
        form.addRow("Scanned pages", self.scanned_pages)

        # The settings scroll when the window is shorter than they are, rather than squeeze.
        content = QWidget()
        content.setObjectName("settingsContent")
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(content)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(scroll)
        layout = QVBoxLayout(content)
        layout.setContentsMargins(16, 16, 16, 16)
        layout.setSpacing(10)
        layout.addWidget(title)
        layout.addWidget(QLabel("Preset"))
        layout.addWidget(self.preset)
        layout.addLayout(preset_buttons)
        layout.addWidget(QLabel("System prompt"))
        layout.addWidget(self.system_prompt)
        layout.addWidget(self.think)
        layout.addWidget(self.tools)
        layout.addWidget(self.speculative)
        layout.addWidget(self.shared_folders)
        layout.addLayout(form)
        layout.addWidget(reset, 0, Qt.AlignmentFlag.AlignLeft)
        layout.addStretch(1)
        # As wide as the settings need: the scroll area only scrolls them up and down.
        scrollbar = scroll.verticalScrollBar().sizeHint().width()
        self.setMinimumWidth(max(240, content.minimumSizeHint().width() + scrollbar))

        self.system_prompt.textChanged.connect(self._edited)
        self.think.toggled.connect(self._edited)
        self.tools.toggled.connect(self._edited)
        self.speculative.toggled.connect(self._edited)
        self.tool_rounds.valueChanged.connect(self._edited)
        self.scanned_pages.valueChanged.connect(self._edited)
        for box in (self.temperature, self.top_p, self.top_k, self.max_tokens, self.context_length):
            box.valueChanged.connect(self._edited)
        self.image_budget.currentIndexChanged.connect(self._edited)

    def _double(self, low: float, high: float, step: float, name: str, tip: str) -> QDoubleSpinBox:
        box = QDoubleSpinBox()
        box.setRange(low, high)
        box.setSingleStep(step)
        box.setDecimals(2)
        box.setAccessibleName(name)
        box.setToolTip(tip)
        return box

    def _int(self, low: int, high: int, step: int, name: str, tip: str) -> QSpinBox:
        box = QSpinBox()
        box.setRange(low, high)
        box.setSingleStep(step)
        box.setAccessibleName(name)
        box.setToolTip(tip)
        return box

    def set_presets(self, presets: tuple[Preset, ...]) -> None:
        self._presets = presets
        self._show_matching_preset()

    def _preset_chosen(self, index: int) -> None:
        preset = find_preset(self._presets, self.preset.itemText(index))
        if preset is None:
            return
        settings = preset.applied_to(self.values())
        self.set_values(settings, preset.system_prompt)
        self._emit()

    def _show_matching_preset(self) -> None:
        """Name the preset whose settings the chat has, or "Custom" once they differ."""
        values, prompt = self.values(), self.system_prompt.toPlainText()
        match = next(
            (p.name for p in self._presets if p.system_prompt == prompt and p.applied_to(values) == values),
            CUSTOM,
        )
        self.preset.blockSignals(True)
        self.preset.clear()
        self.preset.addItems([p.name for p in self._presets])
        if match == CUSTOM:
            self.preset.addItem(CUSTOM)
        self.preset.setCurrentText(match)
        self.preset.blockSignals(False)

    def set_values(self, settings: GenerationSettings, system_prompt: str) -> None:
        """Show a chat's settings without reporting them as edits."""
        self._loading = True
        try:
            if self.system_prompt.toPlainText() != system_prompt:
                self.system_prompt.setPlainText(system_prompt)
            self.think.setChecked(settings.think)
            self.tools.setChecked(settings.tools)
            self.speculative.setChecked(settings.speculative)
            self.tool_rounds.setValue(settings.max_tool_rounds)
            self.scanned_pages.setValue(settings.scanned_pages)
            self.temperature.setValue(settings.temperature)
            self.top_p.setValue(settings.top_p)
            self.top_k.setValue(settings.top_k)
            self.max_tokens.setValue(settings.max_tokens)
            self.context_length.setValue(settings.context_length)
            index = self.image_budget.findData(settings.image_budget)
            self.image_budget.setCurrentIndex(max(0, index))
            self._seed = settings.seed
        finally:
            self._loading = False
        self._settle.stop()
        self._show_matching_preset()

    def values(self) -> GenerationSettings:
        return replace(
            GenerationSettings(),
            temperature=self.temperature.value(),
            top_p=self.top_p.value(),
            top_k=self.top_k.value(),
            max_tokens=self.max_tokens.value(),
            context_length=self.context_length.value(),
            think=self.think.isChecked(),
            tools=self.tools.isChecked(),
            speculative=self.speculative.isChecked(),
            max_tool_rounds=self.tool_rounds.value(),
            scanned_pages=self.scanned_pages.value(),
            image_budget=int(self.image_budget.currentData()),
            seed=getattr(self, "_seed", -1),
        )

    def _edited(self) -> None:
        if not self._loading:
            self._settle.start()

    def flush(self) -> None:
        """Report a pending edit now (before switching chats or quitting)."""
        if self._settle.isActive():
            self._settle.stop()
            self._emit()

    def _emit(self) -> None:
        self._show_matching_preset()
        self.settings_edited.emit(self.values(), self.system_prompt.toPlainText())
