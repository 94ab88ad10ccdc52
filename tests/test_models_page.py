"""The Models window in the real app, over real HTTP against the stand-in hub: first run, download,
Installed, Use and chat in the real worker, pause across a restart, cancel, gated and offline."""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from app.core.paths import resolve_paths
from app.library import catalog_fits as fitting
from app.library import installed as installed_module
from app.library.jobs import JobState, catalog_job_id, repo_folder
from app.library.machine import GIB, MachineInfo
from app.storage.chats import MessageStatus
from app.ui.application import Hearth, build
from app.ui.library.catalog_table import CatalogColumn, CatalogRole
from app.ui.library.installed_table import InstalledColumn
from app.ui.library.models_window import HUB, INSTALLED, WELCOME, ModelsWindow
from tests.hub.server import HubServer

pytest_plugins = ["tests.hub.fixtures"]

TIMEOUT = 60_000
SMOL_REPO = "hearth-test/SmolLM2-135M-Instruct-GGUF"
TINY_REPO = "hearth-test/tiny-GGUF"
TINY_FILE = "tiny-Q8_0.gguf"
GATED_REPO = "hearth-test/gated-GGUF"
TINY_SIZE = 6_000_000
DROP = 1_000_000  # bytes the hub sends before it drops a connection, when told to


# Two real catalog shapes, never downloaded here: what "fits this machine" judges.
GEMMA_ENTRIES = [
    {
        "id": "gemma-4-e2b",
        "display_name": "Gemma 4 E2B · Q4_0",
        "size": "E2B",
        "quantization": "QAT Q4_0",
        "repo_id": "google/gemma-4-E2B-it-qat-q4_0-gguf",
        "context_length": 131072,
        "capabilities": ["text", "vision", "audio"],
        "files": {
            "model": {"name": "gemma-4-E2B_q4_0-it.gguf", "size": 3_349_514_112},
            "projector": {"name": "gemma-4-E2B-it-mmproj.gguf", "size": 986_000_000},
        },
    },
    {
        "id": "gemma-4-31b",
        "display_name": "Gemma 4 31B · Q4_K_M",
        "size": "31B",
        "quantization": "Q4_K_M",
        "repo_id": "ggml-org/gemma-4-31B-it-GGUF",
        "context_length": 262144,
        "capabilities": ["text", "vision"],
        "files": {"model": {"name": "gemma-4-31B-it-Q4_K_M.gguf", "size": 18_687_061_792}},
    },
]
MACHINE = MachineInfo(total_ram=16 * GIB, available_ram=12 * GIB)
ROWS = 5


def sha256_of(path: Path) -> str:
    with path.open("rb") as source:
        return hashlib.file_digest(source, "sha256").hexdigest()


def entry(entry_id: str, repo: str, stored, revision: str | None = None) -> dict:
    return {
        "id": entry_id,
        "display_name": entry_id.replace("-", " ").title(),
        "size": "135M" if entry_id == "smollm2" else "tiny",
        "quantization": "Q8_0",
        "publisher": repo.split("/")[0],
        "repo_id": repo,
        "revision": revision,
        "context_length": 8192,
        "capabilities": ["text"],
        "files": {"model": {"name": stored.name, "size": stored.size, "sha256": stored.sha256}},
    }


@pytest.fixture
def catalog(hub: HubServer, tmp_path, smollm2_path, monkeypatch) -> Path:
    """A catalog of the real SmolLM2 model, a small random "model" and a gated one, all served by the
    stand-in hub. The user's own Hugging Face cache is kept out of the scan."""
    monkeypatch.setattr(installed_module, "hf_cache_ggufs", lambda: [])
    monkeypatch.setattr(fitting, "detect_machine", lambda: MACHINE)  # a 16 GB laptop, whatever runs this
    smol = hub.add_file(SMOL_REPO, smollm2_path.name, smollm2_path)
    tiny = hub.add_file(TINY_REPO, TINY_FILE, random.Random(3).randbytes(TINY_SIZE))
    gated = hub.add_file(
        GATED_REPO, "gated-Q4_0.gguf", random.Random(4).randbytes(200_000), gated_token="hf_ok"
    )
    data = {
        "schema_version": 1,
        "models": [
            entry("smollm2", SMOL_REPO, smol, revision=hub.repo(SMOL_REPO).commit),
            entry("tiny", TINY_REPO, tiny),
            entry("gated", GATED_REPO, gated),
            *GEMMA_ENTRIES,
        ],
    }
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


@pytest.fixture
def start_app(qtbot, hearth_home, catalog):
    apps: list[Hearth] = []

    def start() -> Hearth:
        hearth = build(resolve_paths(hearth_home).ensure(), theme="light", catalog_file=catalog)
        qtbot.addWidget(hearth.window)
        apps.append(hearth)
        return hearth

    yield start
    for hearth in apps:
        hearth.shutdown()


def models_window(qtbot, hearth: Hearth) -> ModelsWindow:
    """The Models window the first run opens by itself, once its catalog is in."""
    qtbot.waitUntil(lambda: hearth.models.window is not None, timeout=TIMEOUT)
    window = hearth.models.window
    assert window is not None
    qtbot.waitUntil(lambda: window.catalog_table.rowCount() == ROWS and window.installed_table.scanned)
    qtbot.waitUntil(lambda: window.catalog_table.fits is not None)
    return window


def choose(window: ModelsWindow, entry_id: str) -> None:
    assert window.discover.select_entry(entry_id)
    assert window.discover.details.entry is not None and window.discover.details.entry.id == entry_id


def click(qtbot, button) -> None:
    assert button.isVisibleTo(button.window()) and button.isEnabled(), button.text()
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def fit_text(window: ModelsWindow, entry_id: str) -> str:
    return window.catalog_table.index(window.catalog_table.row_of(entry_id), CatalogColumn.FIT).data()


def tiny_part(hearth: Hearth) -> Path:
    return repo_folder(hearth.paths.models, TINY_REPO) / f"{TINY_FILE}.part"


def test_first_run_download_use_and_chat(qtbot, qtmodeltester, start_app, hub, smollm2_path):
    hearth = start_app()
    window = models_window(qtbot, hearth)
    assert window.isVisible() and window.welcome.isVisible() and window.welcome.text() == WELCOME
    assert window.tabs.currentIndex() == 0
    qtbot.waitUntil(lambda: window.discover.current_entry() is not None)
    assert window.discover.current_entry().id == "gemma-4-e2b"  # recommended, and selected
    assert window.discover.details.recommended.isVisibleTo(window)
    qtmodeltester.check(window.catalog_table)
    qtmodeltester.check(window.installed_table)

    choose(window, "smollm2")
    panel = window.discover.details.job_panel
    reports: list[tuple[int, int]] = []
    window.queue.progress.connect(lambda _id, done, total, _speed: reports.append((done, total)))
    with qtbot.waitSignal(window.queue.finished, timeout=TIMEOUT) as finished:
        click(qtbot, panel.download_button)
    job_id, installed_path = finished.args
    size = smollm2_path.stat().st_size
    assert job_id == catalog_job_id("smollm2") and reports and reports[-1] == (size, size)
    assert [done for done, _ in reports] == sorted(done for done, _ in reports)
    assert sha256_of(Path(installed_path)) == hub.repo(SMOL_REPO).files[smollm2_path.name].sha256

    # The model shows up in Installed and in the catalog as installed; Use loads it.
    qtbot.waitUntil(lambda: window.installed_table.rowCount() == 1)
    assert window.installed_table.models[0].name == "Smollm2"  # the catalog's name, not the file's
    assert window.welcome.text() == "Smollm2 is ready. Press Use to start chatting."
    row = window.catalog_table.row_of("smollm2")
    status = window.catalog_table.index(row, CatalogColumn.STATUS)
    qtbot.waitUntil(lambda: status.data(CatalogRole.STATUS_KIND) == "installed")
    assert panel.use_button.isVisibleTo(window)
    window.tabs.setCurrentIndex(INSTALLED)
    assert window.installed.select_path(installed_path)
    click(qtbot, window.installed.use_button)
    assert not window.isVisible()
    qtbot.waitUntil(lambda: hearth.supervisor.loaded_model is not None, timeout=TIMEOUT)
    assert Path(hearth.supervisor.loaded_model.model_path) == Path(installed_path)
    assert hearth.supervisor.loaded_model.name == "Smollm2"  # the catalog's name, from the manifest

    editor = hearth.window.composer.editor
    editor.setFocus()
    qtbot.keyClicks(editor, "What is the capital of France?")
    qtbot.keyClick(editor, Qt.Key.Key_Return)

    def answered() -> bool:
        messages = hearth.store.messages(hearth.window.current_id)
        return not hearth.window.controller.busy and messages[-1].role == "assistant"

    qtbot.waitUntil(answered, timeout=TIMEOUT)
    answer = hearth.store.messages(hearth.window.current_id)[-1]
    assert answer.content.strip() and answer.status == MessageStatus.COMPLETE

    # A loaded model cannot be deleted; the Installed list says it is in use.
    qtbot.waitUntil(lambda: window.installed.use_button.text() == "In use")
    assert window.installed_table.index(0, InstalledColumn.LAST_USED).data() == "In use now"
    assert not window.installed.delete_button.isEnabled()
    told: list[str] = []
    window.inform = lambda title, text: told.append(title)  # type: ignore[method-assign]
    window.delete_model(window.installed.current_model())
    assert told == ["This model is in use"] and Path(installed_path).exists()


def test_fits_are_shown_with_their_numbers_and_explained(qtbot, start_app):
    window = models_window(qtbot, start_app())
    assert window.catalog_table.recommended_id == "gemma-4-e2b"
    assert fit_text(window, "gemma-4-e2b").endswith("· fits")
    assert fit_text(window, "gemma-4-31b").endswith("· too big")
    assert fit_text(window, "tiny") == "Not estimated"  # no Gemma 4 shape, not on disk yet
    assert "16 GB memory, 12.0 GB free" in window.discover.machine_line.text()

    choose(window, "gemma-4-31b")
    details = window.discover.details
    assert details.fit_box.property("level") == "red"
    assert details.fit_headline.text().startswith("Too big for this computer · needs ")
    assert "12.0 GB free of 16 GB" in details.fit_text.text()
    assert not details.recommended.isVisibleTo(window)

    window.discover.fitting_only.setChecked(True)
    shown = {
        window.discover.proxy.index(r, 0).data(CatalogRole.ID)
        for r in range(window.discover.proxy.rowCount())
    }
    assert "gemma-4-31b" not in shown and "gemma-4-e2b" in shown
    window.discover.search.setText("e2b")
    assert window.discover.proxy.rowCount() == 1


def test_pause_survives_a_restart_and_resume_completes(qtbot, start_app, hub):
    hearth = start_app()
    window = models_window(qtbot, hearth)
    choose(window, "tiny")
    panel = window.discover.details.job_panel
    hub.faults.drop_after = [DROP] * 3  # the download stays busy retrying long enough to pause it
    with qtbot.waitSignal(window.queue.progress, check_params_cb=lambda *a: a[1] > 0, timeout=TIMEOUT):
        click(qtbot, panel.download_button)
    click(qtbot, panel.pause_button)
    job = window.queue.job(catalog_job_id("tiny"))
    assert job is not None and job.state is JobState.PAUSED
    qtbot.waitUntil(lambda: not window.queue.busy, timeout=TIMEOUT)
    kept = tiny_part(hearth).stat().st_size
    assert 0 < kept < TINY_SIZE and "Paused" in panel.status.text()
    hearth.shutdown()

    hub.faults.drop_after = []
    again = start_app()
    window = models_window(qtbot, again)
    job = window.queue.job(catalog_job_id("tiny"))
    assert job is not None and job.state is JobState.PAUSED and job.done == kept
    choose(window, "tiny")
    panel = window.discover.details.job_panel
    assert panel.resume_button.isVisibleTo(window) and f"{kept / 1e6:.2f} MB" in panel.status.text()
    with qtbot.waitSignal(window.queue.finished, timeout=TIMEOUT) as finished:
        click(qtbot, panel.resume_button)
    assert sha256_of(Path(finished.args[1])) == hub.repo(TINY_REPO).files[TINY_FILE].sha256
    assert hub.file_requests(TINY_FILE)[-1].range == f"bytes={kept}-"


def test_a_running_download_continues_by_itself_after_a_restart(qtbot, start_app, hub):
    hearth = start_app()
    window = models_window(qtbot, hearth)
    choose(window, "tiny")
    hub.faults.drop_after = [DROP] * 3
    with qtbot.waitSignal(window.queue.progress, check_params_cb=lambda *a: a[1] > 0, timeout=TIMEOUT):
        click(qtbot, window.discover.details.job_panel.download_button)
    hearth.shutdown()  # quits mid-download
    assert 0 < tiny_part(hearth).stat().st_size < TINY_SIZE

    hub.faults.drop_after = []
    again = start_app()
    queue = again.models.downloads
    job = queue.job(catalog_job_id("tiny"))
    assert job is not None and job.state is JobState.QUEUED  # restored, and starting by itself
    qtbot.waitUntil(lambda: job.state is JobState.DONE, timeout=TIMEOUT)
    assert sha256_of(Path(job.installed_path)) == hub.repo(TINY_REPO).files[TINY_FILE].sha256


def test_cancel_asks_and_deletes_the_partial(qtbot, start_app, hub):
    hearth = start_app()
    window = models_window(qtbot, hearth)
    choose(window, "tiny")
    panel = window.discover.details.job_panel
    hub.faults.drop_after = [DROP] * 3
    with qtbot.waitSignal(window.queue.progress, check_params_cb=lambda *a: a[1] > 0, timeout=TIMEOUT):
        click(qtbot, panel.download_button)
    asked: list[int] = []
    panel.ask_cancel = lambda job: asked.append(job.done) or True
    with qtbot.waitSignal(window.queue.job_removed, timeout=TIMEOUT):
        click(qtbot, panel.cancel_button)
    assert asked and asked[0] > 0
    qtbot.waitUntil(lambda: not window.queue.busy, timeout=TIMEOUT)
    assert not tiny_part(hearth).exists()
    assert not tiny_part(hearth).with_name(f"{TINY_FILE}.part.json").exists()
    assert window.queue.jobs() == [] and panel.download_button.isVisibleTo(window)
    saved = json.loads((hearth.paths.data / "downloads.json").read_text())
    assert saved["jobs"] == []


def test_a_gated_model_without_a_token_is_explained(qtbot, start_app, hub):
    hearth = start_app()
    window = models_window(qtbot, hearth)
    choose(window, "gated")
    panel = window.discover.details.job_panel
    with qtbot.waitSignal(window.queue.failed, timeout=TIMEOUT) as failed:
        click(qtbot, panel.download_button)
    assert "requires accepting its license on Hugging Face and an access token" in failed.args[1]
    assert panel.error.isVisibleTo(window) and panel.error.text() == failed.args[1]
    assert panel.token_button.isVisibleTo(window)

    with qtbot.waitSignal(window.queue.finished, timeout=TIMEOUT):
        window.set_token("hf_ok")  # what the token dialog does; the failed download starts again
    assert window.queue.token.known() and "access token is set" in window.hub.token_state.text()
    assert "is downloaded and ready" in hearth.window.statusBar().currentMessage()


def test_offline_mode_is_explained(qtbot, start_app, hub, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    hearth = start_app()
    window = models_window(qtbot, hearth)
    assert window.offline_banner.isVisible() and "offline" in window.offline_banner.text()
    choose(window, "tiny")
    with qtbot.waitSignal(window.queue.failed, timeout=TIMEOUT) as failed:
        click(qtbot, window.discover.details.job_panel.download_button)
    assert "offline (HF_HUB_OFFLINE)" in failed.args[1]
    window.tabs.setCurrentIndex(HUB)
    window.list_repo(TINY_REPO)
    qtbot.waitUntil(lambda: "offline" in window.hub.status.text(), timeout=TIMEOUT)
    assert hub.requests == []


def test_any_hugging_face_repo_lists_its_files_and_downloads_with_its_projector(qtbot, start_app, hub):
    repo = "someone/custom-GGUF"
    hub.add_file(repo, "custom-Q4_K_M.gguf", random.Random(5).randbytes(300_000))
    hub.add_file(repo, "mmproj-custom-f16.gguf", random.Random(6).randbytes(200_000))
    hub.add_file(repo, "README.md", b"# custom\n")
    hub.add_file(repo, "MTP/mtp-custom-Q8_0.gguf", random.Random(7).randbytes(100_000))
    hearth = start_app()
    window = models_window(qtbot, hearth)
    window.tabs.setCurrentIndex(HUB)
    tab = window.hub

    tab.repo_field.setText("nobody/missing-GGUF")
    click(qtbot, tab.list_button)
    qtbot.waitUntil(lambda: "was not found on Hugging Face" in tab.status.text(), timeout=TIMEOUT)

    tab.repo_field.setText(repo)
    click(qtbot, tab.list_button)
    qtbot.waitUntil(lambda: tab.files.count() == 2, timeout=TIMEOUT)
    assert tab.selected_model() == "custom-Q4_K_M.gguf"
    # The repo's MTP assistant comes last, and says what it is for.
    assert tab.files.item(1).text() == (
        "MTP/mtp-custom-Q8_0.gguf  ·  100 KB  ·  MTP assistant: drafts for the models beside it"
    )
    assert tab.selected_projector() == "mmproj-custom-f16.gguf"  # paired by name
    with qtbot.waitSignal(window.queue.finished, timeout=TIMEOUT) as finished:
        click(qtbot, tab.job_panel.download_button)
    folder = Path(finished.args[1]).parent
    assert sorted(p.name for p in folder.glob("*.gguf")) == ["custom-Q4_K_M.gguf", "mmproj-custom-f16.gguf"]
    qtbot.waitUntil(lambda: tab.job_panel.use_button.isVisibleTo(window))


def test_import_a_local_model_and_remove_it(qtbot, start_app, smollm2_path, tmp_path):
    local = tmp_path / "elsewhere" / smollm2_path.name
    local.parent.mkdir()
    local.symlink_to(smollm2_path)
    hearth = start_app()
    window = models_window(qtbot, hearth)
    offered: list[str] = []
    window.choose_projector = lambda check: offered.append(check.name) or None  # type: ignore[method-assign]
    window.import_model(local)
    qtbot.waitUntil(lambda: window.installed_table.rowCount() == 1, timeout=TIMEOUT)
    model = window.installed_table.model_at(0)
    assert model is not None and model.source == "imported" and model.projector is None
    assert len(offered) == 1  # no projector next to it: the user was offered to pick one
    assert "Imported" in window.installed.note.text() and "text only" in window.installed.note.text()

    told: list[str] = []
    window.inform = lambda title, text: told.append(text)  # type: ignore[method-assign]
    window.import_model(tmp_path / "missing.gguf")
    qtbot.waitUntil(lambda: bool(told), timeout=TIMEOUT)
    assert "could not be read" in told[0]

    window.confirm = lambda *question: True  # type: ignore[method-assign]
    window.tabs.setCurrentIndex(INSTALLED)
    assert window.installed.select_path(str(local))
    click(qtbot, window.installed.delete_button)
    qtbot.waitUntil(lambda: window.installed_table.rowCount() == 0, timeout=TIMEOUT)
    assert local.exists()  # an imported file is the user's: only forgotten


def test_a_projector_picked_by_hand_at_import_is_the_one_the_model_loads_with(qtbot, start_app, tmp_path):
    """The projector chosen at import (not next to the model, not named like it) goes to the worker
    with the model, so the model that the Installed tab lists as seeing and hearing really does."""
    fixtures = Path(__file__).resolve().parent / "fixtures"
    model = tmp_path / "models-here" / "my-gemma.gguf"
    model.parent.mkdir()
    model.symlink_to(fixtures / "tiny-gemma4.gguf")
    projector = tmp_path / "projectors-there" / "eyes-and-ears.gguf"
    projector.parent.mkdir()
    projector.symlink_to(fixtures / "tiny-gemma4-mmproj.gguf")
    hearth = start_app()
    window = models_window(qtbot, hearth)
    window.choose_projector = lambda check: projector  # type: ignore[method-assign]
    window.import_model(model)
    qtbot.waitUntil(lambda: window.installed_table.rowCount() == 1, timeout=TIMEOUT)
    listed = window.installed_table.model_at(0)
    assert listed is not None and listed.projector == projector and listed.vision and listed.audio

    window.tabs.setCurrentIndex(INSTALLED)
    assert window.installed.select_path(str(model))
    with qtbot.waitSignal(hearth.supervisor.model_loaded, timeout=TIMEOUT) as loaded:
        click(qtbot, window.installed.use_button)
    assert loaded.args[0].projector_path == str(projector)
    assert loaded.args[0].vision and loaded.args[0].audio
    assert hearth.window.model_button.text() == listed.name
