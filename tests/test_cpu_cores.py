"""Threads that fit the machine: the cores read from recorded sysfs trees of other processors
(this machine has two plain cores), the load other programs put on the cores, and the real
worker running on fewer threads while a real process keeps a core busy (in test_worker.py)."""

from __future__ import annotations

from pathlib import Path

from app.core.cpu_cores import (
    CpuTimes,
    CpuTopology,
    busy_elsewhere,
    detect_topology,
    linux_topology,
    read_cpu_times,
    threads_for,
)


def sysfs(root: Path, cores: list[tuple[int, int]], performance: str | None = None) -> Path:
    """A sysfs tree: CPU n sits on ``cores[n]`` = (package, core)."""
    for number, (package, core) in enumerate(cores):
        topology = root / "devices" / "system" / "cpu" / f"cpu{number}" / "topology"
        topology.mkdir(parents=True)
        (topology / "physical_package_id").write_text(f"{package}\n")
        (topology / "core_id").write_text(f"{core}\n")
    if performance is not None:
        (root / "devices" / "cpu_core").mkdir(parents=True)
        (root / "devices" / "cpu_core" / "cpus").write_text(performance + "\n")
    return root


def test_hyper_threads_count_once(tmp_path):
    # A 4-core desktop with two threads per core: CPUs 0-3 and 4-7 are siblings.
    root = sysfs(tmp_path, [(0, c) for c in range(4)] * 2)
    assert linux_topology(root) == CpuTopology(logical=8, physical=4, performance=4)


def test_a_hybrid_cpu_runs_on_its_performance_cores(tmp_path):
    # Like an i7-12700H: 6 performance cores with two threads each (CPUs 0-11), 8 efficiency
    # cores with one (CPUs 12-19).
    cores = [(0, c // 2 * 4) for c in range(12)] + [(0, 24 + c) for c in range(8)]
    root = sysfs(tmp_path, cores, performance="0-11")
    assert linux_topology(root) == CpuTopology(logical=20, physical=14, performance=6)
    # Only the cores this process may run on count.
    assert linux_topology(root, allowed={0, 1, 2, 12, 13}) == CpuTopology(5, 4, 2)


def test_without_sysfs_nothing_is_claimed(tmp_path):
    assert linux_topology(tmp_path) is None


def test_a_busy_core_is_taken_away_and_a_little_work_is_not():
    eight = CpuTopology(16, 8, 8)
    assert threads_for(eight, 0.0) == 8
    assert threads_for(eight, 0.3) == 8  # a browser tab ticking over
    assert threads_for(eight, 1.0) == 7
    assert threads_for(eight, 2.7) == 5
    assert threads_for(CpuTopology(2, 2, 2), 5.0) == 1  # never none


def test_the_load_of_other_programs_is_what_the_system_did_less_what_we_did():
    before = CpuTimes(busy=100.0, total=400.0, own=10.0)
    after = CpuTimes(busy=103.0, total=404.0, own=11.0)  # 2 s on 2 CPUs; 3 s busy, 1 s ours
    assert busy_elsewhere(before, after, logical=2) == 1.0
    assert busy_elsewhere(after, after, logical=2) == 0.0


def test_this_machines_own_reading():
    topology = detect_topology()
    assert 1 <= topology.performance <= topology.physical <= topology.logical
    times = read_cpu_times()
    assert times is not None and times.total >= times.busy > 0
