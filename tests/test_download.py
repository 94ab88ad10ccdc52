"""Downloads from the stand-in hub over real HTTP: install, verify, pause, resume, cancel, auth, bundles."""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path

import pytest
from huggingface_hub import HfApi, hf_hub_download

from app.gguf.manifest import manifest_path
from app.library.bundle import BundleDownload, download_bundle
from app.library.errors import (
    Cancelled,
    ChecksumError,
    ErrorKind,
    GatedError,
    NotFoundError,
    OfflineError,
    Paused,
)
from app.library.hub_file import HubFile
from app.library.progress import ProgressMeter
from app.library.retry import Backoff, RetryPolicy
from app.library.transfer import Transfer, TransferOptions
from tests.hub.server import HubServer

pytest_plugins = ["tests.hub.fixtures"]

REPO = "ggml-org/tiny-test-GGUF"
MODEL = "tiny-Q4_K_M.gguf"
PROJECTOR = "mmproj-tiny-f16.gguf"
FAST = TransferOptions(
    retry=RetryPolicy(initial_delay=0.01, max_delay=0.1, give_up_after=10.0),
    read_timeout=5.0,
    free_space_margin=0,
)


def random_bytes(size: int, seed: int = 4) -> bytes:
    return random.Random(seed).randbytes(size)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def transfer(hub: HubServer, dest: Path, filename: str = MODEL, **kwargs) -> Transfer:
    file = HubFile(REPO, filename, sha256=kwargs.pop("sha256", None))
    kwargs.setdefault("options", FAST)
    return Transfer(file, dest, endpoint=hub.url, **kwargs)


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*.part*"))


def test_full_download_is_verified_and_installed(hub, tmp_path):
    data = random_bytes(4 * 1024 * 1024)
    hub.add_file(REPO, MODEL, data)
    reports: list[tuple[int, int, float]] = []

    path = transfer(hub, tmp_path, on_progress=lambda *r: reports.append(r)).run()

    assert path == tmp_path / MODEL
    assert sha256(path.read_bytes()) == sha256(data)
    assert leftovers(tmp_path) == []
    assert reports[0][:2] == (0, len(data)) and reports[-1][:2] == (len(data), len(data))
    assert [r[0] for r in reports] == sorted(r[0] for r in reports)


def test_real_gguf_through_a_cdn_redirect(hub, tmp_path, smollm2_path):
    """The real Hub answers LFS files with a 302 to a CDN on another host; the token must not follow."""
    hub.add_file(REPO, smollm2_path.name, smollm2_path, gated_token="hf_secret")
    hub.redirect_to_cdn = True
    expected = hub.repo(REPO).files[smollm2_path.name].sha256

    path = transfer(hub, tmp_path, smollm2_path.name, token="hf_secret", sha256=expected).run()

    with path.open("rb") as installed, smollm2_path.open("rb") as original:
        assert hashlib.file_digest(installed, "sha256").hexdigest() == expected
        assert hashlib.file_digest(original, "sha256").hexdigest() == expected
    assert path.read_bytes()[:4] == b"GGUF"
    cdn = [r for r in hub.requests if r.path.startswith("/cdn/")]
    assert cdn and not any(r.authorized for r in cdn)


def test_small_git_file_is_checked_by_its_git_blob_id(hub, tmp_path):
    hub.add_file(REPO, "README.md", b"# Tiny test model\n")
    path = transfer(hub, tmp_path, "README.md").run()
    assert path.read_bytes() == b"# Tiny test model\n"


def test_the_stand_in_hub_satisfies_huggingface_hub_itself(hub, tmp_path):
    data = random_bytes(300_000)
    hub.add_file(REPO, MODEL, data)
    hub.add_file(REPO, "README.md", b"hello\n")

    cached = hf_hub_download(REPO, MODEL, endpoint=hub.url, cache_dir=tmp_path / "cache", token=False)
    api = HfApi(endpoint=hub.url, token=False)
    info = api.model_info(REPO, files_metadata=True)
    tree = {entry.path: entry for entry in api.list_repo_tree(REPO)}

    assert Path(cached).read_bytes() == data
    assert sorted(api.list_repo_files(REPO)) == ["README.md", MODEL]
    assert info.sha == hub.repo(REPO).commit
    lfs = {s.rfilename: s.lfs for s in info.siblings or []}
    assert lfs[MODEL] is not None and lfs[MODEL].sha256 == sha256(data) and lfs["README.md"] is None
    assert tree[MODEL].lfs is not None and tree[MODEL].lfs.sha256 == sha256(data)


def test_pause_keeps_the_partial_and_a_new_transfer_continues_it(hub, tmp_path):
    data = random_bytes(4 * 1024 * 1024, seed=7)
    hub.add_file(REPO, MODEL, data)
    options = TransferOptions(retry=FAST.retry, free_space_margin=0, progress_interval=0.0)

    def pause_at_a_third(done: int, total: int, speed: float) -> None:
        if done >= total // 3:
            first.pause()

    first = transfer(hub, tmp_path, options=options, on_progress=pause_at_a_third)
    with pytest.raises(Paused) as paused:
        first.run()
    kept = (tmp_path / f"{MODEL}.part").stat().st_size
    assert paused.value.kind is ErrorKind.PAUSED and paused.value.resumable
    assert len(data) // 3 <= kept < len(data)
    assert (tmp_path / f"{MODEL}.part.json").exists() and not (tmp_path / MODEL).exists()

    # As after an app restart: a fresh object that only finds the files on disk.
    second = transfer(hub, tmp_path)
    path = second.run()

    assert sha256(path.read_bytes()) == sha256(data)
    assert hub.file_requests(MODEL)[-1].range == f"bytes={kept}-"
    assert first.bytes_received + second.bytes_received == len(data)


def test_cancel_can_keep_or_delete_the_partial(hub, tmp_path):
    hub.add_file(REPO, MODEL, random_bytes(2 * 1024 * 1024))
    options = TransferOptions(retry=FAST.retry, free_space_margin=0, progress_interval=0.0)

    for delete in (False, True):
        job = transfer(hub, tmp_path, options=options)
        job.on_progress = lambda done, total, speed, job=job, delete=delete: (
            job.cancel(delete_partial=delete) if done else None
        )
        with pytest.raises(Cancelled) as cancelled:
            job.run()
        assert cancelled.value.kind is ErrorKind.CANCELLED
        assert (tmp_path / f"{MODEL}.part").exists() is not delete
        assert not (tmp_path / MODEL).exists()

    # A paused download abandoned later, after a restart: cancel() removes its files without running.
    part = tmp_path / f"{MODEL}.part"
    with pytest.raises(Paused):
        transfer(hub, tmp_path, should_stop=lambda: part.exists() and part.stat().st_size > 0).run()
    assert leftovers(tmp_path) == [f"{MODEL}.part", f"{MODEL}.part.json"]
    transfer(hub, tmp_path).cancel(delete_partial=True)
    assert leftovers(tmp_path) == []


def test_gated_repo_needs_the_right_token(hub, tmp_path):
    data = random_bytes(100_000)
    hub.add_file(REPO, MODEL, data, gated_token="hf_right")

    with pytest.raises(GatedError) as no_token:
        transfer(hub, tmp_path).run()
    with pytest.raises(GatedError) as wrong_token:
        transfer(hub, tmp_path, token="hf_wrong").run()
    path = transfer(hub, tmp_path, token="hf_right").run()

    assert no_token.value.kind is ErrorKind.GATED
    assert "requires accepting its license on Hugging Face and an access token" in str(no_token.value)
    assert "token does not give access" in str(wrong_token.value)
    assert path.read_bytes() == data


@pytest.mark.parametrize(
    ("repo_id", "filename", "revision", "words"),
    [
        (REPO, "missing.gguf", "main", "has no file named missing.gguf"),
        ("nobody/nothing-GGUF", MODEL, "main", "was not found on Hugging Face"),
        (REPO, MODEL, "v9", "does not exist"),
    ],
)
def test_missing_things_are_not_found(hub, tmp_path, repo_id, filename, revision, words):
    hub.add_file(REPO, MODEL, b"GGUF")
    job = Transfer(HubFile(repo_id, filename, revision), tmp_path, endpoint=hub.url, options=FAST)
    with pytest.raises(NotFoundError) as missing:
        job.run()
    assert missing.value.kind is ErrorKind.NOT_FOUND and words in str(missing.value)
    assert len(hub.requests) == 1  # not retried


def test_offline_mode_refuses_before_any_request(hub, tmp_path, monkeypatch):
    hub.add_file(REPO, MODEL, b"GGUF")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(OfflineError) as offline:
        transfer(hub, tmp_path).run()
    assert offline.value.kind is ErrorKind.OFFLINE and "offline" in str(offline.value)
    assert hub.requests == []


def test_a_file_that_differs_from_the_catalog_is_refused_before_downloading(hub, tmp_path):
    hub.add_file(REPO, MODEL, random_bytes(200_000))
    with pytest.raises(ChecksumError) as changed:
        transfer(hub, tmp_path, sha256="0" * 64).run()
    assert "has changed since" in str(changed.value)
    assert hub.file_requests(MODEL) == []


def test_a_partial_of_an_older_upload_is_started_over(hub, tmp_path):
    hub.add_file(REPO, MODEL, random_bytes(1_000_000, seed=1))
    part = tmp_path / f"{MODEL}.part"
    with pytest.raises(Paused):
        transfer(hub, tmp_path, should_stop=lambda: part.exists() and part.stat().st_size > 0).run()
    assert part.stat().st_size > 0
    new = random_bytes(1_200_000, seed=2)
    hub.add_file(REPO, MODEL, new)  # re-uploaded: new commit, new sha256

    path = transfer(hub, tmp_path).run()

    assert sha256(path.read_bytes()) == sha256(new)
    assert hub.file_requests(MODEL)[-1].range is None


def test_bundle_installs_nothing_until_both_files_verify(hub, tmp_path):
    model, projector = random_bytes(700_000, seed=3), random_bytes(1_500_000, seed=5)
    hub.add_file(REPO, MODEL, model)
    hub.add_file(REPO, PROJECTOR, projector)
    hub.faults.corrupt_offset = 1_000_000  # inside the projector only
    reports: list[tuple[int, int, float]] = []
    kwargs = {"endpoint": hub.url, "options": FAST, "on_progress": lambda *r: reports.append(r)}

    with pytest.raises(ChecksumError):
        download_bundle(HubFile(REPO, MODEL), HubFile(REPO, PROJECTOR), tmp_path, **kwargs)
    assert not (tmp_path / MODEL).exists() and not (tmp_path / PROJECTOR).exists()
    assert not manifest_path(tmp_path / MODEL).exists()

    hub.faults.corrupt_offset = None
    again = BundleDownload(HubFile(REPO, MODEL), HubFile(REPO, PROJECTOR), tmp_path, **kwargs)
    installed = again.run()

    assert installed.model.read_bytes() == model and installed.projector is not None
    assert installed.projector.read_bytes() == projector
    assert again.bytes_received == len(projector)  # the verified model partial was kept
    manifest = json.loads(installed.manifest.read_text())
    assert [(f["role"], f["sha256"]) for f in manifest["files"]] == [
        ("model", sha256(model)),
        ("projector", sha256(projector)),
    ]
    assert reports[-1][:2] == (len(model) + len(projector),) * 2
    assert leftovers(tmp_path) == []


def test_bundle_sharing_an_installed_projector_does_not_download_it_again(hub, tmp_path):
    projector = random_bytes(500_000, seed=6)
    hub.add_file(REPO, PROJECTOR, projector)
    hub.add_file(REPO, "tiny-Q8_0.gguf", random_bytes(300_000, seed=8))
    (tmp_path / PROJECTOR).write_bytes(projector)

    download_bundle(HubFile(REPO, "tiny-Q8_0.gguf"), HubFile(REPO, PROJECTOR), tmp_path, endpoint=hub.url)

    assert hub.file_requests(PROJECTOR) == []


def test_progress_is_throttled_and_speed_smoothed():
    now = [0.0]
    reports: list[tuple[int, int, float]] = []
    meter = ProgressMeter(lambda *r: reports.append(r), 10_000_000, clock=lambda: now[0])
    meter.start(0)
    for step in range(1, 1001):  # 1,000 chunks of 10 KB over one second: 10 MB/s
        now[0] = step / 1000
        meter.update(step * 10_000)
    assert 9 <= len(reports) <= 12
    assert reports[-1][2] == pytest.approx(10_000_000, rel=0.01)


def test_backoff_doubles_up_to_a_cap_and_gives_up_without_progress():
    now = [0.0]
    backoff = Backoff(
        RetryPolicy(initial_delay=0.5, max_delay=30.0, give_up_after=100.0), clock=lambda: now[0]
    )
    delays = [backoff.next_delay() for _ in range(8)]
    assert delays == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]
    now[0] = 60.0
    backoff.progressed()
    assert backoff.next_delay() == 0.5
    now[0] = 160.0
    assert backoff.next_delay() is None
