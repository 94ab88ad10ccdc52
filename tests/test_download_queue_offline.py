"""The download queue and its panel with no connection: the real queue and panel, real sockets and
the stand-in hub coming back on the same port."""

from __future__ import annotations

import hashlib
import random
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from app.library.errors import ErrorKind
from app.library.jobs import JobState, custom_job_id, describe_job
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
PROMISE_MS = 15_000  # a user with no connection is told so within this long
# A steady three seconds between attempts, long enough to watch the panel count them down.
STEADY = TransferOptions(
    retry=RetryPolicy(initial_delay=3.0, multiplier=1.0, max_delay=3.0, give_up_after=60.0),
    connect_timeout=1.0,
    read_timeout=1.0,
    free_space_margin=0,
)


@pytest.fixture
def data(hub: HubServer) -> bytes:
    content = random.Random(11).randbytes(SIZE)
    hub.add_file(REPO, MODEL, content)
    return content


@pytest.fixture
def make_queue(qtbot, tmp_path) -> Iterator[Callable[..., DownloadQueue]]:
    queues: list[DownloadQueue] = []

    def make(endpoint: str, state_file: Path | None = None, **kwargs) -> DownloadQueue:
        queue = DownloadQueue(state_file or tmp_path / "downloads.json", endpoint=endpoint, **kwargs)
        queues.append(queue)
        return queue

    yield make
    for queue in queues:
        queue.shutdown()


def panel_for(qtbot, queue: DownloadQueue) -> JobPanel:
    panel = JobPanel(queue)
    qtbot.addWidget(panel)
    panel.show_job(JOB, None)
    return panel


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_the_panel_counts_down_and_the_download_continues_when_the_connection_is_back(
    qtbot, make_queue, hub, data, tmp_path
):
    hub.faults.bytes_per_second = SIZE  # about a second for the file: time to lose the line under it
    queue = make_queue(hub.url, options=STEADY)
    panel = panel_for(qtbot, queue)

    def a_quarter_in(job_id: str, done: int, total: int, speed: float) -> bool:
        return done >= SIZE // 4

    with qtbot.waitSignal(queue.progress, check_params_cb=a_quarter_in, timeout=30_000):
        queue.add_custom(REPO, MODEL, None, tmp_path / "models")
    hub.stop()  # the network goes away, open connections with it
    lost_at = time.monotonic()

    qtbot.waitUntil(
        lambda: panel.status.text().startswith("No internet connection. Trying again in 3 s"),
        timeout=PROMISE_MS,
    )
    assert time.monotonic() - lost_at < PROMISE_MS / 1000
    job = queue.job(JOB)
    assert job is not None and job.retry is not None and job.retry.kind is ErrorKind.NO_CONNECTION
    assert panel.status.text() == describe_job(job)
    assert "The download will continue by itself from " in panel.status.text()
    attempt = job.retry.attempt
    # The job only says when; the panel counts down by itself.
    qtbot.waitUntil(lambda: panel.status.text().startswith("No internet connection. Trying again in 2 s"))
    qtbot.waitUntil(lambda: panel.status.text().startswith("No internet connection. Trying again in 1 s"))
    assert f"(attempt {attempt})" in panel.status.text()
    kept = (tmp_path / "models" / "ggml-org" / "tiny-test-GGUF" / f"{MODEL}.part").stat().st_size
    assert 0 < kept < SIZE

    back = HubServer(hub.store.root, port=hub.port).start()
    try:
        with qtbot.waitSignal(queue.finished, timeout=30_000) as finished:
            pass
        assert sha256_of(Path(finished.args[1])) == sha256_of(hub.store.root / REPO / MODEL)
        assert [r.range for r in back.file_requests(MODEL)] == [f"bytes={kept}-"]
        assert job.retry is None and panel.status.text().startswith("Downloaded and verified")
    finally:
        back.stop()


def test_a_download_waiting_for_the_connection_pauses_at_once(qtbot, make_queue, tmp_path):
    with socket.socket() as probe:  # a port with nothing behind it: connections are refused
        probe.bind(("127.0.0.1", 0))
        endpoint = f"http://127.0.0.1:{probe.getsockname()[1]}"
    queue = make_queue(endpoint)  # the settings the app uses
    panel = panel_for(qtbot, queue)
    queue.add_custom(REPO, MODEL, None, tmp_path / "models")

    qtbot.waitUntil(
        lambda: panel.status.text().startswith("No internet connection. Trying again in"), timeout=PROMISE_MS
    )
    assert "(attempt " in panel.status.text() and panel.countdown.isActive()
    queue.pause(JOB)
    qtbot.waitUntil(lambda: not queue.busy, timeout=2_000)
    job = queue.job(JOB)
    assert job is not None and job.state is JobState.PAUSED and job.retry is None
    assert panel.status.text().startswith("Paused") and not panel.countdown.isActive()
