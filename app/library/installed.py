"""The models on this computer: downloads in the models folder, files the user imported, and
GGUFs already in the standard Hugging Face cache. Scanning reads files, so call it off the UI
thread."""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.gguf.drafters import MTP_ARCHITECTURE, assistant_for
from app.gguf.manifest import manifest_path, read_manifest
from app.gguf.projectors import find_projector, projector_for, projector_info
from app.gguf.reader import GGUFError, GGUFInfo, read_gguf_info
from app.library.catalog import CatalogEntry
from app.library.jobs import assistant_folder

REGISTRY_NAME = "models.json"


@dataclass(frozen=True)
class InstalledModel:
    path: Path
    projector: Path | None
    name: str
    architecture: str
    context_length: int
    size_bytes: int  # model and projector together
    vision: bool
    audio: bool
    source: str  # "downloaded", "imported" or "huggingface-cache"
    last_used: float  # 0 if never


class ModelRegistry:
    """Remembers imported models and when each model was last used (a small JSON file)."""

    def __init__(self, data_dir: Path) -> None:
        self._path = Path(data_dir) / REGISTRY_NAME

    def _read(self) -> dict[str, Any]:
        try:
            data = json.loads(self._path.read_text(encoding="utf-8"))
            return data if isinstance(data, dict) else {}
        except (OSError, ValueError):
            return {}

    def _write(self, data: dict[str, Any]) -> None:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self._path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=2), encoding="utf-8")
        os.replace(tmp, self._path)

    def imported(self) -> list[tuple[Path, Path | None]]:
        items = self._read().get("imported", [])
        return [
            (Path(i["model"]), Path(i["projector"]) if i.get("projector") else None)
            for i in items
            if isinstance(i, dict) and i.get("model")
        ]

    def add_import(self, model: Path, projector: Path | None) -> None:
        data = self._read()
        items = [i for i in data.get("imported", []) if i.get("model") != str(model)]
        items.append({"model": str(model), "projector": str(projector) if projector else None})
        data["imported"] = items
        self._write(data)

    def forget(self, model: Path) -> None:
        data = self._read()
        data["imported"] = [i for i in data.get("imported", []) if i.get("model") != str(model)]
        data.get("last_used", {}).pop(str(model), None)
        self._write(data)

    def record_use(self, model: Path) -> None:
        data = self._read()
        data.setdefault("last_used", {})[str(model)] = time.time()
        self._write(data)

    def last_used(self) -> dict[str, float]:
        used = self._read().get("last_used", {})
        return {k: float(v) for k, v in used.items()} if isinstance(used, dict) else {}


def _is_model(path: Path) -> GGUFInfo | None:
    if "mmproj" in path.name.lower() or path.name.endswith(".part"):
        return None
    try:
        info = read_gguf_info(path)
    except (OSError, GGUFError):
        return None
    # An MTP assistant only drafts for its model: it is listed with it, not as a model.
    return None if info.architecture in ("", "clip", MTP_ARCHITECTURE) or info.is_truncated else info


def _describe(
    path: Path, projector: Path | None, source: str, last_used: dict[str, float], title: str = ""
) -> InstalledModel | None:
    info = _is_model(path)
    if info is None:
        return None
    abilities = projector_info(projector) if projector else None
    size = info.file_size + (projector.stat().st_size if projector and projector.exists() else 0)
    return InstalledModel(
        path=path,
        projector=projector,
        name=title or info.name,
        architecture=info.architecture,
        context_length=info.context_length,
        size_bytes=size,
        vision=bool(abilities and abilities.vision),
        audio=bool(abilities and abilities.audio),
        source=source,
        last_used=last_used.get(str(path), 0.0),
    )


def hf_cache_ggufs() -> list[Path]:
    """GGUF files in the Hugging Face cache (what other apps and `hf download` fetched)."""
    try:
        from huggingface_hub import scan_cache_dir

        cache = scan_cache_dir()
    except Exception:  # no cache, or one written by another version: nothing to offer
        return []
    found: list[Path] = []
    for repo in cache.repos:
        for revision in repo.revisions:
            found.extend(f.file_path for f in revision.files if f.file_name.lower().endswith(".gguf"))
    return found


def scan_installed(
    models_dir: Path, registry: ModelRegistry, include_hf_cache: bool = True
) -> list[InstalledModel]:
    """Every usable model, most recently used first. Slow on big folders: not for the UI thread."""
    last_used = registry.last_used()
    seen: set[Path] = set()
    result: list[InstalledModel] = []

    def add(path: Path, projector: Path | None, source: str, title: str = "") -> None:
        resolved = path.resolve()
        if resolved in seen or not path.is_file():
            return
        seen.add(resolved)
        model = _describe(path, projector, source, last_used, title)
        if model is not None:
            result.append(model)

    if models_dir.is_dir():
        for path in sorted(models_dir.rglob("*.gguf")):
            recorded = read_manifest(path)
            add(path, projector_for(path), "downloaded", recorded.title if recorded else "")
    for path, projector in registry.imported():
        add(path, projector or find_projector(path), "imported")
    if include_hf_cache:
        for path in hf_cache_ggufs():
            add(path, find_projector(path), "huggingface-cache")
    result.sort(key=lambda m: (-m.last_used, m.name.lower()))
    return result


def installed_assistant(entry: CatalogEntry, models_dir: Path) -> Path | None:
    """The MTP assistant the catalog pairs with ``entry``, if it is downloaded (beside the entry's
    model). One ``stat``."""
    if entry.assistant is None:
        return None
    path = assistant_folder(models_dir, entry.repo_id, entry.model.name) / entry.assistant.file.name
    try:
        return path if path.is_file() and path.stat().st_size > 0 else None
    except OSError:
        return None


def installed_assistants(entries: list[CatalogEntry], models_dir: Path) -> dict[str, Path]:
    """Catalog entry id -> its downloaded MTP assistant (``installed_assistant``)."""
    found = {entry.id: installed_assistant(entry, models_dir) for entry in entries}
    return {entry_id: path for entry_id, path in found.items() if path is not None}


def delete_installed(model: InstalledModel, others: list[InstalledModel]) -> list[Path]:
    """Delete a downloaded model's files (its projector and MTP assistant too unless another model
    uses them). Imported and cached files are only forgotten, never deleted: they are the user's.
    Reads the headers of files beside the model: not for the UI thread."""
    removed: list[Path] = []
    if model.source != "downloaded":
        return removed
    rest = [o for o in others if o.path != model.path]
    targets = [model.path, manifest_path(model.path)]
    if model.projector and not any(o.projector == model.projector for o in rest):
        targets.append(model.projector)
    assistant = assistant_for(model.path)
    if assistant is not None and not any(
        o.path.parent in (assistant.parent, assistant.parent.parent) and assistant_for(o.path) == assistant
        for o in rest
    ):
        targets += [assistant, manifest_path(assistant)]
    for target in targets:
        try:
            target.unlink()
            removed.append(target)
        except FileNotFoundError:
            continue
    return removed
