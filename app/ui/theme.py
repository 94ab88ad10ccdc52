"""Light and dark themes: the Fusion style, a full palette, and one stylesheet for Hearth's own widgets."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication


@dataclass(frozen=True)
class Colors:
    window: str
    surface: str  # sidebar, panels
    raised: str  # composer box, code blocks
    text: str
    muted: str
    border: str
    accent: str
    accent_text: str
    bubble: str
    warning: str
    error: str
    selection: str


LIGHT = Colors(
    window="#ffffff",
    surface="#f6f5f3",
    raised="#f2f1ee",
    text="#1f1d1a",
    muted="#5f5b55",
    border="#e2dfda",
    accent="#b4531f",
    accent_text="#ffffff",
    bubble="#f3ece6",
    warning="#8a5a00",
    error="#b3261e",
    selection="#f4d9c6",
)
DARK = Colors(
    window="#1c1b1a",
    surface="#232220",
    raised="#2b2a27",
    text="#ecebe8",
    muted="#a9a59e",
    border="#3a3834",
    accent="#f08a4b",
    accent_text="#1c1b1a",
    bubble="#33302c",
    warning="#f0b35a",
    error="#ff8a80",
    selection="#5a3a26",
)


def _palette(c: Colors) -> QPalette:
    palette = QPalette()
    roles = {
        QPalette.ColorRole.Window: c.window,
        QPalette.ColorRole.WindowText: c.text,
        QPalette.ColorRole.Base: c.window,
        QPalette.ColorRole.AlternateBase: c.surface,
        QPalette.ColorRole.Text: c.text,
        QPalette.ColorRole.Button: c.raised,
        QPalette.ColorRole.ButtonText: c.text,
        QPalette.ColorRole.ToolTipBase: c.raised,
        QPalette.ColorRole.ToolTipText: c.text,
        QPalette.ColorRole.PlaceholderText: c.muted,
        QPalette.ColorRole.Highlight: c.accent,
        QPalette.ColorRole.HighlightedText: c.accent_text,
        QPalette.ColorRole.Link: c.accent,
        QPalette.ColorRole.BrightText: c.error,
    }
    for role, color in roles.items():
        palette.setColor(role, QColor(color))
    for role in (QPalette.ColorRole.Text, QPalette.ColorRole.WindowText, QPalette.ColorRole.ButtonText):
        palette.setColor(QPalette.ColorGroup.Disabled, role, QColor(c.muted))
    return palette


def _stylesheet(c: Colors) -> str:
    return f"""
    QMainWindow, #chatView, #chatColumn {{ background: {c.window}; }}
    #sidebar {{ background: {c.surface}; border-right: 1px solid {c.border}; }}
    #brand {{ font-size: 17px; font-weight: 600; padding: 2px 6px 6px 6px; color: {c.text}; }}
    #newChatButton {{ background: {c.accent}; color: {c.accent_text}; border: none; border-radius: 8px;
        padding: 8px 12px; font-weight: 600; text-align: left; }}
    #newChatButton:hover {{ background: {QColor(c.accent).lighter(110).name()}; }}
    #conversationList {{ background: transparent; border: none; outline: none; }}
    #conversationList::item {{ padding: 8px 8px; border-radius: 8px; margin: 1px 0; color: {c.text}; }}
    #conversationList::item:hover {{ background: {c.raised}; }}
    #conversationList::item:selected {{ background: {c.selection}; color: {c.text}; }}
    #headerBar {{ background: {c.window}; border-bottom: 1px solid {c.border}; }}
    #chatTitle {{ font-size: 15px; font-weight: 600; }}
    #modelButton, #settingsButton {{ border: 1px solid {c.border}; border-radius: 8px; padding: 5px 10px;
        background: {c.surface}; }}
    #modelButton:hover, #settingsButton:hover, #settingsButton:checked {{ background: {c.raised}; }}
    #modelButton::menu-indicator {{ subcontrol-position: right center; right: 6px; }}
    #modelButton {{ padding-right: 22px; }}
    #settingsPanel {{ background: {c.surface}; border-left: 1px solid {c.border}; }}
    #panelTitle {{ font-size: 15px; font-weight: 600; }}
    #userBubble {{ background: {c.bubble}; border-radius: 14px; }}
    #prose {{ color: {c.text}; font-size: 14px; }}
    #thinkingToggle {{ border: none; color: {c.muted}; padding: 2px 0; }}
    #thinkingText {{ color: {c.muted}; border-left: 3px solid {c.border}; padding-left: 10px; }}
    #typingIndicator {{ color: {c.muted}; font-style: italic; }}
    #codeBlock {{ background: {c.raised}; border: 1px solid {c.border}; border-radius: 8px; }}
    #codeText {{ background: {c.raised}; color: {c.text}; padding: 0 8px; }}
    #codeLanguage {{ color: {c.muted}; font-size: 12px; }}
    #codeCopy, #messageAction {{ border: none; color: {c.muted}; padding: 3px 8px; border-radius: 6px;
        background: transparent; }}
    #codeCopy:hover, #messageAction:hover {{ background: {c.border}; color: {c.text}; }}
    #messageFooter {{ color: {c.muted}; font-size: 12px; }}
    #statusNote {{ color: {c.muted}; font-size: 12px; }}
    #statusNote[kind="interrupted"] {{ color: {c.warning}; }}
    #statusNote[kind="error"] {{ color: {c.error}; }}
    #emptyTitle {{ font-size: 22px; font-weight: 600; color: {c.text}; }}
    #emptyHint {{ color: {c.muted}; font-size: 14px; }}
    #composer {{ background: {c.window}; }}
    #composerBox {{ background: {c.raised}; border: 1px solid {c.border}; border-radius: 12px; }}
    #composerInput {{ background: transparent; color: {c.text}; font-size: 14px; }}
    #composerHint {{ color: {c.muted}; font-size: 12px; padding-left: 4px; }}
    #sendButton {{ background: {c.accent}; color: {c.accent_text}; border: none; border-radius: 8px;
        padding: 7px 16px; font-weight: 600; }}
    #sendButton:disabled {{ background: {c.border}; color: {c.muted}; }}
    #sendButton[busy="true"] {{ background: {c.text}; color: {c.window}; }}
    QStatusBar {{ background: {c.surface}; color: {c.muted}; border-top: 1px solid {c.border}; }}
    QStatusBar QLabel {{ color: {c.muted}; padding: 0 6px; }}
    QScrollBar:vertical {{ background: transparent; width: 10px; margin: 2px; }}
    QScrollBar::handle:vertical {{ background: {c.border}; border-radius: 4px; min-height: 30px; }}
    QScrollBar::add-line, QScrollBar::sub-line {{ height: 0; width: 0; }}
    QScrollBar:horizontal {{ background: transparent; height: 10px; margin: 2px; }}
    QScrollBar::handle:horizontal {{ background: {c.border}; border-radius: 4px; min-width: 30px; }}
    QPlainTextEdit, QSpinBox, QDoubleSpinBox {{ selection-background-color: {c.selection};
        selection-color: {c.text}; }}
    #settingsPanel QPlainTextEdit {{ background: {c.window}; border: 1px solid {c.border};
        border-radius: 6px; padding: 3px; }}
    QSplitter::handle {{ background: {c.border}; }}
    QSplitter::handle:horizontal {{ width: 1px; }}
    """


def is_dark(app: QApplication) -> bool:
    return bool(app.property("hearthDark"))


def apply_theme(app: QApplication, mode: str) -> None:
    """Apply "light", "dark" or "system" (follows the OS colour scheme)."""
    if mode == "system":
        dark = QGuiApplication.styleHints().colorScheme() == Qt.ColorScheme.Dark
    else:
        dark = mode == "dark"
    colors = DARK if dark else LIGHT
    app.setStyle("Fusion")
    app.setPalette(_palette(colors))
    app.setStyleSheet(_stylesheet(colors))
    app.setProperty("hearthDark", dark)
