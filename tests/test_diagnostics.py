"""Evidence a user can hand over: the copied diagnostics (never a chat), the log of uncaught
exceptions, faulthandler's crash stacks, and the Help menu's way to the logs folder."""

from __future__ import annotations

import logging
import os
import platform
import re
import signal
import subprocess
import sys
import textwrap
import threading
from importlib import metadata
from pathlib import Path

import PySide6
import pytest
from PySide6.QtCore import QObject, QTimer, QUrl, Slot
from PySide6.QtGui import QDesktopServices, QGuiApplication

from app import __version__
from app.core.paths import resolve_paths
from app.library.diagnostics import AppFacts, RecentProblems, probe_system, strip_home, summarize
from app.library.machine import GIB, detect_machine
from app.ui.application import build
from app.ui.logging_setup import setup_logging
from app.ui.supervisor import WorkerSupervisor

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT = 60_000
SECRET_MESSAGE = "Please remember the passphrase quokka-lantern-8812"
SECRET_TITLE = "Plans for Zanzibar-heron-4471"
SECRET_PROMPT = "You are Captain Velvet-otter-9903."


@pytest.fixture
def logs(hearth_home):
    """The app's logging as ``run`` sets it up, taken down after the test."""
    setup = setup_logging(resolve_paths(hearth_home).ensure())
    yield setup
    setup.close()


@pytest.fixture
def start_app(qtbot, hearth_home, logs, short_answers):
    started = []

    def start(model: Path | None = None):
        paths = resolve_paths(hearth_home).ensure()
        hearth = build(paths, model=str(model) if model else None, theme="light", logs=logs)
        qtbot.addWidget(hearth.window)
        started.append(hearth)
        if model is not None:
            qtbot.waitUntil(lambda: hearth.supervisor.loaded_model is not None, timeout=TIMEOUT)
        return hearth

    yield start
    for hearth in started:
        hearth.shutdown()


def log_text(logs) -> str:
    for handler in logging.getLogger().handlers:
        handler.flush()
    return logs.log_file.read_text(encoding="utf-8")


def test_copied_diagnostics_describe_the_setup_and_hold_no_chat(qtbot, start_app, smollm2_path):
    hearth = start_app(smollm2_path)
    window = hearth.window
    window.settings_button.setChecked(True)
    window.settings_panel.system_prompt.setFocus()
    qtbot.keyClicks(window.settings_panel.system_prompt, SECRET_PROMPT)
    window.settings_panel.flush()
    window.composer.set_text(SECRET_MESSAGE)
    window.composer.submit()
    qtbot.waitUntil(lambda: not window.controller.busy, timeout=TIMEOUT)
    chat_id = window.current_id
    hearth.store.rename_conversation(chat_id, SECRET_TITLE)
    conversation = hearth.store.get_conversation(chat_id)
    assert conversation.title == SECRET_TITLE and conversation.system_prompt == SECRET_PROMPT
    assert hearth.store.messages(chat_id)[0].content == SECRET_MESSAGE
    logging.getLogger("test").warning("A warning the diagnostics should repeat")

    with qtbot.waitSignal(window.diagnostics.copied, timeout=TIMEOUT) as copied:
        window.menus.copy_diagnostics_action.trigger()
    text = copied.args[0]

    assert QGuiApplication.clipboard().text() == text
    assert window.statusBar().currentMessage().startswith("Diagnostics copied to the clipboard")
    loaded = hearth.supervisor.loaded_model
    for expected in (
        f"Hearth: {__version__}",
        platform.python_version(),
        PySide6.__version__,
        f"llama-cpp-python: {metadata.version('llama-cpp-python')}",
        platform.machine(),
        f"{os.cpu_count()} logical cores",
        "GB total",
        *([f"GPU: {gpu.name}" for gpu in detect_machine().gpus] or ["GPU: none found"]),
        f"Data folder: {hearth.paths.data}",
        f"Model: {smollm2_path.name} ({loaded.architecture})",
        f"context {loaded.context_length} of {loaded.context_length_train} trained",
        "text only",
        f"Engine: idle, pid {hearth.supervisor.worker_pid}",
        "WARNING test: A warning the diagnostics should repeat",
    ):
        assert expected in text
    for secret in (SECRET_MESSAGE, "quokka", SECRET_TITLE, "Zanzibar", SECRET_PROMPT, "Velvet"):
        assert secret not in text
    assert str(Path.home()) + os.sep not in text


def test_the_summary_writes_the_home_folder_as_a_tilde(tmp_path):
    home = Path.home()
    app_facts = AppFacts(
        qt="6.x",
        data_folder=home / ".local" / "share" / "Hearth",
        logs_folder=home / ".local" / "state" / "Hearth" / "log",
        worker_state="stopped",
        worker_pid=0,
        model=None,
        recent_problems=[f"WARNING app: Could not save {home / 'notes.txt'}"],
    )
    text = summarize(probe_system(tmp_path), app_facts)
    assert f"Data folder: ~{os.sep}.local{os.sep}share{os.sep}Hearth" in text
    assert f"Could not save ~{os.sep}notes.txt" in text
    assert "Model: none loaded" in text and "Engine: stopped\n" in text
    assert f"RAM: {probe_system(tmp_path).machine.total_ram / GIB:.1f} GB total" in text
    # Only the whole folder name is the home: a neighbour that starts the same stays as it is.
    assert strip_home("/home/al/x and /home/alice/y", Path("/home/al")) == "~/x and /home/alice/y"


def test_recent_problems_keep_warnings_without_tracebacks():
    recent = RecentProblems(capacity=2)
    logger = logging.getLogger("test.recent")
    logger.addHandler(recent)
    try:
        logger.info("an everyday event")
        logger.warning("first warning")
        try:
            raise ValueError("text of a private exception")
        except ValueError:
            logger.exception("Saving failed\nsecond line of the message")
        logger.error("the newest error")
    finally:
        logger.removeHandler(recent)
    lines = recent.lines()
    assert len(lines) == 2
    assert lines[0].endswith("ERROR test.recent: Saving failed")
    assert lines[1].endswith("ERROR test.recent: the newest error")
    assert not any("private exception" in line or "everyday" in line for line in lines)


@pytest.mark.qt_no_exception_capture  # the app's own hook must see it, as in the running app
def test_an_exception_in_a_slot_is_logged_and_the_user_is_told(qtbot, start_app, logs):
    hearth = start_app()

    def failing_slot() -> None:
        raise RuntimeError("deliberate failure inside a slot")

    QTimer.singleShot(0, failing_slot)
    qtbot.waitUntil(lambda: "Something went wrong" in hearth.window.statusBar().currentMessage())
    assert "RuntimeError" in hearth.window.statusBar().currentMessage()
    text = log_text(logs)
    assert "ERROR app.ui.logging_setup: Uncaught RuntimeError at test_diagnostics.py" in text
    assert "Traceback (most recent call last):" in text
    assert "in failing_slot" in text and "RuntimeError: deliberate failure inside a slot" in text
    assert any("Uncaught RuntimeError" in line for line in logs.recent.lines())
    assert not any("deliberate failure" in line for line in logs.recent.lines())


@pytest.mark.filterwarnings(
    "ignore::pytest.PytestUnhandledThreadExceptionWarning"
)  # handed on to pytest's hook
def test_an_exception_in_a_thread_is_logged_and_the_user_is_told(qtbot, start_app, logs):
    hearth = start_app()

    def failing_work() -> None:
        raise KeyError("deliberate failure on a thread")

    thread = threading.Thread(target=failing_work, name="failing-thread")
    thread.start()
    thread.join()
    qtbot.waitUntil(lambda: "Something went wrong" in hearth.window.statusBar().currentMessage())
    text = log_text(logs)
    assert "Uncaught KeyError at test_diagnostics.py" in text and "(thread failing-thread)" in text
    assert "in failing_work" in text and "KeyError: 'deliberate failure on a thread'" in text


def test_a_segfault_in_the_ui_process_leaves_its_stack_in_crash_log(tmp_path, hearth_home):
    script = textwrap.dedent(
        f"""
        import faulthandler
        from app.core.paths import resolve_paths
        from app.ui.logging_setup import setup_logging

        def crash_on_purpose():
            faulthandler._sigsegv()

        setup_logging(resolve_paths({str(hearth_home)!r}).ensure())
        crash_on_purpose()
        """
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("PYTHONFAULTHANDLER", None)
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, timeout=60, check=False
    )
    assert done.returncode == -signal.SIGSEGV
    crash_log = resolve_paths(hearth_home).logs / "crash.log"
    text = crash_log.read_text(encoding="utf-8")
    assert text.startswith("=== Hearth ")
    assert "Fatal Python error: Segmentation fault" in text
    assert "in crash_on_purpose" in text and "<module>" in text
    # The next diagnostics say that the last run crashed, and where.
    crash = probe_system(crash_log.parent).last_crash
    assert crash[0].startswith("=== Hearth ") and "Fatal Python error: Segmentation fault" in crash
    assert any("in crash_on_purpose" in line for line in crash)


def test_a_crash_in_the_worker_leaves_its_python_stack_in_the_log(qtbot, logs):
    supervisor = WorkerSupervisor()
    try:
        supervisor.start()
        qtbot.waitUntil(lambda: supervisor.worker_pid != 0, timeout=TIMEOUT)
        with qtbot.waitSignal(supervisor.crashed, timeout=TIMEOUT):
            os.kill(supervisor.worker_pid, signal.SIGSEGV)  # what a bad pointer in llama.cpp raises
    finally:
        supervisor.stop()
    # The supervisor logs stderr as it arrives, so a line of the dump can be split in two:
    # compare what the worker wrote, without the log's prefixes and spaces.
    written = "".join(line.partition(" worker: ")[2] for line in log_text(logs).splitlines())
    compact = re.sub(r"\s+", "", written)
    assert "FatalPythonerror:Segmentationfault" in compact
    # The main thread is in the worker's loop, or just before it if the signal came that early.
    assert 'worker.py",line' in compact and ("inserve" in compact or "inmain" in compact)


class _UrlCatcher(QObject):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[QUrl] = []

    @Slot(QUrl)
    def open(self, url: QUrl) -> None:
        self.urls.append(url)


def test_open_logs_folder_opens_the_logs_folder(qtbot, start_app):
    hearth = start_app()
    catcher = _UrlCatcher()
    # Qt's own hook for "open this URL": the desktop's file manager cannot run in a test.
    QDesktopServices.setUrlHandler("file", catcher, "open")
    try:
        hearth.window.menus.open_logs_action.trigger()
    finally:
        QDesktopServices.unsetUrlHandler("file")
    assert [Path(url.toLocalFile()) for url in catcher.urls] == [hearth.paths.logs]
    menus = [action.text() for action in hearth.window.menuBar().actions()]
    assert menus[-1] == "&Help"
