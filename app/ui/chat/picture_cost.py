"""What a picture about to be sent costs, and the detail it is read at: a badge on its tile shows
the visual tokens it takes, and opens a menu to choose this picture's detail. A picture follows
the chat's setting unless the user chose for it; "Automatic" is what ``picture_detail`` picks
from how it looks."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QActionGroup
from PySide6.QtWidgets import QMenu, QToolButton, QWidget

from app.core.gemma4 import AUTO_IMAGE_BUDGET, IMAGE_BUDGETS, tokens_at
from app.media.picture_detail import PHOTO_DETAIL
from app.ui.chat.intake import PendingAttachment

BADGE_HEIGHT = 16
LEVELS = dict(zip(IMAGE_BUDGETS, ("Least", "Low", "Standard", "High", "Highest"), strict=True))


def detail_of(item: PendingAttachment, chat_budget: int) -> int:
    """The visual-token budget this picture is sent at: the user's choice for it, else the chat's
    setting, else what "Automatic" picked from how it looks."""
    return item.chosen_detail or chat_budget or item.auto_detail or PHOTO_DETAIL


def cost_of(item: PendingAttachment, chat_budget: int) -> int:
    """The visual tokens the picture takes, exactly (its grid of squares at its detail)."""
    budget = detail_of(item, chat_budget)
    return tokens_at(*item.size, budget) if item.size else budget


def describe(item: PendingAttachment, chat_budget: int) -> str:
    budget = detail_of(item, chat_budget)
    if item.chosen_detail:
        how = "chosen for this picture"
    elif chat_budget:
        how = "the chat's setting"
    else:
        how = "automatic, for a picture that looks like this"
    return (
        f"Read at {LEVELS.get(budget, str(budget)).lower()} detail ({how}): {cost_of(item, chat_budget):,} "
        "visual tokens of the context. Click to choose the detail for this picture."
    )


class DetailBadge(QToolButton):
    """The token cost over a picture's thumbnail; its menu chooses the picture's detail."""

    chosen = Signal(int)
    """The user chose a detail for the picture (visual tokens; 0: as the chat says)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("detailBadge")
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        self.setAccessibleName("Picture detail")
        self.menu_ = QMenu(self)
        self.setMenu(self.menu_)
        self._item: PendingAttachment | None = None
        self._chat_budget = AUTO_IMAGE_BUDGET
        self.menu_.aboutToShow.connect(self._fill)

    def show_cost(self, item: PendingAttachment, chat_budget: int) -> None:
        self._item, self._chat_budget = item, chat_budget
        self.setText(f"{cost_of(item, chat_budget):,}")
        # Along the foot of the thumbnail it sits on.
        holder = self.parentWidget()
        if holder is not None:
            width = min(holder.width() - 4, self.sizeHint().width())
            self.setGeometry(2, holder.height() - BADGE_HEIGHT - 2, width, BADGE_HEIGHT)
        words = describe(item, chat_budget)
        self.setToolTip(words)
        self.setAccessibleDescription(words)

    def _fill(self) -> None:
        menu, item = self.menu_, self._item
        menu.clear()
        if item is None:
            return
        heading = menu.addAction("Detail for this picture")
        heading.setEnabled(False)
        group = QActionGroup(menu)
        follow = _cost_words(item, self._chat_budget, 0)
        chat = "automatic" if not self._chat_budget else LEVELS.get(self._chat_budget, "").lower()
        choices: list[tuple[str, int]] = [(f"As the chat says: {chat} ({follow})", 0)]
        choices += [(f"{LEVELS[b]} ({_cost_words(item, self._chat_budget, b)})", b) for b in IMAGE_BUDGETS]
        for label, budget in choices:
            action = QAction(label, menu)
            action.setCheckable(True)
            action.setChecked(item.chosen_detail == budget)
            action.triggered.connect(self._choose(budget))
            group.addAction(action)
            menu.addAction(action)

    def _choose(self, budget: int) -> Callable[[bool], None]:
        def choose(_checked: bool = False) -> None:
            self.chosen.emit(budget)

        return choose


def _cost_words(item: PendingAttachment, chat_budget: int, chosen: int) -> str:
    from dataclasses import replace

    return f"{cost_of(replace(item, chosen_detail=chosen), chat_budget):,} tokens"
