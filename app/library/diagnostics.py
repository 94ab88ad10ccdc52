"""The diagnostics a user can paste into a bug report: versions, this computer, the loaded model,
the engine's state and the last warnings, as plain text. Never any chat content.

Qt-free. ``probe_system`` may take a few seconds (it can run ``nvidia-smi``): call it off the UI
thread. ``summarize`` only formats what it is given, so what a report can contain is decided here.
"""

from __future__ import annotations

import logging
import os
import platform
import re
import sys
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from app import APP_NAME, __version__
from app.library.machine import GIB, CommandRunner, MachineInfo, detect_machine, run_command

CRASH_LOG = "crash.log"
CRASH_SESSION_MARK = "=== "  # starts the line written to crash.log each time the app starts
RECENT_PROBLEMS = 8
LINE_LIMIT = 300  # characters kept of one log message
CRASH_LINES = 30
CRASH_TAIL_BYTES = 64 * 1024


class RecentProblems(logging.Handler):
    """The last few warnings and errors logged, kept in memory for the diagnostics.

    Only the first line of each message is kept, cut short, and never a traceback: an exception's
    text can quote anything, a chat included, and the traceback is in the log file anyway."""

    def __init__(self, capacity: int = RECENT_PROBLEMS) -> None:
        super().__init__(logging.WARNING)
        self._lines: deque[str] = deque(maxlen=capacity)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = next(iter(record.getMessage().splitlines()), "")
        except Exception:  # a bad format string must not break the logging call
            self.handleError(record)
            return
        if len(message) > LINE_LIMIT:
            message = message[:LINE_LIMIT] + "…"
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(record.created))
        self._lines.append(f"{when} {record.levelname} {record.name}: {message}")

    def lines(self) -> list[str]:
        self.acquire()
        try:
            return list(self._lines)
        finally:
            self.release()


@dataclass(frozen=True)
class SystemFacts:
    """What the diagnostics say about this computer and the software Hearth runs on."""

    python: str
    llama_cpp_python: str
    os: str
    architecture: str
    cpu: str
    cpu_count: int
    machine: MachineInfo
    last_crash: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ModelFacts:
    """The loaded model, by file name only: its folder can name a person or a project."""

    file_name: str
    architecture: str
    context_length: int
    context_length_train: int
    vision: bool
    audio: bool
    load_ms: float
    projector_file_name: str = ""


@dataclass(frozen=True)
class AppFacts:
    """What the UI knows at the moment the diagnostics are copied."""

    qt: str
    data_folder: Path
    logs_folder: Path
    worker_state: str
    worker_pid: int
    model: ModelFacts | None
    recent_problems: Sequence[str] = ()


def probe_system(logs_folder: Path, run: CommandRunner = run_command) -> SystemFacts:
    """Versions, OS, CPU, RAM, GPUs and the last crash recorded in ``logs_folder``; slow (it can run
    ``nvidia-smi``), so call it off the UI thread."""
    return SystemFacts(
        python=f"{platform.python_version()} ({platform.python_implementation()})",
        llama_cpp_python=_distribution_version("llama-cpp-python"),
        os=platform.platform(),
        architecture=platform.machine() or "unknown",
        cpu=cpu_name(run),
        cpu_count=os.cpu_count() or 0,
        machine=detect_machine(run),
        last_crash=last_crash(logs_folder / CRASH_LOG),
    )


def _distribution_version(name: str) -> str:
    # Read from the installed package's metadata: importing llama_cpp would load llama.cpp's
    # libraries into the UI process, which never needs them.
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def cpu_name(run: CommandRunner = run_command) -> str:
    """The processor's marketing name, or what the OS calls it when that is unknown."""
    if sys.platform == "darwin":
        name = (run(["sysctl", "-n", "machdep.cpu.brand_string"]) or "").strip()
        if name:
            return name
    elif sys.platform.startswith("linux"):
        try:
            text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
        except OSError:
            text = ""
        for key in ("model name", "Hardware", "Processor", "cpu model"):  # x86, then ARM and others
            match = re.search(rf"^{key}\s*:\s*(.+)$", text, re.M)
            if match and match.group(1).strip():
                return match.group(1).strip()
    return platform.processor() or platform.machine() or "unknown"


def last_crash(crash_log: Path) -> list[str]:
    """The newest fatal error in the crash log (the session line that precedes it, then the error
    and its Python stacks, cut short); empty when the log records none."""
    try:
        with crash_log.open("rb") as file:
            file.seek(max(0, crash_log.stat().st_size - CRASH_TAIL_BYTES))
            text = file.read().decode("utf-8", errors="replace")
    except OSError:
        return []
    sessions = re.split(rf"^(?={re.escape(CRASH_SESSION_MARK)})", text, flags=re.M)
    for session in reversed(sessions):
        if "Fatal Python error" in session:
            lines = [line for line in session.splitlines() if line.strip()]
            return lines[:CRASH_LINES] + (["…"] if len(lines) > CRASH_LINES else [])
    return []


def strip_home(text: str, home: Path) -> str:
    """``text`` with the user's home folder written as ``~``: a folder name often is a person's name."""
    folder = str(home).rstrip("/\\")
    if len(folder) < 2:  # a home of "/" would turn every path into nonsense
        return text
    flags = re.I if sys.platform == "win32" else 0
    return re.sub(re.escape(folder) + r"(?![\w.-])", "~", text, flags=flags)


def summarize(system: SystemFacts, app: AppFacts, home: Path | None = None) -> str:
    """The diagnostics as plain text, with the home folder written as ``~``."""
    machine = system.machine
    lines = [
        f"{APP_NAME} diagnostics (no chat content is included)",
        f"{APP_NAME}: {__version__}",
        f"Python: {system.python}",
        f"Qt: {app.qt}",
        f"llama-cpp-python: {system.llama_cpp_python}",
        f"OS: {system.os} ({system.architecture})",
        f"CPU: {system.cpu} ({system.cpu_count} logical cores)",
        f"RAM: {_gb(machine.total_ram)} total, {_gb(machine.available_ram)} available",
    ]
    if machine.gpus:
        shared = " (unified memory)" if machine.unified_memory else ""
        lines += [
            f"GPU: {gpu.name}, {_gb(gpu.total_memory)} ({_gb(gpu.free_memory)} free){shared}"
            for gpu in machine.gpus
        ]
    else:
        lines.append("GPU: none found")
    lines += [f"Note: {note}" for note in machine.notes]
    lines += [
        f"Data folder: {app.data_folder}",
        f"Logs folder: {app.logs_folder}",
        f"Model: {_describe_model(app.model)}",
        f"Engine: {app.worker_state}" + (f", pid {app.worker_pid}" if app.worker_pid else ""),
        "Recent warnings and errors:",
    ]
    lines += [f"  {line}" for line in app.recent_problems] or ["  none"]
    if system.last_crash:
        lines.append(f"Last crash recorded in {CRASH_LOG}:")
        lines += [f"  {line}" for line in system.last_crash]
    return strip_home("\n".join(lines) + "\n", home or Path.home())


def _describe_model(model: ModelFacts | None) -> str:
    if model is None:
        return "none loaded"
    senses = [name for name, able in (("vision", model.vision), ("audio", model.audio)) if able]
    parts = [
        f"{model.file_name} ({model.architecture or 'unknown architecture'})",
        f"context {model.context_length} of {model.context_length_train} trained",
        " and ".join(senses) if senses else "text only",
        f"loaded in {model.load_ms / 1000:.1f} s",
    ]
    if model.projector_file_name:
        parts.append(f"projector {model.projector_file_name}")
    return ", ".join(parts)


def _gb(size: int) -> str:
    return f"{size / GIB:.1f} GB" if size else "unknown"
