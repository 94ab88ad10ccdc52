"""The GGUF files of any Hugging Face repo, split into models and projectors. Qt-free; it asks the
network, so call it off the UI thread."""

from __future__ import annotations

import os
from dataclasses import dataclass

from app.gguf.projectors import best_projector_name, looks_like_projector


@dataclass(frozen=True)
class RepoFile:
    name: str
    size: int | None


@dataclass(frozen=True)
class RepoListing:
    repo_id: str
    models: list[RepoFile]
    projectors: list[RepoFile]


def list_gguf_files(repo_id: str, *, endpoint: str | None, token: str | None) -> RepoListing:
    """The repo's ``.gguf`` files. Raises a ``DownloadError`` worded for users (not found, gated,
    offline, no connection)."""
    from huggingface_hub import HfApi
    from huggingface_hub.hf_api import RepoFile as HubRepoFile

    from app.library.errors import NotFoundError, OfflineError
    from app.library.hub_file import HubFile
    from app.library.remote import OFFLINE_MESSAGE, offline_mode, translate

    repo_id = repo_id.strip().strip("/")
    if offline_mode():
        raise OfflineError(OFFLINE_MESSAGE)
    try:
        api = HfApi(endpoint=endpoint or os.environ.get("HF_ENDPOINT") or None, token=token or False)
        entries = list(api.list_repo_tree(repo_id, recursive=True))
    except Exception as exc:
        raise translate(exc, HubFile(repo_id, ""), token=token) from exc
    files = [
        RepoFile(e.path, e.size)
        for e in entries
        if isinstance(e, HubRepoFile) and e.path.lower().endswith(".gguf")
    ]
    if not files:
        raise NotFoundError(f"{repo_id} has no GGUF files, so Hearth cannot run it.")
    models = sorted((f for f in files if not looks_like_projector(f.name)), key=lambda f: f.name.lower())
    projectors = sorted((f for f in files if looks_like_projector(f.name)), key=lambda f: f.name.lower())
    return RepoListing(repo_id, models, projectors)


def best_projector(model: str, projectors: list[RepoFile]) -> RepoFile | None:
    """The projector in the repo that belongs to ``model`` (``app.gguf.projectors``' rule)."""
    by_name = {f.name: f for f in projectors}
    best = best_projector_name(model, list(by_name))
    return by_name[best] if best is not None else None
