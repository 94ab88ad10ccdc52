"""How the Models window looks: fit colours and a small stylesheet on top of the app's theme.

Kept here rather than in ``theme.py``: the window sets it on itself and re-applies it when the
palette changes (light/dark switch), reusing the theme's colours.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QWidget

from app.library.fit import FitLevel
from app.ui.theme import DARK, LIGHT, Colors


@dataclass(frozen=True)
class Tone:
    text: str
    background: str


# Text on its background passes WCAG AA (4.5:1) in both themes.
FIT_TONES = {
    False: {
        FitLevel.GREEN: Tone("#1d6a34", "#e2f2e5"),
        FitLevel.AMBER: Tone("#875400", "#fbf0da"),
        FitLevel.RED: Tone("#b3261e", "#fbe9e7"),
    },
    True: {
        FitLevel.GREEN: Tone("#86d79f", "#1f3527"),
        FitLevel.AMBER: Tone("#f0b35a", "#3a2f1c"),
        FitLevel.RED: Tone("#ff8a80", "#3d2422"),
    },
}


def is_dark(widget: QWidget) -> bool:
    return widget.palette().color(QPalette.ColorRole.Window).lightness() < 128


def colors_for(widget: QWidget) -> Colors:
    return DARK if is_dark(widget) else LIGHT


def fit_tone(level: FitLevel, dark: bool) -> Tone:
    return FIT_TONES[dark][level]


def qcolor(value: str) -> QColor:
    return QColor(value)


def models_stylesheet(c: Colors, dark: bool) -> str:
    green, amber, red = (FIT_TONES[dark][level] for level in FitLevel)
    return f"""
    #modelsWindow {{ background: {c.window}; }}
    #modelsHeader {{ background: {c.surface}; border-bottom: 1px solid {c.border}; }}
    #modelsTitle {{ font-size: 20px; font-weight: 600; color: {c.text}; }}
    #welcomeLine {{ font-size: 15px; color: {c.text}; }}
    #machineLine, #mutedNote, #sourceNote {{ color: {c.muted}; }}
    #sourceNote {{ font-size: 12px; }}
    #offlineBanner {{ color: {c.warning}; background: {c.warning_bg}; border-radius: 8px;
        padding: 8px 12px; }}

    #modelsTabs::pane {{ border: none; border-top: 1px solid {c.border}; top: -1px; }}
    #modelsTabs > QTabBar {{ qproperty-drawBase: 0; }}
    #modelsTabs QTabBar::tab {{ background: transparent; color: {c.muted}; padding: 8px 16px;
        border: none; border-bottom: 2px solid transparent; margin-right: 4px; font-weight: 600; }}
    #modelsTabs QTabBar::tab:hover {{ color: {c.text}; }}
    #modelsTabs QTabBar::tab:selected {{ color: {c.text}; border-bottom-color: {c.accent}; }}

    #modelTable {{ background: {c.window}; alternate-background-color: {c.surface};
        border: 1px solid {c.border}; border-radius: 8px; gridline-color: transparent; outline: none;
        selection-background-color: {c.selection}; selection-color: {c.text}; }}
    #modelTable::item {{ border: none; padding: 0 8px; }}
    #modelTable::item:selected {{ background: {c.selection}; color: {c.text}; }}
    #modelTable QHeaderView::section {{ background: {c.surface}; color: {c.muted}; border: none;
        border-bottom: 1px solid {c.border}; padding: 6px 8px; font-weight: 600; }}
    #modelTable QHeaderView {{ background: {c.surface}; border: none; border-top-left-radius: 8px;
        border-top-right-radius: 8px; }}

    QLineEdit#searchField, QLineEdit#repoField {{ background: {c.window}; color: {c.text};
        border: 1px solid {c.border}; border-radius: 7px; padding: 5px 8px; }}
    QLineEdit#searchField:focus, QLineEdit#repoField:focus {{ border-color: {c.accent}; }}

    #detailsPane {{ background: {c.surface}; border: 1px solid {c.border}; border-radius: 10px; }}
    #detailsTitle {{ font-size: 18px; font-weight: 600; color: {c.text}; }}
    #detailsSubtitle, #factLabel {{ color: {c.muted}; }}
    #factValue {{ color: {c.text}; }}
    #recommendedBadge {{ color: {c.accent_text}; background: {c.accent}; border-radius: 9px;
        padding: 2px 10px; font-weight: 600; font-size: 12px; }}
    #fitBox {{ border-radius: 8px; }}
    #fitHeadline, #assistantHeadline {{ font-weight: 600; }}
    #assistantBox {{ border-top: 1px solid {c.border}; }}
    #assistantText {{ color: {c.muted}; }}
    #fitBox[level="green"] {{ background: {green.background}; }}
    #fitBox[level="green"] QLabel {{ color: {green.text}; }}
    #fitBox[level="amber"] {{ background: {amber.background}; }}
    #fitBox[level="amber"] QLabel {{ color: {amber.text}; }}
    #fitBox[level="red"] {{ background: {red.background}; }}
    #fitBox[level="red"] QLabel {{ color: {red.text}; }}
    #fitBox[level="unknown"] {{ background: {c.raised}; }}
    #fitBox[level="unknown"] QLabel {{ color: {c.muted}; }}
    #errorNote {{ color: {c.error}; background: {c.error_bg}; border-radius: 8px; padding: 8px 12px; }}
    #jobStatus {{ color: {c.muted}; }}

    #downloadProgress {{ background: {c.raised}; border: none; border-radius: 3px; max-height: 6px;
        min-height: 6px; }}
    #downloadProgress::chunk {{ background: {c.accent}; border-radius: 3px; }}

    #primaryButton {{ background: {c.accent}; color: {c.accent_text}; border: 1px solid {c.accent};
        font-weight: 600; }}
    #primaryButton:hover {{ background: {c.accent_hover}; border-color: {c.accent_hover}; }}
    #primaryButton:focus {{ border-color: {c.text}; }}
    #primaryButton:disabled {{ background: {c.raised}; color: {c.muted}; border-color: {c.border}; }}
    #dangerButton {{ color: {c.error}; }}

    #modelsWindow QCheckBox::indicator {{ width: 14px; height: 14px; border-radius: 4px;
        border: 1px solid {c.muted}; background: {c.window}; }}
    #modelsWindow QCheckBox::indicator:checked {{ background: {c.accent}; border-color: {c.accent}; }}
    #modelsWindow QCheckBox::indicator:focus {{ border-color: {c.accent}; }}
    #discoverSplitter::handle {{ background: transparent; }}
    #emptyState {{ color: {c.muted}; font-size: 15px; }}
    #fileList {{ background: {c.window}; border: 1px solid {c.border}; border-radius: 8px; outline: none; }}
    #fileList::item {{ padding: 6px 8px; }}
    #fileList::item:selected {{ background: {c.selection}; color: {c.text}; }}
    """


def apply_models_style(widget: QWidget) -> None:
    dark = is_dark(widget)
    widget.setStyleSheet(models_stylesheet(colors_for(widget), dark))
