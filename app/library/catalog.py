"""The curated catalog of Gemma 4 builds, read from ``app/resources/catalog.json``.

The catalog is data, not code: each entry names the repository, a pinned revision, the exact
model and projector files with their sizes and sha256, the context length and what the model
can do. Unknown or missing fields are tolerated so a newer catalog never breaks an older app.

Gemma 4's MTP assistants (small drafters that guess tokens ahead for their model to check) are
listed once each under ``assistants`` and paired with models by id: one assistant serves every
quantization of its model, and it is downloaded, on request, next to the model file that it
drafts for (``app.gguf.drafters`` finds it there).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.core.resources import resource
from app.library.hub_file import HubFile

CATALOG_FILE = resource("catalog.json")


@dataclass(frozen=True)
class CatalogFile:
    name: str
    size: int | None = None
    sha256: str | None = None


@dataclass(frozen=True)
class CatalogAssistant:
    id: str
    display_name: str
    repo_id: str
    revision: str | None
    file: CatalogFile
    source: str = ""


@dataclass(frozen=True)
class CatalogEntry:
    id: str
    display_name: str
    size: str  # "E2B", "E4B", "12B", "26B A4B", "31B"
    quantization: str
    publisher: str
    repo_id: str
    revision: str | None
    context_length: int
    capabilities: tuple[str, ...]
    model: CatalogFile
    projector: CatalogFile | None
    parameters: str = ""
    notes: dict[str, Any] = field(default_factory=dict)
    assistant: CatalogAssistant | None = None

    @property
    def download_size(self) -> int | None:
        sizes = [self.model.size, self.projector.size if self.projector else 0]
        return None if any(s is None for s in sizes) else sum(s or 0 for s in sizes)

    def hub_files(self) -> tuple[HubFile, HubFile | None]:
        revision = self.revision or "main"

        def hub(file: CatalogFile) -> HubFile:
            return HubFile(self.repo_id, file.name, revision=revision, sha256=file.sha256, size=file.size)

        return hub(self.model), hub(self.projector) if self.projector else None


def _file(data: Any) -> CatalogFile | None:
    if not isinstance(data, dict) or not data.get("name"):
        return None
    size = data.get("size")
    sha = data.get("sha256")
    return CatalogFile(
        str(data["name"]),
        int(size) if isinstance(size, int) else None,
        str(sha).lower() if isinstance(sha, str) and len(sha) == 64 else None,
    )


def _revision(value: Any) -> str | None:
    return str(value) if isinstance(value, str) and value else None


def _assistants(data: dict[str, Any]) -> dict[str, CatalogAssistant]:
    found: dict[str, CatalogAssistant] = {}
    items = data.get("assistants")
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict):
            continue
        file = _file(item.get("file"))
        if file is None or not item.get("repo_id") or not item.get("id"):
            continue
        found[str(item["id"])] = CatalogAssistant(
            id=str(item["id"]),
            display_name=str(item.get("display_name") or item["id"]),
            repo_id=str(item["repo_id"]),
            revision=_revision(item.get("revision")),
            file=file,
            source=str(item.get("source", "")),
        )
    return found


def parse_catalog(data: dict[str, Any]) -> list[CatalogEntry]:
    entries: list[CatalogEntry] = []
    assistants = _assistants(data)
    for item in data.get("models", []):
        files = item.get("files") or {}
        model = _file(files.get("model"))
        if model is None or not item.get("repo_id") or not item.get("id"):
            continue  # an entry we cannot download is not shown
        entries.append(
            CatalogEntry(
                id=str(item["id"]),
                display_name=str(item.get("display_name") or item["id"]),
                size=str(item.get("size", "")),
                quantization=str(item.get("quantization", "")),
                publisher=str(item.get("publisher", "")),
                repo_id=str(item["repo_id"]),
                revision=_revision(item.get("revision")),
                context_length=int(item.get("context_length") or 0),
                capabilities=tuple(str(c) for c in item.get("capabilities", ["text"])),
                model=model,
                projector=_file(files.get("projector")),
                parameters=str(item.get("parameters", "")),
                notes={"source": item.get("source", "")},
                assistant=assistants.get(str(item.get("assistant", ""))),
            )
        )
    return entries


def load_catalog(path: Path = CATALOG_FILE) -> list[CatalogEntry]:
    """Read the catalog; a missing or damaged file gives an empty catalog, never a crash."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    return parse_catalog(data) if isinstance(data, dict) else []
