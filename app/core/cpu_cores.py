"""How many threads the engine should run: the processor's physical performance cores, fewer
while other programs keep some of them busy.

Token generation is limited by memory bandwidth and by the slowest thread: a second thread per
core (hyper-threading) adds nothing, a thread on an efficiency core holds the others back, and a
thread that shares its core with another program's work waits for it at every token. On this
project's 2-core test machine, llama.cpp's Gemma 3 270M decodes at 46 tokens/s with 2 threads
and 26 with 1 when the machine is idle, but at 19 with 2 and 27 with 1 while one core is busy.
So the count follows the load, measured the cheap way where the system offers it (Linux's
/proc/stat), instead of always keeping a core free.
"""

from __future__ import annotations

import collections
import contextlib
import math
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

BUSY_CORE = 0.6  # another program using this much of a core takes it away from the engine


@dataclass(frozen=True)
class CpuTopology:
    logical: int  # hardware threads this process may run on
    physical: int  # their cores
    performance: int  # of those, performance cores (all of them on a CPU that is not hybrid)


def _cpu_list(text: str) -> set[int]:
    """``"0-3,8,10-11"`` as a set of CPU numbers."""
    cpus: set[int] = set()
    for part in text.strip().split(","):
        if not part:
            continue
        first, _, last = part.partition("-")
        cpus.update(range(int(first), int(last or first) + 1))
    return cpus


def linux_topology(sys_root: Path = Path("/sys"), allowed: set[int] | None = None) -> CpuTopology | None:
    """Cores from sysfs: each CPU's (package, core) pair, and on hybrid Intel CPUs the list of
    performance-core CPUs (``devices/cpu_core/cpus``). None when sysfs does not say."""
    cpu_dir = sys_root / "devices" / "system" / "cpu"
    cores: dict[tuple[str, str], set[int]] = {}
    try:
        for entry in cpu_dir.glob("cpu[0-9]*"):
            number = int(entry.name[3:])
            if allowed is not None and number not in allowed:
                continue
            topology = entry / "topology"
            try:
                key = (
                    (topology / "physical_package_id").read_text().strip(),
                    (topology / "core_id").read_text().strip(),
                )
            except OSError:
                continue  # offline
            cores.setdefault(key, set()).add(number)
    except OSError:
        return None
    if not cores:
        return None
    performance_cores = len(cores)
    with contextlib.suppress(OSError, ValueError):
        big = _cpu_list((sys_root / "devices" / "cpu_core" / "cpus").read_text())
        counted = sum(1 for cpus in cores.values() if cpus & big)
        performance_cores = counted or performance_cores
    logical = sum(len(cpus) for cpus in cores.values())
    return CpuTopology(logical, len(cores), performance_cores)


def _sysctl(name: str) -> int:
    try:
        out = subprocess.run(["sysctl", "-n", name], capture_output=True, text=True, timeout=5)
        return int(out.stdout.strip() or 0)
    except (OSError, ValueError, subprocess.SubprocessError):
        return 0


def detect_topology() -> CpuTopology:
    """This computer's processor, as far as the system tells (logical CPUs at worst)."""
    allowed = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    logical = len(allowed) if allowed else (os.cpu_count() or 1)
    if sys.platform.startswith("linux"):
        found = linux_topology(allowed=allowed)
        if found is not None:
            return found
    elif sys.platform == "darwin":
        physical = _sysctl("hw.physicalcpu") or logical
        # Apple silicon: perflevel0 is the performance cluster.
        performance = _sysctl("hw.perflevel0.physicalcpu") or physical
        return CpuTopology(logical, physical, performance)
    return CpuTopology(logical, logical, logical)


def threads_for(topology: CpuTopology, busy_elsewhere: float) -> int:
    """Threads for the engine: a thread per performance core, less one per core that other
    programs keep busy (``busy_elsewhere``, in cores), and always at least one."""
    taken = math.floor(busy_elsewhere + (1 - BUSY_CORE))
    return max(1, topology.performance - max(0, taken))


@dataclass(frozen=True)
class CpuTimes:
    busy: float  # seconds any CPU spent working, all of them together
    total: float  # seconds of all CPUs, working or idle
    own: float  # seconds this process worked


def read_cpu_times(stat: Path = Path("/proc/stat")) -> CpuTimes | None:
    """The system's CPU times (Linux), and this process's own; None where unknown."""
    try:
        fields = stat.read_text().split("\n", 1)[0].split()
    except OSError:
        return None
    if not fields or fields[0] != "cpu":
        return None
    ticks = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    values = [int(v) for v in fields[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle and waiting for the disk
    total = sum(values[:8])  # guest time is counted in user time already
    times = os.times()
    return CpuTimes((total - idle) / ticks, total / ticks, times.user + times.system)


def busy_elsewhere(before: CpuTimes, after: CpuTimes, logical: int) -> float:
    """How many cores other programs kept busy between two readings."""
    elapsed = (after.total - before.total) / max(1, logical)
    if elapsed <= 0:
        return 0.0
    others = (after.busy - before.busy) - (after.own - before.own)
    return max(0.0, others / elapsed)


class LoadWatch:
    """Reads the CPU times every ``interval`` seconds on a thread of its own. ``busy_elsewhere``
    is the load other programs kept up over the last ``SUSTAINED`` readings (the least of them):
    a moment of work elsewhere (the window taking in a picture) does not cost the engine a
    thread; a build or a video call does. Where the system does not say (not Linux), nothing is
    ever busy."""

    SUSTAINED = 2

    def __init__(self, logical: int, interval: float = 0.25) -> None:
        self._logical, self._interval = logical, interval
        self._recent: collections.deque[float] = collections.deque([0.0], maxlen=self.SUSTAINED)
        self._thread: threading.Thread | None = None

    @property
    def busy_elsewhere(self) -> float:
        return min(self._recent)

    def start(self) -> None:
        if read_cpu_times() is None or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._watch, name="cpu-load", daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        before = read_cpu_times()
        while True:  # for the life of the worker: a daemon thread, a file read a few times a second
            time.sleep(self._interval)
            after = read_cpu_times()
            if before is not None and after is not None:
                self._recent.append(busy_elsewhere(before, after, self._logical))
            before = after
