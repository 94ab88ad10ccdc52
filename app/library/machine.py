"""What this computer can hold: RAM, free disk and GPU memory (NVIDIA, AMD and Intel cards,
Apple unified memory).

Detection is quick (a file read, a ctypes call or a command with a short timeout) and safe to run
on a worker thread. Nothing here raises: a value that cannot be read is 0, and ``notes`` says in
words what could not be found, so the UI can show "unknown" instead of a wrong number.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import platform
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

GIB = 1 << 30
MIB = 1 << 20
COMMAND_TIMEOUT = 3.0  # seconds; nvidia-smi can hang for a long time when the driver is wedged

GpuKind = Literal["nvidia", "apple", "amd", "intel"]
# PCI vendor ids of the GPUs sysfs is read for (NVIDIA's come from its own tools).
_SYSFS_VENDORS: dict[str, GpuKind] = {"0x1002": "amd", "0x8086": "intel"}
# Runs a command and returns its standard output, or None when it is missing, fails or times out.
CommandRunner = Callable[[Sequence[str]], str | None]


@dataclass(frozen=True)
class GpuInfo:
    name: str
    total_memory: int
    free_memory: int
    kind: GpuKind


@dataclass(frozen=True)
class MachineInfo:
    total_ram: int = 0  # bytes; 0 when unknown
    available_ram: int = 0  # what the OS can hand out now without swapping; 0 when unknown
    gpus: list[GpuInfo] = field(default_factory=list)
    unified_memory: bool = False  # the GPU's memory is the system RAM (Apple Silicon)
    notes: tuple[str, ...] = ()  # what could not be detected, in words

    def free_disk(self, path: str | Path) -> int:
        return free_disk(path)


def free_disk(path: str | Path) -> int:
    """Free bytes on the disk holding ``path`` (or its nearest existing parent); 0 if unknown."""
    try:
        folder = Path(path).expanduser().absolute()
        while not folder.exists() and folder != folder.parent:
            folder = folder.parent
        return shutil.disk_usage(folder).free
    except (OSError, RuntimeError, ValueError):  # RuntimeError: "~" without a home folder
        return 0


def run_command(args: Sequence[str]) -> str | None:
    """Run a short query command without a console window; None if it cannot answer in time."""
    try:
        done = subprocess.run(
            list(args),
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT,
            check=False,
            creationflags=getattr(subprocess, "CREATE_NO_WINDOW", 0),
        )
    except (OSError, subprocess.SubprocessError, ValueError):
        return None
    return done.stdout if done.returncode == 0 else None


def detect_machine(run: CommandRunner = run_command, nvml: Callable[[], Any] | None = None) -> MachineInfo:
    """RAM and GPUs of this computer. ``run`` and ``nvml`` (a loader for the NVML library) are
    parameters so tests can stand in for ``nvidia-smi`` and the driver."""
    notes: list[str] = []
    if sys.platform == "darwin":
        total, available = _mac_ram(run)
    elif sys.platform == "win32":
        total, available = _windows_ram()
    else:
        total, available = _linux_ram(notes)
    if not total or not available:
        fallback_total, fallback_available = _sysconf_ram()
        total, available = total or fallback_total, available or fallback_available
    if not total:
        notes.append("The amount of memory in this computer could not be read.")
    elif not available:
        notes.append("How much memory is free right now could not be read.")

    gpus: list[GpuInfo] = []
    unified = False
    if sys.platform == "darwin" and _is_apple_silicon(run):
        unified = True
        gpus.append(_apple_gpu(run, total, available))
    else:
        found = nvidia_smi_gpus(run)
        if found is None:
            found = nvml_gpus(nvml or _load_nvml)
        gpus.extend(found or [])
        if sys.platform.startswith("linux"):
            gpus.extend(sysfs_gpus())
    return MachineInfo(total, available, gpus, unified, tuple(notes))


# --- RAM ---------------------------------------------------------------------------------------


def parse_meminfo(text: str) -> tuple[int, int]:
    """(MemTotal, MemAvailable) in bytes from ``/proc/meminfo``; 0 for what is missing."""
    values: dict[str, int] = {}
    for line in text.splitlines():
        name, _, rest = line.partition(":")
        parts = rest.split()
        if parts and parts[0].isdigit():
            values[name.strip()] = int(parts[0]) * 1024  # the kernel reports kB
    available = values.get("MemAvailable")
    if available is None:  # kernels before 3.14 do not compute it
        available = sum(values.get(key, 0) for key in ("MemFree", "Buffers", "Cached"))
    return values.get("MemTotal", 0), available


def _linux_ram(notes: list[str]) -> tuple[int, int]:
    try:
        total, available = parse_meminfo(Path("/proc/meminfo").read_text(encoding="ascii"))
    except (OSError, ValueError):
        return 0, 0
    limit, used = _cgroup_memory()
    # A container or sandbox (Docker, systemd slice) may cap this process below the machine's RAM.
    if limit and total and limit < total:
        notes.append(f"Hearth may use at most {limit / GIB:.1f} GB: its container limits it.")
        total = limit
        available = min(available, max(limit - used, 0))
    return total, available


def _cgroup_memory() -> tuple[int, int]:
    """(limit, usage) of this process's cgroup v2, or (0, 0) when there is no limit."""
    try:
        lines = Path("/proc/self/cgroup").read_text(encoding="ascii").splitlines()
        relative = next(line[3:] for line in lines if line.startswith("0::"))
        folder = Path("/sys/fs/cgroup") / relative.lstrip("/")
        limit = (folder / "memory.max").read_text(encoding="ascii").strip()
        used = (folder / "memory.current").read_text(encoding="ascii").strip()
    except (OSError, StopIteration, ValueError):
        return 0, 0
    if not limit.isdigit() or not used.isdigit():
        return 0, 0  # "max": no limit
    return int(limit), int(used)


def parse_vm_stat(text: str) -> int:
    """Available bytes from macOS ``vm_stat``: free, speculative and inactive pages, which the
    system hands out without swapping."""
    page_size = 4096
    pages: dict[str, int] = {}
    for line in text.splitlines():
        if "page size of" in line:
            digits = "".join(c for c in line.split("page size of")[1] if c.isdigit())
            page_size = int(digits) if digits else page_size
            continue
        name, _, value = line.partition(":")
        value = value.strip().rstrip(".")
        if value.isdigit():
            pages[name.strip()] = int(value)
    keys = ("Pages free", "Pages speculative", "Pages inactive")
    return sum(pages.get(key, 0) for key in keys) * page_size


def _mac_ram(run: CommandRunner) -> tuple[int, int]:
    total = _int(run(["sysctl", "-n", "hw.memsize"]))
    stat = run(["vm_stat"])
    return total, parse_vm_stat(stat) if stat else 0


class _MemoryStatusEx(ctypes.Structure):
    _fields_ = [  # the layout of Windows' MEMORYSTATUSEX
        ("dwLength", ctypes.c_ulong),
        ("dwMemoryLoad", ctypes.c_ulong),
        ("ullTotalPhys", ctypes.c_ulonglong),
        ("ullAvailPhys", ctypes.c_ulonglong),
        ("ullTotalPageFile", ctypes.c_ulonglong),
        ("ullAvailPageFile", ctypes.c_ulonglong),
        ("ullTotalVirtual", ctypes.c_ulonglong),
        ("ullAvailVirtual", ctypes.c_ulonglong),
        ("ullAvailExtendedVirtual", ctypes.c_ulonglong),
    ]


def _windows_ram() -> tuple[int, int]:
    if sys.platform != "win32":
        return 0, 0
    status = _MemoryStatusEx()
    status.dwLength = ctypes.sizeof(_MemoryStatusEx)
    try:
        if not ctypes.windll.kernel32.GlobalMemoryStatusEx(ctypes.byref(status)):
            return 0, 0
    except OSError:
        return 0, 0
    return int(status.ullTotalPhys), int(status.ullAvailPhys)


def _sysconf_ram() -> tuple[int, int]:
    try:
        page = os.sysconf("SC_PAGE_SIZE")
        return os.sysconf("SC_PHYS_PAGES") * page, os.sysconf("SC_AVPHYS_PAGES") * page
    except (ValueError, OSError, AttributeError):
        return 0, 0


# --- GPUs --------------------------------------------------------------------------------------


def parse_nvidia_smi(text: str) -> list[GpuInfo]:
    """GPUs from ``nvidia-smi --query-gpu=name,memory.total,memory.free --format=csv,noheader,nounits``
    (sizes in MiB). Rows with unreadable sizes ("[N/A]") are skipped."""
    gpus = []
    for line in text.splitlines():
        parts = [part.strip() for part in line.rsplit(",", 2)]
        if len(parts) == 3 and parts[1].isdigit() and parts[2].isdigit():
            gpus.append(GpuInfo(parts[0], int(parts[1]) * MIB, int(parts[2]) * MIB, "nvidia"))
    return gpus


def nvidia_smi_gpus(run: CommandRunner) -> list[GpuInfo] | None:
    """NVIDIA GPUs as ``nvidia-smi`` lists them; None when the tool is missing or does not answer."""
    query = ["--query-gpu=name,memory.total,memory.free", "--format=csv,noheader,nounits"]
    commands = [["nvidia-smi", *query]]
    if sys.platform == "win32":  # older drivers install it outside PATH
        program_files = os.environ.get("PROGRAMFILES", r"C:\Program Files")
        commands.append([rf"{program_files}\NVIDIA Corporation\NVSMI\nvidia-smi.exe", *query])
    for command in commands:
        output = run(command)
        if output is not None:
            return parse_nvidia_smi(output)
    return None


class _NvmlMemory(ctypes.Structure):
    _fields_ = [  # nvmlMemory_t
        ("total", ctypes.c_ulonglong),
        ("free", ctypes.c_ulonglong),
        ("used", ctypes.c_ulonglong),
    ]


def _load_nvml() -> Any:
    names = ["nvml.dll"] if sys.platform == "win32" else ["libnvidia-ml.so.1", "libnvidia-ml.so"]
    for name in names:
        try:
            return ctypes.CDLL(name)
        except OSError:
            continue
    return None


def nvml_gpus(load: Callable[[], Any]) -> list[GpuInfo] | None:
    """NVIDIA GPUs through the driver's NVML library, for systems without ``nvidia-smi`` on PATH;
    None when the library is absent or refuses."""
    try:
        lib = load()
        if lib is None or lib.nvmlInit_v2() != 0:
            return None
    except (OSError, AttributeError):
        return None
    gpus: list[GpuInfo] = []
    try:
        count = ctypes.c_uint(0)
        if lib.nvmlDeviceGetCount_v2(ctypes.byref(count)) != 0:
            return None
        for index in range(count.value):
            handle = ctypes.c_void_p()
            memory = _NvmlMemory()
            name = ctypes.create_string_buffer(96)
            if lib.nvmlDeviceGetHandleByIndex_v2(index, ctypes.byref(handle)) != 0:
                continue
            if lib.nvmlDeviceGetMemoryInfo(handle, ctypes.byref(memory)) != 0:
                continue
            named = lib.nvmlDeviceGetName(handle, name, 96) == 0 and name.value
            label = name.value.decode(errors="replace") if named else f"NVIDIA GPU {index}"
            gpus.append(GpuInfo(label, memory.total, memory.free, "nvidia"))
    except (OSError, AttributeError):
        return None
    finally:
        with contextlib.suppress(OSError, AttributeError):
            lib.nvmlShutdown()
    return gpus


def sysfs_gpus(root: Path = Path("/sys")) -> list[GpuInfo]:
    """AMD and Intel GPUs with memory of their own, as their Linux drivers report it in sysfs
    (``mem_info_vram_total`` and ``mem_info_vram_used``: amdgpu, and Intel's xe). A GPU that
    shares the system's memory reports none and is left out: its layers would gain nothing."""
    gpus: list[GpuInfo] = []
    for card in sorted((root / "class" / "drm").glob("card[0-9]*")):
        if "-" in card.name:  # a connector (card0-HDMI-A-1), not a GPU
            continue
        device = card / "device"
        try:
            kind = _SYSFS_VENDORS.get((device / "vendor").read_text().strip())
            total = int((device / "mem_info_vram_total").read_text().strip())
            used = int((device / "mem_info_vram_used").read_text().strip())
        except (OSError, ValueError):
            continue
        if kind is None or total < 1 * GIB:  # integrated: a small carve-out of system memory
            continue
        name = ""
        with contextlib.suppress(OSError):
            name = (device / "product_name").read_text().strip()
        gpus.append(GpuInfo(name or f"{kind.upper()} GPU ({card.name})", total, max(0, total - used), kind))
    return gpus


def apple_gpu_budget(total_ram: int, wired_limit_mb: int = 0) -> int:
    """How much unified memory Metal lets the GPU use: ``iogpu.wired_limit_mb`` when the user set
    it, else about what Metal reports as ``recommendedMaxWorkingSetSize`` (and llama.cpp uses as
    the GPU's memory): two thirds of RAM up to 32 GB, three quarters above (e.g. 10.7 GB of 16 GB,
    48 GB of 64 GB). Metal's own value cannot be read without Metal bindings, hence the rule."""
    if wired_limit_mb > 0:
        return min(wired_limit_mb * MIB, total_ram) if total_ram else wired_limit_mb * MIB
    return total_ram * 2 // 3 if total_ram <= 32 * GIB else total_ram * 3 // 4


def _is_apple_silicon(run: CommandRunner) -> bool:
    # Python running under Rosetta reports x86_64, so ask the hardware too.
    return platform.machine() == "arm64" or (run(["sysctl", "-n", "hw.optional.arm64"]) or "").strip() == "1"


def _apple_gpu(run: CommandRunner, total_ram: int, available_ram: int) -> GpuInfo:
    name = (run(["sysctl", "-n", "machdep.cpu.brand_string"]) or "").strip() or "Apple GPU"
    budget = apple_gpu_budget(total_ram, _int(run(["sysctl", "-n", "iogpu.wired_limit_mb"])))
    free = min(budget, available_ram) if available_ram else budget
    return GpuInfo(name, budget, free, "apple")


def _int(text: str | None) -> int:
    text = (text or "").strip()
    return int(text) if text.isdigit() else 0
