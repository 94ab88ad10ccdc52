"""Dictation in the main window: a dictated recording goes to ``Dictation``, its words into the
message box; the microphone's menu switches between asking by voice and dictating; with no model
that hears installed, the user is offered the smallest one in one click."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt
from PySide6.QtWidgets import QMessageBox, QWidget

from app.library.catalog import load_catalog
from app.library.ears import EARS_CATALOG_ID
from app.ui.chat.composer import Composer
from app.ui.chat.dictation import Dictation

if TYPE_CHECKING:
    from app.ui.library.manager import ModelManager

OFFER_BOX = "earsOffer"


class DictationGlue(QObject):
    def __init__(
        self,
        window: QWidget,
        dictation: Dictation,
        composer: Composer,
        current_chat: Callable[[], int | None],
        notify: Callable[[str], None],
        models: ModelManager | None,
    ) -> None:
        super().__init__(window)
        self._window, self._notify, self._models = window, notify, models
        self.dictation = dictation
        composer.mic.dictated.connect(lambda wav, seconds: dictation.dictate(wav, seconds, current_chat()))
        dictation.heard.connect(composer.insert_words)
        dictation.failed.connect(notify)
        dictation.working_changed.connect(composer.set_writing_down)
        dictation.ears_missing.connect(self.offer_ears)

    def offer_ears(self) -> None:
        """No installed model can hear: offer to download the catalog's smallest one."""
        entry = next((e for e in load_catalog() if e.id == EARS_CATALOG_ID), None)
        if entry is None or self._models is None:
            self._notify(
                "Dictation needs a model that hears: download Gemma 4 E2B or E4B, with its projector."
            )
            return
        size = f" ({entry.download_size / 1e9:.1f} GB)" if entry.download_size else ""
        box = QMessageBox(
            QMessageBox.Icon.Question,
            "Dictation needs a model that hears",
            "The chat's model cannot hear, and no model that hears is on this computer yet.",
            QMessageBox.StandardButton.NoButton,
            self._window,
        )
        box.setObjectName(OFFER_BOX)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.setInformativeText(
            f"{entry.display_name}{size} writes down what you say, in an engine of its own beside "
            "the chat's model, and can also be chosen for chats that you speak to."
        )
        download = box.addButton(f"Download {entry.display_name}", QMessageBox.ButtonRole.AcceptRole)
        box.addButton("Not now", QMessageBox.ButtonRole.RejectRole)
        box.setDefaultButton(download)
        box.setWindowModality(Qt.WindowModality.WindowModal)
        models = self._models

        def chosen() -> None:
            if box.clickedButton() is download:
                models.downloads.add_catalog(entry, models.paths.models)
                self._notify(
                    f"Downloading {entry.display_name}; dictation works once it is here (Ctrl+M shows it)."
                )

        box.finished.connect(chosen)
        box.open()

    def shutdown(self) -> None:
        self.dictation.shutdown()
