"""JSON answers of the stand-in hub's API, shaped like the real Hub's (as parsed by ``HfApi``)."""

from __future__ import annotations

import hashlib
from typing import Any

from tests.hub.repos import Repo, StoredFile

LAST_MODIFIED = "2026-04-02T00:00:00.000Z"


def model_info(repo: Repo, *, blobs: bool) -> dict[str, Any]:
    """``GET /api/models/{repo_id}[/revision/{rev}]``, read by ``HfApi.model_info``."""
    siblings = []
    for name in sorted(repo.files):
        sibling: dict[str, Any] = {"rfilename": name}
        if blobs:
            stored = repo.files[name]
            sibling.update(size=stored.size, blobId=stored.git_oid)
            if stored.lfs:
                pointer_size = _pointer_size(stored)
                sibling["lfs"] = {"size": stored.size, "sha256": stored.sha256, "pointerSize": pointer_size}
        siblings.append(sibling)
    return {
        "_id": hashlib.sha1(repo.repo_id.encode()).hexdigest()[:24],
        "id": repo.repo_id,
        "modelId": repo.repo_id,
        "author": repo.repo_id.split("/")[0],
        "sha": repo.commit,
        "lastModified": LAST_MODIFIED,
        "createdAt": LAST_MODIFIED,
        "private": False,
        "gated": "manual" if repo.gated_token else False,
        "disabled": False,
        "downloads": 0,
        "likes": 0,
        "library_name": "gguf",
        "tags": ["gguf"],
        "siblings": siblings,
    }


def tree(repo: Repo, folder: str, *, recursive: bool) -> list[dict[str, Any]] | None:
    """``GET /api/models/{repo_id}/tree/{rev}[/{folder}]``, read by ``HfApi.list_repo_tree`` (and so
    ``list_repo_files``); None when the folder does not exist."""
    prefix = f"{folder.strip('/')}/" if folder.strip("/") else ""
    files: list[dict[str, Any]] = []
    folders: set[str] = set()
    for name in sorted(repo.files):
        if not name.startswith(prefix):
            continue
        rest = name[len(prefix) :].split("/")
        for depth in range(1, len(rest)):
            if recursive or depth == 1:
                folders.add(prefix + "/".join(rest[:depth]))
        if recursive or len(rest) == 1:
            files.append(_file_entry(repo.files[name]))
    if prefix and not files and not folders:
        return None
    directories = [
        {"type": "directory", "oid": hashlib.sha1(path.encode()).hexdigest(), "size": 0, "path": path}
        for path in sorted(folders)
    ]
    return directories + files


def _file_entry(stored: StoredFile) -> dict[str, Any]:
    entry: dict[str, Any] = {"type": "file", "oid": stored.git_oid, "size": stored.size, "path": stored.name}
    if stored.lfs:
        entry["lfs"] = {"oid": stored.sha256, "size": stored.size, "pointerSize": _pointer_size(stored)}
    return entry


def _pointer_size(stored: StoredFile) -> int:
    return len(stored.lfs_pointer)
