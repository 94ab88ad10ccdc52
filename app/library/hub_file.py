"""A file on the Hugging Face Hub, as the catalog names it: plain data, so reading the catalog
never loads the Hub client (the Models window opens at first start, before any download)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class HubFile:
    """A file to download. ``sha256`` and ``size`` come from the catalog when it knows them; the
    Hub's own values are used otherwise."""

    repo_id: str
    filename: str
    revision: str = "main"
    sha256: str | None = None
    size: int | None = None
