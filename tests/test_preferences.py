"""Presets, "think first", the theme, the menus and the window's arrangement, in the real window with
real settings files."""

from __future__ import annotations

import json

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from app.core.generation import GenerationSettings
from app.core.paths import resolve_paths
from app.core.presets import STARTING_PRESETS, Preset
from app.core.settings import SCHEMA_VERSION, load_settings
from app.ui.application import build
from app.ui.chat.presets_dialog import PresetsDialog
from app.ui.shortcuts_dialog import ShortcutsDialog
from app.ui.theme import is_dark


@pytest.fixture
def start_app(qtbot, hearth_home, smollm2_path):
    apps = []
    paths = resolve_paths(hearth_home).ensure()
    (paths.models / smollm2_path.name).symlink_to(smollm2_path)  # no first-run welcome

    def start():
        hearth = build(paths, theme="light")
        qtbot.addWidget(hearth.window)
        apps.append(hearth)
        return hearth

    yield start
    for hearth in apps:
        hearth.shutdown()
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    app.setStyleSheet("")


def test_settings_from_an_older_version_gain_the_starting_presets(tmp_path):
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"schema_version": 1, "theme": "dark", "recent_models": ["/m.gguf"]}))
    settings = load_settings(path)
    assert settings.schema_version == SCHEMA_VERSION and settings.theme == "dark"
    assert settings.presets == STARTING_PRESETS and settings.recent_models[0].path == "/m.gguf"
    path.write_text(
        json.dumps({"schema_version": 3, "presets": [{"name": ""}, {"name": "A"}, {"name": "A"}, 5]})
    )
    assert [p.name for p in load_settings(path).presets] == ["A"]  # nameless, repeated or odd ones dropped


def test_the_drafter_chosen_per_model_is_kept_and_odd_entries_dropped(tmp_path):
    path = tmp_path / "settings.json"
    drafts = {"/a.gguf": "", "/b.gguf": "/b-small.gguf", "/c.gguf": 4, "/d.gguf": None}
    path.write_text(json.dumps({"schema_version": SCHEMA_VERSION, "drafts": drafts}))
    assert load_settings(path).drafts == {"/a.gguf": "", "/b.gguf": "/b-small.gguf"}
    path.write_text(json.dumps({"schema_version": SCHEMA_VERSION, "drafts": ["/a.gguf"]}))
    assert load_settings(path).drafts == {}


def test_a_preset_applies_to_the_chat_and_new_chats_start_with_the_default(qtbot, start_app):
    hearth = start_app()
    window = hearth.window
    panel = window.settings_panel
    window.settings_button.setChecked(True)
    index = panel.preset.findText("Coding help")
    panel.preset.setCurrentIndex(index)
    panel.preset.activated.emit(index)
    chat = hearth.store.get_conversation(window.current_id)
    assert chat.system_prompt.startswith("You are an experienced programmer")
    assert chat.settings.temperature == pytest.approx(0.3) and chat.settings.context_length == 8192
    panel.temperature.setValue(0.9)  # an edit: the chat no longer matches a preset
    panel.flush()
    assert panel.preset.currentText() == "Custom"

    dialog = PresetsDialog(window.settings.presets, "", window)
    qtbot.addWidget(dialog)
    dialog.list.setCurrentRow([p.name for p in dialog.presets()].index("Think it through"))
    dialog.is_default.setChecked(True)
    dialog.add_preset()
    dialog.name.setText("Haiku")
    dialog.name.textEdited.emit("Haiku")
    dialog.prompt.setPlainText("Answer only in haiku.")
    with qtbot.waitSignal(window.settings_panel.preset.model().modelReset, raising=False):
        dialog.saved.connect(window._set_presets)
        dialog.save()
    assert window.settings.default_preset == "Think it through"
    assert any(
        p.name == "Haiku" and p.system_prompt == "Answer only in haiku." for p in window.settings.presets
    )
    hearth.store.add_message(window.current_id, "user", "so the chat is not empty")
    window.new_conversation()
    fresh = hearth.store.get_conversation(window.current_id)
    assert fresh.settings.think and fresh.system_prompt.startswith("Work through the problem")
    assert window.composer.think_button.isChecked()
    saved = json.loads(hearth.paths.settings_file.read_text())
    assert saved["default_preset"] == "Think it through"


def test_the_think_button_is_the_chats_setting(qtbot, start_app):
    hearth = start_app()
    window = hearth.window
    assert not window.composer.think_button.isChecked()
    qtbot.mouseClick(window.composer.think_button, Qt.MouseButton.LeftButton)
    assert hearth.store.get_conversation(window.current_id).settings.think
    assert window.settings_panel.think.isChecked() and window.menus.think_action.isChecked()
    qtbot.waitUntil(window.isActiveWindow)
    qtbot.keyClick(window, Qt.Key.Key_T, Qt.KeyboardModifier.ControlModifier)
    assert not hearth.store.get_conversation(window.current_id).settings.think
    assert not window.composer.think_button.isChecked()


def test_save_the_chats_settings_as_a_preset(qtbot, start_app, monkeypatch):
    hearth = start_app()
    window = hearth.window
    hearth.store.set_system_prompt(window.current_id, "Be terse.")
    hearth.store.set_settings(window.current_id, GenerationSettings(temperature=0.1))
    monkeypatch.setattr("app.ui.main_window.QInputDialog.getText", lambda *_a, **_k: ("Terse", True))
    window.save_as_preset()
    assert Preset("Terse", "Be terse.", GenerationSettings(temperature=0.1)) in window.settings.presets


def test_the_theme_chooser_applies_and_remembers(qtbot, start_app):
    hearth = start_app()
    window = hearth.window
    dark = next(a for a in window.menus.theme_actions.actions() if a.data() == "dark")
    dark.trigger()
    app = QApplication.instance()
    assert is_dark(app) and json.loads(hearth.paths.settings_file.read_text())["theme"] == "dark"
    next(a for a in window.menus.theme_actions.actions() if a.data() == "light").trigger()
    assert not is_dark(app)


def test_the_processor_threads_are_automatic_or_the_users_number(qtbot, start_app, smollm2_path):
    from app.core.cpu_cores import detect_topology

    hearth = start_app()
    window = hearth.window
    choices = {a.data(): a for a in window.menus.threads_actions.actions()}
    assert choices[0].isChecked() and choices[0].text().startswith("Automatic")
    window.load_model(str(smollm2_path))
    qtbot.waitUntil(lambda: hearth.supervisor.loaded_model is not None, timeout=60_000)
    finished: list = []
    hearth.supervisor.finished.connect(finished.append)

    def answer_threads() -> int:
        finished.clear()
        window.composer.set_text("Hello")
        window.composer.submit()
        qtbot.waitUntil(lambda: bool(finished) and not window.controller.busy, timeout=60_000)
        return finished[-1].threads

    # (Other programs may be busy on this machine: automatic is at most a thread a core.)
    assert 1 <= answer_threads() <= detect_topology().performance
    # The model loads again, on one thread. Where the GPUs are not known yet, the load waits for
    # them off this thread, so the model loaded before may still be the one loaded just after.
    with qtbot.waitSignal(hearth.supervisor.model_loaded, timeout=60_000):
        choices[1].trigger()
    assert json.loads(hearth.paths.settings_file.read_text())["threads"] == 1
    assert answer_threads() == 1


def test_menus_have_the_usual_entries_and_the_shortcut_overview_lists_them(qtbot, start_app):
    hearth = start_app()
    window = hearth.window
    titles = [action.text().replace("&", "") for action in window.menuBar().actions()]
    assert titles == ["File", "Edit", "View", "Chat", "Help"]
    keys = {action.text(): action.shortcut().toString() for action in window.actions()}
    assert keys["Quit"] == "Ctrl+Q" and keys["New chat"] == "Ctrl+N"
    assert keys["Search all chats"] == "Ctrl+Shift+F" and keys["Find in this chat"] == "Ctrl+F"
    dialog = ShortcutsDialog(window.menuBar(), window)
    qtbot.addWidget(dialog)
    rows = dict(dialog.rows())
    assert rows["File: Quit"] == "Ctrl+Q" and rows["Chat: Think first"] == "Ctrl+T"
    assert rows["Conversation: Write another answer"] == "Ctrl+R"
    assert rows["Message box: Send"] == "Enter"


def test_the_window_opens_as_it_was_left(qtbot, start_app):
    hearth = start_app()
    window = hearth.window
    window.resize(760, 560)  # the offscreen test screen is 800 pixels wide: a window stays on it
    window.settings_button.setChecked(True)
    window.splitter.setSizes([200, 320, 240])
    QApplication.processEvents()
    sizes = window.splitter.sizes()
    hearth.shutdown()
    again = start_app()
    assert again.window.settings_panel.isVisible() or again.window.settings_button.isChecked()
    qtbot.waitUntil(lambda: again.window.splitter.sizes()[0] == sizes[0])
    assert again.window.size().width() == 760
