"""One message on screen: a user bubble, or an assistant answer rendered as Markdown with
code blocks, an optional "thinking" section, a status note and actions."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFontDatabase, QGuiApplication
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.ui.chat.markdown_blocks import Block, split_blocks

STATUS_NOTES = {
    "stopped": "Stopped",
    "interrupted": "Interrupted — the engine stopped unexpectedly. The answer above is incomplete.",
}
USER_BUBBLE_TEXT_WIDTH = 460
_SELECTABLE = (
    Qt.TextInteractionFlag.TextSelectableByMouse
    | Qt.TextInteractionFlag.TextSelectableByKeyboard
    | Qt.TextInteractionFlag.LinksAccessibleByMouse
)


def _prose_label(text: str, markdown: bool) -> QLabel:
    label = QLabel()
    label.setObjectName("prose")
    label.setWordWrap(True)
    label.setTextFormat(Qt.TextFormat.MarkdownText if markdown else Qt.TextFormat.PlainText)
    label.setTextInteractionFlags(_SELECTABLE)
    label.setOpenExternalLinks(True)
    label.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Minimum)
    label.setText(text)
    return label


class CodeBlock(QFrame):
    """A fenced code block: monospace, scrolls sideways, with its language and a Copy button."""

    def __init__(self, block: Block, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("codeBlock")
        self.language = QLabel(block.language or "code")
        self.language.setObjectName("codeLanguage")
        self.copy_button = QPushButton("Copy")
        self.copy_button.setObjectName("codeCopy")
        self.copy_button.setAccessibleName("Copy code")
        self.copy_button.setCursor(Qt.CursorShape.PointingHandCursor)
        self.copy_button.clicked.connect(self.copy)
        self.editor = QPlainTextEdit()
        self.editor.setObjectName("codeText")
        self.editor.setReadOnly(True)
        self.editor.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.editor.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.editor.setFrameShape(QFrame.Shape.NoFrame)
        self.editor.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.editor.setAccessibleName(f"{block.language or 'Code'} block")
        self.editor.horizontalScrollBar().rangeChanged.connect(lambda *_: self._fit_height())
        header = QHBoxLayout()
        header.setContentsMargins(12, 4, 6, 0)
        header.addWidget(self.language)
        header.addStretch(1)
        header.addWidget(self.copy_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 4)
        layout.setSpacing(0)
        layout.addLayout(header)
        layout.addWidget(self.editor)
        self.set_block(block)

    def set_block(self, block: Block) -> None:
        self.language.setText(block.language or "code")
        if self.editor.toPlainText() != block.text:
            self.editor.setPlainText(block.text)
            self._fit_height()

    def text(self) -> str:
        return self.editor.toPlainText()

    def copy(self) -> None:
        QGuiApplication.clipboard().setText(self.text())
        self.copy_button.setText("Copied")

    def _fit_height(self) -> None:
        lines = max(1, self.editor.blockCount())
        metrics = self.editor.fontMetrics()
        bar = self.editor.horizontalScrollBar()
        extra = bar.sizeHint().height() if bar.maximum() > 0 else 0
        margins = self.editor.contentsMargins()
        height = lines * metrics.lineSpacing() + 2 * int(self.editor.document().documentMargin())
        self.editor.setFixedHeight(height + margins.top() + margins.bottom() + extra + 2)


class MessageWidget(QFrame):
    copy_requested = Signal()
    """The user asked to copy this message's text (already on the clipboard)."""
    regenerate_requested = Signal()
    """The user asked for a new answer in place of this one."""

    def __init__(self, role: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._role = role
        self._content = ""
        self._reasoning = ""
        self._status = "complete"
        self._blocks: list[tuple[Block, QWidget]] = []
        self.setObjectName("message")
        self.setProperty("role", role)
        self.setAccessibleName("Your message" if role == "user" else "Answer")

        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 6, 0, 6)
        outer.setSpacing(6)
        self.body = QFrame()
        self.body.setObjectName("userBubble" if role == "user" else "answerBody")
        self.body_layout = QVBoxLayout(self.body)
        self.body_layout.setContentsMargins(
            14, 10, 14, 10
        ) if role == "user" else self.body_layout.setContentsMargins(0, 0, 0, 0)
        self.body_layout.setSpacing(8)

        if role == "user":
            row = QHBoxLayout()
            row.addStretch(1)
            row.addWidget(self.body, 0)
            self.body.setMaximumWidth(640)
            outer.addLayout(row)
        else:
            self.thinking_toggle = QToolButton()
            self.thinking_toggle.setObjectName("thinkingToggle")
            self.thinking_toggle.setCheckable(True)
            self.thinking_toggle.setArrowType(Qt.ArrowType.RightArrow)
            self.thinking_toggle.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
            self.thinking_toggle.toggled.connect(self._toggle_thinking)
            self.thinking_toggle.setVisible(False)
            self.thinking_text = _prose_label("", markdown=False)
            self.thinking_text.setObjectName("thinkingText")
            self.thinking_text.setVisible(False)
            outer.addWidget(self.thinking_toggle, 0, Qt.AlignmentFlag.AlignLeft)
            outer.addWidget(self.thinking_text)
            outer.addWidget(self.body)
            self.typing = QLabel("Writing…")
            self.typing.setObjectName("typingIndicator")
            self.typing.setAccessibleName("Writing an answer")
            self.typing.setVisible(False)
            outer.addWidget(self.typing)

        self.status_note = QLabel()
        self.status_note.setObjectName("statusNote")
        self.status_note.setWordWrap(True)
        self.status_note.setVisible(False)
        outer.addWidget(self.status_note)

        self.footer = QWidget()
        footer = QHBoxLayout(self.footer)
        footer.setContentsMargins(0, 0, 0, 0)
        footer.setSpacing(4)
        self.copy_button = self._action("Copy", "Copy this message", self._copy)
        self.regenerate_button = self._action(
            "Regenerate", "Write a new answer", self.regenerate_requested.emit
        )
        self.regenerate_button.setVisible(False)
        self.stats_label = QLabel()
        self.stats_label.setObjectName("messageFooter")
        if role == "user":
            footer.addStretch(1)
            footer.addWidget(self.copy_button)
        else:
            footer.addWidget(self.copy_button)
            footer.addWidget(self.regenerate_button)
            footer.addSpacing(8)
            footer.addWidget(self.stats_label)
            footer.addStretch(1)
        outer.addWidget(self.footer)

    def _action(self, text: str, accessible: str, slot) -> QPushButton:
        button = QPushButton(text)
        button.setObjectName("messageAction")
        button.setAccessibleName(accessible)
        button.setCursor(Qt.CursorShape.PointingHandCursor)
        button.setFlat(True)
        button.clicked.connect(slot)
        return button

    @property
    def role(self) -> str:
        return self._role

    def content(self) -> str:
        return self._content

    def set_content(self, text: str) -> None:
        if text == self._content and self._blocks:
            return
        self._content = text
        blocks = [Block("prose", text)] if self._role == "user" else split_blocks(text)
        for index, block in enumerate(blocks):
            if index < len(self._blocks):
                old, widget = self._blocks[index]
                if old == block:
                    continue
                if old.kind == block.kind:
                    self._update_widget(widget, block)
                    self._blocks[index] = (block, widget)
                    continue
                self._drop_blocks_from(index)
            widget = self._make_widget(block)
            self.body_layout.addWidget(widget)
            self._blocks.append((block, widget))
        self._drop_blocks_from(len(blocks))
        if self._role == "user" and self._blocks:
            self._fit_bubble(self._blocks[0][1])
        self._update_typing_indicator()

    def _fit_bubble(self, label: QWidget) -> None:
        """A word-wrapped label asks for little width; give short messages their natural width."""
        label.ensurePolished()  # the stylesheet's font decides the width
        metrics = label.fontMetrics()
        widest = max((metrics.horizontalAdvance(line) for line in self._content.splitlines()), default=0)
        label.setMinimumWidth(min(widest + 4, USER_BUBBLE_TEXT_WIDTH))

    def _make_widget(self, block: Block) -> QWidget:
        if block.kind == "code":
            return CodeBlock(block)
        return _prose_label(block.text, markdown=self._role != "user")

    def _update_widget(self, widget: QWidget, block: Block) -> None:
        if isinstance(widget, CodeBlock):
            widget.set_block(block)
        elif isinstance(widget, QLabel):
            widget.setText(block.text)

    def _drop_blocks_from(self, index: int) -> None:
        for _block, widget in self._blocks[index:]:
            widget.setParent(None)
            widget.deleteLater()
        del self._blocks[index:]

    def set_reasoning(self, text: str) -> None:
        if self._role == "user" or text == self._reasoning:
            return
        self._reasoning = text
        self.thinking_toggle.setVisible(bool(text.strip()))
        self.thinking_text.setText(text.strip())
        self._update_thinking_title()

    def _update_thinking_title(self) -> None:
        if self._role == "user":
            return
        if self._status == "streaming" and not self._content:
            title = "Thinking…"
        else:
            title = f"Thought ({len(self._reasoning.split())} words)"
        self.thinking_toggle.setText(title)

    def _toggle_thinking(self, shown: bool) -> None:
        self.thinking_toggle.setArrowType(Qt.ArrowType.DownArrow if shown else Qt.ArrowType.RightArrow)
        self.thinking_text.setVisible(shown)

    def set_status(self, status: str, detail: str = "") -> None:
        self._status = status
        note = detail if status == "error" else STATUS_NOTES.get(status, "")
        self.status_note.setText(note)
        self.status_note.setProperty("kind", status)
        self.status_note.setVisible(bool(note))
        self.status_note.style().unpolish(self.status_note)
        self.status_note.style().polish(self.status_note)
        self.footer.setVisible(status != "streaming")
        self._update_typing_indicator()
        self._update_thinking_title()

    def status(self) -> str:
        return self._status

    def _update_typing_indicator(self) -> None:
        if self._role != "user":
            self.typing.setVisible(self._status == "streaming" and not self._content)

    def set_footer(self, text: str) -> None:
        self.stats_label.setText(text)

    def set_can_regenerate(self, enabled: bool) -> None:
        self.regenerate_button.setVisible(enabled and self._role == "assistant")

    def code_blocks(self) -> list[CodeBlock]:
        return [w for _b, w in self._blocks if isinstance(w, CodeBlock)]

    def _copy(self) -> None:
        QGuiApplication.clipboard().setText(self._content)
        self.copy_requested.emit()
