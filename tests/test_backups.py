"""Backups of the chat database and recovery from a damaged one, on real SQLite files: copies before
a migration and once a day, pruning, damaged files set aside and restored, full and read-only disks
(real tmpfs mounts), and the real app starting on a damaged database."""

from __future__ import annotations

import logging
import os
import random
import shutil
import sqlite3
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from app.core.paths import resolve_paths
from app.storage import db
from app.storage.backup import (
    KEEP_BEFORE_UPGRADE,
    KEEP_DAILY,
    Backup,
    BackupError,
    BackupKind,
    backups_folder,
    list_backups,
    passes_quick_check,
)
from app.storage.chats import ChatStore
from app.storage.daily_backup import DailyBackup
from app.storage.db import MIGRATIONS, open_database
from app.storage.recovery import CleanCloseMarker, OpenedDatabase, open_chat_database
from app.ui.application import Hearth, build

DAY = 24 * 3600
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


class FakeClock:
    """A clock that only moves when told: 1 Dec of this year at 10:30, local time."""

    def __init__(self) -> None:
        self.now = time.mktime((time.localtime().tm_year, 12, 1, 10, 30, 0, 0, 0, -1))

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def database(tmp_path) -> Path:
    return tmp_path / "data" / "hearth.sqlite3"


@pytest.fixture
def mount_tmpfs() -> Iterator[Callable[[Path, str], None]]:
    """Mount a real tmpfs (``mount -o OPTIONS``) on a folder for the test, unmounted after it."""
    mounted: list[Path] = []
    sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]

    def mount(folder: Path, options: str) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(
            [*sudo, "mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)],
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            pytest.fail(
                f"Mounting a tmpfs on {folder} failed ({done.stderr.strip()}): these tests need root or "
                "passwordless sudo, as on CI, to give SQLite a really full or read-only disk."
            )
        mounted.append(folder)

    yield mount
    for folder in reversed(mounted):
        subprocess.run([*sudo, "umount", str(folder)], check=True)


def add_chat(store: ChatStore, label: str, messages: int = 40) -> int:
    """A chat of ``messages`` messages of about 2 KB each, all starting with ``label``."""
    chat = store.create_conversation()
    store.rename_conversation(chat.id, label)
    words = random.Random(label).choices(["lamp", "tide", "rope", "gull", "fog", "keeper"], k=400)
    for number in range(messages):
        role = "user" if number % 2 == 0 else "assistant"
        store.add_message(chat.id, role, f"{label} {number}: " + " ".join(words))
    return chat.id


def add_old_chat(conn: sqlite3.Connection, label: str, messages: int = 40) -> None:
    """What the first schemas held (ChatStore writes the current one): a chat of ``messages``."""
    chat = conn.execute(
        "INSERT INTO conversations (title, created_at, updated_at) VALUES (?, 1, 1)", (label,)
    ).lastrowid
    for number in range(messages):
        conn.execute(
            "INSERT INTO messages (conversation_id, role, content, created_at, updated_at)"
            " VALUES (?, 'user', ?, 1, 1)",
            (chat, f"{label} {number}: " + "words " * 400),
        )


def contents(path: Path) -> set[str]:
    """Each message's label and number, read straight from the file."""
    conn = sqlite3.connect(path)
    try:
        return {row[0].split(":")[0] for row in conn.execute("SELECT content FROM messages")}
    finally:
        conn.close()


def labels(path: Path) -> set[str]:
    return {text.split()[0] for text in contents(path)}


def user_version(path: Path) -> int:
    conn = sqlite3.connect(path)
    try:
        return int(conn.execute("PRAGMA user_version").fetchone()[0])
    finally:
        conn.close()


def open_chats(database: Path, clock: FakeClock) -> tuple[OpenedDatabase, ChatStore]:
    return open_chat_database(database, lambda conn: ChatStore(conn, clock=clock), clock=clock)


def close(opened: OpenedDatabase, cleanly: bool = True) -> None:
    opened.connection.close()
    if cleanly:
        opened.marker.clear()


def daily_copy(database: Path, clock: FakeClock) -> Backup:
    result = DailyBackup(database, clock=clock).run()
    assert result.backup is not None, result.notice
    return result.backup


def described(moment: float) -> str:
    local = time.localtime(moment)
    return f"{local.tm_mday} {MONTHS[local.tm_mon - 1]} at {local.tm_hour:02d}:{local.tm_min:02d}"


# --- before a migration ---------------------------------------------------------------------------


def test_a_migration_first_makes_a_whole_copy_of_the_old_database(database, monkeypatch):
    monkeypatch.setattr(db, "MIGRATIONS", MIGRATIONS[:2])
    old = open_database(database)
    add_old_chat(old, "before-the-upgrade", messages=6)
    old.close()
    monkeypatch.undo()

    store = ChatStore(open_database(database))
    assert user_version(database) == len(MIGRATIONS)
    [copy] = list_backups(database)
    assert (copy.kind, copy.version) == (BackupKind.BEFORE_UPGRADE, 2)
    assert copy.path.parent == backups_folder(database) == resolve_paths(database.parents[1]).backups
    assert copy.path.name.startswith("hearth-") and copy.path.name.endswith("-v2-before-upgrade.sqlite3")
    assert passes_quick_check(copy.path)
    assert user_version(copy.path) == 2  # taken before the first migration ran
    assert labels(copy.path) == {"before-the-upgrade"}
    conn = sqlite3.connect(copy.path)
    assert conn.execute("SELECT count(*) FROM sqlite_master WHERE name = 'messages_fts'").fetchone() == (0,)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"  # stands alone, no -wal needed
    conn.close()
    assert [p.name for p in copy.path.parent.iterdir()] == [copy.path.name]  # no partial copy left
    store.close()


def test_a_new_or_current_database_is_not_copied(database):
    open_database(database).close()
    open_database(database).close()
    assert list_backups(database) == []
    assert not backups_folder(database).exists()


def test_only_the_last_upgrade_copies_are_kept(database, monkeypatch):
    steps = [*MIGRATIONS, "CREATE TABLE later (x);", "CREATE TABLE even_later (x);"]
    for count in range(1, len(steps) + 1):
        monkeypatch.setattr(db, "MIGRATIONS", steps[:count])
        open_database(database).close()
    copies = list_backups(database)
    assert [c.version for c in copies] == list(range(len(steps) - 1, 0, -1))[:KEEP_BEFORE_UPGRADE]


# --- once a day -----------------------------------------------------------------------------------


def test_the_daily_copy_runs_beside_a_writer_once_a_day_and_keeps_the_last_five(database, clock):
    opened, store = open_chats(database, clock)
    chat = add_chat(store, "first-day", messages=4)
    daily = DailyBackup(database, clock=clock)
    assert daily.due()

    # The chat is in the middle of a write on its own connection while the copy runs on a thread
    # with another: the copy neither waits for it nor includes it.
    opened.connection.execute("BEGIN IMMEDIATE")
    opened.connection.execute(
        "INSERT INTO messages (conversation_id, role, content, created_at, updated_at)"
        " VALUES (?, 'user', 'uncommitted: x', 0, 0)",
        (chat,),
    )
    results = []
    thread = threading.Thread(target=lambda: results.append(daily.run()))
    thread.start()
    thread.join(30)
    assert not thread.is_alive()
    opened.connection.execute("COMMIT")
    [result] = results
    assert result.backup is not None and result.notice is None
    assert result.backup.kind == BackupKind.DAILY and result.backup.taken_at == int(clock.now)
    assert passes_quick_check(result.backup.path)
    assert "uncommitted" not in contents(result.backup.path)
    assert labels(result.backup.path) == {"first-day"}

    clock.advance(23 * 3600)  # later the same day: no second copy
    assert not daily.due()
    assert daily.run().backup is None
    assert len(list_backups(database)) == 1

    taken = [result.backup.taken_at]
    for _ in range(KEEP_DAILY + 2):
        clock.advance(DAY + 60)
        add_chat(store, f"day-{len(taken)}", messages=2)
        taken.append(daily_copy(database, clock).taken_at)
    kept = list_backups(database)
    assert [c.taken_at for c in kept] == taken[::-1][:KEEP_DAILY]
    assert all(c.kind == BackupKind.DAILY for c in kept)
    close(opened)


def test_daily_pruning_leaves_upgrade_copies_and_stale_partial_copies_go(database, clock, monkeypatch):
    monkeypatch.setattr(db, "MIGRATIONS", MIGRATIONS[:3])
    store = ChatStore(open_database(database))
    add_chat(store, "old", messages=2)
    store.close()
    monkeypatch.undo()
    open_database(database).close()
    [upgrade_copy] = list_backups(database)
    left_over = backups_folder(database) / "hearth-2026-01-01T00-00-00Z-v4-daily.sqlite3.partial"
    left_over.write_bytes(b"half a copy from a run that died while writing it")
    os.utime(left_over, (clock.now - 2 * 3600, clock.now - 2 * 3600))

    for _ in range(KEEP_DAILY + 1):
        daily_copy(database, clock)
        clock.advance(DAY)
    assert upgrade_copy in list_backups(database)
    assert len([c for c in list_backups(database) if c.kind == BackupKind.DAILY]) == KEEP_DAILY
    assert not left_over.exists()


def test_an_empty_database_gets_no_daily_copy(database, clock):
    open_database(database).close()
    result = DailyBackup(database, clock=clock).run()
    assert (result.backup, result.notice) == (None, None)
    assert list_backups(database) == []


# --- damage ---------------------------------------------------------------------------------------


def garbage_in_the_middle(path: Path) -> None:
    size = path.stat().st_size
    with path.open("r+b") as file:
        file.seek(size // 2 // 4096 * 4096)
        file.write(random.Random(7).randbytes(8 * 4096))


def truncated(path: Path) -> None:
    with path.open("r+b") as file:
        file.truncate(path.stat().st_size // 2)


def not_a_database(path: Path) -> None:
    path.write_text("These are my holiday notes, saved over the wrong file.\n" * 100)


def history_with_a_copy(database: Path, clock: FakeClock, crash: bool) -> Backup:
    """Chats written before and after a daily copy; the last run crashed or closed cleanly."""
    opened, store = open_chats(database, clock)
    add_chat(store, "before-the-copy")
    copy = daily_copy(database, clock)
    clock.advance(3 * 3600)
    add_chat(store, "after-the-copy")
    close(opened, cleanly=not crash)
    return copy


@pytest.mark.parametrize(
    ("damage", "crash"),
    [(garbage_in_the_middle, True), (truncated, False), (not_a_database, False)],
    ids=["garbage-after-a-crash", "truncated", "not-a-database"],
)
def test_a_damaged_database_is_set_aside_and_the_newest_good_copy_restored(database, clock, damage, crash):
    copy = history_with_a_copy(database, clock, crash)
    damage(database)
    damaged_bytes = database.read_bytes()
    clock.advance(3600)

    opened, store = open_chats(database, clock)
    report = opened.report
    assert report.restored_from == copy
    assert report.damaged_file is not None and report.damaged_file.read_bytes() == damaged_bytes
    assert report.damaged_file.name.startswith("hearth.sqlite3.damaged-")
    assert report.notice == (
        f"Hearth's chat history was damaged. It was restored from the copy of {described(copy.taken_at)}; "
        f"anything after that is in the damaged file, kept as {report.damaged_file}."
    )
    assert described(copy.taken_at) == "1 Dec at 10:30"
    assert [c.title for c in store.list_conversations()] == ["before-the-copy"]
    add_chat(store, "after-the-restore", messages=2)  # the restored database works
    close(opened)
    assert passes_quick_check(database)
    assert labels(database) == {"before-the-copy", "after-the-restore"}
    assert copy.path.is_file()  # the copy itself stays for another day


def test_a_damaged_newest_copy_is_passed_over_for_an_older_good_one(database, clock):
    opened, store = open_chats(database, clock)
    add_chat(store, "day-one")
    first = daily_copy(database, clock)
    clock.advance(DAY)
    add_chat(store, "day-two")
    second = daily_copy(database, clock)
    close(opened, cleanly=False)
    garbage_in_the_middle(second.path)
    not_a_database(database)

    opened, store = open_chats(database, clock)
    assert opened.report.restored_from == first
    assert [c.title for c in store.list_conversations()] == ["day-one"]
    close(opened)


def test_with_no_good_copy_a_new_database_is_started_and_the_damaged_one_kept(database, clock):
    opened, store = open_chats(database, clock)
    add_chat(store, "lost")
    close(opened)
    not_a_database(database)
    damaged_bytes = database.read_bytes()

    opened, store = open_chats(database, clock)
    report = opened.report
    assert report.restored_from is None
    assert report.damaged_file is not None and report.damaged_file.read_bytes() == damaged_bytes
    assert report.notice == (
        "Hearth's chat history was damaged and no good copy of it was found, so Hearth started a new, "
        f"empty one. The damaged file is kept as {report.damaged_file}."
    )
    assert store.list_conversations() == []
    assert user_version(database) == len(MIGRATIONS)
    close(opened)


def test_the_damaged_files_wal_and_shm_are_set_aside_with_it(database, clock, tmp_path):
    # What a crash leaves: the main file, and a -wal holding the last commits with its -shm index.
    live = tmp_path / "live" / "hearth.sqlite3"
    opened, store = open_chats(live, clock)
    add_chat(store, "kept")
    daily_copy(live, clock)
    opened.connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    opened.connection.execute("PRAGMA wal_autocheckpoint=0")
    add_chat(store, "only-in-the-wal", messages=2)
    database.parent.mkdir()
    for suffix in ("", "-wal", "-shm"):
        shutil.copyfile(f"{live}{suffix}", f"{database}{suffix}")
    shutil.copytree(backups_folder(live), backups_folder(database))
    CleanCloseMarker(database).set()
    close(opened)
    wal_bytes = Path(f"{database}-wal").read_bytes()
    garbage_in_the_middle(database)
    damaged_bytes = database.read_bytes()

    opened, store = open_chats(database, clock)
    aside = opened.report.damaged_file
    assert aside is not None and aside.read_bytes() == damaged_bytes  # the check changed nothing
    assert Path(f"{aside}-wal").read_bytes() == wal_bytes
    assert Path(f"{aside}-shm").is_file()
    assert [c.title for c in store.list_conversations()] == ["kept"]
    close(opened)


def test_a_clean_close_skips_the_check_and_a_crash_does_not(database, clock, caplog):
    caplog.set_level(logging.INFO, logger="app.storage.recovery")
    opened, _ = open_chats(database, clock)
    assert opened.marker.left_behind()
    close(opened)
    assert not opened.marker.left_behind()
    opened, _ = open_chats(database, clock)
    assert "checking" not in caplog.text
    close(opened, cleanly=False)
    opened, _ = open_chats(database, clock)
    assert "Hearth did not close its chat database last time: checking" in caplog.text
    assert opened.report.notice is None
    close(opened)


def test_damage_found_by_the_daily_copy_is_repaired_at_the_next_start(database, clock):
    opened, store = open_chats(database, clock)
    add_chat(store, "good")
    good = daily_copy(database, clock)
    add_chat(store, "damaged-later", messages=60)
    close(opened)
    garbage_in_the_middle(database)  # unseen at start: the last run closed cleanly
    clock.advance(DAY)

    opened, _ = open_chats(database, clock)
    assert opened.report.notice is None
    result = DailyBackup(database, on_damage=opened.marker.check_next_start, clock=clock).run()
    assert result.damaged and result.backup is None
    assert result.notice is not None and "Close Hearth and start it again" in result.notice
    assert list_backups(database) == [good]  # the damaged copy pushed no good one out
    close(opened)  # cleanly, yet the next start checks the file
    assert opened.marker.left_behind()

    opened, store = open_chats(database, clock)
    assert opened.report.restored_from == good
    assert [c.title for c in store.list_conversations()] == ["good"]
    close(opened)


def test_a_damaged_database_is_not_migrated(database, clock, monkeypatch):
    monkeypatch.setattr(db, "MIGRATIONS", MIGRATIONS[:3])
    opened, store = open_chats(database, clock)
    add_chat(store, "at-v3")
    good = daily_copy(database, clock)
    add_chat(store, "more", messages=60)
    close(opened)
    garbage_in_the_middle(database)
    monkeypatch.undo()

    opened, store = open_chats(database, clock)
    assert opened.report.restored_from == good
    assert user_version(database) == len(MIGRATIONS)  # the good copy was migrated instead
    assert {c.version for c in list_backups(database) if c.kind == BackupKind.BEFORE_UPGRADE} == {3}
    assert all(passes_quick_check(c.path) for c in list_backups(database))
    close(opened)


# --- full and read-only disks -------------------------------------------------------------------


def test_a_daily_copy_on_a_full_disk_is_told_and_the_chats_still_open(database, clock, mount_tmpfs):
    opened, store = open_chats(database, clock)
    add_chat(store, "precious")
    close(opened)
    assert database.stat().st_size > 64 * 1024
    mount_tmpfs(backups_folder(database), "size=64k")

    result = DailyBackup(database, clock=clock).run()
    assert result.backup is None and not result.damaged
    assert result.notice == (
        "Hearth could not save today's copy of your chat history (the disk is full). "
        "Your chats are fine; Hearth tries again the next time it starts."
    )
    assert list(backups_folder(database).iterdir()) == []  # the partial copy was removed
    opened, store = open_chats(database, clock)
    add_chat(store, "still-writable", messages=2)
    assert {c.title for c in store.list_conversations()} == {"precious", "still-writable"}
    close(opened)


def test_a_daily_copy_into_a_read_only_folder_is_told(database, clock, mount_tmpfs):
    opened, store = open_chats(database, clock)
    add_chat(store, "precious", messages=2)
    close(opened)
    mount_tmpfs(backups_folder(database), "size=1m,ro")

    result = DailyBackup(database, clock=clock).run()
    assert result.backup is None
    assert result.notice is not None
    assert f"({backups_folder(database)} cannot be written to)" in result.notice


def test_an_upgrade_copy_that_does_not_fit_goes_beside_the_database(database, monkeypatch, mount_tmpfs):
    monkeypatch.setattr(db, "MIGRATIONS", MIGRATIONS[:2])
    conn = open_database(database)
    add_old_chat(conn, "old")
    conn.close()
    monkeypatch.undo()
    mount_tmpfs(backups_folder(database), "size=64k")

    told: list[str] = []
    store = ChatStore(open_database(database, on_backup_problem=told.append))
    assert user_version(database) == len(MIGRATIONS)
    [copy] = list_backups(database, [backups_folder(database), database.parent])
    assert copy.path.parent == database.parent and copy.version == 2
    assert passes_quick_check(copy.path) and labels(copy.path) == {"old"}
    assert told == [
        "Hearth could not save a copy of your chats in its backups folder (the disk is full), so the "
        f"copy made before updating them is in {database.parent} instead."
    ]
    store.close()


def test_with_no_room_for_a_copy_anywhere_the_database_is_not_migrated(
    database, tmp_path, monkeypatch, mount_tmpfs
):
    monkeypatch.setattr(db, "MIGRATIONS", MIGRATIONS[:2])
    conn = open_database(database)
    add_old_chat(conn, "old", messages=120)
    conn.close()
    monkeypatch.undo()
    before = database.read_bytes()
    # A disk with room for the database and SQLite's index of its log, but not for a second copy.
    data = tmp_path / "small-disk"
    mount_tmpfs(data, f"size={len(before) // 1024 + 96}k")
    database = Path(shutil.copy(database, data))

    with pytest.raises(BackupError, match=r"first saves a copy of it, but could not \(the disk is full\)"):
        open_database(database)
    assert user_version(database) == 2
    assert database.read_bytes() == before
    assert sorted(p.name for p in data.iterdir()) == ["backups", "hearth.sqlite3"]
    assert list(backups_folder(database).iterdir()) == []


# --- the real app ---------------------------------------------------------------------------------


@pytest.fixture
def start_app(qtbot, hearth_home):
    apps: list[Hearth] = []

    def start() -> Hearth:
        hearth = build(resolve_paths(hearth_home).ensure(), theme="light")
        qtbot.addWidget(hearth.window)
        apps.append(hearth)
        return hearth

    yield start
    for hearth in apps:
        hearth.shutdown()


def test_the_app_started_on_a_damaged_database_lists_the_restored_chats_and_says_so(
    start_app, hearth_home, clock
):
    database = resolve_paths(hearth_home).ensure().database
    opened, store = open_chats(database, clock)
    add_chat(store, "planning the garden")
    daily_copy(database, clock)
    clock.advance(3600)
    add_chat(store, "written after the copy")
    close(opened)
    truncated(database)

    hearth = start_app()
    listed = [
        hearth.window.list_model.index(row).data() for row in range(hearth.window.list_model.rowCount())
    ]
    assert listed == ["planning the garden"]
    notice = hearth.window.statusBar().currentMessage()
    assert notice.startswith(
        "Hearth's chat history was damaged. It was restored from the copy of 1 Dec at 10:30; anything after "
        f"that is in the damaged file, kept as {database}.damaged-"
    )
    assert len(list(database.parent.glob("hearth.sqlite3.damaged-*"))) == 1


def test_the_app_takes_the_daily_copy_on_another_thread_and_closes_cleanly(
    qtbot, start_app, hearth_home, clock, caplog
):
    caplog.set_level(logging.INFO, logger="app.storage.backup")
    database = resolve_paths(hearth_home).ensure().database
    opened, store = open_chats(database, clock)
    add_chat(store, "to-keep", messages=2)
    close(opened)

    hearth = start_app()
    assert hearth.window.isVisible()

    def copied() -> list[logging.LogRecord]:
        return [r for r in caplog.records if r.getMessage().startswith("Chat database backed up")]

    qtbot.waitUntil(lambda: bool(copied()), timeout=10_000)
    assert copied()[0].threadName.startswith("hearth-daily-backup")
    [copy] = list_backups(database)
    assert copy.kind == BackupKind.DAILY and labels(copy.path) == {"to-keep"}
    marker = CleanCloseMarker(database)
    assert marker.left_behind()
    hearth.shutdown()
    assert not marker.left_behind()
