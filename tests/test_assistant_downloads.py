"""The catalog's MTP assistants: paired with their models, downloaded on request (real HTTP against
the stand-in hub) beside the model file, found there by the worker, never listed as models, and
removed with the last model that uses them. Then the same in the real app: File › Drafter offers
the download, and the loaded model drafts with the assistant as soon as it is in."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from PySide6.QtWidgets import QMenu

from app.core.paths import resolve_paths
from app.gguf.drafters import assistant_for
from app.library import installed as installed_module
from app.library.catalog import CATALOG_FILE, load_catalog, parse_catalog
from app.library.installed import ModelRegistry, delete_installed, installed_assistants, scan_installed
from app.library.jobs import ASSISTANT, DownloadJob, JobFile, JobState, assistant_job_id, repo_folder
from app.ui.application import build
from app.ui.library.download_queue import DownloadQueue
from tests.hub.server import HubServer
from tests.test_multimodal import MODEL, PROJECTOR
from tests.test_speculative import ASSISTANT as ASSISTANT_FILE

pytest_plugins = ["tests.hub.fixtures"]

TIMEOUT = 60_000
MODEL_REPO = "hearth-test/tiny-gemma4-it-GGUF"
MODEL_NAME = "tiny-gemma4-it-Q8_0.gguf"
PROJECTOR_NAME = "mmproj-tiny-gemma4-it-F16.gguf"
ASSISTANT_REPO = "hearth-test/tiny-gemma4-it-qat-GGUF"
ASSISTANT_NAME = "MTP/mtp-tiny-gemma4-it-Q8_0.gguf"  # a subfolder, as some publishers keep them


def catalog_data(hub: HubServer, *, assistant_sha: bool = True) -> dict:
    model = hub.add_file(MODEL_REPO, MODEL_NAME, MODEL)
    projector = hub.add_file(MODEL_REPO, PROJECTOR_NAME, PROJECTOR)
    assistant = hub.add_file(ASSISTANT_REPO, ASSISTANT_NAME, ASSISTANT_FILE)

    def file(stored) -> dict:
        return {"name": stored.name, "size": stored.size, "sha256": stored.sha256}

    return {
        "schema_version": 1,
        "models": [
            {
                "id": "tiny-gemma4",
                "display_name": "Tiny Gemma 4 · Q8_0",
                "size": "tiny",
                "quantization": "Q8_0",
                "publisher": "hearth-test",
                "repo_id": MODEL_REPO,
                "revision": hub.repo(MODEL_REPO).commit,
                "context_length": 4096,
                "capabilities": ["text", "vision", "audio"],
                "files": {"model": file(model), "projector": file(projector)},
                "assistant": "tiny-assistant",
            }
        ],
        "assistants": [
            {
                "id": "tiny-assistant",
                "display_name": "Tiny Gemma 4 MTP assistant",
                "repo_id": ASSISTANT_REPO,
                "revision": None,
                # Unconfirmed fields, as in the real catalog: the Hub's own sha256 is checked instead.
                "file": {"name": ASSISTANT_NAME, "size": assistant.size, "sha256": None}
                if not assistant_sha
                else file(assistant),
            }
        ],
    }


def test_the_catalog_pairs_every_model_with_an_assistant_of_its_own_kind():
    raw = json.loads(CATALOG_FILE.read_text(encoding="utf-8"))
    known = {assistant["id"] for assistant in raw["assistants"]}
    assert {model["assistant"] for model in raw["models"]} <= known  # no reference points nowhere
    for entry in load_catalog():
        assistant = entry.assistant
        assert assistant is not None, entry.id
        # A QAT model drafts best with the QAT assistant, and a plain one with the plain one.
        assert ("qat" in assistant.id) == ("QAT" in entry.quantization), entry.id
        assert assistant.id.startswith(f"gemma-4-{entry.size.lower().replace(' ', '-')}-"), entry.id
        assert assistant.revision is None or re.fullmatch(r"[0-9a-f]{40}", assistant.revision)
        assert assistant.file.name.endswith(".gguf") and "mtp" in assistant.file.name.lower()
        if assistant.file.size is not None:
            assert 50_000_000 < assistant.file.size < 600_000_000  # a few small layers, not a model


def test_catalog_parsing_drops_damaged_assistants_and_keeps_the_models():
    data = {
        "models": [
            {"id": "a", "repo_id": "o/r", "files": {"model": {"name": "a.gguf"}}, "assistant": "good"},
            {"id": "b", "repo_id": "o/r", "files": {"model": {"name": "b.gguf"}}, "assistant": "gone"},
            {"id": "c", "repo_id": "o/r", "files": {"model": {"name": "c.gguf"}}, "assistant": "bad"},
        ],
        "assistants": [
            {"id": "good", "repo_id": "o/a", "file": {"name": "mtp-a.gguf", "size": 9, "sha256": "B" * 64}},
            {"id": "bad", "repo_id": "o/a", "file": {}},
            "not an object",
        ],
    }
    entries = {entry.id: entry for entry in parse_catalog(data)}
    assert sorted(entries) == ["a", "b", "c"]
    good = entries["a"].assistant
    assert good is not None and good.display_name == "good" and good.file.sha256 == "b" * 64
    assert (good.repo_id, good.file.name, good.revision) == ("o/a", "mtp-a.gguf", None)
    assert entries["b"].assistant is None and entries["c"].assistant is None
    for damaged in (7, "x", {"good": {}}, None):  # a list of assistants that is not one
        assert [e.assistant for e in parse_catalog({**data, "assistants": damaged})] == [None] * 3


def test_an_assistant_job_is_kept_across_restarts_as_an_assistant():
    job = DownloadJob("x", "t", "o/r", "main", JobFile("mtp-x.gguf"), None, Path("d"), role=ASSISTANT)
    again = DownloadJob.from_dict(job.to_dict())
    assert again is not None and again.role == ASSISTANT
    data = job.to_dict()
    del data["role"]  # written by an older Hearth
    older = DownloadJob.from_dict(data)
    assert older is not None and older.role == "model"


def test_an_assistant_downloads_beside_its_model_and_leaves_with_the_last_model(qtbot, hub, tmp_path):
    entry = parse_catalog(catalog_data(hub, assistant_sha=False))[0]
    models = tmp_path / "models"
    queue = DownloadQueue(tmp_path / "downloads.json")
    try:
        # The assistant first: it need not wait for its model.
        with qtbot.waitSignal(queue.finished, timeout=TIMEOUT) as done:
            job_id = queue.add_assistant(entry, models)
        assert job_id == assistant_job_id(MODEL_REPO, MODEL_NAME, ASSISTANT_NAME)
        folder = repo_folder(models, MODEL_REPO)
        landed = folder / ASSISTANT_NAME
        assert Path(done.args[1]) == landed and landed.read_bytes() == ASSISTANT_FILE.read_bytes()
        assert queue.job(job_id).state is JobState.DONE and queue.job(job_id).role == ASSISTANT
        with qtbot.waitSignal(queue.finished, timeout=TIMEOUT):
            queue.add_catalog(entry, models)
    finally:
        queue.shutdown()
    model = folder / MODEL_NAME
    assert assistant_for(model) == landed
    assert installed_assistants([entry], models) == {entry.id: landed}
    # Listed with its model, never as a model of its own.
    registry = ModelRegistry(tmp_path)
    found = scan_installed(models, registry, include_hf_cache=False)
    assert [m.path for m in found] == [model] and found[0].vision and found[0].audio
    # A second model in the same folder uses the same assistant: deleting the first keeps it.
    twin = folder / "tiny-gemma4-it-Q4_0.gguf"
    shutil.copy(MODEL, twin)
    found = scan_installed(models, registry, include_hf_cache=False)
    first = next(m for m in found if m.path == model)
    removed = delete_installed(first, found)
    assert model in removed and landed.exists() and assistant_for(twin) == landed
    found = scan_installed(models, registry, include_hf_cache=False)
    removed = delete_installed(found[0], found)
    assert landed in removed and not landed.exists()
    assert not landed.with_name(landed.name + ".manifest.json").exists()
    assert installed_assistants([entry], models) == {}


def test_file_drafter_offers_the_assistant_and_the_model_drafts_once_it_is_in(
    qtbot, hub, hearth_home, short_answers, tmp_path, monkeypatch
):
    monkeypatch.setattr(installed_module, "hf_cache_ggufs", lambda: [])
    catalog = tmp_path / "catalog.json"
    catalog.write_text(json.dumps(catalog_data(hub)), encoding="utf-8")
    paths = resolve_paths(hearth_home).ensure()
    folder = repo_folder(paths.models, MODEL_REPO)
    folder.mkdir(parents=True)
    model = folder / MODEL_NAME
    shutil.copy(MODEL, model)  # as its download would leave it (the assistant is what is tested)
    shutil.copy(PROJECTOR, folder / PROJECTOR_NAME)
    hearth = build(paths, model=str(model), theme="light", catalog_file=catalog)
    window = hearth.window
    qtbot.addWidget(window)
    try:
        qtbot.waitUntil(lambda: hearth.supervisor.loaded_model is not None, timeout=TIMEOUT)
        qtbot.waitUntil(lambda: bool(hearth.models.catalog), timeout=TIMEOUT)
        assert hearth.supervisor.loaded_model.drafter == ""

        def drafter_menu() -> QMenu:
            menu = window.menus.drafter_menu  # File › Drafter, filled as it opens
            menu.aboutToShow.emit()
            return menu

        offers = [a for a in drafter_menu().actions() if a.text().startswith("Download its")]
        assert [a.text() for a in offers] == [
            f"Download its MTP assistant, “Tiny Gemma 4 MTP assistant” ({_size(ASSISTANT_FILE)})"
        ]
        # Downloaded, it drafts at once: the model loads again with it, unasked.
        with qtbot.waitSignal(hearth.models.downloads.finished, timeout=TIMEOUT):
            offers[0].trigger()
        assert window.statusBar().currentMessage() == (
            "Tiny Gemma 4 MTP assistant is downloaded: it drafts for its model whenever that is loaded."
        )
        qtbot.waitUntil(
            lambda: getattr(hearth.supervisor.loaded_model, "drafter", "") == "mtp", timeout=TIMEOUT
        )
        assert Path(hearth.supervisor.loaded_model.draft_path) == folder / ASSISTANT_NAME
        labels = [a.text() for a in drafter_menu().actions()]
        assert labels[0] == f"Its MTP assistant “{Path(ASSISTANT_NAME).name}” drafts for it"
        assert not any("Download its MTP assistant" in label for label in labels)
        # The Models window lists one model, and shows its assistant as installed.
        models = hearth.models.show()
        qtbot.waitUntil(
            lambda: models.catalog_table.assistant_path("tiny-gemma4") is not None, timeout=TIMEOUT
        )
        assert [m.path for m in models.installed_table.models] == [model]
        assert models.discover.select_entry("tiny-gemma4")
        details = models.discover.details
        assert details.assistant_box.isVisibleTo(models)
        assert "drafts whenever the model is loaded" in details.assistant_panel.status.text()
        assert not details.assistant_panel.download_button.isVisibleTo(models)
        assert not details.assistant_panel.use_button.isVisibleTo(models)
        # An answer is drafted for and stays the model's own (tested token for token elsewhere).
        window.composer.set_text("Hello there.")
        window.composer.submit()
        qtbot.waitUntil(lambda: not window.controller.busy, timeout=TIMEOUT)
        answer = window.conversation.row_at(window.conversation.rowCount() - 1).message
        assert "accepted_per_step" in answer.stats  # only answers drafted for have it
    finally:
        hearth.shutdown()


def _size(path: Path) -> str:
    from app.library.errors import format_size

    return format_size(path.stat().st_size)
