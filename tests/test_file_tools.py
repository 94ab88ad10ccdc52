"""The file tools and chat search, on real files and a real chat database: only shared folders
are read, no path or link leads out of them, files that are not text are refused in words, and
what comes back is bounded."""

from __future__ import annotations

import os

import pytest

from app.core.paths import resolve_paths
from app.storage.chats import ChatStore
from app.storage.db import open_database
from app.tools.builtin import builtin_tools
from app.tools.context import ToolContext
from app.tools.registry import MAX_RESULT_CHARS

TOOLS = builtin_tools()


@pytest.fixture
def shared(tmp_path):
    root = tmp_path / "shared"
    (root / "notes").mkdir(parents=True)
    (root / "notes" / "trip.txt").write_text(
        "Flight JL 42\nHotel: Lisbon\nPack the charger\n", encoding="utf-8"
    )
    (root / "notes" / "todo.md").write_text("- book the hotel\n- call mum\n", encoding="utf-8")
    (root / "photo.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4)
    (root / "big.log").write_text("".join(f"line {n}\n" for n in range(50_000)), encoding="utf-8")
    secret = tmp_path / "secret.txt"
    secret.write_text("password=hunter2\n", encoding="utf-8")
    os.symlink(secret, root / "innocent.txt")
    os.symlink(tmp_path, root / "up")
    return ToolContext(conversation_id=1, folders=(root,)), root


def call(context, name, **arguments):
    return TOOLS.call(name, arguments, context)


def test_a_shared_file_is_read_a_window_of_lines_at_a_time(shared):
    context, root = shared
    result = call(context, "read_file", path="notes/trip.txt")
    assert result.ok and result.text.endswith("Flight JL 42\nHotel: Lisbon\nPack the charger")
    assert "(lines 1–3 of 3)" in result.text
    window = call(context, "read_file", path=str(root / "big.log"), start_line=1000, max_lines=2)
    assert window.ok and window.text.endswith("line 999\nline 1000") and "of 50000" in window.text


@pytest.mark.parametrize(
    "path",
    ["../secret.txt", "notes/../../secret.txt", "innocent.txt", "up/secret.txt", "/etc/passwd", "~/.bashrc"],
)
def test_no_path_or_link_leads_out_of_the_shared_folders(shared, path):
    context, _root = shared
    result = call(context, "read_file", path=path)
    assert not result.ok and "outside the folders shared in this chat" in result.text
    assert "hunter2" not in result.text


def test_without_a_shared_folder_nothing_is_read_and_the_model_is_told_why(shared):
    result = call(ToolContext(), "read_file", path="/etc/hostname")
    assert not result.ok and "No folder is shared with the model in this chat" in result.text


def test_a_binary_file_with_a_text_name_is_refused_in_words(shared):
    context, _root = shared
    result = call(context, "read_file", path="photo.txt")
    assert not result.ok and result.text == "read_file: “photo.txt” is not a text file."


def test_folders_are_listed_and_files_searched_within_bounds(shared):
    context, _root = shared
    listing = call(context, "list_folder", path=".")
    assert listing.ok
    for name in ('"notes/"', '"big.log"', '"photo.txt"'):
        assert name in listing.text
    found = call(context, "find_in_files", text="HOTEL")
    assert found.ok
    assert (
        "notes/todo.md:1: - book the hotel" in found.text and "notes/trip.txt:2: Hotel: Lisbon" in found.text
    )
    assert "hunter2" not in call(context, "find_in_files", text="password").text  # not through links
    many = call(context, "find_in_files", text="line", pattern="*.log")
    assert many.ok and many.text.startswith('{"note": "stopped at 100 matches"')
    assert len(many.text) <= MAX_RESULT_CHARS + 60  # the cut's own note


def test_other_chats_are_searched_through_the_full_text_index(hearth_home):
    paths = resolve_paths(hearth_home).ensure()
    store = ChatStore(open_database(paths.database))
    earlier = store.create_conversation()
    store.add_message(earlier.id, "user", "What was the name of the hotel in Lisbon?")
    store.add_message(earlier.id, "assistant", "You stayed at the Pestana Palace.")
    current = store.create_conversation()
    store.add_message(current.id, "user", "Lisbon again?")
    context = ToolContext(conversation_id=current.id, database=paths.database)
    result = call(context, "search_chats", query="lisbon hotel")
    assert result.ok and "What was the name of the hotel in Lisbon?" in result.text
    assert "Lisbon again?" not in result.text  # the chat that asks is not its own answer
    assert '"note": "no other chat matches"' in call(context, "search_chats", query="zebra").text
