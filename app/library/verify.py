"""Checking a downloaded file against the digest the Hub (or the catalog) promises."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
GIT_SHA1_RE = re.compile(r"^[0-9a-f]{40}$")
HASH_CHUNK = 4 * 1024 * 1024


class HashInterrupted(Exception):
    """Hashing stopped because the caller asked to stop."""


@dataclass(frozen=True)
class ExpectedDigest:
    """What the finished file must hash to.

    LFS files (every GGUF) are named by their sha256. Small files kept in git are named by their git
    blob id, a sha1 over ``b"blob <size>\\0" + content``, which is checked the same way.
    """

    algorithm: str  # "sha256" or "git-sha1"
    value: str

    @classmethod
    def from_etag(cls, etag: str | None) -> ExpectedDigest | None:
        etag = (etag or "").lower()
        if SHA256_RE.match(etag):
            return cls("sha256", etag)
        if GIT_SHA1_RE.match(etag):
            return cls("git-sha1", etag)
        return None


def file_digest(
    path: Path,
    algorithm: str,
    *,
    should_stop: Callable[[], bool] = lambda: False,
    on_progress: Callable[[int, int], None] | None = None,
) -> str:
    """Hash ``path`` in chunks, checking ``should_stop`` between chunks (large models take a while)."""
    size = path.stat().st_size
    git_blob = algorithm == "git-sha1"
    hasher = hashlib.sha1(f"blob {size}\0".encode()) if git_blob else hashlib.new(algorithm)
    done = 0
    with path.open("rb") as source:
        while chunk := source.read(HASH_CHUNK):
            if should_stop():
                raise HashInterrupted
            hasher.update(chunk)
            done += len(chunk)
            if on_progress is not None:
                on_progress(done, size)
    return hasher.hexdigest()
