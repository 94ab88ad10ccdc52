"""The Servers tab of the Models window: OpenAI-compatible servers (llama-server, vLLM, Ollama,
LM Studio) whose models answer instead of a local one. Adding one asks the server for its models
in the background; its API key goes to the keyring."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.core.settings import ServerEntry
from app.engine.remote_engine import RemoteError, ServerModel
from app.ui.background import BackgroundTasks
from app.ui.library.servers import ServerBook, fetch_models, remote_path

INTRO = (
    "Use a model served by another computer or program: llama.cpp's llama-server, vLLM, Ollama or "
    "LM Studio. The chats you send it go to that server; nothing else leaves this computer."
)
DIALOG_NAME = "addServerDialog"
URL_ROLE = Qt.ItemDataRole.UserRole


class ServersTab(QWidget):
    use_requested = Signal(str, str)
    """Load this server model: (its remote path, its name)."""

    def __init__(self, book: ServerBook, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.book = book
        self.tasks = BackgroundTasks(self)
        intro = QLabel(INTRO)
        intro.setWordWrap(True)
        intro.setObjectName("serversIntro")
        self.tree = QTreeWidget()
        self.tree.setAccessibleName("Servers and their models")
        self.tree.setHeaderLabels(["Server and model", "Context", "Takes"])
        self.tree.header().setAccessibleName("Columns")
        self.tree.setColumnWidth(0, 460)
        self.tree.itemDoubleClicked.connect(lambda _item, _column: self.use_selected())
        self.tree.currentItemChanged.connect(lambda *_: self._update_buttons())
        self.add_button = QPushButton("Add a server…")
        self.use_button = QPushButton("Use")
        self.use_button.setObjectName("primary")
        self.refresh_button = QPushButton("Ask for its models again")
        self.remove_button = QPushButton("Remove")
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.status.setObjectName("serversStatus")
        self.add_button.clicked.connect(self.add_server)
        self.use_button.clicked.connect(self.use_selected)
        self.refresh_button.clicked.connect(self.refresh_selected)
        self.remove_button.clicked.connect(self.remove_selected)
        buttons = QHBoxLayout()
        for button in (self.add_button, self.refresh_button, self.remove_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        buttons.addWidget(self.use_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(20, 14, 20, 14)
        layout.addWidget(intro)
        layout.addWidget(self.tree, 1)
        layout.addWidget(self.status)
        layout.addLayout(buttons)
        self._models: dict[str, list[ServerModel]] = {}
        self.show_servers()

    def show_servers(self) -> None:
        self.tree.clear()
        for server in self.book.servers:
            top = QTreeWidgetItem([server.url, "", ""])
            top.setData(0, URL_ROLE, server.url)
            known = {model.name: model for model in self._models.get(server.url, [])}
            for name in server.models:
                model = known.get(name)
                senses = [
                    word for word, able in (("pictures", server.vision), ("sound", server.audio)) if able
                ]
                if model is not None:
                    senses = [
                        w
                        for w, able in (
                            ("pictures", model.vision or server.vision),
                            ("sound", model.audio or server.audio),
                        )
                        if able
                    ]
                context = f"{model.context_length:,}" if model and model.context_length else ""
                child = QTreeWidgetItem([name, context, ", ".join(senses) or "text"])
                child.setData(0, URL_ROLE, server.url)
                top.addChild(child)
            self.tree.addTopLevelItem(top)
            top.setExpanded(True)
        if not self.book.servers:
            self.status.setText("No servers yet. Add one by its address, such as http://127.0.0.1:8080/v1.")
        self._update_buttons()

    def _selected(self) -> tuple[str, str]:
        """(server address, model name or "") of the selected row."""
        item = self.tree.currentItem()
        if item is None:
            return "", ""
        url = str(item.data(0, URL_ROLE))
        return url, item.text(0) if item.parent() is not None else ""

    def _update_buttons(self) -> None:
        url, model = self._selected()
        self.use_button.setEnabled(bool(model))
        self.refresh_button.setEnabled(bool(url))
        self.remove_button.setEnabled(bool(url))

    def use_selected(self) -> None:
        url, model = self._selected()
        if model:  # (a server may name its model by a whole path: the last part reads best)
            self.use_requested.emit(remote_path(url, model), model.rstrip("/").rsplit("/", 1)[-1])

    def add_server(self) -> None:
        dialog = ServerDialog(self, self.tasks)
        dialog.accepted.connect(lambda: self._added(dialog))
        dialog.open()

    def _added(self, dialog: ServerDialog) -> None:
        url, models = dialog.found
        entry = ServerEntry(
            url, tuple(m.name for m in models), dialog.vision.isChecked(), dialog.audio.isChecked()
        )
        self._models[url] = models
        self.book.keep(entry, dialog.key.text().strip())
        self.status.setText(f"Added {url}: {len(models)} model(s). Pick one and press Use.")
        self.show_servers()

    def refresh_selected(self) -> None:
        url, _model = self._selected()
        entry = self.book.entry(url)
        if entry is None:
            return
        self.status.setText(f"Asking {url} for its models…")
        token = self.book.key(url)
        self.tasks.run(
            lambda: fetch_models(url, token.get() or ""),
            lambda found: self._refreshed(entry, found),
            lambda error: self.status.setText(str(error) if isinstance(error, RemoteError) else f"{error}"),
            name="server-models",
        )

    def _refreshed(self, entry: ServerEntry, found: tuple[str, list[ServerModel]]) -> None:
        _url, models = found
        self._models[entry.url] = models
        self.book.keep(ServerEntry(entry.url, tuple(m.name for m in models), entry.vision, entry.audio))
        self.status.setText(f"{entry.url} serves {len(models)} model(s).")
        self.show_servers()

    def remove_selected(self) -> None:
        url, _model = self._selected()
        if url:
            self.book.remove(url)
            self._models.pop(url, None)
            self.status.setText(f"Removed {url}, and its API key.")
            self.show_servers()


class ServerDialog(QDialog):
    """Add a server: its address and key; Connect lists its models before it can be added."""

    def __init__(self, parent: QWidget, tasks: BackgroundTasks) -> None:
        super().__init__(parent)
        self.setObjectName(DIALOG_NAME)
        self.setWindowTitle("Add a server")
        self.setMinimumWidth(560)
        self._tasks = tasks
        self.found: tuple[str, list[ServerModel]] = ("", [])
        self.url = QLineEdit()
        self.url.setPlaceholderText("http://127.0.0.1:8080/v1")
        self.url.setAccessibleName("Server address")
        self.key = QLineEdit()
        self.key.setEchoMode(QLineEdit.EchoMode.Password)
        self.key.setPlaceholderText("Only if the server asks for one")
        self.key.setAccessibleName("API key")
        self.vision = QCheckBox("Its models take pictures")
        self.audio = QCheckBox("Its models take sound")
        senses_note = QLabel("llama-server says this itself; for other servers, tick what the model can do.")
        senses_note.setWordWrap(True)
        senses_note.setObjectName("hint")
        self.connect_button = QPushButton("Connect")
        self.outcome = QLabel("Hearth connects only to this address, and checks its certificate (https).")
        self.outcome.setWordWrap(True)
        self.outcome.setObjectName("serverResult")
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok.setText("Add")
        self.ok.setEnabled(False)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        form = QFormLayout()
        form.addRow("Address", self.url)
        form.addRow("API key", self.key)
        form.addRow("", self.vision)
        form.addRow("", self.audio)
        form.addRow("", senses_note)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        row = QHBoxLayout()
        row.addWidget(self.connect_button)
        row.addWidget(self.outcome, 1)
        layout.addLayout(row)
        layout.addWidget(self.buttons)
        self.connect_button.clicked.connect(self.try_connect)
        self.url.returnPressed.connect(self.try_connect)
        self.url.textChanged.connect(lambda _text: self.ok.setEnabled(False))
        self.key.textChanged.connect(lambda _text: self.ok.setEnabled(False))

    def try_connect(self) -> None:
        url, key = self.url.text().strip(), self.key.text().strip()
        if not url:
            self.outcome.setText("Write the server's address first.")
            return
        self.connect_button.setEnabled(False)
        self.outcome.setText(f"Connecting to {url}…")
        self._tasks.run(lambda: fetch_models(url, key), self._connected, self._failed, name="server-connect")

    def _connected(self, found: tuple[str, list[ServerModel]]) -> None:
        self.connect_button.setEnabled(True)
        url, models = found
        if not models:
            self.outcome.setText(f"{url} answers, but serves no model.")
            return
        self.found = found
        names = ", ".join(model.name for model in models[:5]) + (" …" if len(models) > 5 else "")
        self.outcome.setText(f"Connected. It serves {len(models)} model(s): {names}")
        self.ok.setEnabled(True)
        self.ok.setDefault(True)

    def _failed(self, error: BaseException) -> None:
        self.connect_button.setEnabled(True)
        self.outcome.setText(str(error) if isinstance(error, RemoteError) else f"Could not connect: {error}")
