"""The stand-in hub's content: repos laid out as ``<root>/<repo_id>/<filename>``, with the commit,
etags and LFS metadata the real Hub reports for them."""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import dataclass, field
from pathlib import Path

LFS_SUFFIXES = (".gguf", ".bin", ".safetensors")
LFS_MIN_SIZE = 10 * 1024 * 1024


@dataclass(frozen=True)
class StoredFile:
    name: str
    location: Path
    size: int
    sha256: str
    lfs: bool

    @property
    def lfs_pointer(self) -> bytes:
        spec = "version https://git-lfs.github.com/spec/v1"
        return f"{spec}\noid sha256:{self.sha256}\nsize {self.size}\n".encode()

    @property
    def git_oid(self) -> str:
        """The git blob id: of the LFS pointer for LFS files, of the content for the others."""
        if self.lfs:
            return git_blob_sha1(self.lfs_pointer)
        return git_blob_sha1(self.location.read_bytes())

    @property
    def etag(self) -> str:
        return self.sha256 if self.lfs else self.git_oid


@dataclass
class Repo:
    repo_id: str
    files: dict[str, StoredFile] = field(default_factory=dict)
    gated_token: str | None = None

    @property
    def commit(self) -> str:
        """Fixed for given content, and different after any file changes, like a git commit."""
        digest = hashlib.sha1(self.repo_id.encode())
        for name in sorted(self.files):
            digest.update(f"{name}\0{self.files[name].etag}\0".encode())
        return digest.hexdigest()


def git_blob_sha1(data: bytes) -> str:
    return hashlib.sha1(f"blob {len(data)}\0".encode() + data).hexdigest()


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as source:
        while chunk := source.read(4 * 1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


class RepoStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.repos: dict[str, Repo] = {}

    def add(
        self, repo_id: str, filename: str, content: bytes | Path, *, gated_token: str | None = None
    ) -> StoredFile:
        """Publish ``content`` as ``filename`` in ``repo_id`` (creating the repo; a new commit).

        A ``Path`` is linked rather than copied, so serving a real model costs no disk space."""
        location = self.root / repo_id / filename
        location.parent.mkdir(parents=True, exist_ok=True)
        location.unlink(missing_ok=True)
        if isinstance(content, Path):
            try:
                location.symlink_to(content.resolve())
            except OSError:
                shutil.copyfile(content, location)
        else:
            location.write_bytes(content)
        return self._index(repo_id, filename, location, gated_token)

    def _index(self, repo_id: str, filename: str, location: Path, gated_token: str | None) -> StoredFile:
        size = location.stat().st_size
        lfs = filename.endswith(LFS_SUFFIXES) or size >= LFS_MIN_SIZE
        stored = StoredFile(filename, location, size, file_sha256(location), lfs)
        repo = self.repos.setdefault(repo_id, Repo(repo_id))
        repo.files[filename] = stored
        if gated_token is not None:
            repo.gated_token = gated_token
        return stored

    def scan(self) -> None:
        """Index files already laid out under the root (two folder levels make a repo id)."""
        for path in sorted(self.root.glob("*/*/**/*")):
            if path.is_file():
                parts = path.relative_to(self.root).parts
                repo_id, filename = "/".join(parts[:2]), "/".join(parts[2:])
                if filename not in self.repos.get(repo_id, Repo(repo_id)).files:
                    self._index(repo_id, filename, path, None)

    def by_sha256(self, sha256: str) -> StoredFile | None:
        for repo in self.repos.values():
            for stored in repo.files.values():
                if stored.sha256 == sha256:
                    return stored
        return None
