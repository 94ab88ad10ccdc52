"""Downloads with no connection, over real sockets: refused, unresolvable, never accepted, accepted
but silent, and a stand-in hub that comes back on the same port. Each is told in words within 15 s,
keeps the partial file, waits as long as it takes and continues where it stopped."""

from __future__ import annotations

import hashlib
import logging
import random
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from app.library.errors import ErrorKind, Paused
from app.library.hub_file import HubFile
from app.library.jobs import DownloadJob, JobFile, JobState, describe_job
from app.library.retry import Backoff, RetryNotice, RetryPolicy
from app.library.transfer import Transfer, TransferOptions
from tests.hub.server import HubServer

pytest_plugins = ["tests.hub.fixtures"]

REPO = "ggml-org/tiny-test-GGUF"
MODEL = "tiny-Q4_K_M.gguf"
SIZE = 3 * 1024 * 1024
PROMISE_S = 15.0  # a user with no connection is told so within this long
# Quick retries, and a give-up budget far shorter than the waits below: being offline must not spend it.
QUICK = TransferOptions(
    retry=RetryPolicy(initial_delay=0.05, max_delay=0.2, give_up_after=0.5),
    connect_timeout=1.0,
    read_timeout=1.0,
    free_space_margin=0,
    progress_interval=0.0,
)
# A server that is there but silent does spend the budget: give it room for a few attempts.
PATIENT = replace(QUICK, retry=replace(QUICK.retry, give_up_after=10.0))


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def refusing_endpoint() -> str:
    """An address where nothing listens: the port is taken and given back, so connecting is refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture
def silent_endpoint() -> Iterator[str]:
    """A server that takes every connection and never sends a byte."""
    server = socket.create_server(("127.0.0.1", 0))
    taken: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.05)
        while not stop.is_set():
            try:
                taken.append(server.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, name="silent-server", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    stop.set()
    thread.join()
    for connection in [*taken, server]:
        connection.close()


@pytest.fixture
def unaccepting_endpoint() -> Iterator[str]:
    """A host that never completes a connection: its queue of connections waiting to be accepted is
    full (one, never accepted), so the kernel ignores new ones, as a dead network does."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    filler = socket.create_connection(server.getsockname())
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    filler.close()
    server.close()


class Waiting:
    """A transfer run on its own thread, with the notices it gives between attempts."""

    def __init__(self, transfer: Transfer) -> None:
        self.transfer = transfer
        self.notices: list[RetryNotice | None] = []
        self.outcome: object = None
        self._changed = threading.Condition()
        self.started = time.monotonic()
        transfer.on_retry = self._heard
        self._thread = threading.Thread(target=self._run, name="transfer", daemon=True)
        self._thread.start()

    def _heard(self, notice: RetryNotice | None) -> None:
        with self._changed:
            self.notices.append(notice)
            self._changed.notify_all()

    def _run(self) -> None:
        try:
            self.outcome = self.transfer.run()
        except Exception as exc:
            self.outcome = exc

    def notice(self, attempt: int = 2, timeout: float = PROMISE_S) -> RetryNotice:
        """The notice before ``attempt``, waiting at most ``timeout`` seconds for it."""

        def found() -> RetryNotice | None:
            return next((n for n in self.notices if n is not None and n.attempt >= attempt), None)

        with self._changed:
            assert self._changed.wait_for(lambda: found() is not None, timeout), (
                f"no notice before attempt {attempt} within {timeout} s: {self.notices}"
            )
            notice = found()
        assert notice is not None
        return notice

    def finish(self, timeout: float = 30.0) -> object:
        self._thread.join(timeout)
        assert not self._thread.is_alive(), "the transfer did not end"
        return self.outcome

    def pause(self) -> object:
        self.transfer.pause()
        return self.finish()


def partial_download(hub: HubServer, dest: Path) -> int:
    """Download a part of the model, then pause: the bytes a user has before losing the connection."""
    part = dest / f"{MODEL}.part"
    first = Transfer(
        HubFile(REPO, MODEL),
        dest,
        endpoint=hub.url,
        options=QUICK,
        should_stop=lambda: part.exists() and part.stat().st_size >= SIZE // 3,
    )
    with pytest.raises(Paused):
        first.run()
    return part.stat().st_size


@pytest.fixture
def data(hub: HubServer) -> bytes:
    content = random.Random(20260402).randbytes(SIZE)
    hub.add_file(REPO, MODEL, content)
    return content


def test_a_refused_connection_is_told_at_once_and_the_partial_is_kept(hub, data, tmp_path, caplog):
    kept = partial_download(hub, tmp_path)
    sidecar = (tmp_path / f"{MODEL}.part.json").read_text()
    caplog.set_level(logging.INFO, logger="app.library.transfer")

    run = Waiting(Transfer(HubFile(REPO, MODEL), tmp_path, endpoint=refusing_endpoint(), options=QUICK))
    first = run.notice(attempt=2)
    told_after = time.monotonic() - run.started
    later = run.notice(attempt=8)  # far past the give-up budget: with no connection it waits on

    assert told_after < 1.0  # a refusal needs no timeout
    assert first.kind is ErrorKind.NO_CONNECTION and first.reason == "No internet connection."
    assert 0 < first.at - run.started < PROMISE_S
    assert later.kind is ErrorKind.NO_CONNECTION and later.at - time.monotonic() <= QUICK.retry.max_delay
    assert isinstance(run.pause(), Paused)
    assert (tmp_path / f"{MODEL}.part").stat().st_size == kept
    assert (tmp_path / f"{MODEL}.part.json").read_text() == sidecar

    # hearth.log tells the story: every attempt, and a warning only for the first failure of its kind.
    lines = [(r.levelno, r.getMessage()) for r in caplog.records if r.name == "app.library.transfer"]
    attempts = [m for level, m in lines if level == logging.INFO and "(attempt " in m and "failed" not in m]
    failures = [(level, m) for level, m in lines if "failed: No internet connection." in m]
    assert len(attempts) >= 7 and "(attempt 1)" in attempts[0] and "(attempt 7)" in attempts[6]
    assert failures[0][0] == logging.WARNING and "Connection refused" in failures[0][1]
    assert {level for level, _ in failures[1:]} == {logging.INFO}


def test_a_name_that_cannot_be_looked_up_is_no_connection(tmp_path):
    run = Waiting(
        Transfer(HubFile(REPO, MODEL), tmp_path, endpoint="http://hearth-test.invalid", options=QUICK)
    )
    notice = run.notice()

    assert notice.kind is ErrorKind.NO_CONNECTION and notice.reason == "No internet connection."
    assert time.monotonic() - run.started < PROMISE_S
    assert isinstance(run.pause(), Paused)


def test_a_connection_that_cannot_be_made_secure_says_what_to_do(hub, data, tmp_path):
    # The stand-in hub speaks plain HTTP, so the TLS handshake fails as it does behind a Wi-Fi sign-in page.
    secure = hub.url.replace("http://", "https://")
    run = Waiting(Transfer(HubFile(REPO, MODEL), tmp_path, endpoint=secure, options=QUICK))
    notice = run.notice()

    assert notice.kind is ErrorKind.NO_CONNECTION
    assert notice.reason.startswith("Hugging Face could not be reached securely. If this network asks you")
    assert isinstance(run.pause(), Paused)


def test_with_the_default_settings_an_unanswered_connect_is_told_within_15_s(tmp_path, unaccepting_endpoint):
    run = Waiting(Transfer(HubFile(REPO, MODEL), tmp_path, endpoint=unaccepting_endpoint))
    notice = run.notice(timeout=PROMISE_S + 1)
    told_after = time.monotonic() - run.started

    defaults = TransferOptions()
    assert notice.kind is ErrorKind.NO_CONNECTION and notice.reason == "No internet connection."
    assert defaults.connect_timeout - 0.5 <= told_after < PROMISE_S
    assert notice.attempt == 2 and notice.at - time.monotonic() <= defaults.retry.initial_delay
    assert isinstance(run.pause(), Paused)


def test_a_server_that_takes_the_connection_and_says_nothing_is_not_answering(tmp_path, silent_endpoint):
    run = Waiting(Transfer(HubFile(REPO, MODEL), tmp_path, endpoint=silent_endpoint, options=PATIENT))
    notice = run.notice()

    assert notice.kind is ErrorKind.NOT_ANSWERING and notice.reason == "Hugging Face is not answering."
    assert time.monotonic() - run.started < PROMISE_S
    assert isinstance(run.pause(), Paused)


def test_silence_before_and_after_the_answer_are_told_apart(hub, data, tmp_path):
    hub.faults.hold = [3.0]  # the first GET gets no answer at all
    hub.faults.stall = [0.0, 3.0]  # the second gets its headers, then nothing
    run = Waiting(Transfer(HubFile(REPO, MODEL), tmp_path, endpoint=hub.url, options=PATIENT))

    assert sha256(Path(str(run.finish())).read_bytes()) == sha256(data)
    reasons = [n.reason for n in run.notices if n is not None]
    assert reasons == ["Hugging Face is not answering.", "Hugging Face stopped sending the file."]


def test_the_download_continues_where_it_was_when_the_connection_comes_back(hub, data, tmp_path):
    hub.faults.bytes_per_second = SIZE  # about a second for the file: time to lose the line under it
    part = tmp_path / f"{MODEL}.part"
    run = Waiting(Transfer(HubFile(REPO, MODEL), tmp_path, endpoint=hub.url, options=QUICK))
    deadline = time.monotonic() + 30
    while not (part.exists() and part.stat().st_size >= SIZE // 4) and time.monotonic() < deadline:
        time.sleep(0.01)  # polling a file another thread writes; there is no event to wait on
    hub.stop()  # the network goes away, open connections with it
    kept_at_least = part.stat().st_size

    offline = run.notice(attempt=6)  # several attempts with no connection, past the give-up budget
    kept = part.stat().st_size
    back = HubServer(hub.store.root, port=hub.port).start()
    try:
        installed = run.finish()
        assert sha256(Path(str(installed)).read_bytes()) == sha256(data)
        assert offline.kind is ErrorKind.NO_CONNECTION
        assert run.notices[-1] is None  # told that the connection works again
        assert kept_at_least <= kept < SIZE
        requests = back.file_requests(MODEL)
        assert [r.range for r in requests] == [f"bytes={kept}-"]
    finally:
        back.stop()


def test_offline_never_gives_up_and_checks_back_at_least_every_max_delay():
    now = [0.0]
    backoff = Backoff(
        RetryPolicy(initial_delay=0.5, max_delay=30.0, give_up_after=600.0), clock=lambda: now[0]
    )
    for _ in range(200):  # many hours with no connection
        delay = backoff.next_delay(offline=True)
        assert delay is not None and delay <= 30.0
        now[0] += delay
    assert now[0] > 600.0
    # Back online, a failing server has the whole budget, counted from the last attempt that found
    # no connection (30 s ago), not what would be left of it after hours offline.
    assert backoff.next_delay() == 30.0
    now[0] += 569.0
    assert backoff.next_delay() == pytest.approx(1.0)
    now[0] += 1.0
    assert backoff.next_delay() is None


def test_the_words_count_down_to_the_next_attempt():
    job = DownloadJob(
        id="hf:x/y", title="y", repo_id="x/y", revision="main", model=JobFile("y.gguf"), projector=None,
        dest_dir=Path("."), state=JobState.RUNNING, done=1_200_000_000, total=3_460_000_000, stalled=True,
    )  # fmt: skip
    job.retry = RetryNotice(ErrorKind.NO_CONNECTION, "No internet connection.", attempt=3, at=100.0)

    assert describe_job(job, now=91.2) == (
        "No internet connection. Trying again in 9 s (attempt 3). "
        "The download will continue by itself from 1.20 GB of 3.46 GB."
    )
    assert describe_job(job, now=99.5).startswith("No internet connection. Trying again in 1 s (attempt 3).")
    assert describe_job(job, now=100.2).startswith("No internet connection. Trying again now (attempt 3).")
    job.done = 0
    assert describe_job(job, now=91.2).endswith("(attempt 3). The download will continue by itself.")
