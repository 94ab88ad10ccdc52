"""read_file, list_folder and find_in_files: the model reads the user's files, only inside the
folders the user shared with it in this chat.

Every path is resolved (``..`` and links followed) before it is checked, so no spelling of a path
and no link leads outside a shared folder. Files that are not text are refused in words, and what
is read is bounded: a tool never hands the model a whole disk."""

from __future__ import annotations

import fnmatch
import os
import time
from pathlib import Path
from typing import Any

from app.tools.context import ToolContext
from app.tools.registry import Tool, ToolError

MAX_READ_BYTES = 2 * 1024 * 1024  # read_file and find_in_files look at most this much of a file
DEFAULT_LINES = 400
MAX_ENTRIES = 300
MAX_MATCHES = 100
MAX_FILES_SEARCHED = 20_000
SEARCH_SECONDS = 8.0  # under the tool time limit: a search of a huge folder says where it stopped
_PROBE_BYTES = 8192


def resolve_inside(context: ToolContext, path: str) -> Path:
    """The real path ``path`` names inside one of the chat's shared folders (relative paths are
    taken from each shared folder in turn), or ``ToolError`` saying why not."""
    if not context.folders:
        raise ToolError(
            "No folder is shared with the model in this chat. The user can share one in the "
            "chat's settings (Folders the model may read)."
        )
    roots = [folder.resolve() for folder in context.folders]
    given = Path(os.path.expanduser(path.strip() or "."))
    candidates = [given] if given.is_absolute() else [root / given for root in roots]
    for candidate in candidates:
        real = candidate.resolve()
        if any(real == root or real.is_relative_to(root) for root in roots) and real.exists():
            return real
    for candidate in candidates:
        real = candidate.resolve()
        if not any(real == root or real.is_relative_to(root) for root in roots):
            raise ToolError(
                f"“{path}” is outside the folders shared in this chat ({_names(roots)}); "
                "links and .. cannot lead out of them."
            )
    raise ToolError(f"There is no “{path}” in the shared folders ({_names(roots)}).")


def read_file(context: ToolContext, path: str, start_line: int = 1, max_lines: int = DEFAULT_LINES) -> str:
    target = resolve_inside(context, path)
    if not target.is_file():
        raise ToolError(f"“{path}” is a folder, not a file: list it with list_folder.")
    lines = _text_lines(target)
    start = max(1, start_line)
    chosen = lines[start - 1 : start - 1 + max(1, min(max_lines, 2000))]
    if not chosen:
        return f"{target.name} has {len(lines)} lines; nothing from line {start} on."
    end = start + len(chosen) - 1
    header = f"{target} (lines {start}–{end} of {len(lines)})"
    return header + "\n" + "\n".join(chosen)


def list_folder(context: ToolContext, path: str = ".") -> dict[str, Any]:
    target = resolve_inside(context, path)
    if not target.is_dir():
        raise ToolError(f"“{path}” is a file, not a folder: read it with read_file.")
    entries: list[dict[str, Any]] = []
    with os.scandir(target) as scan:
        for entry in sorted(scan, key=lambda e: e.name.lower()):
            if len(entries) >= MAX_ENTRIES:
                break
            try:
                is_dir = entry.is_dir()
                size = 0 if is_dir else entry.stat().st_size
            except OSError:
                continue
            entries.append({"name": entry.name + ("/" if is_dir else ""), "bytes": size})
    total = sum(1 for _ in target.iterdir())
    return {"folder": str(target), "entries": entries, "shown": len(entries), "total": total}


def find_in_files(context: ToolContext, text: str, path: str = ".", pattern: str = "*") -> dict[str, Any]:
    """Lines holding ``text`` (any case) in the files under ``path`` whose names match ``pattern``,
    as ``file:line: text`` with the file relative to ``path``."""
    if not text.strip():
        raise ToolError("Say what text to look for.")
    root = resolve_inside(context, path)
    needle = text.lower()
    matches: list[str] = []
    searched = 0
    deadline = time.monotonic() + SEARCH_SECONDS
    stopped = ""
    for folder, dirs, files in os.walk(root):  # links to folders are not followed
        dirs.sort()
        for name in sorted(files):
            if not fnmatch.fnmatch(name, pattern):
                continue
            file = Path(folder) / name
            if file.is_symlink() and not _inside(context, file):
                continue
            searched += 1
            try:
                lines = _text_lines(file)
            except ToolError:
                continue  # not text
            shown = file.relative_to(root)
            matches += [
                f"{shown}:{n}: {line.strip()[:200]}"
                for n, line in enumerate(lines, 1)
                if needle in line.lower()
            ]
            if len(matches) >= MAX_MATCHES:
                stopped = f"stopped at {MAX_MATCHES} matches"
            elif searched >= MAX_FILES_SEARCHED or time.monotonic() > deadline:
                stopped = f"stopped after {searched} files"
            if stopped:
                break
        if stopped:
            break
    # The note first: a long result is cut at its end.
    result: dict[str, Any] = {"note": stopped} if stopped else {}
    result |= {"folder": str(root), "files_searched": searched, "matches": matches[:MAX_MATCHES]}
    return result


def _inside(context: ToolContext, path: Path) -> bool:
    try:
        resolve_inside(context, str(path))
    except ToolError:
        return False
    return True


def _text_lines(file: Path) -> list[str]:
    """The lines of a text file (at most ``MAX_READ_BYTES`` of it), or ``ToolError`` for a file
    that is not text, whatever its name says."""
    try:
        with file.open("rb") as stream:
            data = stream.read(MAX_READ_BYTES)
    except OSError as error:
        raise ToolError(f"“{file.name}” cannot be read: {error.strerror or error}") from None
    if b"\x00" in data[:_PROBE_BYTES]:
        raise ToolError(f"“{file.name}” is not a text file.")
    text = data.decode("utf-8", errors="replace")
    if text[:_PROBE_BYTES].count("\ufffd") > 8:
        raise ToolError(f"“{file.name}” is not a text file Hearth can read (not UTF-8).")
    return text.splitlines()


def _names(roots: list[Path]) -> str:
    return ", ".join(str(root) for root in roots)


_PATH = {"type": "string", "description": "a path inside a shared folder, or relative to it"}
READ_FILE = Tool(
    name="read_file",
    description="Read a text file from the folders the user shared in this chat, some lines at a time.",
    parameters={
        "type": "object",
        "properties": {
            "path": _PATH,
            "start_line": {"type": "integer", "description": "the first line to read (from 1)"},
            "max_lines": {"type": "integer", "description": "how many lines (at most 2000)"},
        },
        "required": ["path"],
    },
    function=read_file,
    reads_files=True,
    takes_context=True,
)
LIST_FOLDER = Tool(
    name="list_folder",
    description="List the files and folders in a folder the user shared in this chat.",
    parameters={"type": "object", "properties": {"path": _PATH}},
    function=list_folder,
    reads_files=True,
    takes_context=True,
)
FIND_IN_FILES = Tool(
    name="find_in_files",
    description="Find the lines holding some text (any case) in the files of the folders the user shared "
    "in this chat.",
    parameters={
        "type": "object",
        "properties": {
            "text": {"type": "string", "description": "the text to look for"},
            "path": _PATH,
            "pattern": {"type": "string", "description": "only files whose names match, e.g. *.md"},
        },
        "required": ["text"],
    },
    function=find_in_files,
    reads_files=True,
    takes_context=True,
)
