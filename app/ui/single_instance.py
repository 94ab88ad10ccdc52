"""One Hearth per data folder: a second launch hands its files to the running one and exits.

Two windows on one database would fight over its write lock (one can freeze the other for the
busy timeout) and over the settings file. The first launch holds a lock file in the data folder
for as long as it runs and listens on a local socket (never a network port); a later launch finds
the lock taken, sends its arguments over the socket and leaves once they are received. The lock
of a Hearth that crashed is stale (its process is gone), so the next launch takes over.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from pathlib import Path

from PySide6.QtCore import QLockFile, QObject, Signal
from PySide6.QtNetwork import QLocalServer, QLocalSocket

log = logging.getLogger(__name__)

LOCK_FILE = "hearth.lock"
RECEIVED = b"ok\n"
MAX_MESSAGE = 1 << 20  # bytes: a launch's arguments, never more
HAND_OVER_S = 10.0  # how long a later launch waits for a Hearth that is still starting


class SingleInstance(QObject):
    launched = Signal(dict)  # a later launch's arguments: {"files": [...], "model": ...}

    def __init__(self, data_folder: Path, parent: QObject | None = None) -> None:
        super().__init__(parent)
        folder = data_folder.resolve()
        # Per folder, so two data folders (HEARTH_HOME, --data-dir) run side by side; one folder
        # spelled two ways on a case-blind file system is still one Hearth.
        key = os.path.normcase(str(folder)).encode("utf-8")
        self.server_name = "hearth-" + hashlib.sha256(key).hexdigest()[:16]
        self._lock = QLockFile(str(folder / LOCK_FILE))
        self._lock.setStaleLockTime(0)  # stale only when its process is gone, however old
        self._server: QLocalServer | None = None
        self._buffers: dict[QLocalSocket, bytearray] = {}

    def claim(self) -> bool:
        """Become the Hearth of this folder, and listen for later launches; False if another
        running Hearth has it."""
        if not self._lock.tryLock(0):
            if self._lock.error() == QLockFile.LockError.LockFailedError:
                return False  # another Hearth holds it
            # The folder refuses the lock file (read-only, full): run without one rather than not
            # at all; the app says what is wrong with the folder when it writes there.
            log.warning(
                "could not create %s (%s); a second Hearth would not be kept out",
                LOCK_FILE,
                self._lock.error(),
            )
            return True
        QLocalServer.removeServer(self.server_name)  # left behind by a Hearth that crashed
        server = QLocalServer(self)
        server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        if not server.listen(self.server_name):
            # The lock is what keeps a second Hearth out; without the socket, later launches
            # cannot hand over their files, and say so.
            log.warning("later launches cannot reach this Hearth: %s", server.errorString())
            return True
        server.newConnection.connect(self._accept)
        self._server = server
        return True

    def stop_listening(self) -> None:
        """Closing down: later launches wait for the lock instead of talking to a Hearth that
        no longer answers."""
        # Launches still talking (a line that never ends) are cut off now, while Hearth is whole:
        # left to the sockets' destructors, their "disconnected" would call back into a Hearth
        # being torn down.
        for socket in list(self._buffers):
            socket.readyRead.disconnect()
            socket.disconnected.disconnect()
            socket.abort()
            socket.deleteLater()
        self._buffers.clear()
        if self._server is not None:
            self._server.close()
            self._server = None

    def release(self) -> None:
        self.stop_listening()
        if self._lock.isLocked():
            self._lock.unlock()

    def holder_alive(self) -> bool:
        """Whether the Hearth holding the lock still runs (False once it has gone)."""
        if self._lock.tryLock(0):
            self._lock.unlock()
            return False
        return True

    def hand_over(self, arguments: dict, timeout_s: float = HAND_OVER_S) -> bool:
        """Give the running Hearth this launch's arguments; True once it has them."""
        payload = json.dumps(arguments).encode("utf-8") + b"\n"
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            socket = QLocalSocket()
            socket.connectToServer(self.server_name)
            if socket.waitForConnected(500):
                socket.write(payload)
                socket.waitForBytesWritten(1000)
                answer = b""
                while len(answer) < len(RECEIVED) and time.monotonic() < deadline:
                    if socket.waitForReadyRead(250):
                        answer += bytes(socket.readAll().data())
                    elif socket.state() != QLocalSocket.LocalSocketState.ConnectedState:
                        break
                socket.abort()
                if answer.startswith(RECEIVED):
                    return True
            if not self.holder_alive():  # the running Hearth went away meanwhile
                return False
            time.sleep(0.2)  # still starting, or closing: not answering yet
        return False

    def _accept(self) -> None:
        assert self._server is not None
        while (socket := self._server.nextPendingConnection()) is not None:
            self._buffers[socket] = bytearray()
            socket.readyRead.connect(lambda socket=socket: self._read(socket))
            socket.disconnected.connect(lambda socket=socket: self._forget(socket))

    def _read(self, socket: QLocalSocket) -> None:
        buffer = self._buffers.get(socket)
        if buffer is None:
            return
        buffer += bytes(socket.readAll().data())
        if len(buffer) > MAX_MESSAGE:
            log.warning("a message from another launch was too long; ignored")
            socket.abort()
            return
        if b"\n" not in buffer:
            return
        line = bytes(buffer[: buffer.index(b"\n")])
        socket.write(RECEIVED)
        socket.flush()
        socket.disconnectFromServer()
        try:
            arguments = json.loads(line)
        except ValueError:
            log.warning("a message from another launch could not be read; ignored")
            return
        if isinstance(arguments, dict):
            self.launched.emit(arguments)

    def _forget(self, socket: QLocalSocket) -> None:
        self._buffers.pop(socket, None)
        socket.deleteLater()
