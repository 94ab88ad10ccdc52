"""A data folder that refuses writes, in the real window: the database full (SQLite's own page
limit), the disk full and read-only (a small tmpfs), the database locked by another process. Nothing
typed is lost, the user is told in words, and Hearth recovers by itself once writes work again.

pytest-qt fails a test on any exception that escapes a Qt slot or virtual method, so each test
also proves that none did."""

from __future__ import annotations

import errno
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication, QInputDialog, QMessageBox

from app.core.generation import GenerationSettings
from app.core.paths import resolve_paths
from app.storage.chats import ChatStore, MessageStatus
from app.storage.db import open_database
from app.storage.faults import StorageError, StorageFault
from app.storage.held_writes import HeldWrites
from app.ui.application import Hearth, build
from app.ui.chat.controller import ANSWER_KEPT, SETTINGS_KEPT
from app.ui.saving import SAVED_AGAIN
from tests.window_input import drop_files

FIXTURES = Path(__file__).resolve().parent / "fixtures"
TINY_GEMMA4 = FIXTURES / "tiny-gemma4.gguf"
TIMEOUT = 60_000
RECOVERY_TIMEOUT = 10_000  # a few tries of the retry timer
LONG_PROMPT = "Write a long story about a lighthouse keeper. Use many paragraphs."
QUESTION = "What is in this picture?"

DISK_FULL = "Hearth could not save to its data folder because the disk is full. Free some space; "
READ_ONLY = (
    "Hearth could not save to its data folder because it is read-only. Make the folder writable "
    "again (or check the disk it is on); "
)
LOCKED = (
    "Hearth could not save because another copy of Hearth is using the chat database. Close the other copy; "
)


class FullDatabase:
    """Caps the database at its current size (``PRAGMA max_page_count``), then fills the room left
    in its pages with an earlier chat, so SQLite reports "database or disk is full" for real on the
    next write that needs room. ``lift()`` gives the space back."""

    def __init__(self, store: ChatStore) -> None:
        self._conn = store.connection
        self._conn.execute(f"PRAGMA max_page_count={self._conn.execute('PRAGMA page_count').fetchone()[0]}")
        earlier = store.create_conversation()
        size = 4096
        while size:
            try:
                store.add_message(earlier.id, "user", "x" * size)
            except StorageError:
                size //= 2

    def lift(self) -> None:
        self._conn.execute("PRAGMA max_page_count=1073741823")


# --- the storage layer alone ------------------------------------------------------------------------


@pytest.fixture
def store(tmp_path) -> Iterator[ChatStore]:
    store = ChatStore(open_database(tmp_path / "data" / "chats.sqlite3", busy_timeout_ms=50))
    yield store
    store.close()


def test_each_refusal_is_named_and_leaves_the_store_ready_for_the_next_write(store, tmp_path):
    chat = store.create_conversation()
    assert store.connection.execute("PRAGMA busy_timeout").fetchone()[0] == 50

    full = FullDatabase(store)
    with pytest.raises(StorageError) as refused:
        store.add_message(chat.id, "user", "hello")
    assert refused.value.fault is StorageFault.FULL
    assert refused.value.explain() == DISK_FULL + "nothing you typed was lost."
    assert isinstance(refused.value.__cause__, sqlite3.OperationalError)
    full.lift()

    store.connection.execute("PRAGMA query_only=ON")
    with pytest.raises(StorageError) as refused:
        store.rename_conversation(chat.id, "Plans")
    assert refused.value.fault is StorageFault.READ_ONLY
    store.connection.execute("PRAGMA query_only=OFF")

    other = sqlite3.connect(tmp_path / "data" / "chats.sqlite3", isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    with pytest.raises(StorageError) as refused:
        store.delete_conversation(chat.id)
    assert refused.value.fault is StorageFault.LOCKED
    assert refused.value.explain("the chat was not deleted") == LOCKED + "the chat was not deleted."
    other.execute("ROLLBACK")
    other.close()

    # None of it was saved, and every write works again.
    assert store.get_conversation(chat.id).title == "New chat" and store.messages(chat.id) == []
    store.add_message(chat.id, "user", "hello")
    store.rename_conversation(chat.id, "Plans")
    assert store.get_conversation(chat.id).title == "Plans"


def test_a_group_of_writes_is_saved_whole_or_not_at_all(store):
    chat = store.create_conversation()
    full = FullDatabase(store)
    with pytest.raises(StorageError), store.atomic():
        store.set_system_prompt(chat.id, "short")  # fits
        store.add_message(chat.id, "user", "x" * 10_000)  # does not
    assert store.get_conversation(chat.id).system_prompt == ""
    full.lift()
    with store.atomic():
        store.set_system_prompt(chat.id, "short")
        store.add_message(chat.id, "user", "x" * 10_000)
    assert store.get_conversation(chat.id).system_prompt == "short" and len(store.messages(chat.id)) == 1


def test_system_errors_are_classified_by_errno(tmp_path):
    assert StorageError.from_exception(OSError(errno.ENOSPC, "No space")).fault is StorageFault.FULL
    assert StorageError.from_exception(OSError(errno.EROFS, "Read-only")).fault is StorageFault.READ_ONLY
    assert StorageError.from_exception(OSError(errno.EIO, "I/O"), tmp_path).fault is StorageFault.OTHER
    other = StorageError.from_exception(OSError(errno.EIO, "Input/output error"))
    assert other.explain() == (
        "Hearth could not save to its data folder ([Errno 5] Input/output error). Check the disk; "
        "nothing you typed was lost."
    )


def test_held_writes_keep_the_latest_of_each_and_stop_at_a_lock():
    written: list[str] = []
    refusing: set[str] = set()

    def write(name: str, fault: StorageFault = StorageFault.FULL):
        def run() -> None:
            if name in refusing:
                raise StorageError(fault, "refused")
            written.append(name)

        return run

    held = HeldWrites()
    refusing.update({"answer v1", "settings"})
    held.hold("answer", write("answer v1"))
    held.hold("settings", write("settings", StorageFault.LOCKED))
    held.hold("answer", write("answer v2"))  # the newer state replaces the older
    held.hold("file", write("file"))
    error = held.flush()
    assert error is not None and error.fault is StorageFault.LOCKED
    assert written == ["answer v2"]  # the lock stopped the rest: each would wait it out
    assert "settings" in held and "file" in held and "answer" not in held

    refusing.clear()
    assert held.flush() is None and written == ["answer v2", "settings", "file"] and len(held) == 0


# --- the app --------------------------------------------------------------------------------------


@pytest.fixture
def start_app(qtbot, hearth_home):
    apps: list[Hearth] = []

    def start(model: Path | None = None) -> Hearth:
        hearth = build(
            resolve_paths(hearth_home).ensure(), model=str(model) if model else None, theme="light"
        )
        qtbot.addWidget(hearth.window)
        apps.append(hearth)
        if model is not None:
            qtbot.waitUntil(lambda: hearth.supervisor.loaded_model is not None, timeout=TIMEOUT)
        return hearth

    yield start
    for hearth in apps:
        hearth.shutdown()


def type_and_send(qtbot, hearth: Hearth, text: str) -> None:
    editor = hearth.window.composer.editor
    editor.setFocus()
    qtbot.keyClicks(editor, text)
    qtbot.keyClick(editor, Qt.Key.Key_Return)


def send_then_stop(qtbot, hearth: Hearth) -> None:
    """Enter on the text in the box, then Escape once the answer has begun: the tiny model's
    gibberish would run on to the length limit, and only its saving matters here."""
    qtbot.keyClick(hearth.window.composer.editor, Qt.Key.Key_Return)
    assert hearth.window.controller.busy  # the question was taken
    qtbot.keyClick(hearth.window.composer.editor, Qt.Key.Key_Escape)
    wait_idle(qtbot, hearth)


def notice(hearth: Hearth) -> str:
    return hearth.window.statusBar().currentMessage()


def shown_message(hearth: Hearth):
    """The last message as the conversation view holds it (its text before Markdown rendering)."""
    return hearth.window.conversation.rows()[-1].message


def last_shown(hearth: Hearth):
    """What the conversation view paints for the last message."""
    view = hearth.window.chat_view
    return view.shown(view.message_ids()[-1])


def wait_idle(qtbot, hearth: Hearth) -> None:
    qtbot.waitUntil(lambda: not hearth.window.controller.busy, timeout=TIMEOUT)


def trouble_shown(hearth: Hearth) -> str:
    label = hearth.window.save_trouble_label
    return label.text() if label.isVisibleTo(hearth.window) else ""


def edit_settings(
    qtbot, hearth: Hearth, *, system_prompt: str | None = None, temperature: float | None = None
):
    panel = hearth.window.settings_panel
    with qtbot.waitSignal(panel.settings_edited):
        if system_prompt is not None:
            panel.system_prompt.setPlainText(system_prompt)  # as pasted
        if temperature is not None:
            panel.temperature.setValue(temperature)


# --- a full database -------------------------------------------------------------------------------


def test_enter_on_a_full_database_keeps_the_question_and_its_picture(qtbot, start_app, picture):
    hearth = start_app(TINY_GEMMA4)
    window, composer = hearth.window, hearth.window.composer
    drop_files(window, [picture()])
    qtbot.waitUntil(lambda: len(composer.pending()) == 1, timeout=TIMEOUT)
    full = FullDatabase(hearth.store)

    type_and_send(qtbot, hearth, QUESTION)
    assert composer.text() == QUESTION
    assert [item.stored.name for item in composer.pending()] == ["boat.png"]
    assert notice(hearth) == DISK_FULL + "nothing you typed was lost."
    assert hearth.store.messages(window.current_id) == [] and window.chat_view.message_ids() == []
    assert not window.controller.busy and composer.button.text() == "Send"

    full.lift()
    send_then_stop(qtbot, hearth)  # no restart needed
    question, answer = hearth.store.messages(window.current_id)
    assert question.content == QUESTION and [a.name for a in question.attachments] == ["boat.png"]
    assert answer.status == MessageStatus.STOPPED
    assert composer.text() == "" and composer.pending() == []


def test_an_answer_whose_saves_fail_streams_on_and_is_saved_when_space_returns(
    qtbot, start_app, smollm2_path
):
    hearth = start_app(smollm2_path)
    window, store = hearth.window, hearth.store
    type_and_send(qtbot, hearth, LONG_PROMPT)
    answer_id = window.controller.answering_message
    qtbot.waitUntil(lambda: len(store.get_message(answer_id).content) > 20, timeout=TIMEOUT)  # saved
    full = FullDatabase(store)

    qtbot.waitUntil(lambda: bool(trouble_shown(hearth)), timeout=TIMEOUT)  # a periodic save was refused
    assert "disk is full" in trouble_shown(hearth)
    assert notice(hearth) == DISK_FULL + ANSWER_KEPT + "."
    shown = len(last_shown(hearth).text)
    qtbot.waitUntil(lambda: len(last_shown(hearth).text) > shown + 40, timeout=TIMEOUT)  # streams on
    qtbot.keyClick(window.composer.editor, Qt.Key.Key_Escape)
    wait_idle(qtbot, hearth)
    on_screen = shown_message(hearth).content
    assert last_shown(hearth).note == "Stopped"
    saved = store.get_message(answer_id)
    assert saved.status == MessageStatus.STREAMING and len(saved.content) < len(on_screen)

    # Another chat and back: the answer is shown as it is in memory, not as the database has it.
    first = window.current_id
    other = next(c.id for c in store.list_conversations() if c.id != first)
    window.show_conversation(other)
    window.show_conversation(first)
    assert shown_message(hearth).content == on_screen

    # Space returns: the next question goes through, and the held answer is written before it.
    full.lift()
    type_and_send(qtbot, hearth, "Thank you.")
    saved = store.get_message(answer_id)
    assert (saved.content, saved.status) == (on_screen, MessageStatus.STOPPED)
    assert trouble_shown(hearth) == ""
    qtbot.keyClick(window.composer.editor, Qt.Key.Key_Escape)
    wait_idle(qtbot, hearth)
    assert [m.role for m in store.messages(first)] == ["user", "assistant", "user", "assistant"]


def test_closing_with_an_answer_not_saved_says_so_and_saves_it_once_it_can(qtbot, start_app, smollm2_path):
    hearth = start_app(smollm2_path)
    # An answer long enough to be still streaming when Escape stops it, however fast the machine.
    chat = hearth.window.current_id
    hearth.window.controller.set_chat_settings(chat, GenerationSettings(max_tokens=4000), "")
    window, store = hearth.window, hearth.store
    type_and_send(qtbot, hearth, LONG_PROMPT)
    answer_id = window.controller.answering_message
    qtbot.waitUntil(lambda: len(store.get_message(answer_id).content) > 20, timeout=TIMEOUT)
    full = FullDatabase(store)
    qtbot.waitUntil(lambda: bool(trouble_shown(hearth)), timeout=TIMEOUT)
    qtbot.keyClick(window.composer.editor, Qt.Key.Key_Escape)
    wait_idle(qtbot, hearth)
    on_screen = shown_message(hearth).content

    def question() -> QMessageBox | None:
        box = window.findChild(QMessageBox, "unsavedOnClose")
        return box if box is not None and box.isVisible() else None

    window.close()
    qtbot.waitUntil(lambda: question() is not None)
    box = question()
    assert window.isVisible()  # not closed: the answer would be lost
    assert "not saved yet" in box.text() and "the disk is full. Free some space" in box.text()
    assert "If you close now, what was not saved is lost." in box.text()

    def try_again() -> None:
        button = next(b for b in question().buttons() if b.text() == "Try again")
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)

    try_again()  # still full: asked again
    qtbot.waitUntil(lambda: question() is not None and question() is not box)
    assert window.isVisible()
    full.lift()
    try_again()
    qtbot.waitUntil(lambda: not window.isVisible())
    saved = store.get_message(answer_id)
    assert (saved.content, saved.status) == (on_screen, MessageStatus.STOPPED)


def test_closing_anyway_loses_only_what_could_not_be_saved(qtbot, start_app):
    hearth = start_app()
    window, store = hearth.window, hearth.store
    chat = window.current_id
    full = FullDatabase(store)
    edit_settings(qtbot, hearth, system_prompt="Be brief. " * 600, temperature=0.3)
    window.close()
    box = window.findChild(QMessageBox, "unsavedOnClose")
    assert box is not None and box.isVisible() and window.isVisible()
    window.close()  # asked again while the question is open: still one question
    assert len([b for b in window.findChildren(QMessageBox) if b.isVisible()]) == 1

    close_anyway = next(b for b in box.buttons() if b.text() == "Close anyway")
    qtbot.mouseClick(close_anyway, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not window.isVisible())
    full.lift()
    assert store.get_conversation(chat).system_prompt == ""
    assert not window.saves.waiting and trouble_shown(hearth) == ""  # nothing left to write
    assert notice(hearth) != SAVED_AGAIN  # nothing was saved: it was given up


def test_chat_settings_on_a_full_database_are_kept_and_saved_when_space_returns(qtbot, start_app):
    hearth = start_app()
    window, store = hearth.window, hearth.store
    chat = window.current_id
    other = store.create_conversation()
    full = FullDatabase(store)
    prompt = "You are the captain of a small sailing boat; answer in sea shanties. " * 80  # over a page

    edit_settings(qtbot, hearth, system_prompt=prompt, temperature=0.3)
    assert notice(hearth) == DISK_FULL + SETTINGS_KEPT + "."
    assert store.get_conversation(chat).system_prompt == ""
    assert "disk is full" in trouble_shown(hearth)
    # The app's settings file is on a disk with room: the new defaults went there.
    written = json.loads(hearth.paths.settings_file.read_text(encoding="utf-8"))
    assert written["defaults"]["temperature"] == 0.3

    # Another chat and back: the panel shows the settings as set, not as stored.
    window.show_conversation(other.id)
    window.show_conversation(chat)
    assert window.settings_panel.system_prompt.toPlainText() == prompt
    assert window.settings_panel.temperature.value() == 0.3

    full.lift()  # and nothing else: the retry finds the room
    qtbot.waitUntil(lambda: store.get_conversation(chat).system_prompt == prompt, timeout=RECOVERY_TIMEOUT)
    assert store.get_conversation(chat).settings.temperature == 0.3
    assert notice(hearth) == SAVED_AGAIN and trouble_shown(hearth) == ""


# --- a small file system: full, then read-only ------------------------------------------------------


class SmallDisk:
    """tmpfs file systems mounted over folders of the Hearth home, filled or made read-only for
    real. Needs root (or password-less sudo), as this machine and CI have."""

    def __init__(self) -> None:
        self.mounted: list[Path] = []
        self._filler: list[Path] = []

    def mount(self, folder: Path, size: str = "8m") -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self._run("mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder))
        self.mounted.append(folder)

    def fill(self) -> None:
        for folder in self.mounted:
            filler = folder / "filler"
            self._filler.append(filler)
            fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
            try:
                for block in (1 << 20, 1 << 12, 1):  # down to the last byte
                    while True:
                        try:
                            os.write(fd, bytes(block))
                        except OSError:
                            break
            finally:
                os.close(fd)
            assert shutil.disk_usage(folder).free == 0

    def free(self) -> None:
        for filler in self._filler:
            filler.unlink()
        self._filler.clear()

    def read_only(self, read_only: bool = True) -> None:
        for folder in self.mounted:
            self._run("mount", "-o", "remount,ro" if read_only else "remount,rw", str(folder))

    def unmount(self) -> None:
        for folder in reversed(self.mounted):
            self._run("umount", "--lazy", str(folder))  # lazy: a test that failed may hold files
        self.mounted.clear()

    @staticmethod
    def _run(*command: str) -> None:
        if os.geteuid() != 0:
            command = ("sudo", "-n", *command)
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode:
            pytest.fail(
                f"`{' '.join(command)}` failed ({result.stderr.strip()}). These tests mount small "
                "tmpfs file systems: run them as root or with password-less sudo."
            )


@pytest.fixture
def small_disk() -> Iterator[SmallDisk]:
    disk = SmallDisk()
    yield disk
    disk.unmount()


def test_a_full_disk_loses_nothing_and_recovers_when_space_returns(
    qtbot, small_disk, hearth_home, start_app, picture
):
    small_disk.mount(hearth_home)  # the whole data home: database, attachments, settings
    hearth = start_app(TINY_GEMMA4)
    window, store, composer = hearth.window, hearth.store, hearth.window.composer
    drop_files(window, [picture()])
    qtbot.waitUntil(lambda: len(composer.pending()) == 1, timeout=TIMEOUT)
    settings_before = hearth.paths.settings_file.read_text(encoding="utf-8")
    small_disk.fill()

    drop_files(window, [picture("sail.png", "#c02020")])  # an attachment import
    qtbot.waitUntil(lambda: "sail.png" in notice(hearth), timeout=TIMEOUT)
    assert notice(hearth) == (
        "Hearth could not keep sail.png in its data folder because the disk is full. "
        "Free some space, then attach it again."
    )
    assert [item.stored.name for item in composer.pending()] == ["boat.png"]

    type_and_send(qtbot, hearth, QUESTION)  # a database write
    assert composer.text() == QUESTION and len(composer.pending()) == 1
    assert notice(hearth) == DISK_FULL + "nothing you typed was lost."
    assert store.messages(window.current_id) == []

    edit_settings(qtbot, hearth, temperature=0.2)  # the chat's settings and the app's settings file
    assert notice(hearth) == DISK_FULL + SETTINGS_KEPT + "."
    assert hearth.paths.settings_file.read_text(encoding="utf-8") == settings_before  # intact
    assert not hearth.paths.settings_file.with_suffix(".tmp").exists()

    small_disk.free()
    qtbot.waitUntil(
        lambda: store.get_conversation(window.current_id).settings.temperature == 0.2,
        timeout=RECOVERY_TIMEOUT,
    )
    written = json.loads(hearth.paths.settings_file.read_text(encoding="utf-8"))
    assert written["defaults"]["temperature"] == 0.2
    assert notice(hearth) == SAVED_AGAIN
    send_then_stop(qtbot, hearth)
    question, answer = store.messages(window.current_id)
    assert [a.name for a in question.attachments] == ["boat.png"] and answer.status == MessageStatus.STOPPED


def test_a_read_only_data_folder_loses_nothing_and_recovers(
    qtbot, small_disk, hearth_home, start_app, picture
):
    """The kernel refuses to remount a file system read-only while a file on it is open for
    writing, which the app's database always is. So the attachments and settings folders are
    tmpfs mounts made read-only for real, and the database gets SQLite's own read-only state
    (``PRAGMA query_only``), which refuses writes with the same error as a read-only file."""
    paths = resolve_paths(hearth_home)
    small_disk.mount(paths.attachments)
    small_disk.mount(paths.config)
    hearth = start_app(TINY_GEMMA4)
    window, store, composer = hearth.window, hearth.store, hearth.window.composer
    drop_files(window, [picture()])
    qtbot.waitUntil(lambda: len(composer.pending()) == 1, timeout=TIMEOUT)
    small_disk.read_only()
    store.connection.execute("PRAGMA query_only=ON")

    drop_files(window, [picture("sail.png", "#c02020")])
    qtbot.waitUntil(lambda: "sail.png" in notice(hearth), timeout=TIMEOUT)
    assert notice(hearth) == (
        "Hearth could not keep sail.png in its data folder because it is read-only. Make the folder "
        "writable again (or check the disk it is on), then attach it again."
    )

    type_and_send(qtbot, hearth, QUESTION)
    assert composer.text() == QUESTION and len(composer.pending()) == 1
    assert notice(hearth) == READ_ONLY + "nothing you typed was lost."

    edit_settings(qtbot, hearth, temperature=0.2)
    assert notice(hearth) == READ_ONLY + SETTINGS_KEPT + "."
    assert "read-only" in trouble_shown(hearth)

    small_disk.read_only(False)
    store.connection.execute("PRAGMA query_only=OFF")
    qtbot.waitUntil(lambda: trouble_shown(hearth) == "", timeout=RECOVERY_TIMEOUT)
    assert store.get_conversation(window.current_id).settings.temperature == 0.2
    assert (
        json.loads(hearth.paths.settings_file.read_text(encoding="utf-8"))["defaults"]["temperature"] == 0.2
    )
    send_then_stop(qtbot, hearth)
    question, _answer = store.messages(window.current_id)
    assert [a.name for a in question.attachments] == ["boat.png"]


# --- a database another process holds ---------------------------------------------------------------

HOLD_THE_LOCK = textwrap.dedent(
    """
    import sqlite3, sys
    conn = sqlite3.connect(sys.argv[1], isolation_level=None)
    conn.execute("BEGIN EXCLUSIVE")
    print("locked", flush=True)
    sys.stdin.readline()
    conn.execute("ROLLBACK")
    """
)


def answer_dialog(text: str) -> None:
    """Type ``text`` into the modal input dialog about to open, and press OK."""

    def fill() -> None:
        dialog = QApplication.activeModalWidget()
        if not isinstance(dialog, QInputDialog):
            QTimer.singleShot(20, fill)
            return
        dialog.setTextValue(text)
        dialog.accept()

    QTimer.singleShot(0, fill)


def test_a_database_locked_by_another_process(qtbot, start_app):
    hearth = start_app(TINY_GEMMA4)
    window, store = hearth.window, hearth.store
    # A user's wait for the lock is five seconds; the test's is shorter, with the same outcome.
    store.connection.execute("PRAGMA busy_timeout=200")
    chat = window.current_id
    other = subprocess.Popen(
        [sys.executable, "-c", HOLD_THE_LOCK, str(hearth.paths.database)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert other.stdout.readline().strip() == "locked"

        type_and_send(qtbot, hearth, "Are you there?")
        assert window.composer.text() == "Are you there?"
        assert notice(hearth) == LOCKED + "nothing you typed was lost."

        answer_dialog("Sailing plans")
        window.rename_current()
        assert notice(hearth) == LOCKED + "the chat keeps its name for now, so rename it again then."
        assert store.get_conversation(chat).title == "New chat"

        window.delete_current()
        assert notice(hearth) == LOCKED + "the chat was not deleted."
        assert window.current_id == chat and store.get_conversation(chat) is not None

        edit_settings(qtbot, hearth, temperature=0.4)
        assert notice(hearth) == LOCKED + SETTINGS_KEPT + "."
        assert "another copy of Hearth" in trouble_shown(hearth)
    finally:
        other.communicate("\n", timeout=10)

    qtbot.waitUntil(lambda: trouble_shown(hearth) == "", timeout=RECOVERY_TIMEOUT)
    assert store.get_conversation(chat).settings.temperature == 0.4
    send_then_stop(qtbot, hearth)
    assert [m.role for m in store.messages(chat)] == ["user", "assistant"]
    answer_dialog("Sailing plans")
    window.rename_current()
    assert store.get_conversation(chat).title == "Sailing plans"
