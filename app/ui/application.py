"""Builds and runs the GUI: paths, settings, storage, the worker supervisor and the window."""

from __future__ import annotations

import argparse
import gc
import json
import logging
import signal
import sqlite3
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import shiboken6
from PySide6.QtCore import QEvent, QObject, Qt, QTimer
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication

from app import APP_NAME, __version__
from app.core.paths import AppPaths, resolve_paths
from app.core.resources import resource
from app.core.settings import RecentModel, Settings, load_settings
from app.storage.chats import ChatStore
from app.storage.daily_backup import DailyBackup, DailyResult
from app.storage.recovery import CleanCloseMarker, open_chat_database
from app.ui.background import BackgroundTasks
from app.ui.diagnostics import DiagnosticsReport
from app.ui.library.manager import ModelManager
from app.ui.library.servers import ServerBook, is_remote
from app.ui.logging_setup import LogSetup, setup_logging
from app.ui.main_window import MainWindow
from app.ui.single_instance import SingleInstance
from app.ui.supervisor import WorkerSupervisor
from app.ui.theme import apply_theme

log = logging.getLogger(__name__)
# At quit the engine saves the chat it holds (app.engine.saved_chats); a large state takes a while,
# and the window is gone meanwhile.
QUIT_TIMEOUT_MS = 20_000
ICON = resource("icons", "hearth.svg")


@dataclass
class Hearth:
    """Everything one running app is made of, so tests can build it the same way."""

    paths: AppPaths
    settings: Settings
    store: ChatStore
    supervisor: WorkerSupervisor
    window: MainWindow
    models: ModelManager
    marker: CleanCloseMarker
    backups: BackgroundTasks

    def shutdown(self) -> None:
        self.window.close()
        self.window.diagnostics.shutdown()
        self.models.shutdown()
        self.window.local_api.api.stop()
        self.supervisor.stop(QUIT_TIMEOUT_MS)
        self.close_database()

    def close_database(self) -> None:
        """Let a backup under way finish (briefly), close the chats and note the clean close."""
        self.backups.close(wait=5.0)
        self.store.close()
        self.marker.clear()


def build(
    paths: AppPaths,
    model: str | None = None,
    theme: str | None = None,
    probe: bool = False,
    catalog_file: Path | None = None,
    logs: LogSetup | None = None,
) -> Hearth:
    """Create the app's parts inside an existing ``QApplication`` and show the window.
    ``catalog_file`` replaces the built-in model catalog (tests); ``logs`` (from ``setup_logging``)
    gives the diagnostics the recent problems and tells the user of uncaught exceptions."""
    settings = load_settings(paths.settings_file)
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    apply_theme(app, theme or settings.theme)
    database, (store, recovered) = open_chat_database(paths.database, _start_chats)
    supervisor = WorkerSupervisor()
    models = ModelManager(paths, supervisor, catalog_file=catalog_file)
    diagnostics = DiagnosticsReport(paths, supervisor, logs.recent if logs else None)
    window = MainWindow(store, supervisor, settings, paths, models, diagnostics)
    if logs is not None:
        logs.crashes.problem.connect(window.show_notice)
    models.bind(window, window.load_model, window.default_context)
    models.servers = ServerBook(lambda: window.settings, window.replace_settings)
    supervisor.model_loaded.connect(models.record_use)
    models.connect_notices(window.show_notice)
    hearth = Hearth(paths, settings, store, supervisor, window, models, database.marker, BackgroundTasks())
    if probe:
        _FirstPaintProbe(hearth)
    window.show()
    # Documents whose text is not kept (a data folder restored without it) are made ready again.
    window.attachments.prepare_documents(store.document_attachments())
    if recovered:
        window.show_notice(
            f"{recovered} answer(s) were cut off when Hearth last closed; they are marked as interrupted."
        )
    if database.report.notice:  # shown last: a restored history matters more than cut-off answers
        window.show_notice(database.report.notice)
    daily = DailyBackup(paths.database, on_damage=database.marker.check_next_start)
    hearth.backups.run(daily.run, lambda result: _tell_daily(window, result), name="daily-backup")
    # The worker starts after the window is on screen: the user sees Hearth at once.
    QTimer.singleShot(0, supervisor.start)
    start_model = model or settings.last_model_path
    if start_model and (Path(start_model).is_file() or is_remote(start_model)):
        recent = settings.recent(start_model) or RecentModel(start_model)
        QTimer.singleShot(0, lambda: window.load_model(recent.path, recent.projector, recent.name))
    else:
        QTimer.singleShot(0, window.open_models_if_first_run)
    return hearth


def _start_chats(connection: sqlite3.Connection) -> tuple[ChatStore, int]:
    """The start-up reads and writes: answers cut off last time, chats deleted for good."""
    store = ChatStore(connection)
    recovered = store.mark_unfinished_as_interrupted()
    store.purge_deleted()
    return store, recovered


def _tell_daily(window: MainWindow, result: DailyResult) -> None:
    if result.notice:
        window.show_notice(result.notice)


def _resident_mb() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


class _FirstPaintProbe(QObject):
    """Prints the wall-clock time of the window's first paint, then the UI's memory once the
    engine is up, and quits (for bench/startup.py)."""

    def __init__(self, hearth: Hearth) -> None:
        super().__init__(hearth.window)
        self._hearth = hearth
        self._shown_at = 0.0
        hearth.window.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Paint and not self._shown_at:
            self._shown_at = time.time()
            QTimer.singleShot(500, self._report)
        return False

    def _report(self) -> None:
        if self._hearth.supervisor.worker_pid == 0:
            QTimer.singleShot(50, self._report)
            return
        print(json.dumps({"shown_at": self._shown_at, "rss_mb": round(_resident_mb(), 1)}), flush=True)
        QApplication.quit()


def open_launch(window: MainWindow, arguments: dict) -> None:
    """What a launch asked for (``hearth FILE...``, "Open with Hearth"), in the running window:
    it comes to the front, loads a GGUF model it was given, and attaches pictures and sounds to
    a new chat."""
    window.setWindowState(
        (window.windowState() & ~Qt.WindowState.WindowMinimized) | Qt.WindowState.WindowActive
    )
    window.show()
    window.raise_()
    window.activateWindow()
    given = arguments.get("files")
    files = [Path(name) for name in given if isinstance(name, str)] if isinstance(given, list) else []
    model = arguments.get("model")
    models = [str(path) for path in files if path.suffix.lower() == ".gguf"]
    if isinstance(model, str) and model:
        models.insert(0, model)
    if models:
        window.load_model(models[0])
    attached = [path for path in files if path.suffix.lower() != ".gguf"]
    if attached:
        window.new_conversation()
        window.attachments.intake.add_paths(attached)


def serve_launches(instance: SingleInstance, window: MainWindow) -> None:
    instance.launched.connect(lambda arguments: open_launch(window, arguments))


def run(args: argparse.Namespace) -> int:
    paths = resolve_paths(args.data_dir).ensure()
    app = QApplication(sys.argv[:1])
    files = [str(Path(name).resolve()) for name in args.files]
    given_model = str(Path(args.model).resolve()) if args.model else None
    launch = {"files": files, "model": given_model}
    instance = SingleInstance(paths.data)
    # Before the log is set up: a launch handed to the running Hearth leaves its log alone.
    while not instance.claim():
        if instance.hand_over(launch):
            return 0
        if instance.holder_alive():
            print(f"{APP_NAME} is already running for {paths.data} but does not answer.", file=sys.stderr)
            return 1
        # The running Hearth went away meanwhile: this launch becomes Hearth.
    logs = setup_logging(paths)
    log.info("%s %s starting; data in %s", APP_NAME, __version__, paths.data)
    app.setApplicationName(APP_NAME)
    app.setApplicationVersion(__version__)
    app.setDesktopFileName("hearth")
    app.setWindowIcon(QIcon(str(ICON)))
    model = given_model or next((name for name in files if name.lower().endswith(".gguf")), None)
    hearth = build(paths, model=model, theme=args.theme, probe=args.report_startup, logs=logs)
    serve_launches(instance, hearth.window)
    attached = [name for name in files if not name.lower().endswith(".gguf")]
    if attached:
        QTimer.singleShot(0, lambda: open_launch(hearth.window, {"files": attached}))
    app.aboutToQuit.connect(instance.stop_listening)  # a launch now waits, then takes over
    app.aboutToQuit.connect(hearth.window.local_api.api.stop)
    app.aboutToQuit.connect(lambda: hearth.supervisor.stop(QUIT_TIMEOUT_MS))
    app.aboutToQuit.connect(hearth.window.diagnostics.shutdown)
    app.aboutToQuit.connect(hearth.models.shutdown)
    # Let Ctrl+C and SIGTERM close the window cleanly (Python handles signals between Qt events).
    signal.signal(signal.SIGINT, lambda *_: app.quit())
    signal.signal(signal.SIGTERM, lambda *_: app.quit())
    heartbeat = QTimer(interval=250)
    heartbeat.timeout.connect(lambda: None)
    heartbeat.start()
    code = app.exec()
    hearth.close_database()
    instance.release()
    # The windows go while the application still exists. Parts of them that refer to each other
    # (callbacks kept as attributes) would otherwise wait for Python's collector, which may run
    # after the application is gone: a widget destroyed then crashes the process on its way out.
    for widget in [w for w in QApplication.topLevelWidgets() if w.parentWidget() is None]:
        if shiboken6.isValid(widget):  # (its children, dialogs included, go with it)
            shiboken6.delete(widget)
    gc.collect()
    return code
