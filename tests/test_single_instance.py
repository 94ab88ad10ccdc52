"""One Hearth per data folder, with real processes and a real local socket: a second launch hands
its files to the running Hearth and exits; a crashed Hearth's lock does not keep the next one out;
SIGTERM closes Hearth as its Quit does."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from app.core.paths import resolve_paths
from app.ui.application import build, serve_launches
from app.ui.single_instance import LOCK_FILE, SingleInstance

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT = 60_000


def launch(*arguments: str) -> subprocess.Popen:
    """``python -m app`` as a user's launch, in this test's Hearth home (``HEARTH_HOME``)."""
    return subprocess.Popen(
        [sys.executable, "-m", "app", *arguments],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_until_serving(data: Path, process: subprocess.Popen, timeout_s: float = 60) -> None:
    """Until the launched Hearth answers on its socket (its window is up and its loop runs)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        if (data / LOCK_FILE).exists() and SingleInstance(data).hand_over({"files": []}, timeout_s=2):
            return
        time.sleep(0.2)
    pytest.fail("the launched Hearth never answered")


@pytest.fixture
def serving(qtbot, hearth_home):
    """A Hearth in this process that holds the data folder and serves launches on its socket."""
    paths = resolve_paths(hearth_home).ensure()
    instance = SingleInstance(paths.data)
    assert instance.claim()
    hearth = build(paths, theme="light")
    qtbot.addWidget(hearth.window)
    serve_launches(instance, hearth.window)
    yield hearth, instance
    hearth.shutdown()
    instance.release()


def hand_over_a_picture(qtbot, hearth, picture) -> None:
    """A second launch with a picture: it exits at once, and the picture reaches the message box."""
    second = launch(str(picture("harbour.png")))
    qtbot.waitUntil(lambda: second.poll() is not None, timeout=TIMEOUT)
    assert second.returncode == 0, second.communicate()
    qtbot.waitUntil(lambda: len(hearth.window.composer.pending()) == 1, timeout=TIMEOUT)


# Drawing offscreen, Qt cannot raise a window (it says so); under X11 it does.
@pytest.mark.qt_log_ignore("This plugin does not support raise")
def test_a_second_launch_hands_its_picture_to_the_running_hearth_and_exits(qtbot, serving, picture):
    hearth, _instance = serving
    window = hearth.window
    window.showMinimized()
    hand_over_a_picture(qtbot, hearth, picture)
    # The running Hearth came to the front with a new chat, the picture on its message.
    assert window.composer.pending()[0].stored.name == "harbour.png"
    assert not window.windowState() & Qt.WindowState.WindowMinimized
    assert hearth.store.get_conversation(window.current_id).leaf_id is None  # a new, empty chat


def test_two_data_folders_are_two_hearths(tmp_path, hearth_home):
    first = SingleInstance(resolve_paths(hearth_home).ensure().data)
    other = SingleInstance(resolve_paths(tmp_path / "elsewhere").ensure().data)
    try:
        assert first.claim() and other.claim()
        assert not SingleInstance(resolve_paths(hearth_home).data).claim()
    finally:
        first.release()
        other.release()


def test_after_a_crash_the_next_launch_takes_over(qtbot, hearth_home):
    data = resolve_paths(hearth_home).ensure().data
    crashed = launch()
    try:
        wait_until_serving(data, crashed)
        crashed.send_signal(signal.SIGKILL)
        crashed.wait(10)
    finally:
        crashed.kill()
    assert (data / LOCK_FILE).exists()  # left behind, with the socket

    # The next launch is Hearth itself (it paints its window and reports), not a hand-over.
    nxt = launch("--report-startup")
    out, err = nxt.communicate(timeout=120)
    assert nxt.returncode == 0, err
    assert "shown_at" in json.loads(out.strip().splitlines()[-1])


def test_sigterm_closes_hearth_as_quit_does(qtbot, hearth_home):
    paths = resolve_paths(hearth_home).ensure()
    running = launch()
    try:
        wait_until_serving(paths.data, running)
        marker = paths.database.with_name(paths.database.name + ".in-use")
        assert marker.exists()
        running.send_signal(signal.SIGTERM)
        assert running.wait(30) == 0
    finally:
        running.kill()
    assert not marker.exists()  # the database was closed
    saved = json.loads(paths.settings_file.read_text(encoding="utf-8"))
    assert saved["window"]["geometry"]  # the window's close handler ran
    instance = SingleInstance(paths.data)
    assert instance.claim()  # the lock was let go
    instance.release()


@pytest.mark.qt_log_ignore("This plugin does not support raise")
def test_garbage_on_the_socket_is_ignored_and_a_real_launch_still_gets_through(qtbot, serving, picture):
    from PySide6.QtNetwork import QLocalSocket

    hearth, instance = serving
    junk = [
        b"\x00\xff\xfe not json\n",
        b"[1, 2, 3]\n",
        b'{"files": "abc", "model": 7}\n',
        b'{"files": [1, null, {"a": 1}]}\n',
        b"{" + b"x" * (2 << 20),  # past the size limit, and no end of line
        b'{"files": [',  # a line that never ends
    ]
    sockets = []
    for payload in junk:
        socket = QLocalSocket()
        socket.connectToServer(instance.server_name)
        assert socket.waitForConnected(2000)
        socket.write(payload)
        socket.flush()
        sockets.append(socket)
    qtbot.wait(300)
    assert hearth.window.composer.pending() == [] and hearth.supervisor.loaded_model is None

    hand_over_a_picture(qtbot, hearth, picture)
    for socket in sockets:
        socket.abort()
