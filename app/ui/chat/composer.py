"""Where the user writes: Enter sends, Shift+Enter adds a line, Escape stops an answer. Pictures
and sounds ride along: the + button, the microphone, a paste or a drop adds them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import QEvent, QMimeData, QObject, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QImage, QKeyEvent, QResizeEvent, QTextCursor
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

from app.ui.chat.attachment_tiles import AttachmentStrip, AttachmentTile, plus_icon
from app.ui.chat.context_meter import ContextMeter
from app.ui.chat.conversation_view import READABLE_WIDTH, SIDE_MARGIN
from app.ui.chat.intake import PendingAttachment
from app.ui.chat.level_meter import LevelMeter
from app.ui.chat.mic_button import MicButton
from app.ui.chat.picture_cost import DetailBadge

PLACEHOLDER = "Message Hearth…  (Enter to send, Shift+Enter for a new line)"
SHORT_PLACEHOLDER = "Message Hearth…"
TINY_PLACEHOLDER = "Message…"
EMPTY_HINT = "Type a message first."
MAX_LINES = 8


def local_files(mime: QMimeData) -> list[Path]:
    return [Path(url.toLocalFile()) for url in mime.urls() if url.isLocalFile()] if mime.hasUrls() else []


def repolish(widget: QWidget) -> None:
    """Re-apply the stylesheet after a dynamic property that it matches on has changed."""
    widget.style().unpolish(widget)
    widget.style().polish(widget)


class _MessageEdit(QPlainTextEdit):
    """The text box; a pasted picture or file becomes an attachment instead of text."""

    files_pasted = Signal(list)
    image_pasted = Signal(QImage)

    def canInsertFromMimeData(self, source: QMimeData) -> bool:
        return source.hasImage() or bool(local_files(source)) or super().canInsertFromMimeData(source)

    def insertFromMimeData(self, source: QMimeData) -> None:
        files = local_files(source)
        if files:
            self.files_pasted.emit(files)
        elif source.hasImage():
            image = source.imageData()
            if isinstance(image, QImage) and not image.isNull():
                self.image_pasted.emit(image)
        else:
            super().insertFromMimeData(source)


class Composer(QFrame):
    """A message box that grows with its text, and a Send button that turns into Stop."""

    send_requested = Signal(str)
    attachments_changed = Signal()
    """An attachment joined the message or left it."""
    send_with_tool_requested = Signal(str)
    """Send, and the answer must start with a tool call (Ctrl+Shift+Enter)."""
    """The user sent this text, with ``pending()`` attachments (the text box is already cleared;
    the attachments stay until ``clear_attachments()``, so a refused send loses nothing)."""
    attach_requested = Signal()
    """The user wants to pick files to attach (the + button)."""
    files_offered = Signal(list)
    """Files were pasted or dropped on the box: ``Path`` objects, not checked yet."""
    image_pasted = Signal(QImage)
    """A picture was pasted."""
    think_toggled = Signal(bool)
    """The user switched "think first" on or off for this chat."""
    edit_cancelled = Signal()
    """The user gave up editing an earlier question (Escape or Cancel)."""
    stop_requested = Signal()
    """The user asked to stop the answer being written (Stop button, or Escape while busy)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("composer")
        self._busy = False
        self._blocked: str | None = None

        self._pending: list[tuple[PendingAttachment, AttachmentTile]] = []
        self._can_hear: bool | None = None
        self._mic_problem = "Looking for a microphone…"  # "" once one is found
        self._preparing = False
        self._dictation = False  # the microphone writes into the box even for a model that hears
        self._writing_down = False  # dictated words are on their way into the box
        # The chat's picture detail (visual tokens; 0: automatic), for what pictures cost.
        self.chat_detail_of: Callable[[], int] = lambda: 0

        self.editor = _MessageEdit()
        self.editor.files_pasted.connect(self.files_offered.emit)
        self.editor.image_pasted.connect(self.image_pasted.emit)
        self.editor.setObjectName("composerInput")
        self.editor.setAccessibleName("Message")
        self.editor.setAccessibleDescription(
            "Enter sends the message, Shift+Enter starts a new line, Escape stops an answer"
        )
        self.editor.setTabChangesFocus(True)
        self.editor.setFrameShape(QFrame.Shape.NoFrame)
        self.editor.installEventFilter(self)
        self.editor.textChanged.connect(self._on_text_changed)
        # In lines: changes when typing, and when the width changes how the text wraps.
        self.editor.document().documentLayout().documentSizeChanged.connect(lambda *_: self._fit_height())

        self.button = QPushButton("Send")
        self.button.setObjectName("sendButton")
        self.button.setCursor(Qt.CursorShape.PointingHandCursor)
        self.button.clicked.connect(self._on_button)

        self.attach_button = QToolButton()
        self.attach_button.setObjectName("attachButton")
        self.attach_button.setCursor(Qt.CursorShape.PointingHandCursor)
        self.attach_button.setIconSize(QSize(18, 18))
        self.attach_button.setToolTip(
            "Attach pictures, sounds or documents (Ctrl+Shift+A; or drop or paste them)"
        )
        self.attach_button.setAccessibleName("Attach files")
        self.attach_button.clicked.connect(self.attach_requested.emit)
        self.think_button = QToolButton()
        self.think_button.setObjectName("thinkButton")
        self.think_button.setText("Think")
        self.think_button.setCheckable(True)
        self.think_button.setCursor(Qt.CursorShape.PointingHandCursor)
        self.think_button.setAccessibleName("Think first")
        self.think_button.setToolTip(
            "Think first: the model reasons before it answers (Gemma 4). Slower, often better for\n"
            "maths, logic and planning. The reasoning shows in a section you can open."
        )
        self.think_button.clicked.connect(lambda checked: self.think_toggled.emit(checked))
        self.mic = MicButton()
        # The clock beside the red dot never gives way to the message box.
        self.mic.setSizePolicy(QSizePolicy.Policy.Minimum, QSizePolicy.Policy.Fixed)
        self.level_meter = LevelMeter()
        self.mic.level_changed.connect(self.level_meter.set_level)
        self.mic.recording_changed.connect(self._show_level)
        self.context_meter = ContextMeter()
        self.strip = AttachmentStrip()

        self.edit_banner = QFrame()
        self.edit_banner.setObjectName("editBanner")
        self.edit_label = QLabel("Editing your question: sending it keeps the earlier version too.")
        self.edit_label.setObjectName("composerHint")
        cancel_edit = QPushButton("Cancel")
        cancel_edit.setObjectName("messageAction")
        cancel_edit.setAccessibleName("Cancel editing")
        cancel_edit.setToolTip("Stop editing (Escape)")
        cancel_edit.clicked.connect(self.cancel_edit)
        banner = QHBoxLayout(self.edit_banner)
        banner.setContentsMargins(0, 0, 0, 0)
        banner.addWidget(self.edit_label, 1)
        banner.addWidget(cancel_edit)
        self.edit_banner.setVisible(False)
        self._editing = False

        self.hint = QLabel()
        self.hint.setObjectName("composerHint")
        self.hint.setAccessibleName("Hint")
        self.hint.setVisible(False)

        self.box = QFrame()
        self.box.setObjectName("composerBox")
        column = QVBoxLayout(self.box)
        column.setContentsMargins(8, 8, 8, 8)
        column.setSpacing(8)
        column.addWidget(self.strip)
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(6)
        row.addWidget(self.attach_button, 0, Qt.AlignmentFlag.AlignBottom)
        row.addWidget(self.editor, 1)
        row.addWidget(self.think_button, 0, Qt.AlignmentFlag.AlignBottom)
        row.addWidget(self.mic, 0, Qt.AlignmentFlag.AlignBottom)
        row.addWidget(self.level_meter, 0, Qt.AlignmentFlag.AlignBottom)
        row.addWidget(self.context_meter, 0, Qt.AlignmentFlag.AlignBottom)
        row.addWidget(self.button, 0, Qt.AlignmentFlag.AlignBottom)
        column.addLayout(row)
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(SIDE_MARGIN, 6, SIDE_MARGIN, 14)
        self._layout.setSpacing(4)
        self._layout.addWidget(self.edit_banner)
        self._layout.addWidget(self.box)
        self._layout.addWidget(self.hint)
        self._update_placeholder()
        self._update_button()
        self._fit_height()
        self.set_senses(None, None)

    # --- API -------------------------------------------------------------------------------

    def text(self) -> str:
        return self.editor.toPlainText()

    def set_text(self, text: str) -> None:
        self.editor.setPlainText(text)
        self.editor.moveCursor(QTextCursor.MoveOperation.End)

    def set_think(self, on: bool) -> None:
        """Show this chat's "think first" setting (without reporting it as a change)."""
        self.think_button.setChecked(on)

    @property
    def editing(self) -> bool:
        return self._editing

    def begin_edit(self, text: str) -> None:
        """Put an earlier question in the box to be edited and sent again as a new version."""
        self._editing = True
        self.edit_banner.setVisible(True)
        self.set_text(text)
        self.focus_input()

    def end_edit(self) -> None:
        self._editing = False
        self.edit_banner.setVisible(False)

    def cancel_edit(self) -> None:
        if self._editing:
            self.end_edit()
            self.editor.clear()
            self.edit_cancelled.emit()

    def focus_input(self) -> None:
        self.editor.setFocus(Qt.FocusReason.ShortcutFocusReason)

    def set_busy(self, busy: bool) -> None:
        """While an answer is being written the button stops it instead of sending."""
        self._busy = busy
        self.button.setProperty("busy", busy)
        repolish(self.button)
        self._update_button()

    def is_busy(self) -> bool:
        return self._busy

    # --- attachments -----------------------------------------------------------------------

    def add_attachment(self, item: PendingAttachment) -> None:
        if any(known.stored.sha256 == item.stored.sha256 for known, _ in self._pending):
            return  # the same picture twice adds nothing
        stored = item.stored
        tile = AttachmentTile(stored.kind, stored.name, item.detail, removable=True, warning=item.warning)
        if item.thumbnail:
            tile.set_thumbnail(item.thumbnail)
        if stored.kind == "image":
            badge = DetailBadge(tile.preview)
            badge.chosen.connect(lambda budget, tile=tile: self._choose_detail(tile, budget))
            badge.show_cost(item, self.chat_detail_of())
            tile.badge = badge
        tile.remove_requested.connect(lambda tile=tile: self._remove(tile))
        position = sum(1 for known, _ in self._pending if known.order <= item.order)
        self._pending.insert(position, (item, tile))
        self.strip.add(tile, position)
        self.hint.setVisible(False)
        self._update_button()
        self.attachments_changed.emit()

    def _choose_detail(self, tile: AttachmentTile, budget: int) -> None:
        self._pending = [
            (replace(item, chosen_detail=budget) if t is tile else item, t) for item, t in self._pending
        ]
        self.refresh_picture_costs()

    def refresh_picture_costs(self) -> None:
        """Show each picture's cost again (its detail, or the chat's setting, changed)."""
        for item, tile in self._pending:
            if tile.badge is not None:
                tile.badge.show_cost(item, self.chat_detail_of())
        self.attachments_changed.emit()

    def _remove(self, tile: AttachmentTile) -> None:
        self._pending = [(item, t) for item, t in self._pending if t is not tile]
        self.strip.remove(tile)
        self._update_button()
        self.attachments_changed.emit()
        self.focus_input()

    def request_attach(self) -> None:
        """What the + button does, when it can (Ctrl+Shift+A)."""
        if self.attach_button.isEnabled():
            self.attach_requested.emit()

    def toggle_recording(self) -> None:
        """What the microphone button does, when it can (Ctrl+Shift+R)."""
        if self.mic.isEnabled():
            self.mic.click()

    def set_preparing(self, preparing: bool) -> None:
        """Attachments are on their way: sending waits for them, or they would miss the message."""
        self._preparing = preparing
        if not preparing and self.hint.text().startswith("One moment"):
            self.hint.setVisible(False)

    def remove_attachments(self, kind: str) -> list[PendingAttachment]:
        """Take every pending attachment of ``kind`` off the message; returns them."""
        gone = [(item, tile) for item, tile in self._pending if item.stored.kind == kind]
        for _item, tile in gone:
            self._remove(tile)
        return [item for item, _tile in gone]

    def pending(self) -> list[PendingAttachment]:
        return [item for item, _ in self._pending]

    def clear_attachments(self) -> None:
        self._pending.clear()
        self.strip.clear()
        self._update_button()
        self.attachments_changed.emit()

    def set_senses(self, can_see: bool | None, can_hear: bool | None) -> None:
        """What the loaded model takes (None: no model yet): the microphone appears only where it
        can work; the + button always can (any model reads documents)."""
        self._can_hear = can_hear
        self.attach_button.setIcon(plus_icon(18, self.palette().buttonText().color()))
        self._update_mic()

    def _show_level(self, recording: bool) -> None:
        """While recording, the level meter stands where the context meter is (its line shows the
        recording's room in the context instead), so a narrow window keeps room for the box."""
        self.level_meter.reset()
        self.level_meter.setVisible(recording)
        self.context_meter.setVisible(not recording)

    def set_mic_problem(self, problem: str) -> None:
        """Why the computer cannot record ("" when it can)."""
        self._mic_problem = problem
        self._update_mic()

    @property
    def mic_problem(self) -> str:
        return self._mic_problem

    def set_dictation(self, on: bool) -> None:
        """Whether the microphone writes what is said into the box even when the model hears."""
        self._dictation = on
        self._update_mic()

    def _update_mic(self) -> None:
        """The microphone is always there; when it cannot work, it says why. For a model that
        cannot hear, it dictates."""
        why = "Load a model first." if self._can_hear is None else self._mic_problem
        if why and self.mic.recording:
            self.mic.cancel()
        self.mic.setEnabled(not why)
        self.mic.set_reason(why)
        if not self.mic.recording:
            self.mic.chat_model_hears = self._can_hear is True
            self.mic.set_dictates(self._dictation or self._can_hear is not True)

    def set_writing_down(self, writing: bool) -> None:
        """Words said are being written down: sending waits for them, as for an attachment."""
        self._writing_down = writing
        self.mic.set_writing(writing)
        if not writing and self.hint.text().startswith("One moment"):
            self._show_hint(EMPTY_HINT)

    def insert_words(self, words: str) -> None:
        """Put dictated words where the cursor is, spaced from the text around them."""
        cursor = self.editor.textCursor()
        document = self.editor.document()
        before = document.characterAt(cursor.position() - 1) if cursor.position() > 0 else ""
        after = document.characterAt(cursor.position())
        spaced = (" " if before and not before.isspace() else "") + words
        spaced += " " if after and not after.isspace() else ""
        cursor.insertText(spaced)
        self.editor.setTextCursor(cursor)
        self.editor.setFocus()

    def set_blocked(self, reason: str | None) -> None:
        """Disable sending and show why in the box; typing stays possible, so nothing is lost."""
        self._blocked = reason or None
        self.hint.setVisible(False)
        self._update_placeholder()
        self._update_button()

    def submit(self, must_use_tool: bool = False) -> None:
        """Send the text, if there is any and sending is possible (what Enter does)."""
        if self._busy:
            return
        if self._blocked:
            self._show_hint(self._blocked)
            return
        if self.mic.recording:
            self._show_hint("Stop the recording first: click the red dot, and it joins the message.")
            return
        if self._writing_down:
            self._show_hint("One moment: what you said is still being written down.")
            return
        if self._preparing or self.mic.busy:
            self._show_hint("One moment: the attachment is still being prepared.")
            return
        text = self.text()
        if not text.strip() and not self._pending:
            self._show_hint(EMPTY_HINT)
            return
        self.editor.clear()
        (self.send_with_tool_requested if must_use_tool else self.send_requested).emit(text)

    # --- behaviour -------------------------------------------------------------------------

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.editor and event.type() == QEvent.Type.FontChange:
            self._fit_height()  # the stylesheet sets the font after construction
            self._update_placeholder()
        if watched is self.editor and event.type() == QEvent.Type.Resize:
            assert isinstance(event, QResizeEvent)
            self._update_placeholder(event.size().width())
            # A new width rewraps the text after this event: count its lines then.
            QTimer.singleShot(0, self, self._fit_height)
        if watched is self.editor and event.type() == QEvent.Type.KeyPress:
            assert isinstance(event, QKeyEvent)
            key = event.key()
            if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
                modifiers = event.modifiers()
                shift, control = Qt.KeyboardModifier.ShiftModifier, Qt.KeyboardModifier.ControlModifier
                if modifiers & shift and modifiers & control:
                    self.submit(must_use_tool=True)
                    return True
                if modifiers & shift:
                    return False  # QPlainTextEdit inserts the new line
                self.submit()  # Enter, and Ctrl+Enter too
                return True
            if key == Qt.Key.Key_Escape and self.mic.recording:
                self.mic.cancel()
                self._show_hint("Recording discarded.")
                return True
            if key == Qt.Key.Key_Escape and self._busy:
                self.stop_requested.emit()
                return True
            if key == Qt.Key.Key_Escape and self._editing:
                self.cancel_edit()
                return True
        return super().eventFilter(watched, event)

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.PaletteChange:  # the theme changed: redraw the icons
            self.attach_button.setIcon(plus_icon(18, self.palette().buttonText().color()))
        super().changeEvent(event)

    def resizeEvent(self, event: QResizeEvent) -> None:
        # The same readable width as the messages above, centred under them.
        side = max(SIDE_MARGIN, (self.width() - READABLE_WIDTH) // 2)
        margins = self._layout.contentsMargins()
        self._layout.setContentsMargins(side, margins.top(), side, margins.bottom())
        super().resizeEvent(event)

    def _on_button(self) -> None:
        if self._busy:
            self.stop_requested.emit()
        else:
            self.submit()

    def _show_hint(self, text: str) -> None:
        self.hint.setText(text)
        self.hint.setVisible(True)

    def _on_text_changed(self) -> None:
        self.hint.setVisible(False)
        self._update_button()

    def _update_placeholder(self, width: int | None = None) -> None:
        # The placeholder does not wrap into view: drop the key hints where they do not fit.
        width = self.editor.width() if width is None else width
        room = width - 2 * (self.editor.frameWidth() + self.editor.document().documentMargin()) - 4
        metrics = self.editor.fontMetrics()
        choices: tuple[str, ...]
        if self._blocked:
            # "Choose a model to start chatting (Ctrl+O)": the words stay, the keys go first.
            short = self._blocked.split(" (", 1)[0]
            choices = (self._blocked, short)
        else:
            choices = (PLACEHOLDER, SHORT_PLACEHOLDER, TINY_PLACEHOLDER)
        text = next((t for t in choices if metrics.horizontalAdvance(t) <= room), choices[-1])
        if text != self.editor.placeholderText():
            self.editor.setPlaceholderText(text)
            # Qt repaints the box when a placeholder appears or goes, not when its words change.
            self.editor.viewport().update()

    def _update_button(self) -> None:
        if self._busy:
            self.button.setText("Stop")
            self.button.setAccessibleName("Stop answer")
            self.button.setAccessibleDescription("Stops the answer being written (Escape)")
            self.button.setEnabled(True)
        else:
            self.button.setText("Send")
            self.button.setAccessibleName("Send message")
            self.button.setAccessibleDescription(self._blocked or "Sends the message (Enter)")
            self.button.setEnabled(not self._blocked and (bool(self.text().strip()) or bool(self._pending)))

    def _fit_height(self) -> None:
        """Grow from one line to MAX_LINES, then scroll."""
        lines = self.editor.document().lineCount()
        policy = Qt.ScrollBarPolicy
        self.editor.setVerticalScrollBarPolicy(
            policy.ScrollBarAsNeeded if lines > MAX_LINES else policy.ScrollBarAlwaysOff
        )
        shown = min(MAX_LINES, max(1, lines))
        margin = 2 * self.editor.document().documentMargin()
        frame = 2 * self.editor.frameWidth()
        # One pixel more than the text, or QPlainTextEdit counts the last line as not fitting.
        height = shown * self.editor.fontMetrics().lineSpacing() + margin + frame + 1
        self.editor.setFixedHeight(int(height))
