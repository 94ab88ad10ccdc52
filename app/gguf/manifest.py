"""The manifest a download leaves beside its model (``<model file>.manifest.json``): the name to list
it under and the projector that came with it, which need not sit next to it or share its name.

Written last, so it is what marks a model and projector pair as installed.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MANIFEST_VERSION = 1
MANIFEST_SUFFIX = ".manifest.json"


@dataclass(frozen=True)
class Manifest:
    title: str
    projector: Path | None


def manifest_path(model: Path) -> Path:
    return model.with_name(model.name + MANIFEST_SUFFIX)


def read_manifest(model: Path) -> Manifest | None:
    """What a download recorded next to ``model``; None without a (readable) manifest."""
    try:
        data = json.loads(manifest_path(model).read_text(encoding="utf-8"))
        files = {f["role"]: Path(f["path"]) for f in data.get("files", []) if f.get("role")}
        # Paths in a manifest are relative to the folder the download went to, which is above the
        # model when the repo keeps it in a subfolder ("Q4/model.gguf").
        base = model
        for _part in files["model"].parts:
            base = base.parent
        projector = base / files["projector"] if "projector" in files else None
        title = str(data.get("title") or "")
    except (OSError, ValueError, AttributeError, KeyError, TypeError, RecursionError):
        return None  # RecursionError: JSON nested thousands deep
    return Manifest(title, projector)


def write_manifest(model: Path, title: str, files: list[dict[str, Any]]) -> Path:
    """Record ``files`` (each with its ``role`` and ``path`` relative to the download folder)
    atomically; raises OSError."""
    data = {"version": MANIFEST_VERSION, "installed_at": time.time(), "title": title, "files": files}
    target = manifest_path(model)
    scratch = target.with_name(target.name + ".tmp")
    scratch.write_text(json.dumps(data, indent=1), encoding="utf-8")
    os.replace(scratch, target)
    return target
