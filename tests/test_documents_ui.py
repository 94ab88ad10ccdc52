"""Documents in the real window with the real worker and the tiny Gemma 4: a dropped PDF shows
its pages and token count, its text (and its scanned page, as a picture at the most detail) goes
to the model with the question; a document longer than the context sends the passages that match
the question; a bad file is refused in words; a page an answer cites opens in a click."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from app.core.gemma4 import MAX_IMAGE_TOKENS
from app.core.paths import resolve_paths
from app.engine import protocol as p
from app.storage.chats import MessageStatus
from app.ui.application import Hearth, build
from tests.pdf_maker import make_pdf, scan_jpeg, text_pages
from tests.window_input import drop_files

TINY_GEMMA4 = Path(__file__).resolve().parent / "fixtures" / "tiny-gemma4.gguf"
TIMEOUT = 60_000
TOPIC = "The ferry to Porto leaves from pier 9 at 07:15 every Tuesday."


@pytest.fixture
def window_with_spy(qtbot, hearth_home, short_answers, monkeypatch):
    apps: list[Hearth] = []
    sent: list[tuple[list[p.ChatTurn], object]] = []

    def start() -> Hearth:
        hearth = build(resolve_paths(hearth_home).ensure(), model=str(TINY_GEMMA4), theme="light")
        qtbot.addWidget(hearth.window)
        apps.append(hearth)
        qtbot.waitUntil(lambda: hearth.supervisor.loaded_model is not None, timeout=TIMEOUT)
        controller = hearth.window.controller
        chat = hearth.window.current_id
        chosen = dataclasses.replace(controller.settings_for(chat), seed=3, max_tokens=8, tools=False)
        controller.set_chat_settings(chat, chosen, "")
        real = hearth.supervisor.generate

        def generate(request_id, messages, settings, *rest, **named):
            sent.append((messages, settings))
            real(request_id, messages, settings, *rest, **named)

        monkeypatch.setattr(hearth.supervisor, "generate", generate)
        return hearth

    yield start, sent
    for hearth in apps:
        hearth.shutdown()


def attach(qtbot, hearth: Hearth, paths: list[Path]) -> None:
    composer = hearth.window.composer
    before = len(composer.pending())
    drop_files(hearth.window, paths)
    qtbot.waitUntil(lambda: len(composer.pending()) == before + len(paths), timeout=TIMEOUT)


def ask(qtbot, hearth: Hearth, text: str) -> None:
    hearth.window.composer.set_text(text)
    hearth.window.composer.submit()
    qtbot.waitUntil(lambda: not hearth.window.controller.busy, timeout=TIMEOUT)


def test_a_pdf_with_a_scanned_page_goes_to_the_model_text_and_picture(qtbot, window_with_spy, tmp_path):
    start, sent = window_with_spy
    hearth = start()
    letter = tmp_path / "letter.pdf"
    letter.write_bytes(
        make_pdf([["Dear Ana,", "the invoice is attached."], scan_jpeg(["Invoice 4411", "Due: 1 March"])])
    )
    attach(qtbot, hearth, [letter])
    tile = hearth.window.composer.strip.tiles[0]
    assert tile.accessibleName() == "Document: letter.pdf"
    assert "2 pages · about 1,1" in tile.toolTip()  # the scan counts as a picture at full detail
    assert "Its 1 scanned page goes to the model as a picture." in tile.toolTip()

    ask(qtbot, hearth, "What does the letter say?")
    messages, _settings = sent[-1]
    question = messages[-1]
    assert question.content.startswith(
        "[Document “letter.pdf”, 2 pages. Its scanned page 2 is the picture above."
    )
    assert "--- page 1 ---\nDear Ana,\nthe invoice is attached." in question.content
    assert question.content.endswith("[End of “letter.pdf”]\n\nWhat does the letter say?")
    (scan,) = question.attachments
    assert scan.kind is p.MediaKind.IMAGE and scan.path.endswith("page-0002.png")
    assert scan.detail == MAX_IMAGE_TOKENS
    answer = hearth.store.messages(hearth.window.current_id)[-1]
    assert answer.status is MessageStatus.COMPLETE
    user = hearth.store.messages(hearth.window.current_id)[-2]
    assert [(a.kind, a.name) for a in user.attachments] == [("document", "letter.pdf")]
    assert hearth.window.chat_view.shown(user.id).tiles == ("letter.pdf",)

    # The chat's setting: no scanned pages read, and the model is told so.
    controller = hearth.window.controller
    chat = hearth.window.current_id
    controller.set_chat_settings(
        chat, dataclasses.replace(controller.settings_for(chat), scanned_pages=0), ""
    )
    ask(qtbot, hearth, "And now?")
    earlier = next(t for t in sent[-1][0] if t.id == user.id)
    assert (
        earlier.attachments == []
        and "1 page of it is a scan and not shown: they are not read" in earlier.content
    )


def test_a_long_document_sends_the_passages_for_each_question(qtbot, window_with_spy, tmp_path):
    start, sent = window_with_spy
    hearth = start()
    report = tmp_path / "report.pdf"
    report.write_bytes(make_pdf(text_pages(300, topic=TOPIC)))
    attach(qtbot, hearth, [report])
    tile = hearth.window.composer.strip.tiles[0]
    context = hearth.supervisor.loaded_model.context_length
    assert f"Too long to read whole in this chat's context ({context:,} tokens)" in tile.toolTip()

    ask(qtbot, hearth, "When does the ferry to Porto leave?")
    first = sent[-1][0][-1].content
    assert "its passages that match the question, with their pages" in first
    assert "--- page 200 ---" in first and TOPIC in first

    ask(qtbot, hearth, "Which pier does the ferry use?")  # a follow-up: passages for it too
    follow_up = sent[-1][0][-1].content
    assert "--- page 200 ---" in follow_up and follow_up.endswith("Which pier does the ferry use?")


def test_a_bad_document_is_refused_in_words_and_nothing_is_attached(qtbot, window_with_spy, tmp_path):
    start, _sent = window_with_spy
    hearth = start()
    locked = tmp_path / "locked.pdf"
    locked.write_bytes(make_pdf(text_pages(1), encrypted=True))
    notices: list[str] = []
    hearth.window.attachments.intake.refused.connect(notices.append)
    drop_files(hearth.window, [locked])
    qtbot.waitUntil(lambda: bool(notices), timeout=TIMEOUT)
    assert "“locked.pdf” is locked with a password" in notices[0]
    assert hearth.window.composer.pending() == []


def asked_about_a_report(qtbot, start, folder: Path) -> Hearth:
    """A chat with a 3-page PDF attached and asked about."""
    hearth = start()
    report = folder / "report.pdf"
    report.write_bytes(make_pdf(text_pages(3)))
    attach(qtbot, hearth, [report])
    ask(qtbot, hearth, "Summarise it.")
    return hearth


def test_a_cited_page_opens_in_a_click(qtbot, window_with_spy, tmp_path):
    start, _sent = window_with_spy
    hearth = asked_about_a_report(qtbot, start, tmp_path)
    answer = hearth.store.messages(hearth.window.current_id)[-1]
    hearth.store.update_message(answer.id, content="The plan is on [p. 2].")
    window = hearth.window
    window.show_conversation(window.current_id)
    view = window.chat_view
    assert view.shown(answer.id).text == "The plan is on [p. 2]."
    point = view.text_point(answer.id, 0, len("The plan is on [p"))
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=point)
    qtbot.waitUntil(lambda: getattr(window, "page_viewer", None) is not None, timeout=TIMEOUT)
    viewer = window.page_viewer
    assert viewer.where.text() == "report.pdf — page 2 of 3"
    qtbot.waitUntil(
        lambda: viewer.picture.pixmap() is not None and not viewer.picture.pixmap().isNull(), timeout=TIMEOUT
    )
    viewer.close()


def test_documents_whose_text_is_gone_are_prepared_again_at_start(qtbot, window_with_spy, tmp_path):
    import shutil

    start, _sent = window_with_spy
    hearth = asked_about_a_report(qtbot, start, tmp_path)
    (sha256, _path, _name), *_ = hearth.store.document_attachments()
    folder = hearth.window.attachments.documents.folder
    hearth.shutdown()
    shutil.rmtree(folder)  # e.g. a data folder restored from a copy of the database alone

    again = start()
    library = again.window.attachments.documents
    qtbot.waitUntil(lambda: (folder / sha256[:2] / sha256 / "text.json").is_file(), timeout=TIMEOUT)
    assert library.load(sha256).total_pages == 3
