"""Hearth's own copies of the images and sound clips sent with messages, named by content hash.

Every call here works on the disk, for seconds with a long recording or a slow disk: run them off
the UI thread.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from app.storage.faults import StorageError, StorageFault

log = logging.getLogger(__name__)

KINDS = ("image", "audio", "document")
BLOCK_SIZE = 1 << 20
TEMP_PREFIX = ".incoming-"
ORIGINAL_MARK = ".original"  # "<sha256>.original.jpg": the full picture a stored one came from
# A file written or reused this recently may be a copy still in progress, or an attachment on its
# way to the message that will refer to it: cleaning up leaves it for the next time.
RECENT_S = 600.0

_SUFFIX = re.compile(r"\.[a-z0-9]{1,16}")


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


class AttachmentError(ValueError):
    """An attachment could not be read or kept, in words for the user."""


@dataclass(frozen=True)
class StoredFile:
    kind: str  # "image" or "audio"
    path: Path  # the stored copy, inside the attachments folder
    name: str  # the original file name, for display
    size: int  # bytes
    sha256: str
    detail: int = 0  # a picture: the visual tokens it is sent at; 0: the chat's setting


class AttachmentFiles:
    """The attachments folder, laid out as ``<sha[:2]>/<sha><suffix>``: a photo sent twice is kept once,
    and the suffix keeps the format recognisable to the decoders and to people."""

    def __init__(self, folder: Path) -> None:
        self._folder = folder.absolute()

    def import_file(self, source: Path, kind: str, name: str | None = None) -> StoredFile:
        """Copy ``source`` in, hashing while it streams; ``name`` (the file's own by default) is shown."""
        name = name or source.name
        _check_kind(kind)
        try:
            reader = source.open("rb")
        except OSError as exc:
            raise _read_error(name, exc) from exc
        with reader:
            return self._store(_blocks(reader, name), kind, name, source.suffix or Path(name).suffix)

    def import_stream(
        self, reader: Readable, kind: str, name: str, suffix: str, sha256: str | None = None
    ) -> StoredFile:
        """Keep what ``reader`` holds (a member of an archive), hashed as it streams in. Given
        ``sha256``, content that does not match it is refused and nothing is kept."""
        _check_kind(kind)
        return self._store(_blocks(reader, name), kind, name, suffix, sha256)

    def stored_path(self, sha256: str, suffix: str) -> Path:
        """Where the file with this content and type is kept, whether or not it is there yet."""
        return self._folder / sha256[:2] / f"{sha256}{_clean_suffix(suffix)}"

    def import_bytes(self, data: bytes, kind: str, name: str, suffix: str) -> StoredFile:
        """Keep ``data`` (a recording, a pasted image) as a file of type ``suffix``, e.g. ``".wav"``."""
        _check_kind(kind)
        return self._store([data], kind, name, suffix)

    def keep_original(self, stored: StoredFile, source: Path) -> Path:
        """Keep ``source``, the full picture that ``stored`` was scaled down from, beside it for
        viewing; it goes when ``stored`` does."""
        target = stored.path.with_name(f"{stored.sha256}{ORIGINAL_MARK}{_clean_suffix(source.suffix)}")
        if not target.exists():
            partial = target.with_name(TEMP_PREFIX + target.name)
            try:
                shutil.copyfile(source, partial)
                os.replace(partial, target)
            except OSError as exc:
                with contextlib.suppress(OSError):
                    partial.unlink(missing_ok=True)
                raise _write_error(stored.name, exc, self._folder) from exc
        return target

    @staticmethod
    def original_of(path: Path) -> Path | None:
        """The full picture a stored one was scaled down from, if it was."""
        sha256 = path.name.split(".", 1)[0]
        return next(iter(sorted(path.parent.glob(f"{sha256}{ORIGINAL_MARK}*"))), None)

    def delete_unreferenced(self, referenced: set[Path]) -> int:
        """Delete the stored files not in ``referenced``, and temp files left by a crash; returns how many.

        Attachments waiting to be sent belong in ``referenced``. Files written or reused in the last
        ``RECENT_S`` seconds are kept, as an import may finish while this runs.
        """
        # Compared by name, which is the content hash: a data folder moved or reached through a
        # symlink must not lose every file because the paths saved with its messages differ.
        # An original kept beside a picture (``keep_original``) goes with it.
        keep = {path.name.split(".", 1)[0] for path in referenced}
        recent = time.time() - RECENT_S
        removed = 0
        for path in list(self._folder.glob("*/*")) + list(self._folder.glob(TEMP_PREFIX + "*")):
            try:
                name = path.name
                kept = not name.startswith(".") and name.split(".", 1)[0] in keep
                if kept or not path.is_file() or path.stat().st_mtime > recent:
                    continue
                path.unlink()
            except FileNotFoundError:  # removed meanwhile
                continue
            except OSError as exc:
                log.warning("Could not delete the unused attachment %s: %s", path, exc)
                continue
            removed += 1
            if path.parent != self._folder:
                with contextlib.suppress(OSError):  # other files are still in it
                    path.parent.rmdir()
        return removed

    def _store(
        self, blocks: Iterable[bytes], kind: str, name: str, suffix: str, expected: str | None = None
    ) -> StoredFile:
        try:
            self._folder.mkdir(parents=True, exist_ok=True)
            # Beside the final place, on the same file system, so the rename below is atomic.
            fd, temp_name = tempfile.mkstemp(prefix=TEMP_PREFIX, dir=self._folder)
        except OSError as exc:
            raise _write_error(name, exc, self._folder) from exc
        temp = Path(temp_name)
        digest, size = hashlib.sha256(), 0
        try:
            with open(fd, "wb") as out:
                for block in blocks:
                    digest.update(block)
                    out.write(block)
                    size += len(block)
                sha = digest.hexdigest()
                if expected is not None and sha != expected:
                    raise AttachmentError(f"{name} is not the file it should be (its sha256 differs).")
                target = self.stored_path(sha, suffix)
                duplicate = target.exists()
                if not duplicate:
                    # On disk before a name points at it, so a power cut never leaves a short file.
                    out.flush()
                    os.fsync(out.fileno())
            if duplicate:
                temp.unlink()
                # Fresh again, so a clean-up running meanwhile leaves it to the message about to use it.
                with contextlib.suppress(OSError):
                    os.utime(target)
            else:
                target.parent.mkdir(exist_ok=True)
                os.replace(temp, target)
                _sync_folder(target.parent)
        except BaseException as exc:
            with contextlib.suppress(OSError):
                temp.unlink(missing_ok=True)
            if isinstance(exc, OSError):
                raise _write_error(name, exc, self._folder) from exc
            raise
        return StoredFile(kind, target, name, size, sha)


def _blocks(reader: Readable, name: str) -> Iterator[bytes]:
    while True:
        try:
            block = reader.read(BLOCK_SIZE)
        except OSError as exc:
            raise _read_error(name, exc) from exc
        if not block:
            return
        yield block


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise AttachmentError(f"Hearth can only attach pictures, sounds and documents, not “{kind}”.")


def _clean_suffix(suffix: str) -> str:
    # The suffix comes from a user's file name: anything odd is dropped rather than put in a path.
    suffix = suffix.lower()
    return suffix if _SUFFIX.fullmatch(suffix) else ""


def _sync_folder(folder: Path) -> None:
    """Make a rename into ``folder`` durable. Best effort: Windows cannot open a folder for this,
    and some network file systems refuse it."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _read_error(name: str, exc: OSError) -> AttachmentError:
    return AttachmentError(f"{name} could not be read ({exc.strerror or exc}).")


def _write_error(name: str, exc: OSError, folder: Path) -> AttachmentError:
    problem = StorageError.from_exception(exc, folder if folder.exists() else None)
    if problem.fault is StorageFault.OTHER:
        return AttachmentError(f"{name} could not be saved ({exc.strerror or exc}).")
    return AttachmentError(
        f"Hearth could not keep {name} in its data folder because {problem.cause}. "
        f"{problem.remedy}, then attach it again."
    )
