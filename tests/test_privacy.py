"""With no remote engine and the local API off, Hearth opens no network socket at all: not in the
window's process, not in the engine's. The whole app runs in a process of its own (started,
loaded, asked, its Models window opened, quit), watched two ways:

- from inside, by a Python audit hook in both processes that records every internet socket made,
  every name looked up and every connection tried;
- from outside, by reading both processes' open files many times a second for any internet
  socket (which also sees sockets made by C and C++ code: Qt, llama.cpp, PortAudio).

Local sockets (Unix domain: the display, the sound server) are not the network and are allowed."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads Linux's /proc")

AUDIT = textwrap.dedent(
    """
    import os, socket, sys

    _log = os.environ["HEARTH_NETWORK_LOG"]
    _inet = (socket.AF_INET, socket.AF_INET6)

    def _record(event, args):
        if event == "socket.__new__" and args[1] in _inet:
            what = f"socket family {args[1]}"
        elif event in ("socket.connect", "socket.bind", "socket.sendto") and args[0].family in _inet:
            what = f"{event} {args[1]!r}"
        elif event in ("socket.getaddrinfo", "socket.gethostbyname", "socket.gethostbyaddr"):
            what = f"{event} {args[0]!r}"
        else:
            return
        with open(_log, "a") as out:
            out.write(f"{os.getpid()} {sys.argv[1:2]} {what}\\n")

    sys.addaudithook(_record)
    """
)

DRIVER = textwrap.dedent(
    """
    import sys, time
    from PySide6.QtCore import QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    app = QApplication([])
    from app.core.paths import resolve_paths
    from app.ui.application import build

    def wait(predicate, seconds=120):
        deadline = time.monotonic() + seconds
        loop = QEventLoop()
        while not predicate():
            assert time.monotonic() < deadline, "timed out"
            QTimer.singleShot(10, loop.quit)
            loop.exec()

    hearth = build(resolve_paths().ensure(), model=sys.argv[1], theme="light")
    hearth.window.show()
    wait(lambda: hearth.supervisor.loaded_model is not None)
    print("worker", hearth.supervisor.worker_pid, flush=True)
    window = hearth.window
    assert window.controller.send(window.current_id, "Say hello.")
    wait(lambda: not window.controller.busy)
    window.menus.models_action.trigger()
    end = time.monotonic() + 2
    wait(lambda: time.monotonic() > end)
    hearth.shutdown()
    print("done", flush=True)
    """
)


def internet_socket_inodes() -> set[str]:
    inodes = set()
    for table in ("tcp", "tcp6", "udp", "udp6", "raw", "raw6"):
        try:
            lines = Path(f"/proc/net/{table}").read_text().splitlines()[1:]
        except OSError:
            continue
        inodes.update(line.split()[9] for line in lines if len(line.split()) > 9)
    return inodes


def sockets_of(pid: int) -> set[str]:
    found = set()
    try:
        names = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return found
    for name in names:
        try:
            target = os.readlink(f"/proc/{pid}/fd/{name}")
        except OSError:
            continue
        if target.startswith("socket:["):
            found.add(target[8:-1])
    return found


def children_of(pid: int) -> list[int]:
    kids = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        with contextlib.suppress(OSError):
            kids += [int(child) for child in task.read_text().split()]
    return kids


def test_hearth_opens_no_network_socket(tmp_path, hearth_home, smollm2_path):
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    (hooks / "sitecustomize.py").write_text(AUDIT)
    (tmp_path / "driver.py").write_text(DRIVER)
    log = tmp_path / "network.log"
    root = Path(__file__).resolve().parents[1]
    environment = {
        **os.environ,
        "HEARTH_NETWORK_LOG": str(log),
        "PYTHONPATH": os.pathsep.join([str(hooks), str(root)]),
        "QT_QPA_PLATFORM": "offscreen",
        "HEARTH_HOME": str(hearth_home),
    }
    # The watcher works: it sees a socket this test opens.
    with socket.create_server(("127.0.0.1", 0)):
        assert sockets_of(os.getpid()) & internet_socket_inodes()
    # The hook works: a socket made under it is recorded (then the log starts empty again).
    subprocess.run([sys.executable, "-c", "import socket; socket.socket()"], env=environment, check=True)
    assert "socket family" in log.read_text()
    log.unlink()
    app = subprocess.Popen(
        [sys.executable, str(tmp_path / "driver.py"), str(smollm2_path)],
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=root,
    )
    seen: dict[int, set[str]] = {}
    polls = 0
    deadline = time.monotonic() + 240
    while app.poll() is None and time.monotonic() < deadline:
        for pid in [app.pid, *children_of(app.pid)]:
            seen.setdefault(pid, set()).update(sockets_of(pid) & internet_socket_inodes())
        polls += 1
        time.sleep(0.02)
    output = app.communicate(timeout=60)[0]
    assert app.returncode == 0 and "done" in output, output
    assert "worker" in output  # the engine's process was there to be watched
    assert polls > 50
    assert not any(seen.values()), (
        f"internet sockets open: {json.dumps({k: sorted(v) for k, v in seen.items()})}"
    )
    assert not log.exists() or not log.read_text(), log.read_text()
