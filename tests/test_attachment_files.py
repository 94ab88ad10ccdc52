"""Attachment copies in a real folder: content addressing, streaming, failures that leave nothing."""

from __future__ import annotations

import errno
import hashlib
import os
import random
import time
import tracemalloc
from pathlib import Path

import pytest

from app.core.paths import resolve_paths
from app.storage.attachment_files import (
    BLOCK_SIZE,
    RECENT_S,
    AttachmentError,
    AttachmentFiles,
)


@pytest.fixture
def folder(tmp_path) -> Path:
    return tmp_path / "data" / "attachments"


@pytest.fixture
def files(folder) -> AttachmentFiles:
    return AttachmentFiles(folder)


def _write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def _age(*paths: Path) -> None:
    """Make files look written before the last clean-up's grace period."""
    long_ago = time.time() - RECENT_S - 60
    for path in paths:
        os.utime(path, (long_ago, long_ago))


def _everything_in(folder: Path) -> list[Path]:
    return sorted(path for path in folder.rglob("*") if path.is_file()) if folder.exists() else []


def test_the_app_paths_have_an_attachments_folder(tmp_path):
    paths = resolve_paths(tmp_path / "home").ensure()
    assert paths.attachments == paths.data / "attachments"
    assert paths.attachments.is_dir()


def test_identical_content_is_kept_once_under_its_hash(files, folder, tmp_path):
    data = b"\xff\xd8\xff a small jpeg"
    sha = hashlib.sha256(data).hexdigest()
    first = files.import_file(_write(tmp_path / "in" / "IMG_2041.JPG", data), "image")
    again = files.import_file(_write(tmp_path / "elsewhere" / "copy.jpg", data), "image", name="Holiday")

    assert first.path == again.path == folder.absolute() / sha[:2] / f"{sha}.jpg"
    assert first.path.read_bytes() == data
    assert (first.kind, first.name, first.size, first.sha256) == ("image", "IMG_2041.JPG", len(data), sha)
    assert (again.name, again.sha256) == ("Holiday", sha)
    assert _everything_in(folder) == [first.path]


def test_the_suffix_is_part_of_the_name_so_the_format_stays_recognisable(files, tmp_path):
    png = files.import_file(_write(tmp_path / "a.png", b"same"), "image")
    webp = files.import_file(_write(tmp_path / "a.webp", b"same"), "image")
    bare = files.import_file(_write(tmp_path / "README", b"same"), "image")
    assert (png.path.suffix, webp.path.suffix, bare.path.suffix) == (".png", ".webp", "")
    assert png.path.stem == webp.path.stem == bare.path.name == png.sha256


def test_a_big_file_streams_through_in_blocks(files, tmp_path):
    data = random.Random(7).randbytes(5 * 1024 * 1024 + 123)
    source = _write(tmp_path / "Recording 14:02.wav", data)
    tracemalloc.start()
    try:
        stored = files.import_file(source, "audio")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert stored.sha256 == hashlib.sha256(data).hexdigest()
    assert stored.size == len(data) and stored.path.read_bytes() == data
    assert peak < 3 * BLOCK_SIZE  # never the whole file in memory


def test_bytes_are_kept_like_a_file(files, folder):
    stored = files.import_bytes(b"RIFF....WAVE", "audio", "Recording 14:02", ".WAV")
    assert (stored.kind, stored.name, stored.size) == ("audio", "Recording 14:02", 12)
    assert stored.path.suffix == ".wav" and stored.path.read_bytes() == b"RIFF....WAVE"
    assert stored.path.parent.parent == folder.absolute()


@pytest.mark.parametrize("suffix", ["/../../escape", ".tar/../x", ". jpg", "." + "x" * 40])
def test_an_odd_suffix_is_dropped_and_never_leaves_the_folder(files, folder, suffix):
    stored = files.import_bytes(b"data", "image", "pasted", suffix)
    assert stored.path.name == stored.sha256
    assert stored.path.parent.parent == folder.absolute()


def test_only_pictures_sounds_and_documents_are_accepted(files, folder, tmp_path):
    with pytest.raises(AttachmentError, match="only attach pictures, sounds and documents"):
        files.import_file(_write(tmp_path / "clip.mp4", b"video"), "video")
    with pytest.raises(AttachmentError):
        files.import_bytes(b"", "text", "note", ".txt")
    assert not folder.exists()


def test_a_missing_source_is_told_in_words_and_leaves_nothing(files, folder, tmp_path):
    with pytest.raises(AttachmentError) as caught:
        files.import_file(tmp_path / "IMG_1.jpg", "image")
    assert str(caught.value) == "IMG_1.jpg could not be read (No such file or directory)."
    assert _everything_in(folder) == []


def test_a_folder_is_not_a_file(files, folder, tmp_path):
    (tmp_path / "Photos.jpg").mkdir()
    with pytest.raises(AttachmentError, match=r"^Photos\.jpg could not be read \("):
        files.import_file(tmp_path / "Photos.jpg", "image")
    assert _everything_in(folder) == []


def test_a_read_failing_midway_leaves_no_temp_file(files, folder, tmp_path, monkeypatch):
    source = _write(tmp_path / "IMG_1.jpg", b"x" * (3 * BLOCK_SIZE))
    real_open = Path.open

    class FailingReader:
        """A USB stick pulled out after the first block."""

        def __init__(self, path: Path) -> None:
            self._file = real_open(path, "rb")
            self._reads = 0

        def read(self, size: int) -> bytes:
            self._reads += 1
            if self._reads > 1:
                raise OSError(errno.EIO, os.strerror(errno.EIO))
            return self._file.read(size)

        def __enter__(self) -> FailingReader:
            return self

        def __exit__(self, *exc: object) -> None:
            self._file.close()

    monkeypatch.setattr(Path, "open", lambda path, mode="r": FailingReader(path))
    with pytest.raises(AttachmentError, match=r"^IMG_1\.jpg could not be read \(Input/output error\)\.$"):
        files.import_file(source, "image")
    assert _everything_in(folder) == []


@pytest.mark.parametrize("failing", ["fsync", "replace"])
def test_a_full_disk_is_told_in_words_and_leaves_nothing(files, folder, tmp_path, monkeypatch, failing):
    source = _write(tmp_path / "IMG_1.jpg", b"y" * (BLOCK_SIZE + 5))

    def no_space(*args: object) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, failing, no_space)
    with pytest.raises(AttachmentError) as caught:
        files.import_file(source, "image")
    assert str(caught.value) == (
        "Hearth could not keep IMG_1.jpg in its data folder because the disk is full. "
        "Free some space, then attach it again."
    )
    assert _everything_in(folder) == []

    monkeypatch.undo()
    assert files.import_file(source, "image").path.read_bytes() == source.read_bytes()


def test_a_folder_that_refuses_writing_is_told_in_words(files, folder, tmp_path, monkeypatch):
    def refused(*args: object) -> None:
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))

    monkeypatch.setattr(os, "replace", refused)
    with pytest.raises(AttachmentError, match=r"^Hearth could not keep clip .* because it is read-only\."):
        files.import_bytes(b"sound", "audio", "clip", ".ogg")
    assert _everything_in(folder) == []


def test_other_write_failures_say_what_went_wrong(files, folder, tmp_path, monkeypatch):
    def failed(*args: object) -> None:
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    monkeypatch.setattr(os, "replace", failed)
    with pytest.raises(AttachmentError, match=r"^clip could not be saved \(Input/output error\)\.$"):
        files.import_bytes(b"sound", "audio", "clip", ".ogg")
    assert _everything_in(folder) == []


def test_unreferenced_files_are_deleted_and_referenced_ones_kept(files, folder):
    kept = files.import_bytes(b"kept", "image", "kept.png", ".png")
    dropped = files.import_bytes(b"dropped", "image", "dropped.png", ".png")
    also_dropped = files.import_bytes(b"also dropped", "audio", "clip.wav", ".wav")
    _age(kept.path, dropped.path, also_dropped.path)

    assert files.delete_unreferenced({kept.path}) == 2
    assert _everything_in(folder) == [kept.path]
    assert not dropped.path.exists() and not also_dropped.path.exists()
    assert list(folder.iterdir()) == [kept.path.parent]  # emptied hash folders go too
    assert files.delete_unreferenced({kept.path}) == 0


def test_a_file_just_imported_or_reused_is_left_for_its_message(files, tmp_path):
    """An import can finish while the clean-up runs, before the file reaches any message."""
    new = files.import_bytes(b"new", "image", "new.png", ".png")
    old = files.import_bytes(b"old", "image", "old.png", ".png")
    _age(old.path)
    assert files.import_file(_write(tmp_path / "again.png", b"old"), "image").path == old.path
    assert files.delete_unreferenced(set()) == 0
    assert new.path.is_file() and old.path.is_file()


def test_a_moved_data_folder_keeps_its_files(files, folder):
    """Saved paths name the old place; the file names, which are the content hashes, still match."""
    stored = files.import_bytes(b"photo", "image", "photo.jpg", ".jpg")
    _age(stored.path)
    old_place = Path("/somewhere/else/attachments") / stored.path.relative_to(folder.absolute())
    assert files.delete_unreferenced({old_place}) == 0
    assert stored.path.is_file()


def test_temp_files_left_by_a_crash_are_deleted_once_old(files, folder):
    kept = files.import_bytes(b"kept", "image", "kept.png", ".png")
    fresh = _write(folder / ".incoming-fresh", b"a copy in progress")
    stale = _write(folder / ".incoming-stale", b"left by a crash")
    _age(kept.path, stale)
    assert files.delete_unreferenced({kept.path}) == 1
    assert fresh.exists() and not stale.exists() and kept.path.exists()


def test_cleaning_a_folder_never_used_does_nothing(files, folder):
    assert files.delete_unreferenced(set()) == 0
    assert not folder.exists()
