"""Files shipped inside the package (the model catalog, the icon), found wherever Hearth runs
from: a source checkout, an installed wheel or a frozen bundle."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path


def resource(*parts: str) -> Path:
    """The path of ``app/resources/<parts>`` as installed (not zipped: Hearth never is)."""
    return Path(str(files("app").joinpath("resources", *parts)))
