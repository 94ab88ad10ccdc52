"""The UI process's evidence when something goes wrong: the rotating log, the recent problems kept
for the diagnostics, uncaught exceptions logged with their traceback (and told to the user), and
``faulthandler`` writing the Python stacks of a hard crash (a segfault) to ``crash.log``.
"""

from __future__ import annotations

import faulthandler
import logging
import logging.handlers
import os
import sys
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, TextIO

from PySide6.QtCore import QObject, Signal

from app import APP_NAME, __version__
from app.core.paths import AppPaths
from app.library.diagnostics import CRASH_LOG, CRASH_SESSION_MARK, RecentProblems

log = logging.getLogger(__name__)

LOG_FILE = "hearth.log"
CRASH_LOG_LIMIT = 1_000_000  # bytes; a longer crash log starts afresh at the next launch


class CrashReporter(QObject):
    """Logs every uncaught exception, on any thread, with its traceback, and says so in words."""

    problem = Signal(str)
    """An uncaught exception was logged: a sentence for the user. Emitted from the failing thread."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._previous_hook = sys.excepthook
        self._previous_thread_hook = threading.excepthook
        self._installed = False

    def install(self) -> None:
        # PySide6 hands an exception raised in a slot to sys.excepthook, so this covers those too.
        self._previous_hook = sys.excepthook
        self._previous_thread_hook = threading.excepthook
        sys.excepthook = self._on_exception
        threading.excepthook = self._on_thread_exception
        self._installed = True

    def uninstall(self) -> None:
        if self._installed:
            sys.excepthook = self._previous_hook
            threading.excepthook = self._previous_thread_hook
            self._installed = False

    def _on_exception(
        self, kind: type[BaseException], error: BaseException, trace: TracebackType | None
    ) -> None:
        if not issubclass(kind, KeyboardInterrupt):
            self._report(kind, error, trace, threading.current_thread().name)
        self._previous_hook(kind, error, trace)  # still printed on stderr for a terminal

    def _on_thread_exception(self, args: Any) -> None:  # threading.ExceptHookArgs
        if args.exc_value is not None and not issubclass(args.exc_type, SystemExit):
            name = args.thread.name if args.thread is not None else "a thread"
            self._report(args.exc_type, args.exc_value, args.exc_traceback, name)
        self._previous_thread_hook(args)

    def _report(
        self, kind: type[BaseException], error: BaseException, trace: TracebackType | None, thread: str
    ) -> None:
        # The exception's own text stays in the traceback: the message, which the diagnostics
        # repeat, names only the type and the place, never data that could be a chat's.
        frames = traceback.extract_tb(trace)
        where = f" at {Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else ""
        log.error("Uncaught %s%s (thread %s)", kind.__name__, where, thread, exc_info=(kind, error, trace))
        self.problem.emit(
            f"Something went wrong inside {APP_NAME} ({kind.__name__}); the details are in its log. "
            "If it happens again, Help › Copy diagnostics gives what a bug report needs."
        )


@dataclass
class LogSetup:
    """What ``setup_logging`` installed, so a test can take it down again."""

    log_file: Path
    crash_log: Path
    recent: RecentProblems
    crashes: CrashReporter
    _handlers: list[logging.Handler] = field(default_factory=list)
    _crash_file: TextIO | None = None
    _previous_level: int = logging.WARNING
    _faulthandler_was_on: bool = False

    def close(self) -> None:
        """Restore the logging and the hooks as they were (the app itself keeps them to the end)."""
        self.crashes.uninstall()
        root = logging.getLogger()
        for handler in self._handlers:
            root.removeHandler(handler)
            handler.close()
        root.setLevel(self._previous_level)
        if self._crash_file is not None:
            if self._faulthandler_was_on:
                faulthandler.enable(sys.__stderr__ or sys.stderr)
            else:
                faulthandler.disable()
            self._crash_file.close()
            self._crash_file = None


def setup_logging(paths: AppPaths) -> LogSetup:
    """Log to ``hearth.log`` in the logs folder, keep recent problems for the diagnostics, log
    uncaught exceptions, and point ``faulthandler`` at ``crash.log`` for the process's lifetime."""
    root = logging.getLogger()
    previous_level = root.level
    faulthandler_was_on = faulthandler.is_enabled()
    handler = logging.handlers.RotatingFileHandler(
        paths.logs / LOG_FILE, maxBytes=2_000_000, backupCount=2, encoding="utf-8"
    )
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    recent = RecentProblems()
    root.addHandler(handler)
    root.addHandler(recent)
    root.setLevel(logging.INFO)
    crash_log = paths.logs / CRASH_LOG
    crash_file = _open_crash_log(crash_log)
    crashes = CrashReporter()
    crashes.install()
    return LogSetup(
        log_file=paths.logs / LOG_FILE,
        crash_log=crash_log,
        recent=recent,
        crashes=crashes,
        _handlers=[handler, recent],
        _crash_file=crash_file,
        _previous_level=previous_level,
        _faulthandler_was_on=faulthandler_was_on,
    )


def _open_crash_log(path: Path) -> TextIO | None:
    # faulthandler writes to the file's descriptor from a signal handler, so the file stays open
    # until the process ends; a line per launch tells which run a crash belongs to.
    try:
        too_long = path.exists() and path.stat().st_size > CRASH_LOG_LIMIT
        crash_file = path.open("w" if too_long else "a", encoding="utf-8")
        started = time.strftime("%Y-%m-%d %H:%M:%S")
        crash_file.write(
            f"{CRASH_SESSION_MARK}{APP_NAME} {__version__} started {started}, pid {os.getpid()}\n"
        )
        crash_file.flush()
        faulthandler.enable(crash_file, all_threads=True)
    except OSError as exc:
        log.warning("Could not open the crash log %s: %s", path, exc)
        return None
    return crash_file
