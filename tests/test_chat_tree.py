"""Branches and search in real SQLite: edited questions and regenerated answers are kept as
alternatives, the branch on show is a path through them, and every message can be found."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from app.storage.chats import ChatStore
from app.storage.db import open_database
from app.storage.search import MATCH_END, MATCH_START, fts_query


@pytest.fixture
def store(tmp_path) -> Iterator[ChatStore]:
    store = ChatStore(open_database(tmp_path / "chats.sqlite3"))
    yield store
    store.close()


def contents(store: ChatStore, chat_id: int) -> list[str]:
    return [m.content for m in store.messages(chat_id)]


def test_an_edited_question_is_a_new_branch_and_the_old_one_is_kept(store):
    chat = store.create_conversation()
    question = store.add_message(chat.id, "user", "What is 2+2?")
    store.add_message(chat.id, "assistant", "4")
    store.add_message(chat.id, "user", "And 3+3?")
    store.add_message(chat.id, "assistant", "6")

    edited = store.add_message(chat.id, "user", "What is 2+3?", parent_id=question.parent_id)
    answer = store.add_message(chat.id, "assistant", "5")
    assert contents(store, chat.id) == ["What is 2+3?", "5"]
    assert store.siblings([edited.id, answer.id]) == {
        edited.id: (question.id, edited.id),
        answer.id: (answer.id,),
    }

    # Back to the first question: its branch shows again up to where it ended.
    store.show_branch(chat.id, question.id)
    assert contents(store, chat.id) == ["What is 2+2?", "4", "And 3+3?", "6"]
    store.show_branch(chat.id, edited.id)
    assert contents(store, chat.id) == ["What is 2+3?", "5"]


def test_a_regenerated_answer_is_an_alternative_of_the_first(store):
    chat = store.create_conversation()
    question = store.add_message(chat.id, "user", "Name a colour")
    first = store.add_message(chat.id, "assistant", "Red")
    second = store.add_message(chat.id, "assistant", "Blue", parent_id=question.id)
    assert contents(store, chat.id) == ["Name a colour", "Blue"]
    assert store.siblings([second.id])[second.id] == (first.id, second.id)
    assert store.get_conversation(chat.id).leaf_id == second.id


def test_deleting_one_message_keeps_what_followed_it(store):
    chat = store.create_conversation()
    store.add_message(chat.id, "user", "one")
    middle = store.add_message(chat.id, "assistant", "two")
    store.add_message(chat.id, "user", "three")
    store.delete_message(middle.id)
    assert contents(store, chat.id) == ["one", "three"]
    last = store.messages(chat.id)[-1]
    store.delete_message(last.id)  # the end of the branch: the branch now ends before it
    assert contents(store, chat.id) == ["one"]
    assert store.get_conversation(chat.id).leaf_id == store.messages(chat.id)[-1].id


def test_delete_from_a_message_takes_its_whole_subtree_and_nothing_else(store):
    chat = store.create_conversation()
    question = store.add_message(chat.id, "user", "q")
    answer = store.add_message(chat.id, "assistant", "a")
    store.add_message(chat.id, "user", "later")
    other = store.add_message(chat.id, "assistant", "other answer", parent_id=question.id)
    store.show_branch(chat.id, answer.id)
    store.delete_messages_from(answer.id)
    assert contents(store, chat.id) == ["q"]
    store.show_branch(chat.id, other.id)
    assert contents(store, chat.id) == ["q", "other answer"]


def test_search_finds_words_across_chats_with_highlighted_snippets(store):
    trip = store.create_conversation()
    store.add_message(trip.id, "user", "Plan a hiking trip to the Pyrenees in June")
    answer = store.add_message(trip.id, "assistant", "")
    store.update_message(answer.id, content="Start in Gavarnie; the cirque is stunning in early summer.")
    code = store.create_conversation()
    store.add_message(code.id, "user", "How do I read a CSV file with pandas?")

    hits = store.search("pyrenees")
    assert [(h.conversation_id, h.role, h.title) for h in hits] == [
        (trip.id, "user", "Plan a hiking trip to the Pyrenees in June")
    ]
    assert f"{MATCH_START}Pyrenees{MATCH_END}" in hits[0].snippet
    # The streamed answer is indexed as it was saved; words are matched while being typed.
    assert [h.message_id for h in store.search("gavarn")] == [answer.id]
    assert [h.conversation_id for h in store.search("csv pandas")] == [code.id]
    assert store.search("csv", conversation_id=trip.id) == []
    # Quotes, operators and punctuation are words to find, never a broken query.
    assert store.search('"NEAR( OR * -') == []
    assert [h.message_id for h in store.search("CSV-file?")] == [store.messages(code.id)[0].id]
    store.delete_conversation(code.id)
    assert store.search("pandas") == []


def test_queries_quote_every_word():
    assert fts_query("hello world") == '"hello" "world"*'
    assert fts_query("hello ") == '"hello"'
    assert fts_query("answer 20:") == '"answer" "20"'  # a finished word is not a prefix
    assert fts_query("...") == ""


def test_a_deleted_message_comes_back_where_it_was(store, tmp_path):
    chat = store.create_conversation()
    store.add_message(chat.id, "user", "one")
    middle = store.add_message(chat.id, "assistant", "two")
    store.add_message(chat.id, "user", "three")
    before = store.messages(chat.id)
    removed = store.delete_message(middle.id)
    assert removed is not None and contents(store, chat.id) == ["one", "three"]
    assert store.search("two") == []
    store.restore_message(removed)
    assert store.messages(chat.id) == before
    assert [h.message_id for h in store.search("two")] == [middle.id]


def test_the_end_of_a_long_branch_is_read_without_the_rest(store):
    chat = store.create_conversation()
    ids = [store.add_message(chat.id, "user" if n % 2 == 0 else "assistant", f"m{n}").id for n in range(3000)]
    assert store.path_tail(ids[-1], ids[2990], limit=10_000) == ids[2990:]  # back to the start of memory
    assert store.path_tail(ids[-1], None, limit=25) == ids[-25:]  # or as far as the limit
    assert store.pinned_before(ids[2990]) == []
    store.set_pinned(ids[10], True)  # a question: its answer comes along
    store.set_pinned(ids[21], True)  # an answer: its question comes along
    assert store.pinned_before(ids[2990]) == [ids[10], ids[11], ids[20], ids[21]]
