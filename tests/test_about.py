"""Help › About names Hearth's version and licence, the parts it is built on with their versions
and licences, and carries the Gemma trademark note."""

from __future__ import annotations

from importlib import metadata

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

from app import __version__
from app.core.paths import resolve_paths
from app.ui.application import build


def test_about_names_the_version_the_licences_and_the_trademark(qtbot, hearth_home):
    hearth = build(resolve_paths(hearth_home).ensure(), theme="light")
    qtbot.addWidget(hearth.window)
    shown: list[str] = []

    def read_and_close() -> None:
        box = QApplication.activeModalWidget()
        if not isinstance(box, QMessageBox):
            QTimer.singleShot(20, read_and_close)
            return
        shown.append(box.text())
        box.accept()

    try:
        QTimer.singleShot(0, read_and_close)
        hearth.window.menus.about_action.trigger()  # modal: returns once the box is closed
    finally:
        hearth.shutdown()
    (text,) = shown
    assert f"Hearth {__version__}" in text and "Apache License 2.0" in text
    assert f"llama-cpp-python {metadata.version('llama-cpp-python')} (MIT)" in text
    assert "PySide6" in text and "LGPL-3.0" in text
    assert "Gemma is a trademark of Google LLC" in text
