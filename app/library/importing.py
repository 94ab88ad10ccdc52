"""Checking a local .gguf the user wants to import, and finding its projector. Qt-free; reads GGUF
headers, so call it off the UI thread."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from app.gguf.projectors import find_projector, projector_info
from app.gguf.reader import DamagedGGUFError, NotGGUFError, TruncatedGGUFError, read_gguf_info


class ImportProblem(Exception):
    """The file cannot be imported; the message says why, for the user."""


@dataclass(frozen=True)
class ImportCheck:
    model: Path
    name: str
    projector: Path | None  # found next to it, or the one the user chose


def check_import(model: Path, projector: Path | None = None, pair: bool = True) -> ImportCheck:
    """Validate ``model`` (a complete GGUF model, not a projector) and ``projector`` (if given);
    with ``pair`` and no projector given, look for one next to the model."""
    model = Path(model)
    try:
        info = read_gguf_info(model)
    except NotGGUFError as exc:
        raise ImportProblem(f"{model.name} is not a GGUF model file.") from exc
    except TruncatedGGUFError as exc:
        raise ImportProblem(f"{model.name} is incomplete: it looks like an unfinished download.") from exc
    except DamagedGGUFError as exc:
        raise ImportProblem(f"{model.name} is damaged ({exc}).") from exc
    except OSError as exc:
        raise ImportProblem(f"{model.name} could not be read: {exc.strerror or exc}.") from exc
    if info.architecture == "clip":
        raise ImportProblem(
            f"{model.name} is a projector (it gives a model eyes and ears), not a model. Import the model "
            "file and choose this one as its projector."
        )
    if info.is_truncated:
        raise ImportProblem(f"{model.name} is incomplete: it looks like an unfinished download.")
    if projector is not None:
        if projector_info(projector) is None:
            raise ImportProblem(f"{Path(projector).name} is not a projector (mmproj) file.")
    elif pair:
        projector = find_projector(model)
    return ImportCheck(model, info.name or model.stem, projector)
