"""Dictation through the real audio path: the virtual ALSA microphone, the real worker (and a
second one, the "ears", for a model that cannot hear), and the message box. The tiny Gemma 4's
random weights write gibberish, so these tests follow the path the words take, not the words."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from app.core.generation import GenerationSettings
from app.core.paths import resolve_paths
from app.engine import protocol as p
from app.library.ears import EARS_CATALOG_ID, LoadedModel, choose_ears, fit_beside
from app.library.installed import InstalledModel, ModelRegistry
from app.library.machine import MachineInfo
from app.ui.chat.dictation_glue import OFFER_BOX
from app.ui.ears import transcription_settings, written_words
from tests.test_attachments_ui import TIMEOUT, TINY_GEMMA4, send, virtual_microphone

TINY_PROJECTOR = TINY_GEMMA4.with_name("tiny-gemma4-mmproj.gguf")


@pytest.fixture
def microphone(tmp_path, monkeypatch):
    yield from virtual_microphone(tmp_path, monkeypatch, "Remind me to call the plumber.")


def dictate(qtbot, hearth) -> list[str]:
    """Record by click and stop by click; wait until the words are written down (or refused)."""
    window, composer = hearth.window, hearth.window.composer
    mic = composer.mic
    qtbot.waitUntil(mic.isEnabled, timeout=TIMEOUT)
    assert mic.dictates
    notices: list[str] = []
    window.dictation.dictation.failed.connect(notices.append)
    window.dictation.dictation.heard.connect(lambda _words: notices.append(""))
    qtbot.mouseClick(mic, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: mic._recorder is not None and mic._recorder.seconds > 1.5, timeout=TIMEOUT)
    qtbot.mouseClick(mic, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.dictation.dictation.working, timeout=TIMEOUT)
    assert mic.text() == "Writing…"
    qtbot.keyClick(composer.editor, Qt.Key.Key_Return)  # not before the words are in
    assert "still being written down" in composer.hint.text()
    qtbot.waitUntil(lambda: bool(notices) and not window.dictation.dictation.working, timeout=TIMEOUT)
    assert composer.pending() == []  # dictation attaches nothing
    return notices  # "" where words were written into the box


def test_a_model_that_hears_writes_down_dictation_and_keeps_its_cache_of_the_chat(
    qtbot, microphone, start_app
):
    hearth = start_app(TINY_GEMMA4)
    window, composer = hearth.window, hearth.window.composer
    done: list[p.Done] = []
    hearth.supervisor.finished.connect(done.append)
    # Random weights may end an answer at once, or write only a call: such an answer is left out
    # of the next prompt, which then no longer starts with this one. Ask until one has words.
    for _ in range(5):
        send(qtbot, hearth, "Hello there.")
        first = done[-1]
        if hearth.store.messages(window.current_id)[-1].content.strip():
            break
    window.mic_menu.open_at(composer.mic.rect().center())
    qtbot.waitUntil(
        lambda: window.mic_menu.menu is not None and window.mic_menu.menu.isVisible(), timeout=TIMEOUT
    )
    next(a for a in window.mic_menu.menu.actions() if a.text().startswith("Dictate")).trigger()
    window.mic_menu.menu.close()
    assert window.settings.dictate and composer.mic.dictates

    composer.editor.setPlainText("Note:")
    composer.editor.moveCursor(composer.editor.textCursor().MoveOperation.End)
    notices = dictate(qtbot, hearth)
    transcription = next(d for d in done if d.request_id.startswith("dictation-"))
    assert transcription.media_encodes == 1  # the recording was heard...
    # ...after the chat so far, which the worker still had: only the new turn was read.
    assert transcription.prompt_tokens - transcription.prompt_tokens_evaluated >= first.prompt_tokens
    if notices == [""]:  # words were made out: they follow what was typed, spaced
        assert composer.editor.toPlainText().startswith("Note: ") and len(composer.text()) > len("Note: ")
    else:
        assert notices[0].startswith("No words were made out") and composer.text() == "Note:"

    # The next answer reads only its own question: dictation left the chat in the cache.
    done.clear()
    send(qtbot, hearth, " and then?")
    answer, chat_so_far = done[-1], transcription.prompt_tokens - transcription.prompt_tokens_evaluated
    assert answer.prompt_tokens - answer.prompt_tokens_evaluated >= chat_so_far
    roles = [m.role for m in hearth.store.messages(window.current_id)]
    assert roles[-4:] == ["user", "assistant"] * 2


def test_a_model_that_cannot_hear_gets_its_dictation_from_the_ears_which_then_unload(
    qtbot, microphone, start_app, hearth_home, smollm2_path
):
    ModelRegistry(resolve_paths(hearth_home).data).add_import(TINY_GEMMA4, TINY_PROJECTOR)
    hearth = start_app(smollm2_path)
    window = hearth.window
    ears = window.dictation.dictation.ears
    ears._idle.setInterval(1000)
    loaded: list[bool] = []
    ears.loaded_changed.connect(loaded.append)
    notices = dictate(qtbot, hearth)
    assert loaded == [True]
    assert ears.worker is not None and ears.worker.loaded_model.audio
    ears_pid, chat_pid = ears.worker.worker_pid, hearth.supervisor.worker_pid
    assert ears_pid and ears_pid != chat_pid  # a second worker process
    assert notices == [""] or notices[0].startswith("No words were made out")
    if notices == [""]:
        assert window.composer.text().strip()
    # Unused for a while, the ears stop and give their memory back; the chat's model stays.
    qtbot.waitUntil(lambda: loaded == [True, False], timeout=TIMEOUT)
    assert ears.worker is None and hearth.supervisor.loaded_model.model_path == str(smollm2_path)
    qtbot.waitUntil(lambda: not Path(f"/proc/{ears_pid}").exists(), timeout=TIMEOUT)


def test_with_no_model_that_hears_installed_the_download_is_offered(
    qtbot, microphone, start_app, smollm2_path, monkeypatch
):
    # The Hub is out of reach here: a closed port, so the download started below fails at once.
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    hearth = start_app(smollm2_path)
    hearth.models.include_hf_cache = False  # whatever this computer's cache holds does not count
    window = hearth.window
    mic = window.composer.mic
    qtbot.waitUntil(mic.isEnabled, timeout=TIMEOUT)
    qtbot.mouseClick(mic, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: mic._recorder is not None and mic._recorder.seconds > 1.0, timeout=TIMEOUT)
    qtbot.mouseClick(mic, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.findChild(QMessageBox, OFFER_BOX) is not None, timeout=TIMEOUT)
    box = window.findChild(QMessageBox, OFFER_BOX)
    assert box.defaultButton().text() == "Download Gemma 4 E2B · Q4_K_M"
    assert "cannot hear" in box.text()
    next(b for b in box.buttons() if b.text() == "Not now").click()
    qtbot.waitUntil(lambda: window.findChild(QMessageBox, OFFER_BOX) is None, timeout=TIMEOUT)
    assert not window.dictation.dictation.working and window.composer.text() == ""
    assert hearth.models.downloads.jobs() == []

    # Once more, and this time the one click downloads Gemma 4 E2B with its projector.
    qtbot.mouseClick(mic, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: mic._recorder is not None and mic._recorder.seconds > 1.0, timeout=TIMEOUT)
    qtbot.mouseClick(mic, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.findChild(QMessageBox, OFFER_BOX) is not None, timeout=TIMEOUT)
    window.findChild(QMessageBox, OFFER_BOX).defaultButton().click()
    (job,) = hearth.models.downloads.jobs()
    assert job.entry_id == EARS_CATALOG_ID and job.projector is not None


# --- the parts, without Qt ---------------------------------------------------------------------


def installed(path: Path, size: int, audio: bool) -> InstalledModel:
    return InstalledModel(
        path, TINY_PROJECTOR if audio else None, path.stem, "gemma4", 8192, size, audio, audio, "imported", 0
    )


def test_the_smallest_model_that_hears_is_the_ears():
    e4b, e2b, text = (
        installed(Path("e4b.gguf"), 5, True),
        installed(Path("e2b.gguf"), 3, True),
        installed(Path("t.gguf"), 1, False),
    )
    assert choose_ears([e4b, text, e2b]) is e2b
    assert choose_ears([text]) is None


def test_the_ears_must_fit_beside_the_chat_model_or_it_is_said_in_words(smollm2_path):
    ears = installed(TINY_GEMMA4, TINY_GEMMA4.stat().st_size, True)
    chat = LoadedModel(smollm2_path, None, 8192)
    roomy = MachineInfo(total_ram=24 * 2**30, available_ram=20 * 2**30)
    assert fit_beside(ears, chat, roomy) == ""
    tiny = MachineInfo(total_ram=200 * 2**20, available_ram=150 * 2**20)
    problem = fit_beside(ears, chat, tiny)
    assert problem.startswith("Dictation needs tiny-gemma4 loaded beside the chat's model: together about")
    assert "GB free of" in problem


def test_what_the_model_writes_down_goes_in_as_words():
    assert written_words('  "Call the plumber."\n') == "Call the plumber."
    assert written_words("“Hello”") == "Hello"
    assert written_words("It's fine") == "It's fine"
    assert written_words("Two\x1e lines,\x06\nkept.") == "Two lines,\nkept."
    plain = transcription_settings(GenerationSettings(temperature=0.8), 10)
    assert plain.temperature == 0.0 and plain.top_k == 1 and 64 < plain.max_tokens < 300
    assert transcription_settings(GenerationSettings(think=True), 10).max_tokens > 2048  # room to think
