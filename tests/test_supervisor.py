"""The supervisor never gets stuck: a worker that cannot start, speaks another protocol version,
never greets or keeps dying ends in FAILED (no restart loop), with words for the user and a way
to try again; an error from the worker ends the load or answer it belongs to.

"The worker" here is sometimes a tiny Python script given as the supervisor's command: the one
way to have a real process misbehave on cue. Each start appends a line to a file, so the tests
count starts. Where the script plays a good worker, it runs the real one.
"""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from app.core.generation import GenerationSettings
from app.core.paths import resolve_paths
from app.core.settings import Settings
from app.engine import protocol as p
from app.storage.chats import ChatStore
from app.storage.db import open_database
from app.ui.main_window import MainWindow
from app.ui.supervisor import RestartPolicy, WorkerState, WorkerSupervisor

TIMEOUT = 60_000
QUICK = RestartPolicy(handshake_timeout_ms=TIMEOUT, restart_delays_ms=(10, 20, 40))

PRELUDE = """
import json, os, sys
with open(starts, "a") as log:
    log.write(f"{os.getpid()}\\n")
count = len(open(starts).read().split())
def say(record):
    sys.stdout.write(json.dumps(record) + "\\n")
    sys.stdout.flush()
def become_the_real_worker():
    os.execv(sys.executable, [sys.executable, "-m", "app", "--worker"])
"""

MISMATCH = """
if count > bad_starts:
    become_the_real_worker()
say({"type": "hello", "protocol": 999, "app_version": "9.9", "pid": os.getpid()})
sys.stdin.read()  # like a worker: wait for the UI to go
"""


@pytest.fixture
def script(tmp_path):
    """Write a worker script (``values`` become its variables); returns (command, the file that
    lists one pid per start)."""
    starts = tmp_path / "starts.txt"

    def make(body: str, **values) -> tuple[tuple[str, list[str]], Path]:
        path = tmp_path / "worker_script.py"
        variables = "".join(
            f"{name} = {value!r}\n" for name, value in {"starts": str(starts), **values}.items()
        )
        path.write_text(variables + PRELUDE + textwrap.dedent(body))
        return (sys.executable, [str(path)]), starts

    return make


@pytest.fixture
def supervisors():
    made: list[WorkerSupervisor] = []

    def make(command, policy: RestartPolicy = QUICK) -> WorkerSupervisor:
        supervisor = WorkerSupervisor(command, policy=policy)
        made.append(supervisor)
        return supervisor

    yield make
    for supervisor in made:
        supervisor.stop()


def started(starts: Path) -> int:
    return len(starts.read_text().split()) if starts.exists() else 0


def assert_no_restart(qtbot, supervisor) -> None:
    """Nothing happens any more: no new state, hence no new worker."""
    with qtbot.assertNotEmitted(supervisor.state_changed, wait=500):
        pass


def test_a_worker_of_another_protocol_version_fails_once_and_for_all(qtbot, script, supervisors):
    command, starts = script(MISMATCH, bad_starts=99)
    supervisor = supervisors(command)
    with qtbot.waitSignal(supervisor.failed, timeout=TIMEOUT) as blocker:
        supervisor.start()
    assert supervisor.state is WorkerState.FAILED
    message = blocker.args[0]
    assert "protocol version 999" in message and "Reinstall Hearth" in message
    assert supervisor.failure == message
    assert_no_restart(qtbot, supervisor)
    assert started(starts) == 1
    # "Try again" tries again (and, the script being what it is, fails again).
    with qtbot.waitSignal(supervisor.failed, timeout=TIMEOUT):
        supervisor.retry()
    assert started(starts) == 2 and supervisor.state is WorkerState.FAILED


def test_a_greeting_with_fields_of_another_version_is_still_a_version_mismatch(qtbot, script, supervisors):
    body = """
    say({"type": "hello", "protocol": 2, "app_version": "2", "pid": os.getpid(), "features": []})
    sys.stdin.read()
    """
    command, starts = script(body)
    supervisor = supervisors(command)
    with qtbot.waitSignal(supervisor.failed, timeout=TIMEOUT) as blocker:
        supervisor.start()
    assert "protocol version 2," in blocker.args[0]
    assert started(starts) == 1


def test_try_again_starts_over_and_loads_the_model_the_user_wanted(qtbot, script, supervisors, smollm2_path):
    command, starts = script(MISMATCH, bad_starts=1)  # the second start is the real worker
    supervisor = supervisors(command)
    with qtbot.waitSignal(supervisor.failed, timeout=TIMEOUT):
        supervisor.load_model(str(smollm2_path), 2048)
    assert supervisor.state is WorkerState.FAILED  # not LOADING: nothing is loading
    with qtbot.waitSignal(supervisor.model_loaded, timeout=TIMEOUT) as blocker:
        supervisor.retry()
        assert supervisor.state is WorkerState.LOADING
    assert blocker.args[0].model_path == str(smollm2_path)
    assert supervisor.state is WorkerState.IDLE and supervisor.failure == ""
    assert started(starts) == 2


def test_a_program_that_does_not_exist_fails_in_words_not_starting_forever(qtbot, tmp_path, supervisors):
    supervisor = supervisors((str(tmp_path / "no-such-engine"), []))
    failures: list[tuple[str, str]] = []
    supervisor.generation_failed.connect(lambda rid, message: failures.append((rid, message)))
    with qtbot.waitSignal(supervisor.failed, timeout=TIMEOUT) as blocker:
        supervisor.load_model("/models/m.gguf", 2048)
        supervisor.generate("g1", [p.ChatTurn(p.Role.USER, "hi")], GenerationSettings())
    qtbot.waitUntil(lambda: supervisor.state is WorkerState.FAILED, timeout=TIMEOUT)
    message = blocker.args[0]
    assert "could not start its engine" in message and "no-such-engine" in message
    assert failures == [("g1", supervisor.failure)]  # the answer waiting for it is told, too
    assert_no_restart(qtbot, supervisor)


def test_a_worker_that_keeps_dying_fails_after_a_few_restarts(qtbot, script, supervisors):
    command, starts = script("""
    sys.stderr.write("worker: the engine library is missing\\n")
    sys.exit(3)
    """)
    supervisor = supervisors(command)
    crashes: list[str] = []
    supervisor.crashed.connect(crashes.append)
    with qtbot.waitSignal(supervisor.failed, timeout=TIMEOUT) as blocker:
        supervisor.start()
    limit = QUICK.max_quick_crashes
    assert started(starts) == limit and len(crashes) == limit - 1
    message = blocker.args[0]
    assert f"stopped {limit} times in a row" in message and "the engine library is missing" in message
    assert_no_restart(qtbot, supervisor)
    assert started(starts) == limit


def test_a_worker_that_never_greets_fails_on_the_handshake_timeout(qtbot, script, supervisors):
    command, starts = script("sys.stdin.read()  # silent")
    supervisor = supervisors(command, RestartPolicy(handshake_timeout_ms=500))
    with qtbot.waitSignal(supervisor.failed, timeout=TIMEOUT) as blocker:
        supervisor.start()
    assert "did not answer within 0.5 seconds" in blocker.args[0]
    pid = int(starts.read_text().split()[0])
    assert not Path(f"/proc/{pid}").exists()  # ended, and reaped
    assert_no_restart(qtbot, supervisor)
    assert started(starts) == 1


def test_an_error_in_answer_to_a_load_ends_the_load(qtbot, supervisors, smollm2_path):
    supervisor = supervisors(None)  # the real worker
    with qtbot.waitSignal(supervisor.load_failed, timeout=TIMEOUT) as blocker:
        supervisor.load_model(str(smollm2_path), "lots")  # as a bug in the UI might
    code, message = blocker.args
    assert code == "error" and "load_model.context_length: expected an integer" in message
    assert supervisor.state is WorkerState.IDLE and not supervisor.model_chosen
    with qtbot.waitSignal(supervisor.model_loaded, timeout=TIMEOUT):
        supervisor.load_model(str(smollm2_path), 2048)  # the worker is fine


def test_an_error_in_answer_to_a_request_ends_the_answer(qtbot, supervisors):
    supervisor = supervisors(None)
    with qtbot.waitSignal(supervisor.generation_failed, timeout=TIMEOUT) as blocker:
        settings = GenerationSettings(temperature="hot")  # as a bug in the UI might
        supervisor.generate("g1", [p.ChatTurn(p.Role.USER, "hi")], settings)
    assert blocker.args[0] == "g1"
    assert 'generate.settings.temperature: expected a number, got "hot"' in blocker.args[1]
    assert supervisor.state is WorkerState.IDLE and supervisor.current_request == ""


def test_the_window_shows_the_failure_and_offers_to_try_again(qtbot, script, hearth_home, smollm2_path):
    command, starts = script(MISMATCH, bad_starts=1)
    supervisor = WorkerSupervisor(command, policy=QUICK)
    store = ChatStore(open_database(resolve_paths(hearth_home).ensure().database))
    window = MainWindow(store, supervisor, Settings(), resolve_paths(hearth_home).ensure())
    qtbot.addWidget(window)
    window.show()
    try:
        with qtbot.waitSignal(supervisor.failed, timeout=TIMEOUT):
            window.load_model(str(smollm2_path))
        assert window.state_label.text() == "Engine failed"
        assert "protocol version 999" in window.state_label.toolTip()
        assert "Try again" in window.composer.editor.placeholderText()
        assert window.retry_button.isVisible()
        assert window.model_button.text() == "Choose a model"
        with qtbot.waitSignal(supervisor.model_loaded, timeout=TIMEOUT):
            qtbot.mouseClick(window.retry_button, Qt.MouseButton.LeftButton)
        assert not window.retry_button.isVisible() and window.state_label.text() == "Ready"
        assert "Try again" not in window.composer.editor.placeholderText() and started(starts) == 2
    finally:
        supervisor.stop()
        store.close()
