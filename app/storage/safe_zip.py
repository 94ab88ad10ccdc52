"""A zip archive from anywhere, opened with suspicion: every entry is checked in the central
directory before anything is read (names, links, sizes, count, compression ratio), and each entry's
size is enforced again while it is read, as a directory can lie.

Nothing here extracts to a path: entries are only read, and only the entries asked for.
"""

from __future__ import annotations

import re
import stat
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO

from app.storage.archive_format import JSON_ENTRY, ArchiveError

MB = 1024**2


@dataclass(frozen=True)
class ArchiveLimits:
    max_entries: int = 200_000
    max_json_bytes: int = 256 * MB  # hearth.json
    max_entry_bytes: int = 512 * MB  # any other entry: a picture, a sound, a chat's Markdown
    max_total_bytes: int = 16 * 1024 * MB  # everything, unpacked
    # Text packs about 10:1 and pictures hardly at all; a zip bomb packs up to about 1000:1.
    max_ratio: float = 200.0
    ratio_floor: int = 1 * MB  # smaller entries may pack as tightly as they like: they stay small


_DRIVE = re.compile(r"^[A-Za-z]:")


def unsafe_name(name: str) -> str | None:
    """Why an entry's name could escape the folder it is unpacked into, or None if it cannot."""
    if "\\" in name or "\x00" in name:
        return "has a backslash in its name"
    if name.startswith("/") or _DRIVE.match(name):
        return "has an absolute path"
    if ".." in name.split("/"):
        return "points outside the archive (“..”)"
    return None


class CheckedZip:
    """A zip file whose directory passed every check; use as a context manager."""

    def __init__(self, path: Path, limits: ArchiveLimits | None = None) -> None:
        self._limits = limits or ArchiveLimits()
        try:
            self._zip = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, zlib.error, EOFError, ValueError) as exc:
            raise ArchiveError(f"{path.name} is not a zip archive, or it is damaged.") from exc
        except OSError as exc:
            raise ArchiveError(f"{path.name} could not be read ({exc.strerror or exc}).") from exc
        try:
            self.entries = self._check_directory()
        except BaseException:
            self._zip.close()
            raise

    def __enter__(self) -> CheckedZip:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._zip.close()

    def read(self, name: str) -> bytes:
        """The whole entry (small ones only: it is held in memory)."""
        with self.open(name) as reader:
            return reader.read()

    def open(self, name: str) -> _SizedReader:
        """A reader of the entry that fails, in words, once it gives more or fewer bytes than the
        directory says, or when the data is damaged."""
        info = self.entries[name]
        try:
            return _SizedReader(self._zip.open(info), info)
        except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError) as exc:
            raise _damaged(name) from exc

    def _check_directory(self) -> dict[str, zipfile.ZipInfo]:
        limits = self._limits
        infos = self._zip.infolist()
        if len(infos) > limits.max_entries:
            raise ArchiveError(
                f"The archive holds {len(infos):,} entries, more than Hearth imports "
                f"({limits.max_entries:,})."
            )
        entries: dict[str, zipfile.ZipInfo] = {}
        total = 0
        for info in infos:
            name = info.filename
            problem = unsafe_name(name)
            if problem:
                raise ArchiveError(f"The entry “{name}” {problem}: Hearth does not import such archives.")
            if stat.S_ISLNK(info.external_attr >> 16):
                raise ArchiveError(f"The entry “{name}” is a symbolic link: Hearth does not import links.")
            if name in entries:
                raise ArchiveError(f"The archive holds “{name}” twice.")
            if info.flag_bits & 0x1:
                raise ArchiveError(f"The entry “{name}” is encrypted: Hearth cannot read it.")
            limit = limits.max_json_bytes if name == JSON_ENTRY else limits.max_entry_bytes
            if info.file_size > limit:
                raise ArchiveError(
                    f"The entry “{name}” is too large ({_mb(info.file_size)}; the limit is {_mb(limit)})."
                )
            if info.file_size > limits.ratio_floor and info.file_size > info.compress_size * limits.max_ratio:
                raise ArchiveError(
                    f"The entry “{name}” unpacks to {_mb(info.file_size)} from "
                    f"{info.compress_size:,} bytes, as a zip bomb does: Hearth does not unpack it."
                )
            total += info.file_size
            if total > limits.max_total_bytes:
                raise ArchiveError(
                    f"The archive unpacks to more than {_mb(limits.max_total_bytes)}, "
                    "more than Hearth imports at once."
                )
            entries[name] = info
        return entries


class _SizedReader:
    """Reads one entry and holds it to the size its directory entry gave."""

    def __init__(self, reader: IO[bytes], info: zipfile.ZipInfo) -> None:
        self._reader = reader
        self._info = info
        self._read = 0

    def __enter__(self) -> _SizedReader:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._reader.close()

    def close(self) -> None:
        self._reader.close()

    def read(self, size: int = -1) -> bytes:
        expected = self._info.file_size
        # Never more than one byte past the declared size, whatever the caller asks for.
        wanted = expected - self._read + 1 if size < 0 else min(size, expected - self._read + 1)
        try:
            data = self._reader.read(wanted)
        except (zipfile.BadZipFile, zlib.error, EOFError, RuntimeError) as exc:
            raise _damaged(self._info.filename) from exc
        self._read += len(data)
        if self._read > expected or (not data and wanted > 0 and self._read != expected):
            raise _damaged(self._info.filename)
        if size < 0 and self._read != expected:
            raise _damaged(self._info.filename)
        return data


def _damaged(name: str) -> ArchiveError:
    return ArchiveError(f"The entry “{name}” is damaged, or is not the size the archive says.")


def _mb(count: int) -> str:
    return f"{count / MB:,.0f} MB" if count >= MB else f"{count:,} bytes"
