"""The local API's place in the window: its panel (File › Local API…), where it is turned on and
its address and token are copied, and a status-bar note while a program uses the model."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QStatusBar,
    QVBoxLayout,
    QWidget,
)

from app.core.settings import Settings
from app.ui.local_api import LocalApi, new_token

PANEL_NAME = "localApiPanel"
EXAMPLE = """from openai import OpenAI

client = OpenAI(
    base_url="{address}",
    api_key="the token above",
)
answer = client.chat.completions.create(
    model="{model}",
    messages=[{{"role": "user", "content": "Hello!"}}],
)
print(answer.choices[0].message.content)"""


class LocalApiControls:
    """Owns the local API for the window: serves it as the settings say, and shows its state."""

    def __init__(
        self,
        api: LocalApi,
        settings: Callable[[], Settings],
        save: Callable[[Settings], None],
        status_bar: QStatusBar,
    ) -> None:
        self.api = api
        self._settings, self._save = settings, save
        self.problem = ""
        self.label = QLabel()
        self.label.setObjectName("localApiState")
        self.label.setAccessibleName("Local API")
        self.label.setVisible(False)
        status_bar.addPermanentWidget(self.label)
        api.in_use_changed.connect(self.show_state)
        if settings().api_enabled:
            self.problem = api.serve(settings().api_port, self._token())

    def _token(self) -> str:
        settings = self._settings()
        if not settings.api_token:
            settings = replace(settings, api_token=new_token())
            self._save(settings)
        return settings.api_token

    def turn(self, on: bool, port: int) -> None:
        settings = replace(self._settings(), api_enabled=on, api_port=port)
        self._save(settings)
        self.problem = self.api.serve(port, self._token()) if on else ""
        if not on:
            self.api.stop()
        self.show_state()

    def renew_token(self) -> None:
        self._save(replace(self._settings(), api_token=new_token()))
        if self.api.serving:
            self.problem = self.api.serve(self._settings().api_port, self._settings().api_token)
        self.show_state()

    def state_words(self) -> str:
        api = self.api
        if self.problem:
            return self.problem
        if not api.serving:
            return "Off. No program can use the model, and Hearth listens on no port."
        if api.answering:
            waiting = f"; {api.waiting} more waiting" if api.waiting else ""
            return f"A program is using the model{waiting}. Your own chats go first."
        return f"On, at {api.address}. No program is using the model now."

    def show_state(self) -> None:
        api = self.api
        self.label.setVisible(api.serving)
        if api.answering:
            waiting = f" · {api.waiting} waiting" if api.waiting else ""
            self.label.setText(f"● Local API in use{waiting}")
        else:
            self.label.setText("Local API on")
        self.label.setMinimumWidth(self.label.sizeHint().width())  # never cut short by the bar
        self.label.setToolTip(f"The local API answers at {api.address}" if api.serving else "")
        panel = self.label.window().findChild(LocalApiPanel, PANEL_NAME)
        if panel is not None:
            panel.refresh()

    def open_panel(self, parent: QWidget, model_name: Callable[[], str]) -> None:
        panel = parent.findChild(LocalApiPanel, PANEL_NAME)
        if panel is None:
            panel = LocalApiPanel(parent, self, model_name)
        panel.refresh()
        panel.show()
        panel.raise_()
        panel.activateWindow()


class LocalApiPanel(QDialog):
    def __init__(self, parent: QWidget, controls: LocalApiControls, model_name: Callable[[], str]) -> None:
        super().__init__(parent)
        self.setObjectName(PANEL_NAME)
        self.setWindowTitle("Local API")
        self._controls, self._model_name = controls, model_name
        intro = QLabel(
            "Let programs on this computer, such as editors and scripts, use the model loaded in "
            "Hearth through an OpenAI-compatible API. Only this computer can connect, and only "
            "with the token."
        )
        intro.setWordWrap(True)
        self.enabled = QCheckBox("Serve the loaded model to programs on this computer")
        self.port = QSpinBox()
        self.port.setRange(1024, 65535)
        self.port.setAccessibleName("Port")
        self.address = QLineEdit(readOnly=True)
        self.address.setAccessibleName("Address")
        self.token = QLineEdit(readOnly=True)
        self.token.setAccessibleName("Token")
        self.token.setEchoMode(QLineEdit.EchoMode.PasswordEchoOnEdit)
        self.copy_address = QPushButton("Copy")
        self.copy_address.setAccessibleName("Copy the address")
        self.copy_token = QPushButton("Copy")
        self.copy_token.setAccessibleName("Copy the token")
        self.new_token = QPushButton("New token")
        self.new_token.setToolTip("Programs using the old token are refused from now on")
        self.state = QLabel()
        self.state.setObjectName("localApiPanelState")
        self.state.setWordWrap(True)
        self.example = QPlainTextEdit(readOnly=True)
        self.example.setAccessibleName("Example in Python")
        self.example.setFixedHeight(200)
        self.example.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.example.setStyleSheet("font-family: monospace;")

        form = QFormLayout()
        form.addRow("Port", self.port)
        form.addRow("Address", _row(self.address, self.copy_address))
        form.addRow("Token", _row(self.token, self.copy_token, self.new_token))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.close)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.enabled)
        layout.addLayout(form)
        layout.addWidget(self.state)
        layout.addWidget(QLabel("For example, in Python with the openai package:"))
        layout.addWidget(self.example)
        layout.addWidget(buttons)
        self.setMinimumWidth(600)

        self.enabled.toggled.connect(lambda on: controls.turn(on, self.port.value()))
        self.port.editingFinished.connect(self._port_changed)
        self.copy_address.clicked.connect(lambda: QGuiApplication.clipboard().setText(self._address()))
        self.copy_token.clicked.connect(lambda: QGuiApplication.clipboard().setText(self._token_text()))
        self.new_token.clicked.connect(controls.renew_token)

    def _address(self) -> str:
        return f"http://127.0.0.1:{self.port.value()}/v1"

    def _token_text(self) -> str:
        return self._controls._settings().api_token

    def _port_changed(self) -> None:
        if self.enabled.isChecked() and self.port.value() != self._controls._settings().api_port:
            self._controls.turn(True, self.port.value())

    def refresh(self) -> None:
        settings = self._controls._settings()
        self.enabled.blockSignals(True)
        self.enabled.setChecked(settings.api_enabled)
        self.enabled.blockSignals(False)
        self.port.blockSignals(True)
        self.port.setValue(settings.api_port)
        self.port.blockSignals(False)
        self.address.setText(self._address())
        self.token.setText(settings.api_token or "(made when the API is first turned on)")
        self.copy_token.setEnabled(bool(settings.api_token))
        self.new_token.setEnabled(bool(settings.api_token))
        self.state.setText(self._controls.state_words())
        problem = bool(self._controls.problem)
        self.state.setStyleSheet("color: #c0392b;" if problem else "")
        model = self._model_name() or "the model loaded in Hearth"
        self.example.setPlainText(EXAMPLE.format(address=self._address(), model=model))


def _row(*widgets: QWidget) -> QWidget:
    row = QWidget()
    layout = QHBoxLayout(row)
    layout.setContentsMargins(0, 0, 0, 0)
    for widget in widgets:
        layout.addWidget(widget, 1 if isinstance(widget, QLineEdit) else 0)
    layout.setAlignment(Qt.AlignmentFlag.AlignVCenter)
    return row
