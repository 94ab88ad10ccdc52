"""Light and dark themes: the Fusion style, a full palette, and one stylesheet for Hearth's widgets.

Widgets opt in with object names (``#sidebar``, ``#codeBlock``…) and a few dynamic properties
(``role`` on messages, ``kind`` on status notes, ``busy`` on the Send button). Every text colour
below meets WCAG AA (4.5:1) on the backgrounds it is used on.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication

from app.core.settings import THEMES

_MODE_PROPERTY = "hearthTheme"
_FOLLOWING_PROPERTY = "hearthFollowsColorScheme"


@dataclass(frozen=True)
class Colors:
    window: str  # the chat
    surface: str  # sidebar, panels, status bar
    raised: str  # buttons, the composer box
    hover: str
    code: str
    code_header: str
    text: str
    muted: str  # secondary text; still 4.5:1 on every background here
    border: str
    accent: str
    accent_hover: str
    accent_text: str
    link: str
    bubble: str  # the user's messages
    warning: str
    warning_bg: str
    error: str
    error_bg: str
    selection: str  # selected rows (text stays `text`)
    scrollbar: str


LIGHT = Colors(
    window="#ffffff",
    surface="#f7f6f3",
    raised="#f3f1ed",
    hover="#ebe8e3",
    code="#f6f5f2",
    code_header="#eeebe6",
    text="#1f1d1a",
    muted="#66615a",
    border="#e2dfda",
    accent="#b4531f",
    accent_hover="#9e4719",
    accent_text="#ffffff",
    link="#a8481a",
    bubble="#f2ece5",
    warning="#875400",
    warning_bg="#fdf3e1",
    error="#b3261e",
    error_bg="#fcebe9",
    selection="#f4dfd0",
    scrollbar="#cfcbc4",
)
DARK = Colors(
    window="#1c1b1a",
    surface="#232220",
    raised="#2a2927",
    hover="#353330",
    code="#252422",
    code_header="#2e2d2a",
    text="#ecebe8",
    muted="#a9a59e",
    border="#3a3834",
    accent="#f08a4b",
    accent_hover="#f4a06c",
    accent_text="#1c1b1a",
    link="#f4a06c",
    bubble="#34312d",
    warning="#f0b35a",
    warning_bg="#3a2f1c",
    error="#ff8a80",
    error_bg="#3d2422",
    selection="#4a3326",
    scrollbar="#4a4843",
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
        QPalette.ColorRole.Light: c.hover,
        QPalette.ColorRole.Midlight: c.raised,
        QPalette.ColorRole.Mid: c.border,
        QPalette.ColorRole.Dark: c.scrollbar,
        QPalette.ColorRole.Shadow: "#000000",
        QPalette.ColorRole.ToolTipBase: c.raised,
        QPalette.ColorRole.ToolTipText: c.text,
        QPalette.ColorRole.PlaceholderText: c.muted,
        QPalette.ColorRole.Highlight: c.accent,
        QPalette.ColorRole.HighlightedText: c.accent_text,
        QPalette.ColorRole.Accent: c.accent,
        QPalette.ColorRole.Link: c.link,
        QPalette.ColorRole.LinkVisited: c.link,
        QPalette.ColorRole.BrightText: c.error,
    }
    for role, color in roles.items():
        palette.setColor(role, QColor(color))
    for role in (
        QPalette.ColorRole.Text,
        QPalette.ColorRole.WindowText,
        QPalette.ColorRole.ButtonText,
        QPalette.ColorRole.PlaceholderText,
    ):
        palette.setColor(QPalette.ColorGroup.Disabled, role, QColor(c.muted))
    palette.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Button, QColor(c.surface))
    return palette


def _stylesheet(c: Colors) -> str:
    return f"""
    QMainWindow, #chatView, #chatColumn {{ background: {c.window}; }}
    QToolTip {{ color: {c.text}; background: {c.raised}; border: 1px solid {c.border}; padding: 4px 6px; }}

    /* Buttons */
    QPushButton {{ background: {c.raised}; color: {c.text}; border: 1px solid {c.border};
        border-radius: 7px; padding: 5px 14px; }}
    QPushButton:hover {{ background: {c.hover}; }}
    QPushButton:pressed {{ background: {c.border}; }}
    QPushButton:focus {{ border-color: {c.accent}; }}
    QPushButton:disabled {{ color: {c.muted}; background: {c.surface}; }}

    /* Dialogs: the presets editor, the shortcut overview */
    #presetsDialog, #shortcutsDialog {{ background: {c.surface}; }}
    #presetsDialog QLineEdit, #presetsDialog QPlainTextEdit {{ background: {c.window}; color: {c.text};
        border: 1px solid {c.border}; border-radius: 6px; padding: 4px 6px;
        selection-background-color: {c.accent}; selection-color: {c.accent_text}; }}
    #presetsDialog QLineEdit:focus, #presetsDialog QPlainTextEdit:focus {{ border-color: {c.accent}; }}
    #presetsDialog QListWidget, #shortcutsDialog QTableWidget {{ background: {c.window}; color: {c.text};
        border: 1px solid {c.border}; border-radius: 8px; padding: 4px; outline: none; }}
    #presetsDialog QListWidget::item {{ padding: 7px 8px; border-radius: 6px; margin: 1px 0; }}
    #presetsDialog QListWidget::item:hover {{ background: {c.hover}; }}
    #presetsDialog QListWidget::item:selected {{ background: {c.selection}; color: {c.text}; }}
    #shortcutsDialog QTableWidget::item {{ padding: 4px 6px; }}
    #shortcutsDialog QTableWidget::item:selected {{ background: {c.selection}; color: {c.text}; }}
    #shortcutsDialog QHeaderView::section {{ background: {c.surface}; color: {c.muted}; border: none;
        border-bottom: 1px solid {c.border}; padding: 5px 6px; }}

    /* Sidebar */
    #sidebar {{ background: {c.surface}; border-right: 1px solid {c.border}; }}
    #brand {{ font-size: 17px; font-weight: 600; padding: 2px 6px 6px 6px; color: {c.text}; }}
    #newChatButton {{ background: {c.accent}; color: {c.accent_text}; border: 1px solid {c.accent};
        border-radius: 8px; padding: 8px 12px; font-weight: 600; text-align: left; }}
    #newChatButton:hover {{ background: {c.accent_hover}; border-color: {c.accent_hover}; }}
    #newChatButton:focus {{ border-color: {c.text}; }}
    #sidebar QListView {{ background: transparent; border: none; outline: none; color: {c.text}; }}
    #sidebar QListView::item {{ padding: 7px 8px; border-radius: 7px; margin: 1px 0; }}
    #sidebar QListView::item:hover {{ background: {c.hover}; }}
    #sidebar QListView::item:selected {{ background: {c.selection}; color: {c.text}; }}
    #searchField {{ background: {c.window}; color: {c.text}; border: 1px solid {c.border}; border-radius: 7px;
        padding: 4px 6px; selection-background-color: {c.accent}; selection-color: {c.accent_text}; }}
    #searchField:focus {{ border-color: {c.accent}; }}
    #searchScope {{ background: transparent; color: {c.muted}; border: 1px solid {c.border};
        border-radius: 7px; padding: 3px 7px; }}
    #searchScope:checked {{ background: {c.selection}; color: {c.text}; }}
    #searchScope:focus {{ border-color: {c.accent}; }}
    #searchStatus {{ color: {c.muted}; font-size: 12px; padding: 0 4px; }}
    QMenuBar {{ background: {c.surface}; color: {c.text}; border-bottom: 1px solid {c.border}; }}
    QMenuBar::item {{ padding: 4px 10px; background: transparent; }}
    QMenuBar::item:selected {{ background: {c.hover}; border-radius: 5px; }}
    QMenu {{ background: {c.raised}; color: {c.text}; border: 1px solid {c.border}; padding: 4px; }}
    QMenu::item {{ padding: 5px 24px 5px 14px; border-radius: 5px; }}
    QMenu::item:selected {{ background: {c.hover}; }}
    QMenu::item:disabled {{ color: {c.muted}; }}
    QMenu::separator {{ height: 1px; background: {c.border}; margin: 4px 8px; }}

    /* Header bar, settings panel and status bar */
    #headerBar {{ background: {c.window}; border-bottom: 1px solid {c.border}; }}
    #chatTitle {{ font-size: 15px; font-weight: 600; color: {c.text}; }}
    #modelButton, #settingsButton {{ border: 1px solid {c.border}; border-radius: 8px; padding: 5px 10px;
        background: {c.surface}; color: {c.text}; }}
    #modelButton:hover, #settingsButton:hover, #settingsButton:checked {{ background: {c.hover}; }}
    #modelButton:focus, #settingsButton:focus {{ border-color: {c.accent}; }}
    #modelButton {{ padding-right: 22px; }}
    #modelButton::menu-indicator {{ subcontrol-position: right center; right: 6px; }}
    #settingsPanel {{ background: {c.surface}; border-left: 1px solid {c.border}; }}
    #settingsPanel QScrollArea, #settingsContent {{ background: {c.surface}; }}
    #panelTitle {{ font-size: 15px; font-weight: 600; }}
    #settingsPanel QPlainTextEdit {{ background: {c.window}; border: 1px solid {c.border};
        border-radius: 6px; padding: 3px; }}
    QStatusBar {{ background: {c.surface}; color: {c.muted}; border-top: 1px solid {c.border}; }}
    QStatusBar::item {{ border: none; }}
    QStatusBar QLabel {{ color: {c.muted}; padding: 0 6px; }}
    QSplitter::handle {{ background: {c.border}; }}
    QSplitter::handle:horizontal {{ width: 1px; }}

    /* Messages */
    #emptyTitle {{ font-size: 26px; font-weight: 600; color: {c.muted}; }}
    #emptyHint {{ font-size: 15px; color: {c.muted}; }}
    #userBubble {{ background: {c.bubble}; border-radius: 16px; }}
    #userText, #prose, #thinkingText {{ background: transparent; border: none; color: {c.text};
        font-size: 15px; selection-background-color: {c.accent}; selection-color: {c.accent_text}; }}
    #thinkingToggle {{ border: 1px solid transparent; border-radius: 6px; color: {c.muted};
        padding: 2px 6px 2px 2px; font-size: 13px; background: transparent; }}
    #thinkingToggle:hover {{ color: {c.text}; }}
    #thinkingToggle:focus {{ border-color: {c.accent}; }}
    #thinkingBox {{ border: none; border-left: 2px solid {c.scrollbar}; }}
    #thinkingText {{ color: {c.muted}; font-size: 14px; }}
    #typingIndicator {{ color: {c.muted}; }}
    #codeBlock {{ background: {c.code}; border: 1px solid {c.border}; border-radius: 10px; }}
    #codeHeader {{ background: {c.code_header}; border-top-left-radius: 9px; border-top-right-radius: 9px;
        border-bottom: 1px solid {c.border}; }}
    #codeLanguage {{ color: {c.muted}; font-size: 12px; }}
    #codeText {{ background: {c.code}; color: {c.text}; border: none;
        border-bottom-left-radius: 9px; border-bottom-right-radius: 9px;
        selection-background-color: {c.accent}; selection-color: {c.accent_text}; }}
    #codeCopy, #messageAction {{ background: transparent; color: {c.muted}; border: 1px solid transparent;
        border-radius: 6px; padding: 3px 8px; font-size: 12px; }}
    #codeCopy:hover, #messageAction:hover {{ background: {c.hover}; color: {c.text}; }}
    #codeCopy:focus, #messageAction:focus {{ border-color: {c.accent}; color: {c.text}; }}
    #messageStats {{ color: {c.muted}; font-size: 12px; }}
    #statusNote {{ color: {c.muted}; font-size: 13px; }}
    #statusNote[kind="interrupted"] {{ color: {c.warning}; background: {c.warning_bg};
        border-radius: 8px; padding: 8px 12px; }}
    #statusNote[kind="error"] {{ color: {c.error}; background: {c.error_bg};
        border-radius: 8px; padding: 8px 12px; }}

    #approvalBar {{ background: {c.warning_bg}; border: 1px solid {c.border}; border-radius: 12px; }}
    #approvalQuestion {{ color: {c.text}; font-weight: 600; }}
    #approvalDetails {{ color: {c.muted}; font-family: monospace; font-size: 12px; }}

    /* Composer */
    #composer {{ background: {c.window}; }}
    #composerBox {{ background: {c.surface}; border: 1px solid {c.border}; border-radius: 14px; }}
    #composerInput {{ background: transparent; color: {c.text}; font-size: 15px; border: none;
        selection-background-color: {c.accent}; selection-color: {c.accent_text}; }}
    #composerHint {{ color: {c.muted}; font-size: 12px; padding-left: 14px; }}
    #sendButton {{ background: {c.accent}; color: {c.accent_text}; border: 1px solid {c.accent};
        border-radius: 9px; padding: 6px 16px; font-weight: 600; min-width: 44px; }}
    #sendButton:hover {{ background: {c.accent_hover}; border-color: {c.accent_hover}; }}
    #sendButton:focus {{ border-color: {c.text}; }}
    #sendButton:disabled {{ background: {c.raised}; color: {c.muted}; border-color: {c.border}; }}
    #sendButton[busy="true"] {{ background: {c.text}; color: {c.window}; border-color: {c.text}; }}
    #attachButton, #micButton {{ background: transparent; color: {c.text}; border: 1px solid transparent;
        border-radius: 9px; padding: 5px; min-width: 22px; min-height: 22px; }}
    #attachButton:hover, #micButton:hover {{ background: {c.hover}; }}
    #attachButton:focus, #micButton:focus {{ border-color: {c.border}; }}
    #thinkButton {{ background: transparent; color: {c.muted}; border: 1px solid {c.border};
        border-radius: 9px; padding: 5px 9px; }}
    #thinkButton:hover {{ background: {c.hover}; color: {c.text}; }}
    #thinkButton:checked {{ background: {c.selection}; color: {c.text}; border-color: {c.accent}; }}
    #thinkButton:focus {{ border-color: {c.accent}; }}
    #micButton:checked {{ background: {c.error_bg}; color: {c.error}; font-weight: 600; padding: 5px 8px; }}

    /* Attachments */
    #attachmentTile {{ background: {c.raised}; border: 1px solid {c.border}; border-radius: 12px; }}
    #attachmentTile:hover {{ border-color: {c.muted}; }}
    #detailBadge {{ background: rgba(0, 0, 0, 150); color: white; border: none; border-radius: 6px;
        font-size: 10px; font-weight: 600; padding: 0 3px; }}
    #detailBadge:hover, #detailBadge:focus {{ background: {c.accent}; }}
    #detailBadge::menu-indicator {{ image: none; width: 0; }}
    #attachmentName {{ color: {c.text}; font-size: 13px; }}
    #attachmentDetail {{ color: {c.muted}; font-size: 12px; }}
    #attachmentWarning {{ color: {c.warning}; font-size: 12px; }}
    #attachmentRemove {{ background: transparent; color: {c.muted}; border: none; border-radius: 8px;
        font-size: 15px; padding: 0 4px; }}
    #attachmentRemove:hover {{ background: {c.hover}; color: {c.text}; }}

    /* Scroll bars: slim, without arrows */
    QScrollBar:vertical {{ background: transparent; width: 10px; margin: 2px; }}
    QScrollBar::handle:vertical {{ background: {c.scrollbar}; border-radius: 3px; min-height: 30px; }}
    QScrollBar:horizontal {{ background: transparent; height: 10px; margin: 2px; }}
    QScrollBar::handle:horizontal {{ background: {c.scrollbar}; border-radius: 3px; min-width: 30px; }}
    QScrollBar::handle:hover {{ background: {c.muted}; }}
    QScrollBar::add-line, QScrollBar::sub-line {{ height: 0; width: 0; }}
    QScrollBar::add-page, QScrollBar::sub-page {{ background: none; }}
    """


def colors_for(palette: QPalette) -> Colors:
    """The theme's colours that match ``palette`` (painted widgets draw with these)."""
    return DARK if palette.color(QPalette.ColorRole.Window).lightness() < 128 else LIGHT


def is_dark(app: QApplication) -> bool:
    """Whether the application currently looks dark (by its window colour)."""
    return app.palette().color(QPalette.ColorRole.Window).lightness() < 128


def apply_theme(app: QApplication, mode: str) -> None:
    """Apply "light", "dark" or "system" (the OS colour scheme, followed when it changes)."""
    if mode not in THEMES:
        raise ValueError(f"unknown theme {mode!r}, expected one of {', '.join(THEMES)}")
    app.setProperty(_MODE_PROPERTY, mode)
    if mode == "system" and not app.property(_FOLLOWING_PROPERTY):
        app.setProperty(_FOLLOWING_PROPERTY, True)
        QGuiApplication.styleHints().colorSchemeChanged.connect(lambda _scheme: _follow_system(app))
    _apply(app, _system_is_dark() if mode == "system" else mode == "dark")


def _system_is_dark() -> bool:
    return QGuiApplication.styleHints().colorScheme() == Qt.ColorScheme.Dark


def _follow_system(app: QApplication) -> None:
    if app.property(_MODE_PROPERTY) == "system":
        _apply(app, _system_is_dark())


def _apply(app: QApplication, dark: bool) -> None:
    colors = DARK if dark else LIGHT
    app.setStyle("Fusion")
    app.setPalette(_palette(colors))
    app.setStyleSheet(_stylesheet(colors))
