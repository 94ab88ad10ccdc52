"""File › Drafter, per model file: the Gemma 4 MTP assistant installed next to it (the default),
a smaller model of the same vocabulary chosen by the user, or none (app.engine.speculative).
Whether guesses are used in a chat is the chat's "Draft ahead" setting. When the catalog pairs an
assistant with the model and it is not on this computer, the menu offers to download it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from PySide6.QtGui import QAction, QActionGroup
from PySide6.QtWidgets import QFileDialog, QMenu, QWidget

from app.core.settings import Settings
from app.engine import protocol as p
from app.library.errors import format_size
from app.library.jobs import DownloadJob, JobState, describe_job

AUTOMATIC = "auto"
OFF = ""


@dataclass(frozen=True)
class AssistantOffer:
    """The MTP assistant the catalog pairs with the loaded model: whether it is on this computer,
    its unfinished download if one exists, and how to start (or resume) that download."""

    name: str
    size: int | None
    job: DownloadJob | None
    installed: bool
    download: Callable[[], object]


def draft_setting(settings: Settings, model_path: str) -> str:
    return settings.drafts.get(model_path, AUTOMATIC)


def describe_drafter(loaded: p.ModelLoaded) -> str:
    """What drafts for the loaded model, in words."""
    if loaded.draft_problem:
        return loaded.draft_problem
    if loaded.drafter == "mtp":
        return f"Its MTP assistant “{Path(loaded.draft_path).name}” drafts for it"
    if loaded.drafter:
        return f"“{Path(loaded.draft_path).name}” drafts for it"
    return "No drafter: the model writes every token itself"


def fill_drafter_menu(
    menu: QMenu,
    loaded: p.ModelLoaded | None,
    settings: Settings,
    save: Callable[[Settings], None],
    reload: Callable[[], None],
    parent: QWidget,
    offer: AssistantOffer | None = None,
) -> None:
    menu.clear()
    if loaded is None or loaded.architecture == "remote":
        menu.addAction("Load a model first").setEnabled(False)
        return
    model_path = loaded.model_path
    menu.addAction(describe_drafter(loaded)).setEnabled(False)
    menu.addSeparator()
    setting = draft_setting(settings, model_path)
    choices = [
        (AUTOMATIC, "Automatic: its MTP assistant, when one is installed next to it"),
        (OFF, "None"),
    ]
    if setting not in (AUTOMATIC, OFF):
        choices.append((setting, f"The draft model “{Path(setting).name}”"))
    group = QActionGroup(menu)
    for value, label in choices:
        action = QAction(label, menu, checkable=True, checked=value == setting)
        action.setData(value)
        group.addAction(action)
        menu.addAction(action)

    def choose(value: str) -> None:
        chosen = {**settings.drafts, model_path: value}
        if value == AUTOMATIC:
            chosen.pop(model_path)
        if chosen != settings.drafts:
            save(replace(settings, drafts=chosen))
            reload()

    group.triggered.connect(lambda action: choose(str(action.data())))

    def ask_for_file() -> None:
        path, _ = QFileDialog.getOpenFileName(
            parent,
            "Choose a draft model",
            str(Path(model_path).parent),
            "GGUF models (*.gguf);;All files (*)",
        )
        if path:
            choose(path)

    menu.addAction("A draft model of the same family…", ask_for_file)
    if offer is not None and not offer.installed and loaded.drafter != "mtp":
        menu.addSeparator()
        _add_offer(menu, offer)


def _add_offer(menu: QMenu, offer: AssistantOffer) -> None:
    job = offer.job
    if job is not None and job.state in (JobState.QUEUED, JobState.RUNNING):
        menu.addAction(f"Downloading its MTP assistant: {describe_job(job)}").setEnabled(False)
        return
    size = f" ({format_size(offer.size)})" if offer.size else ""
    verb = "Resume the download of" if job is not None and job.done else "Download"
    action = menu.addAction(f"{verb} its MTP assistant, “{offer.name}”{size}", offer.download)
    action.setToolTip("It guesses a few tokens ahead and the model checks them: the same answer, sooner.")
    if job is not None and job.state is JobState.FAILED and job.error:
        menu.addAction(f"The last attempt stopped: {job.error}").setEnabled(False)
