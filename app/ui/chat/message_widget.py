"""One message on screen: a user bubble, or an assistant answer rendered from Markdown with code
blocks, a collapsible "thinking" section, a status note and actions."""

from __future__ import annotations

import math

from PySide6.QtCore import QEvent, QPointF, QSize, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import (
    QColor,
    QDesktopServices,
    QFont,
    QFontDatabase,
    QGuiApplication,
    QHideEvent,
    QPainter,
    QPaintEvent,
    QPalette,
    QResizeEvent,
    QShowEvent,
    QTextBlockFormat,
    QTextCharFormat,
    QTextCursor,
    QTextDocument,
    QTextFormat,
    QTextOption,
    QWheelEvent,
)
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSizePolicy,
    QTextBrowser,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.ui.chat.attachment_tiles import AttachmentStrip
from app.ui.chat.markdown_blocks import Block, split_blocks, split_sections

STATUS_NOTES = {
    "stopped": "Stopped",
    "interrupted": "Interrupted — the engine stopped unexpectedly. The answer above is incomplete.",
}
ERROR_FALLBACK = "The answer failed."
# Wider user messages wrap: a bubble never spans the whole column.
USER_BUBBLE_TEXT_WIDTH = 520
CODE_FONT_PX = 13
COPIED_FEEDBACK_MS = 1500
TYPING_FRAME_MS = 160
LINE_HEIGHT_PERCENT = 140
# Markdown headings arrive as "font size adjustments" of +3 (h1) to -2; tone them down so a
# heading in an answer reads like a section title, not a poster.
_HEADING_ADJUSTMENT = {1: 2, 2: 1, 3: 1}
_SELECTABLE = Qt.TextInteractionFlag.TextSelectableByMouse | Qt.TextInteractionFlag.TextSelectableByKeyboard
_LINKS = Qt.TextInteractionFlag.LinksAccessibleByMouse | Qt.TextInteractionFlag.LinksAccessibleByKeyboard


def repolish(widget: QWidget) -> None:
    """Re-apply the stylesheet after a dynamic property that it matches on has changed."""
    widget.style().unpolish(widget)
    widget.style().polish(widget)


def _mix(base: QColor, other: QColor, amount: float) -> QColor:
    return QColor.fromRgbF(
        base.redF() + (other.redF() - base.redF()) * amount,
        base.greenF() + (other.greenF() - base.greenF()) * amount,
        base.blueF() + (other.blueF() - base.blueF()) * amount,
    )


def render_markdown(doc: QTextDocument, markdown: str, palette: QPalette) -> None:
    """Fill ``doc`` with Markdown, given comfortable spacing and the theme's colours.

    Qt's own Markdown rendering has no line spacing, gaps or inline-code background to speak
    of: the formats are adjusted after parsing.
    """
    doc.setMarkdown(markdown, QTextDocument.MarkdownFeature.MarkdownDialectGitHub)
    link = palette.color(QPalette.ColorRole.Link)
    muted = palette.color(QPalette.ColorRole.PlaceholderText)
    text = palette.color(QPalette.ColorRole.Text)
    code_background = _mix(palette.color(QPalette.ColorRole.Base), text, 0.08)
    fixed_families = [QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont).family(), "monospace"]

    blocks = []
    block = doc.begin()
    while block.isValid():
        blocks.append(block)
        block = block.next()
    # Collected first and applied after: changing formats while iterating splits fragments.
    block_edits: list[tuple[int, QTextBlockFormat]] = []
    char_edits: list[tuple[int, int, QTextCharFormat]] = []
    for index, block in enumerate(blocks):
        fmt = block.blockFormat()
        fmt.setLineHeight(LINE_HEIGHT_PERCENT, QTextBlockFormat.LineHeightTypes.ProportionalHeight.value)
        level = fmt.headingLevel()
        in_list = block.textList() is not None
        in_table = QTextCursor(block).currentTable() is not None
        quote = bool(fmt.property(QTextFormat.Property.BlockQuoteLevel))
        following = blocks[index + 1] if index + 1 < len(blocks) else None
        list_continues = in_list and following is not None and following.textList() is not None
        if in_table:
            fmt.setTopMargin(0)
            fmt.setBottomMargin(0)
        elif level:
            fmt.setTopMargin(14 if index else 6)
            fmt.setBottomMargin(4)
        else:
            fmt.setTopMargin(0)
            fmt.setBottomMargin(3 if list_continues else 10)
        if following is None:
            fmt.setBottomMargin(0)
        block_edits.append((block.position(), fmt))

        fragments = block.begin()
        while not fragments.atEnd():
            fragment = fragments.fragment()
            fragments += 1
            char = fragment.charFormat()
            if not (level or quote or char.isAnchor() or char.fontFixedPitch()):
                continue
            if level:
                char.setProperty(QTextFormat.Property.FontSizeAdjustment, _HEADING_ADJUSTMENT.get(level, 0))
                char.setFontWeight(QFont.Weight.DemiBold)
            if char.isAnchor():
                char.setForeground(link)
                char.setFontUnderline(True)  # not by colour alone
            if char.fontFixedPitch():
                char.setFontFamilies(fixed_families)
                char.clearProperty(QTextFormat.Property.FontPointSize)  # the text's size, not 9 pt
                char.setBackground(code_background)
            if quote:
                char.setForeground(muted)
            char_edits.append((fragment.position(), fragment.position() + fragment.length(), char))

    cursor = QTextCursor(doc)
    cursor.beginEditBlock()
    for position, fmt in block_edits:
        cursor.setPosition(position)
        cursor.setBlockFormat(fmt)
    for start, end, char in char_edits:
        cursor.setPosition(start)
        cursor.setPosition(end, QTextCursor.MoveMode.KeepAnchor)
        cursor.setCharFormat(char)
    cursor.endEditBlock()


def render_plain(doc: QTextDocument, text: str) -> None:
    """Fill ``doc`` with ``text`` as it is (no Markdown), with the chat's line spacing."""
    doc.setPlainText(text)
    fmt = QTextBlockFormat()
    fmt.setLineHeight(LINE_HEIGHT_PERCENT, QTextBlockFormat.LineHeightTypes.ProportionalHeight.value)
    cursor = QTextCursor(doc)
    cursor.select(QTextCursor.SelectionType.Document)
    cursor.mergeBlockFormat(fmt)


def _open_link(url: QUrl) -> None:
    # Only web and mail links leave the app; anything else (a local file, a script) does not.
    if url.scheme().lower() in ("http", "https", "mailto"):
        QDesktopServices.openUrl(url)


class RichText(QTextBrowser):
    """Read-only, selectable text sized to its content, for prose and user messages.

    Unlike a word-wrapped QLabel, it breaks a long URL or identifier that does not fit on a
    line instead of pushing the chat column wider than the window (which clips the text).
    It never scrolls by itself: the chat around it does.
    """

    def __init__(self, object_name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName(object_name)
        self.setOpenLinks(False)
        self.anchorClicked.connect(_open_link)
        self.setTextInteractionFlags(_SELECTABLE | _LINKS)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setWordWrapMode(QTextOption.WrapMode.WrapAtWordBoundaryOrAnywhere)
        self.setTabChangesFocus(True)
        self.viewport().setAutoFillBackground(False)
        self.viewport().setCursor(Qt.CursorShape.IBeamCursor)
        policy = QSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Minimum)
        policy.setHeightForWidth(True)
        self.setSizePolicy(policy)
        doc = self.document()
        doc.setDocumentMargin(0)
        doc.setUndoRedoEnabled(False)
        doc.documentLayout().documentSizeChanged.connect(self._on_size_changed)
        self._measuring = False
        # The height leaves out the spacing under the last line (see heightForWidth): keep
        # the text from scrolling up by those few pixels while the user selects.
        self.verticalScrollBar().valueChanged.connect(self._stay_at_top)
        self.source_text = ""  # what was rendered: Markdown for prose, plain text otherwise

    def _stay_at_top(self, value: int) -> None:
        if value:
            self.verticalScrollBar().setValue(0)

    def hasHeightForWidth(self) -> bool:
        return True

    def _on_size_changed(self) -> None:
        if not self._measuring:
            self.updateGeometry()  # new text: the layout asks for the height again

    def heightForWidth(self, width: int) -> int:
        doc = self.document()
        margins = self.contentsMargins()
        text_width = max(1, width - margins.left() - margins.right())
        shown_width = doc.textWidth()
        if shown_width == text_width:
            return math.ceil(doc.size().height() - self._trailing_space()) + margins.top() + margins.bottom()
        self._measuring = True
        try:
            doc.setTextWidth(text_width)
            height = doc.size().height() - self._trailing_space()
            if shown_width > 0:
                doc.setTextWidth(shown_width)  # measuring must not change what is on screen
        finally:
            self._measuring = False
        return math.ceil(height) + margins.top() + margins.bottom()

    def _trailing_space(self) -> float:
        """The space a proportional line height adds under the last line, which Qt adds under
        every line: left out, or each paragraph would end with a gap."""
        doc = self.document()
        block = doc.lastBlock()
        layout = block.layout()
        fmt = block.blockFormat()
        proportional = QTextBlockFormat.LineHeightTypes.ProportionalHeight.value
        if layout is None or not layout.lineCount() or fmt.lineHeightType() != proportional:
            return 0.0
        if QTextCursor(block).currentFrame() is not doc.rootFrame():
            return 0.0  # a table's last cell: its border comes after the text
        line = layout.lineAt(layout.lineCount() - 1)
        bottom = layout.position().y() + line.y() + line.height()
        extra = line.height() * (fmt.lineHeight() - 100) / 100
        return max(0.0, min(extra, doc.size().height() - doc.documentMargin() - bottom))

    def sizeHint(self) -> QSize:
        width = max(self.width(), 200)
        return QSize(width, self.heightForWidth(width))

    def minimumSizeHint(self) -> QSize:
        return QSize(10, 0)

    def wheelEvent(self, event: QWheelEvent) -> None:
        event.ignore()  # to the chat's scroll area (and no Ctrl+wheel zoom of one paragraph)


class _BubbleText(RichText):
    """A user message: asks for the width of its longest line (up to a cap), so that a short
    message gets a snug bubble and only long ones wrap."""

    def sizeHint(self) -> QSize:
        metrics = self.fontMetrics()
        widest = max((metrics.horizontalAdvance(line) for line in self.source_text.splitlines()), default=0)
        margins = self.contentsMargins()
        width = min(widest + 4, USER_BUBBLE_TEXT_WIDTH) + margins.left() + margins.right()
        return QSize(width, self.heightForWidth(width))


class CodeBlock(QFrame):
    """A fenced code block: monospace, scrolls sideways, with its language and a Copy button."""

    def __init__(self, block: Block, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("codeBlock")
        self.language = QLabel()
        self.language.setObjectName("codeLanguage")
        self.copy_button = QPushButton("Copy")
        self.copy_button.setObjectName("codeCopy")
        self.copy_button.setCursor(Qt.CursorShape.PointingHandCursor)
        self.copy_button.clicked.connect(self.copy)
        self._copied = QTimer(self, singleShot=True, interval=COPIED_FEEDBACK_MS)
        self._copied.timeout.connect(lambda: self.copy_button.setText("Copy"))

        self.editor = QPlainTextEdit()
        self.editor.setObjectName("codeText")
        self.editor.setReadOnly(True)
        self.editor.setTextInteractionFlags(_SELECTABLE)
        self.editor.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.editor.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.editor.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.editor.setFrameShape(QFrame.Shape.NoFrame)
        self.editor.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        font = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        font.setPixelSize(CODE_FONT_PX)
        self.editor.setFont(font)
        self.editor.document().setDocumentMargin(10)
        # A long line adds a scroll bar, which needs room of its own.
        self.editor.horizontalScrollBar().rangeChanged.connect(lambda *_: self._fit_height())

        header = QWidget()
        header.setObjectName("codeHeader")
        row = QHBoxLayout(header)
        row.setContentsMargins(12, 3, 4, 3)
        row.addWidget(self.language)
        row.addStretch(1)
        row.addWidget(self.copy_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(1, 1, 1, 1)  # inside the rounded border
        layout.setSpacing(0)
        layout.addWidget(header)
        layout.addWidget(self.editor)
        self._language = ""
        self.set_block(block)

    def set_block(self, block: Block) -> None:
        if block.language != self._language or not self.language.text():
            self._language = block.language
            self.language.setText(block.language.lower() or "code")
            name = f"{block.language} code" if block.language else "Code"
            self.editor.setAccessibleName(name)
            self.copy_button.setAccessibleName(f"Copy {name.lower()}")
            self.copy_button.setAccessibleDescription("Puts this code block on the clipboard")
        current = self.editor.toPlainText()
        if current == block.text:
            return
        if current and block.text.startswith(current):
            # Streaming: append the new characters rather than laying the whole block out again.
            cursor = QTextCursor(self.editor.document())
            cursor.movePosition(QTextCursor.MoveOperation.End)
            cursor.insertText(block.text[len(current) :])
        else:
            self.editor.setPlainText(block.text)
        self._fit_height()

    def text(self) -> str:
        return self.editor.toPlainText()

    def copy(self) -> None:
        QGuiApplication.clipboard().setText(self.text())
        self.copy_button.setText("Copied")
        self._copied.start()

    def _fit_height(self) -> None:
        document = self.editor.document()
        lines = max(1, document.blockCount())
        bar = self.editor.horizontalScrollBar()
        bar_height = bar.sizeHint().height() if bar.maximum() > 0 else 0
        margin = 2 * document.documentMargin()
        # A laid-out line can be a pixel taller than the font's line spacing (its leading is
        # rounded up): measure the line the layout really made.
        first_line = self.editor.blockBoundingRect(document.firstBlock()).height()
        line_height = max(float(self.editor.fontMetrics().lineSpacing()), first_line)
        height = math.ceil(lines * line_height + margin) + bar_height + 2
        self.editor.setFixedHeight(int(height))


class TypingIndicator(QWidget):
    """Three softly pulsing dots while an answer has not produced any text yet."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("typingIndicator")
        self.setAccessibleName("Hearth is writing")
        self.setFixedSize(44, 24)
        self._frame = 0
        self._timer = QTimer(self, interval=TYPING_FRAME_MS)
        self._timer.timeout.connect(self._advance)

    def _advance(self) -> None:
        self._frame = (self._frame + 1) % 3
        self.update()

    def showEvent(self, event: QShowEvent) -> None:
        self._timer.start()
        super().showEvent(event)

    def hideEvent(self, event: QHideEvent) -> None:
        self._timer.stop()
        super().hideEvent(event)

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(Qt.PenStyle.NoPen)
        color = QColor(self.palette().color(QPalette.ColorRole.WindowText))
        for dot in range(3):
            color.setAlphaF(0.85 if dot == self._frame else 0.35)
            painter.setBrush(color)
            painter.drawEllipse(QPointF(5 + dot * 13, self.height() / 2), 4, 4)


class MessageWidget(QFrame):
    """One message of the conversation, from the user or from the assistant."""

    copy_requested = Signal()
    """The user copied this message's whole text (it is already on the clipboard)."""
    regenerate_requested = Signal()
    """The user asked for a new answer in place of this one."""

    def __init__(self, role: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._role = role
        self._content = ""
        self._reasoning = ""
        self._status = "complete"
        self._can_regenerate = False
        self._blocks: list[tuple[Block, QWidget]] = []
        self._link_color = QColor()
        self.setObjectName("message")
        self.setProperty("role", role)
        self.setAccessibleName("Your message" if role == "user" else "Hearth's answer")
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)

        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.setSpacing(8)
        self.body = QFrame()
        self.body_layout = QVBoxLayout(self.body)
        self.body_layout.setSpacing(14)
        self.status_note = QLabel()
        self.status_note.setObjectName("statusNote")
        self.status_note.setWordWrap(True)
        self.status_note.setTextInteractionFlags(_SELECTABLE)
        self.status_note.setVisible(False)
        self.stats_label = QLabel()
        self.stats_label.setObjectName("messageStats")
        if role == "user":
            self._build_user(outer)
        else:
            self._build_assistant(outer)

    def _build_user(self, outer: QVBoxLayout) -> None:
        self.body.setObjectName("userBubble")
        self.body_layout.setContentsMargins(16, 10, 16, 10)
        self.user_text = _BubbleText("userText")
        self.user_text.setAccessibleName("Your message")
        self.body_layout.addWidget(self.user_text)
        self.attachments = AttachmentStrip(align_right=True)
        outer.addWidget(self.attachments)
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addStretch(1)
        row.addWidget(self.body)
        self.body.setVisible(False)  # until there is text: a message may be a picture alone
        outer.addLayout(row)
        outer.addWidget(self.status_note, 0, Qt.AlignmentFlag.AlignRight)

    def resizeEvent(self, event: QResizeEvent) -> None:
        if self._role == "user":
            # Leave a fifth of the column empty, so that even a long message reads as a bubble
            # from the user's side.
            self.body.setMaximumWidth(max(120, self.width() * 4 // 5))
        super().resizeEvent(event)

    def _build_assistant(self, outer: QVBoxLayout) -> None:
        self.body.setObjectName("answerBody")
        self.body_layout.setContentsMargins(0, 0, 0, 0)
        self.body.setVisible(False)

        self.thinking_toggle = QToolButton()
        self.thinking_toggle.setObjectName("thinkingToggle")
        self.thinking_toggle.setCheckable(True)
        self.thinking_toggle.setArrowType(Qt.ArrowType.RightArrow)
        self.thinking_toggle.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.thinking_toggle.setCursor(Qt.CursorShape.PointingHandCursor)
        self.thinking_toggle.setAccessibleName("Thinking")
        self.thinking_toggle.setAccessibleDescription("Shows or hides the model's reasoning")
        self.thinking_toggle.toggled.connect(self._show_thinking)
        self.thinking_toggle.setVisible(False)
        self.thinking_text = RichText("thinkingText")
        self.thinking_text.setAccessibleName("Reasoning")
        self.thinking_box = QFrame()
        self.thinking_box.setObjectName("thinkingBox")
        box = QVBoxLayout(self.thinking_box)
        box.setContentsMargins(12, 2, 0, 2)
        box.addWidget(self.thinking_text)
        self.thinking_box.setVisible(False)

        self.typing = TypingIndicator()
        self.typing.setVisible(False)

        self.footer = QWidget()
        self.footer.setObjectName("messageFooter")
        footer = QHBoxLayout(self.footer)
        footer.setContentsMargins(0, 0, 0, 0)
        footer.setSpacing(2)
        self.copy_button = self._action("Copy", "Copy answer", "Puts the whole answer on the clipboard")
        self.copy_button.clicked.connect(self._copy)
        self._copied = QTimer(self, singleShot=True, interval=COPIED_FEEDBACK_MS)
        self._copied.timeout.connect(lambda: self.copy_button.setText("Copy"))
        self.regenerate_button = self._action(
            "Regenerate", "Regenerate answer", "Replaces this answer with a new one"
        )
        self.regenerate_button.clicked.connect(self.regenerate_requested.emit)
        self.regenerate_button.setVisible(False)
        footer.addWidget(self.copy_button)
        footer.addWidget(self.regenerate_button)
        footer.addSpacing(8)
        footer.addWidget(self.stats_label)
        footer.addStretch(1)

        outer.addWidget(self.thinking_toggle, 0, Qt.AlignmentFlag.AlignLeft)
        outer.addWidget(self.thinking_box)
        outer.addWidget(self.body)
        outer.addWidget(self.typing)
        outer.addWidget(self.status_note)
        outer.addWidget(self.footer)

    def _action(self, text: str, name: str, description: str) -> QPushButton:
        button = QPushButton(text)
        button.setObjectName("messageAction")
        button.setAccessibleName(name)
        button.setAccessibleDescription(description)
        button.setCursor(Qt.CursorShape.PointingHandCursor)
        return button

    # --- content ---------------------------------------------------------------------------

    @property
    def role(self) -> str:
        return self._role

    def content(self) -> str:
        return self._content

    def reasoning(self) -> str:
        return self._reasoning

    def status(self) -> str:
        return self._status

    def set_content(self, text: str) -> None:
        """Show ``text``: plain for the user, Markdown for the assistant.

        Called many times a second while an answer streams: block widgets whose kind still
        matches are reused, and only blocks whose text changed are touched.
        """
        if text == self._content:
            return
        self._content = text
        if self._role == "user":
            self.user_text.source_text = text
            render_plain(self.user_text.document(), text)
            self.user_text.updateGeometry()
            self.body.setVisible(bool(text.strip()))
            return
        blocks = [section for block in split_blocks(text) for section in split_sections(block)]
        kept = 0
        for (old, widget), new in zip(self._blocks, blocks, strict=False):
            if old.kind != new.kind:
                break
            if old != new:
                self._update_widget(widget, new)
            self._blocks[kept] = (new, widget)
            kept += 1
        self._drop_blocks_from(kept)
        for block in blocks[kept:]:
            widget = self._make_widget(block)
            self.body_layout.addWidget(widget)
            self._blocks.append((block, widget))
        self.body.setVisible(bool(self._blocks))
        self._update_typing()

    def code_blocks(self) -> list[CodeBlock]:
        return [widget for _block, widget in self._blocks if isinstance(widget, CodeBlock)]

    def _make_widget(self, block: Block) -> QWidget:
        if block.kind == "code":
            return CodeBlock(block)
        prose = RichText("prose")
        self._render_prose(prose, block.text)
        return prose

    def _update_widget(self, widget: QWidget, block: Block) -> None:
        if isinstance(widget, CodeBlock):
            widget.set_block(block)
        elif isinstance(widget, RichText):
            self._render_prose(widget, block.text)

    def _render_prose(self, prose: RichText, markdown: str) -> None:
        palette = QGuiApplication.palette()
        self._link_color = palette.color(QPalette.ColorRole.Link)
        prose.source_text = markdown
        render_markdown(prose.document(), markdown, palette)

    def _drop_blocks_from(self, index: int) -> None:
        for _block, widget in self._blocks[index:]:
            widget.setParent(None)
            widget.deleteLater()
        del self._blocks[index:]

    def changeEvent(self, event: QEvent) -> None:
        # Rendered Markdown carries its link and code colours: render it again for a new theme.
        if (
            event.type() == QEvent.Type.PaletteChange
            and QGuiApplication.palette().color(QPalette.ColorRole.Link) != self._link_color
        ):
            for block, widget in self._blocks:
                if isinstance(widget, RichText):
                    self._render_prose(widget, block.text)
        super().changeEvent(event)

    # --- thinking --------------------------------------------------------------------------

    def set_reasoning(self, text: str) -> None:
        """Show the model's reasoning in a collapsed "Thinking" section (hidden when empty)."""
        if self._role == "user" or text == self._reasoning:
            return
        self._reasoning = text
        self.thinking_toggle.setVisible(bool(text.strip()))
        self._show_thinking(self.thinking_toggle.isChecked())
        self._update_thinking_title()

    def _update_thinking_title(self) -> None:
        if self._role == "user":
            return
        if self._status == "streaming" and not self._content:
            title = "Thinking…"
        else:
            words = len(self._reasoning.split())
            title = f"Thought for a moment · {words} word{'s' if words != 1 else ''}"
        self.thinking_toggle.setText(title)

    def _show_thinking(self, shown: bool) -> None:
        self.thinking_toggle.setArrowType(Qt.ArrowType.DownArrow if shown else Qt.ArrowType.RightArrow)
        shown = shown and bool(self._reasoning.strip())
        # Collapsed, a streaming reasoning costs nothing: it is laid out only when shown.
        if shown and self.thinking_text.source_text != self._reasoning:
            self.thinking_text.source_text = self._reasoning
            render_plain(self.thinking_text.document(), self._reasoning.strip())
        self.thinking_box.setVisible(shown)

    # --- status and footer -----------------------------------------------------------------

    def set_status(self, status: str, detail: str = "") -> None:
        """One of "complete", "streaming", "stopped", "interrupted" or "error" (with ``detail``)."""
        self._status = status
        note = (detail or ERROR_FALLBACK) if status == "error" else STATUS_NOTES.get(status, "")
        self.status_note.setText(note)
        self.status_note.setProperty("kind", status)
        self.status_note.setAccessibleName("Error" if status == "error" else "Note")
        self.status_note.setVisible(bool(note))
        repolish(self.status_note)
        if self._role == "assistant":
            self.footer.setVisible(status != "streaming")
            self._update_typing()
            self._update_thinking_title()
            self._update_regenerate()

    def set_footer(self, text: str) -> None:
        """Statistics under an answer, e.g. "42 tokens · 31.2 tok/s"."""
        self.stats_label.setText(text)
        self.stats_label.setVisible(bool(text))

    def set_can_regenerate(self, enabled: bool) -> None:
        self._can_regenerate = enabled
        self._update_regenerate()

    def _update_regenerate(self) -> None:
        if self._role == "assistant":
            self.regenerate_button.setVisible(self._can_regenerate)

    def _update_typing(self) -> None:
        self.typing.setVisible(self._status == "streaming" and not self._content)

    def _copy(self) -> None:
        QGuiApplication.clipboard().setText(self._content)
        self.copy_button.setText("Copied")
        self._copied.start()
        self.copy_requested.emit()
