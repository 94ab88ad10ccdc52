"""A download list that cannot be written (a full disk, a read-only folder), on a real small file
system (tmpfs): the queue works on from memory, tells the user in words and writes it again later."""

from __future__ import annotations

import errno
import hashlib
import os
import random
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.library.job_store import load_jobs
from app.library.jobs import JobState, custom_job_id
from app.library.retry import RetryPolicy
from app.library.transfer import TransferOptions
from app.ui.library.download_queue import DownloadQueue
from app.ui.library.job_panel import JobPanel
from tests.hub.server import HubServer

pytest_plugins = ["tests.hub.fixtures"]

REPO = "ggml-org/tiny-test-GGUF"
MODEL = "tiny-Q4_K_M.gguf"
SIZE = 3 * 1024 * 1024
JOB = custom_job_id(REPO, MODEL)
QUICK = TransferOptions(retry=RetryPolicy(initial_delay=0.05, max_delay=0.2), free_space_margin=0)


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def root(*command: str) -> list[str]:
    """``command`` run as root: directly when this is root (as on CI), else through sudo without a
    password."""
    return list(command) if os.geteuid() == 0 else ["sudo", "-n", *command]


def as_root(*command: str) -> None:
    """Run a mount command as root. Not being able to is a failure of the set-up, said plainly, never
    a skip."""
    full = root(*command)
    done = subprocess.run(full, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.fail(
            f"This test needs a small real file system and could not get one: `{' '.join(full)}` "
            f"failed ({done.stderr.strip() or done.returncode}). Run the tests as root or with "
            "password-less sudo for mount."
        )


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 64 KB file system (tmpfs) for the data folder."""
    mount_point = tmp_path / "data"
    mount_point.mkdir()
    as_root("mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount_point))
    try:
        yield mount_point
    finally:
        subprocess.run(root("umount", "-l", str(mount_point)), check=False)


def fill(folder: Path) -> Path:
    """Another program takes every byte left on ``folder``'s disk."""
    filler = folder / "someone-elses-file"
    with filler.open("wb", buffering=0) as out:  # unbuffered: nothing left over to fail on close
        try:
            while True:
                out.write(b"\0" * 4096)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
    return filler


@pytest.fixture
def queue(hub: HubServer, small_disk: Path) -> Iterator[DownloadQueue]:
    """The download queue with its list on the small disk, trying a failed save again every 0.2 s."""
    queue = DownloadQueue(small_disk / "downloads.json", endpoint=hub.url, options=QUICK, save_retry_s=0.2)
    yield queue
    queue.shutdown()


def test_a_download_list_that_cannot_be_saved_keeps_the_queue_working(
    qtbot, hub, tmp_path, small_disk, queue
):
    hub.add_file(REPO, MODEL, random.Random(12).randbytes(SIZE))
    hub.faults.bytes_per_second = SIZE  # about a second: time to pause it on the way
    state_file = queue.store.path
    panel = JobPanel(queue)
    qtbot.addWidget(panel)
    panel.show_job(JOB, None)
    filler = fill(small_disk)

    with qtbot.waitSignal(queue.save_problem_changed) as told:
        queue.add_custom(REPO, MODEL, None, tmp_path / "models")
    assert told.args[0].startswith("The list of downloads cannot be saved: the disk is full")
    assert "Downloads go on" in told.args[0] and queue.save_problem == told.args[0]
    assert panel.save_note.text() == told.args[0] and panel.save_note.isVisibleTo(panel)
    assert sorted(p.name for p in small_disk.iterdir()) == [filler.name]  # no half-written leftovers

    # The queue works on from memory: the download runs and pauses as usual.
    qtbot.waitUntil(lambda: queue.job(JOB) is not None and queue.job(JOB).done > 0, timeout=30_000)
    queue.pause(JOB)
    qtbot.waitUntil(lambda: not queue.busy, timeout=5_000)
    # Space comes back: the list is written by itself, with no change needed to prompt it.
    filler.unlink()
    with qtbot.waitSignal(
        queue.save_problem_changed, check_params_cb=lambda problem: problem == "", timeout=5_000
    ):
        pass
    assert [(j.id, j.state) for j in load_jobs(state_file)] == [(JOB, JobState.PAUSED)]
    assert not panel.save_note.isVisibleTo(panel)

    # A folder that turns read-only is told in its own words; the download still finishes.
    as_root("mount", "-o", "remount,ro", str(small_disk))
    with qtbot.waitSignal(queue.save_problem_changed) as told:
        queue.resume(JOB)
    assert f"{small_disk} is read-only" in told.args[0]
    with qtbot.waitSignal(queue.finished, timeout=30_000) as finished:
        pass
    assert sha256_of(Path(finished.args[1])) == sha256_of(hub.store.root / REPO / MODEL)
    assert load_jobs(state_file)[0].state is JobState.PAUSED  # the last list that could be written
    as_root("mount", "-o", "remount,rw", str(small_disk))
    with qtbot.waitSignal(
        queue.save_problem_changed, check_params_cb=lambda problem: problem == "", timeout=5_000
    ):
        pass
    assert load_jobs(state_file) == []  # finished downloads are not kept in the list
