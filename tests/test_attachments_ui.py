"""Pictures and sounds in the real window: dropped, pasted, picked or recorded; sent to the real
worker with the tiny Gemma 4 (which sees and hears); refused in words by a model that cannot."""

from __future__ import annotations

import contextlib
import os
import wave
from pathlib import Path

import pytest
from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QGuiApplication, QImage
from PySide6.QtWidgets import QApplication, QWidget

from app.core.paths import resolve_paths
from app.storage.chats import MessageStatus
from app.ui.application import Hearth, build
from tests.window_input import drop_files

FIXTURES = Path(__file__).resolve().parent / "fixtures"
TINY_GEMMA4 = FIXTURES / "tiny-gemma4.gguf"
TIMEOUT = 60_000


def send(qtbot, hearth: Hearth, text: str) -> None:
    editor = hearth.window.composer.editor
    editor.setFocus()
    qtbot.keyClicks(editor, text)
    qtbot.keyClick(editor, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: not hearth.window.controller.busy, timeout=TIMEOUT)


def test_a_dropped_picture_goes_with_the_message_and_reaches_the_model(qtbot, start_app, picture):
    hearth = start_app(TINY_GEMMA4)
    composer = hearth.window.composer
    assert composer.attach_button.isEnabled()
    source = picture()
    drop_files(hearth.window, [source, source])  # the same picture twice is kept once
    qtbot.waitUntil(lambda: len(composer.pending()) == 1, timeout=TIMEOUT)
    tile = composer.strip.tiles[0]
    assert tile.isVisibleTo(hearth.window) and not tile.preview.pixmap().isNull()
    assert composer.pending()[0].detail == "320 × 240"

    finished: list = []
    hearth.supervisor.finished.connect(finished.append)
    send(qtbot, hearth, "What is in this picture?")
    assert composer.pending() == [] and not composer.strip.isVisible()
    user, answer = hearth.store.messages(hearth.window.current_id)[-2:]
    assert [a.name for a in user.attachments] == ["boat.png"]
    stored = user.attachments[0].path
    assert stored.read_bytes() == source.read_bytes() and stored.parent.parent == hearth.paths.attachments
    assert answer.status == MessageStatus.COMPLETE and finished[-1].media_encodes == 1

    # On screen, the message carries the picture; after a restart too.
    view = hearth.window.chat_view
    assert view.shown(user.id).tiles == ("boat.png",)
    qtbot.waitUntil(lambda: view.has_thumbnail(stored))


def test_a_picture_alone_can_be_sent_and_a_pasted_one_too(qtbot, start_app):
    hearth = start_app(TINY_GEMMA4)
    composer = hearth.window.composer
    image = QImage(200, 120, QImage.Format.Format_RGB32)
    image.fill(Qt.GlobalColor.darkGreen)
    QGuiApplication.clipboard().setImage(image)
    composer.editor.setFocus()
    composer.editor.paste()
    qtbot.waitUntil(lambda: len(composer.pending()) == 1, timeout=TIMEOUT)
    assert composer.pending()[0].stored.name.startswith("Pasted image") and composer.text() == ""
    assert composer.button.isEnabled()  # no text needed with a picture
    qtbot.keyClick(composer.editor, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: not hearth.window.controller.busy, timeout=TIMEOUT)
    user = hearth.store.messages(hearth.window.current_id)[-2]
    assert user.content == "" and user.attachments[0].kind == "image"
    view = hearth.window.chat_view
    layout = view.layout_for(view.model().row_at(view.model().row_of(user.id)))
    assert layout.bubble is None and len(layout.tiles) == 1  # the picture, and no empty bubble


def test_a_removed_attachment_is_not_sent(qtbot, start_app, picture):
    hearth = start_app(TINY_GEMMA4)
    composer = hearth.window.composer
    drop_files(hearth.window, [picture("a.png"), picture("b.png", "#c03020")])
    qtbot.waitUntil(lambda: len(composer.pending()) == 2, timeout=TIMEOUT)
    # In the order dropped, however their preparation finished.
    assert [p.stored.name for p in composer.pending()] == ["a.png", "b.png"]
    assert [tile.name for tile in composer.strip.tiles] == ["a.png", "b.png"]
    first = composer.strip.tiles[0]
    qtbot.mouseClick(first.remove_button, Qt.MouseButton.LeftButton)
    assert [p.stored.name for p in composer.pending()] == ["b.png"]
    send(qtbot, hearth, "And this?")
    user = hearth.store.messages(hearth.window.current_id)[-2]
    assert [a.name for a in user.attachments] == ["b.png"]


def test_what_cannot_be_attached_is_explained(qtbot, start_app, picture, smollm2_path, tmp_path):
    hearth = start_app(TINY_GEMMA4)
    notices: list[str] = []
    hearth.window.statusBar().messageChanged.connect(lambda text: notices.append(text) if text else None)
    notes = tmp_path / "notes.mp4"
    notes.write_text("not a film")
    fake = tmp_path / "fake.png"
    fake.write_text("not a picture either")
    drop_files(hearth.window, [notes, fake])
    qtbot.waitUntil(lambda: len(notices) >= 2, timeout=TIMEOUT)
    assert any("notes.mp4" in n and "cannot be attached" in n for n in notices)
    assert any("fake.png" in n for n in notices)
    assert hearth.window.composer.pending() == []

    # A text-only model: the microphone dictates, and a dropped picture is refused in words; the
    # + button stays, for documents.
    hearth.window.load_model(str(smollm2_path))
    qtbot.waitUntil(
        lambda: (
            hearth.supervisor.loaded_model is not None
            and hearth.supervisor.loaded_model.model_path == str(smollm2_path)
        ),
        timeout=TIMEOUT,
    )
    composer = hearth.window.composer
    assert composer.attach_button.isEnabled()
    assert composer.mic.isVisible() and composer.mic.dictates
    assert not composer.mic.isEnabled()  # this machine has no microphone: never hidden, it says why
    assert composer.mic.toolTip().startswith("No microphone was found.")
    notices.clear()
    drop_files(hearth.window, [picture()])
    qtbot.waitUntil(lambda: bool(notices), timeout=TIMEOUT)
    assert "cannot see pictures" in notices[-1] and composer.pending() == []


@contextlib.contextmanager
def alsa_home(monkeypatch, home: Path):
    """ALSA reads its devices from ``home``/.asoundrc meanwhile; PortAudio rescans on the way in
    and on the way out."""
    import sounddevice

    monkeypatch.setenv("HOME", str(home))
    sounddevice._terminate()
    sounddevice._initialize()
    try:
        yield
    finally:
        monkeypatch.undo()
        sounddevice._terminate()
        sounddevice._initialize()


def virtual_microphone(tmp_path, monkeypatch, sound: str, quiet_after_s: float = 0.0):
    """A real PortAudio capture device with no sound card: ALSA's file plugin plays ``sound``
    ("silence", or words espeak-ng says, then ``quiet_after_s`` of silence) into it (see
    test_recorder.py). PortAudio rescans ALSA here, and again afterwards."""
    import shutil
    import subprocess

    from tests.test_recorder import DEVICE, RATE

    for tool in ("espeak-ng", "sox"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is missing: run `packaging/bootstrap.sh test`, which installs it.")
    wav, raw = tmp_path / "said.wav", tmp_path / "said.raw"
    float32 = ["-t", "raw", "-r", str(RATE), "-c", "1", "-e", "floating-point", "-b", "32"]
    if sound == "silence":
        subprocess.run(["sox", "-n", *float32, str(raw), "trim", "0", "6"], check=True)
    else:
        subprocess.run(["espeak-ng", "-w", str(wav), sound], check=True)
        subprocess.run(["sox", str(wav), *float32, str(raw), "pad", "0", str(quiet_after_s)], check=True)
    home = tmp_path / "home"
    home.mkdir()
    config = DEVICE.format(name="hearthmic", rate=RATE, infile=raw) + "pcm.!default hearthmic\n"
    (home / ".asoundrc").write_text(config)
    with alsa_home(monkeypatch, home):
        yield


@pytest.fixture
def microphone(tmp_path, monkeypatch):
    yield from virtual_microphone(tmp_path, monkeypatch, "Remind me to call the plumber.")


@pytest.fixture
def microphone_then_quiet(tmp_path, monkeypatch):
    yield from virtual_microphone(tmp_path, monkeypatch, "Remind me to call the plumber.", 4.0)


@pytest.fixture
def silent_microphone(tmp_path, monkeypatch):
    yield from virtual_microphone(tmp_path, monkeypatch, "silence")


def test_a_voice_message_is_recorded_attached_and_heard(qtbot, microphone, start_app):
    hearth = start_app(TINY_GEMMA4)
    composer = hearth.window.composer
    qtbot.waitUntil(composer.mic.isEnabled, timeout=TIMEOUT)  # a microphone was found
    qtbot.mouseClick(composer.mic, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: composer.mic.recording and composer.mic.text() != "", timeout=TIMEOUT)
    qtbot.waitUntil(lambda: composer.mic._recorder is not None and composer.mic._recorder.seconds > 1.0)
    qtbot.keyClick(composer.editor, Qt.Key.Key_Return)  # not while recording: it says so
    assert "Stop the recording first" in composer.hint.text()
    qtbot.mouseClick(composer.mic, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(composer.pending()) == 1, timeout=TIMEOUT)
    clip = composer.pending()[0]
    assert clip.stored.kind == "audio" and clip.stored.name.startswith("Recording")
    with wave.open(str(clip.stored.path)) as recording:
        assert recording.getnchannels() == 1 and recording.getnframes() > 44100  # more than a second of sound

    finished: list = []
    hearth.supervisor.finished.connect(finished.append)
    send(qtbot, hearth, "Please do what I said.")
    user = hearth.store.messages(hearth.window.current_id)[-2]
    assert [a.kind for a in user.attachments] == ["audio"]
    assert finished[-1].media_encodes >= 1 and finished[-1].completion_tokens > 0


def test_a_quick_send_waits_for_the_picture_and_a_later_model_that_cannot_see_still_answers(
    qtbot, start_app, picture, smollm2_path
):
    hearth = start_app(TINY_GEMMA4)
    composer = hearth.window.composer
    drop_files(hearth.window, [picture()])
    composer.set_text("Quick, what is this?")
    composer.submit()  # before the picture is ready: it must not leave without it
    assert "still being prepared" in composer.hint.text() and composer.text() == "Quick, what is this?"
    qtbot.waitUntil(lambda: len(composer.pending()) == 1, timeout=TIMEOUT)
    composer.submit()
    qtbot.waitUntil(lambda: not hearth.window.controller.busy, timeout=TIMEOUT)
    assert len(hearth.store.messages(hearth.window.current_id)[-2].attachments) == 1

    # A text-only model takes over the same chat: the picture is named in words, not sent.
    hearth.window.load_model(str(smollm2_path))
    qtbot.waitUntil(
        lambda: getattr(hearth.supervisor.loaded_model, "model_path", "") == str(smollm2_path),
        timeout=TIMEOUT,
    )
    send(qtbot, hearth, "Describe it again in one word.")
    answer = hearth.store.messages(hearth.window.current_id)[-1]
    assert answer.status == MessageStatus.COMPLETE and answer.content.strip()


def test_a_chat_full_of_pictures_shows_every_thumbnail(qtbot, hearth_home, picture, smollm2_path):
    from app.storage.attachment_files import AttachmentFiles
    from app.storage.chats import ChatStore
    from app.storage.db import open_database

    paths = resolve_paths(hearth_home).ensure()
    store = ChatStore(open_database(paths.database))
    files = AttachmentFiles(paths.attachments)
    chat = store.create_conversation()
    for number in range(6):
        stored = files.import_file(picture(f"p{number}.png", f"#{number * 40:02x}6090"), "image")
        store.add_message(chat.id, "user", f"Picture {number}", attachments=[stored])
        store.add_message(chat.id, "assistant", "Noted.")
    store.close()
    hearth = build(paths, model=str(smollm2_path), theme="light")  # it cannot see: still shown
    try:
        view = hearth.window.chat_view
        users = [m for m in hearth.store.messages(chat.id) if m.role == "user"]
        assert [view.shown(m.id).tiles for m in users] == [(f"p{n}.png",) for n in range(6)]
        # Pictures on screen are thumbnailed as they are painted; the rest when scrolled to.
        qtbot.waitUntil(lambda: view.has_thumbnail(users[-1].attachments[0].path), timeout=TIMEOUT)
        view.verticalScrollBar().setValue(0)
        qtbot.waitUntil(
            lambda: all(view.has_thumbnail(m.attachments[0].path) for m in users[:2]), timeout=TIMEOUT
        )
    finally:
        hearth.shutdown()


def test_the_microphone_answers_its_shortcut_and_escape_discards(qtbot, microphone, start_app):
    hearth = start_app(TINY_GEMMA4)
    composer = hearth.window.composer
    qtbot.waitUntil(composer.mic.isEnabled, timeout=TIMEOUT)
    record = (Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    composer.editor.setFocus()
    qtbot.keyClick(hearth.window, *record)
    qtbot.waitUntil(lambda: composer.mic.recording, timeout=TIMEOUT)
    qtbot.keyClick(composer.editor, Qt.Key.Key_Escape)
    assert not composer.mic.recording and composer.hint.text() == "Recording discarded."
    qtbot.wait(200)
    assert composer.pending() == []

    qtbot.keyClick(hearth.window, *record)
    qtbot.waitUntil(lambda: composer.mic.recording, timeout=TIMEOUT)
    qtbot.waitUntil(lambda: composer.mic._recorder is not None and composer.mic._recorder.seconds > 0.5)
    qtbot.keyClick(hearth.window, *record)
    qtbot.waitUntil(lambda: len(composer.pending()) == 1, timeout=TIMEOUT)
    assert composer.pending()[0].stored.kind == "audio"


def test_a_large_photo_is_sent_small_and_opens_full_size(qtbot, start_app, tmp_path):
    from PIL import Image

    from app.storage.attachment_files import AttachmentFiles
    from app.ui.chat.message_layout import Action, Hit

    hearth = start_app(TINY_GEMMA4)
    photo = tmp_path / "harbour.jpg"
    Image.new("RGB", (6000, 4000), (30, 90, 160)).save(photo, "JPEG", quality=90)
    composer = hearth.window.composer
    drop_files(hearth.window, [photo])
    qtbot.waitUntil(lambda: len(composer.pending()) == 1, timeout=TIMEOUT)
    assert composer.pending()[0].detail == "6000 × 4000, sent at 2199 × 1466"
    stored = composer.pending()[0].stored.path
    original = AttachmentFiles.original_of(stored)
    assert original is not None and original.read_bytes() == photo.read_bytes()

    send(qtbot, hearth, "Where is this?")
    user = hearth.store.messages(hearth.window.current_id)[-2]
    # A clean-up keeps the original as long as the picture it belongs to, and then not.
    for old in (stored, original):
        os.utime(old, (1, 1))  # long ago: clean-ups leave recent files alone
    files = hearth.window.attachments.files
    files.delete_unreferenced({user.attachments[0].path})
    assert original.exists() and stored.exists()

    view = hearth.window.chat_view
    point = view.button_point(user.id, Hit(Action.OPEN_ATTACHMENT, 0))
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=point)
    viewer = hearth.window.attachments.viewer
    qtbot.waitUntil(lambda: viewer.picture_size() == (6000, 4000), timeout=TIMEOUT)
    assert viewer.scale < 1 and viewer.status.text().startswith("6,000 × 4,000 pixels")
    viewer.zoom_to(1.0)
    assert viewer.status.text() == "6,000 × 4,000 pixels · 100%"
    viewer.close()
    files.delete_unreferenced(set())
    assert not original.exists() and not stored.exists()


def test_without_a_microphone_the_button_says_why_and_one_plugged_in_later_is_found(
    qtbot, start_app, tmp_path, monkeypatch
):

    from app.media.recorder import NO_MICROPHONE
    from tests.test_recorder import DEVICE, RATE

    home = tmp_path / "home"
    home.mkdir()
    with alsa_home(monkeypatch, home):  # ALSA's own configuration only: no sound card here
        hearth = start_app(TINY_GEMMA4)
        mic = hearth.window.composer.mic
        qtbot.waitUntil(lambda: mic.toolTip() == NO_MICROPHONE, timeout=TIMEOUT)
        assert mic.isVisible() and not mic.isEnabled()

        # "Plugged in": a capture device appears, and Hearth looks again when its window is active.
        silence = tmp_path / "silence.raw"
        silence.write_bytes(bytes(4 * RATE))
        config = DEVICE.format(name="hearthmic", rate=RATE, infile=silence) + "pcm.!default hearthmic\n"
        (home / ".asoundrc").write_text(config)
        QApplication.sendEvent(hearth.window, QEvent(QEvent.Type.WindowActivate))
        qtbot.waitUntil(mic.isEnabled, timeout=TIMEOUT)
        assert mic.toolTip().startswith("Record a voice message")


def test_an_opus_voice_note_is_converted_and_heard(qtbot, start_app, tmp_path):
    from tests.test_media_checks import encoded_tone

    hearth = start_app(TINY_GEMMA4)
    note = encoded_tone(tmp_path / "voice note.opus", "ogg", "libopus", seconds=2.0)
    composer = hearth.window.composer
    drop_files(hearth.window, [note])
    qtbot.waitUntil(lambda: len(composer.pending()) == 1, timeout=TIMEOUT)
    clip = composer.pending()[0]
    assert clip.stored.kind == "audio" and clip.stored.name == "voice note.wav" and clip.detail == "0:02"
    finished: list = []
    hearth.supervisor.finished.connect(finished.append)
    send(qtbot, hearth, "What do you hear?")
    assert finished[-1].media_encodes == 1 and finished[-1].completion_tokens > 0


PLAYBACK_DEVICE = """
pcm.hearthout {{
    type file
    slave.pcm "null"
    file "{outfile}"
    format "raw"
}}
pcm.!default {{
    type plug
    slave {{
        pcm "hearthout"
        format FLOAT_LE
        rate 48000
        channels 1
    }}
}}
"""


def test_a_sent_sound_plays_in_place(qtbot, start_app, tmp_path, monkeypatch):
    """Through a real PortAudio output: ALSA's file plugin writes what is played to a file (its
    null slave is not paced, so a clip plays in a blink)."""
    import subprocess

    import numpy as np

    from app.ui.chat.message_layout import Action, Hit

    home = tmp_path / "home"
    home.mkdir()
    played = tmp_path / "played.raw"
    (home / ".asoundrc").write_text(PLAYBACK_DEVICE.format(outfile=played))
    with alsa_home(monkeypatch, home):
        tone = tmp_path / "tone.wav"
        subprocess.run(
            ["sox", "-n", "-r", "44100", "-c", "1", str(tone), "synth", "2", "sine", "440", "vol", "0.3"],
            check=True,
        )
        hearth = start_app(TINY_GEMMA4)
        drop_files(hearth.window, [tone])
        qtbot.waitUntil(lambda: len(hearth.window.composer.pending()) == 1, timeout=TIMEOUT)
        send(qtbot, hearth, "Listen.")
        user = hearth.store.messages(hearth.window.current_id)[-2]
        view = hearth.window.chat_view
        point = view.button_point(user.id, Hit(Action.OPEN_ATTACHMENT, 0))
        qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=point)
        playback = hearth.window.attachments.playback
        path = user.attachments[0].path
        qtbot.waitUntil(lambda: playback.line(path) == "▶ Play again · 0:02", timeout=TIMEOUT)
        samples = np.fromfile(played, dtype=np.float32)
        assert len(samples) >= 2 * 48_000 and 0.25 < np.abs(samples).max() < 0.35  # the whole tone


def test_push_to_talk_records_while_held_and_attaches_on_release(qtbot, microphone, start_app):
    hearth = start_app(TINY_GEMMA4)
    composer = hearth.window.composer
    qtbot.waitUntil(composer.mic.isEnabled, timeout=TIMEOUT)
    editor = composer.editor
    editor.setFocus()
    qtbot.waitUntil(hearth.window.isActiveWindow, timeout=TIMEOUT)
    ctrl = Qt.KeyboardModifier.ControlModifier
    qtbot.keyPress(editor, Qt.Key.Key_Space, ctrl)  # held...
    qtbot.waitUntil(lambda: composer.mic.recording, timeout=TIMEOUT)
    qtbot.waitUntil(lambda: composer.mic._recorder is not None and composer.mic._recorder.seconds > 1.0)
    assert hearth.window.push_to_talk.holding
    # ...and let go. The window system gives the key to the widget that grabbed the keyboard
    # (the microphone button); offscreen, Qt cannot grab, so the test hands it there itself.
    assert QWidget.keyboardGrabber() is composer.mic
    qtbot.keyRelease(QWidget.keyboardGrabber(), Qt.Key.Key_Space, ctrl)
    qtbot.waitUntil(lambda: len(composer.pending()) == 1, timeout=TIMEOUT)
    assert composer.pending()[0].stored.kind == "audio" and not composer.mic.recording
    assert editor.toPlainText() == ""  # the key typed nothing


def test_the_push_to_talk_keys_are_chosen_by_pressing_them_and_then_work(
    qtbot, microphone, start_app, hearth_home
):
    import json

    from PySide6.QtWidgets import QKeySequenceEdit

    from app.ui.chat.push_to_talk_dialog import PushToTalkDialog

    hearth = start_app(TINY_GEMMA4)
    window, composer = hearth.window, hearth.window.composer
    qtbot.waitUntil(composer.mic.isEnabled, timeout=TIMEOUT)
    menus = window.mic_menu
    menus.open_at(composer.mic.rect().center())
    qtbot.waitUntil(lambda: menus.menu is not None and menus.menu.isVisible(), timeout=TIMEOUT)
    keys_action = next(a for a in menus.menu.actions() if a.text().startswith("Push-to-talk keys"))
    assert keys_action.text() == "Push-to-talk keys: Ctrl+Space…"
    keys_action.trigger()
    menus.menu.close()
    dialog = window.findChild(PushToTalkDialog)
    editor = dialog.findChild(QKeySequenceEdit)
    qtbot.keyClick(editor, Qt.Key.Key_M)  # alone it would type
    assert not dialog.ok.isEnabled() and "Ctrl, Alt or Meta" in dialog.problem.text()
    editor.clear()
    qtbot.keyClick(
        editor, Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
    )
    assert not dialog.ok.isEnabled() and "already a Hearth shortcut" in dialog.problem.text()
    editor.clear()
    qtbot.keyClick(editor, Qt.Key.Key_M, Qt.KeyboardModifier.AltModifier)
    assert dialog.ok.isEnabled()
    dialog.ok.click()
    saved = json.loads(resolve_paths(hearth_home).settings_file.read_text(encoding="utf-8"))
    assert saved["push_to_talk"] == "Alt+M" and "hold Alt+M" in composer.mic.toolTip()

    composer.editor.setFocus()
    qtbot.waitUntil(window.isActiveWindow, timeout=TIMEOUT)
    qtbot.keyPress(composer.editor, Qt.Key.Key_M, Qt.KeyboardModifier.AltModifier)
    qtbot.waitUntil(lambda: composer.mic.recording, timeout=TIMEOUT)
    qtbot.waitUntil(lambda: composer.mic._recorder is not None and composer.mic._recorder.seconds > 1.0)
    qtbot.keyRelease(QWidget.keyboardGrabber(), Qt.Key.Key_M, Qt.KeyboardModifier.AltModifier)
    qtbot.waitUntil(lambda: len(composer.pending()) == 1, timeout=TIMEOUT)
    assert not window.push_to_talk.holding and composer.editor.toPlainText() == ""


def test_a_sound_too_long_for_the_context_is_refused_counting_the_answers_room(qtbot, start_app, tmp_path):
    import subprocess

    hearth = start_app(TINY_GEMMA4)
    notices: list[str] = []
    hearth.window.statusBar().messageChanged.connect(lambda text: notices.append(text) if text else None)
    lecture = tmp_path / "lecture.wav"
    subprocess.run(
        ["sox", "-n", "-r", "8000", "-c", "1", str(lecture), "synth", "360", "sine", "300"], check=True
    )
    drop_files(hearth.window, [lecture])
    qtbot.waitUntil(lambda: any("lecture.wav" in n for n in notices), timeout=TIMEOUT)
    context = hearth.supervisor.loaded_model.context_length
    words = next(n for n in notices if "lecture.wav" in n)
    assert words.startswith("“lecture.wav” is 6:00 long: about 9,000 tokens, and this chat's context holds")
    assert f"holds {context:,}, of which 300 are kept for the answer" in words
    assert hearth.window.composer.pending() == []


def test_a_recording_stops_where_the_context_would_be_full(qtbot, microphone, start_app):
    hearth = start_app(TINY_GEMMA4)
    composer = hearth.window.composer
    qtbot.waitUntil(composer.mic.isEnabled, timeout=TIMEOUT)
    composer.mic.max_seconds_of = lambda: 1.5  # as if the chat's context had room for 1.5 s
    notices: list[str] = []
    composer.mic.failed.connect(notices.append)
    qtbot.mouseClick(composer.mic, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(composer.pending()) == 1, timeout=TIMEOUT)
    assert notices == [
        "The recording stopped at 0:01: the chat's context would be full (a second of sound takes "
        "about 25 tokens, and room is kept for the answer)."
    ]
    with wave.open(str(composer.pending()[0].stored.path)) as clip:
        assert 1.4 <= clip.getnframes() / clip.getframerate() <= 1.6


def record_until_it_stops(qtbot, hearth: Hearth, silence_stop_s: float) -> list[str]:
    composer = hearth.window.composer
    qtbot.waitUntil(composer.mic.isEnabled, timeout=TIMEOUT)
    composer.mic.silence_stop_s = silence_stop_s
    notices: list[str] = []
    composer.mic.failed.connect(notices.append)
    before = len(composer.pending())
    qtbot.mouseClick(composer.mic, Qt.MouseButton.LeftButton)
    # The virtual microphone runs faster than real time: the recording may end at once.
    qtbot.waitUntil(
        lambda: (notices or len(composer.pending()) > before) and not composer.mic.busy, timeout=TIMEOUT
    )
    return notices


def test_a_recording_stops_itself_after_speech_and_a_moment_of_silence(
    qtbot, microphone_then_quiet, start_app
):
    hearth = start_app(TINY_GEMMA4)
    assert record_until_it_stops(qtbot, hearth, 1.0) == []
    qtbot.waitUntil(lambda: len(hearth.window.composer.pending()) == 1, timeout=TIMEOUT)
    with wave.open(str(hearth.window.composer.pending()[0].stored.path)) as clip:
        seconds = clip.getnframes() / clip.getframerate()
    assert 1.5 < seconds < 5.0  # the words (about two seconds) and a second of quiet, not the rest


def test_silence_alone_is_not_attached_and_the_user_is_told(qtbot, silent_microphone, start_app):
    hearth = start_app(TINY_GEMMA4)
    notices = record_until_it_stops(qtbot, hearth, 1.0)
    assert notices == ["Nothing was heard: the microphone picked up only silence."]
    assert hearth.window.composer.pending() == []


def test_a_microphone_unplugged_mid_recording_keeps_what_was_recorded_and_says_so(
    qtbot, start_app, tmp_path, monkeypatch
):
    import subprocess

    import numpy as np

    from tests.sound_server import RATE, pulse_microphone

    said = tmp_path / "said.raw"
    subprocess.run(
        ["espeak-ng", "-w", str(tmp_path / "said.wav"), "Remind me to call the plumber."], check=True
    )
    float32 = ["-t", "raw", "-r", str(RATE), "-c", "1", "-e", "floating-point", "-b", "32"]
    subprocess.run(["sox", str(tmp_path / "said.wav"), *float32, str(said)], check=True)
    home = tmp_path / "home"
    home.mkdir()
    with pulse_microphone(np.fromfile(said, "<f4")) as microphone:
        (home / ".asoundrc").write_text(microphone.asoundrc())
        with alsa_home(monkeypatch, home):
            hearth = start_app(TINY_GEMMA4)
            composer = hearth.window.composer
            mic = composer.mic
            qtbot.waitUntil(mic.isEnabled, timeout=TIMEOUT)
            notices: list[str] = []
            mic.failed.connect(notices.append)
            qtbot.mouseClick(mic, Qt.MouseButton.LeftButton)
            qtbot.waitUntil(
                lambda: mic._recorder is not None and mic._recorder.seconds > 1.0, timeout=TIMEOUT
            )
            microphone.unplug()  # as the sound server does when a headset is pulled out
            qtbot.waitUntil(lambda: bool(notices) and not mic.busy, timeout=TIMEOUT)
            assert not mic.recording
            assert notices[0].startswith("The microphone stopped at 0:0") and "is kept" in notices[0]
            qtbot.waitUntil(lambda: len(composer.pending()) == 1, timeout=TIMEOUT)
            with wave.open(str(composer.pending()[0].stored.path)) as clip:
                assert clip.getnframes() / clip.getframerate() > 1.0  # what came before the unplug
            hearth.shutdown()


def test_the_microphone_menu_lists_the_inputs_afresh_and_remembers_the_choice(
    qtbot, microphone, start_app, hearth_home
):
    import json

    from app.core.paths import resolve_paths

    hearth = start_app(TINY_GEMMA4)
    mic = hearth.window.composer.mic
    qtbot.waitUntil(mic.isEnabled, timeout=TIMEOUT)
    menus = hearth.window.mic_menu
    mic.customContextMenuRequested.emit(mic.rect().center())
    qtbot.waitUntil(lambda: menus.menu is not None and menus.menu.isVisible(), timeout=TIMEOUT)
    labels = [a.text() for a in menus.menu.actions() if not a.isSeparator()]
    assert labels[0].startswith("Ask by voice") and labels[1].startswith("Dictate")
    assert labels[2:4] == ["Record from", "System default"] and "hearthmic" in labels
    assert labels[-2:] == ["Stop after 2 seconds of silence", "Push-to-talk keys: Ctrl+Space…"]
    next(a for a in menus.menu.actions() if a.text() == "hearthmic").trigger()
    assert mic.device == "hearthmic"
    saved = json.loads(resolve_paths(hearth_home).settings_file.read_text(encoding="utf-8"))
    assert saved["microphone"] == "hearthmic" and saved["silence_stop_s"] == 0.0
    menus.menu.close()
    assert record_until_it_stops(qtbot, hearth, 1.0) == []  # it records from the chosen input


def test_the_context_meter_counts_the_chat_and_what_is_about_to_be_sent(qtbot, start_app, picture):
    hearth = start_app(TINY_GEMMA4)
    window, composer = hearth.window, hearth.window.composer
    meter = composer.context_meter
    finished: list = []
    hearth.supervisor.finished.connect(finished.append)
    send(qtbot, hearth, "Hello there.")
    done = finished[-1]
    qtbot.waitUntil(lambda: meter.use.chat == done.prompt_tokens + done.completion_tokens, timeout=TIMEOUT)
    context = hearth.supervisor.loaded_model.context_length
    assert meter.use.context == context and meter.use.pending == 0
    assert meter.toolTip().startswith(f"Context: about {meter.use.chat:,} of {context:,} tokens;")

    composer.set_text("x" * 400)  # about a hundred tokens...
    drop_files(window, [picture()])  # ...and a picture, at the detail its tile shows
    qtbot.waitUntil(lambda: len(composer.pending()) == 1, timeout=TIMEOUT)
    cost = int(composer.strip.tiles[0].badge.text().replace(",", ""))
    qtbot.waitUntil(lambda: meter.use.pending == round(400 / 3.8) + cost, timeout=TIMEOUT)
    assert "in the message being written" in meter.toolTip()


def test_each_picture_shows_its_cost_and_is_sent_at_the_detail_chosen_for_it(qtbot, start_app, tmp_path):
    """A screenshot and a photo, each at the detail "Automatic" picks from how it looks; the
    photo then at a detail chosen from its tile. The worker gets each at its own detail, and the
    chat keeps it."""
    from PIL import Image

    from app.core.gemma4 import tokens_at
    from app.media.picture_detail import Look, detail_for

    hearth = start_app(TINY_GEMMA4)
    window, composer = hearth.window, hearth.window.composer
    screenshot = tmp_path / "window.png"
    window.grab().save(str(screenshot))  # a real screenshot: Hearth's own window
    photo = FIXTURES / "photos" / "coffee.jpg"
    drop_files(window, [screenshot, photo])
    qtbot.waitUntil(lambda: len(composer.pending()) == 2, timeout=TIMEOUT)
    sizes = {item.stored.name: item.size for item in composer.pending()}
    shot_size, photo_size = sizes["window.png"], sizes["coffee.jpg"]
    assert shot_size == Image.open(screenshot).size and photo_size == Image.open(photo).size
    shot_detail, photo_detail = detail_for(Look.SCREENSHOT, *shot_size), detail_for(Look.PHOTO, *photo_size)
    assert shot_detail > photo_detail  # text needs the detail; a photo does not
    badges = {tile.name: tile.badge for tile in composer.strip.tiles}
    assert badges["window.png"].text() == f"{tokens_at(*shot_size, shot_detail):,}"
    assert badges["coffee.jpg"].text() == f"{tokens_at(*photo_size, photo_detail):,}"
    assert "automatic" in badges["coffee.jpg"].toolTip()

    badge = badges["coffee.jpg"]
    badge.menu_.aboutToShow.emit()  # as opening it does
    labels = [a.text() for a in badge.menu_.actions()]
    assert labels[1].startswith("As the chat says") and labels[-1].startswith("Highest (")
    next(a for a in badge.menu_.actions() if a.text().startswith("Least")).trigger()
    assert badge.text() == f"{tokens_at(*photo_size, 70):,}" and "chosen for this picture" in badge.toolTip()

    requests: list = []
    window.supervisor.finished.connect(requests.append)
    send(qtbot, hearth, "What do these show?")
    stored = {a.name: a.detail for a in hearth.store.messages(window.current_id)[-2].attachments}
    assert stored == {"window.png": shot_detail, "coffee.jpg": 70}
    shot_cost, photo_cost = tokens_at(*shot_size, shot_detail), tokens_at(*photo_size, 70)
    assert requests[-1].media_encodes == 2 and requests[-1].prompt_tokens > shot_cost + photo_cost
