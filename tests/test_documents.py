"""Documents with real files: PDFs read by PDFium (text pages, scanned pages, locked and damaged
files, a 2,000-page one), Word files (and a zip bomb dressed as one), HTML and text; passages of
a long document found for a question with their pages. Every refusal is in words."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from PIL import Image

from app.storage.document_text import MAX_PDF_PAGES, DocumentError, read_document
from app.storage.documents import DocumentLibrary, split_passages
from tests.pdf_maker import make_pdf, scan_jpeg, text_pages

TOPIC = "The ferry to Porto leaves from pier 9 at 07:15 every Tuesday."


def write(folder: Path, name: str, data: bytes | str) -> Path:
    path = folder / name
    path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
    return path


def docx(paragraphs: list[str]) -> bytes:
    body = "".join(f"<w:p><w:r><w:t>{text}</w:t></w:r></w:p>" for text in paragraphs)
    xml = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
        f"<w:body>{body}</w:body></w:document>"
    )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", xml)
    return out.getvalue()


def test_a_pdf_is_read_page_by_page_and_its_scans_are_noted(tmp_path):
    pdf = write(tmp_path, "letter.pdf", make_pdf([*text_pages(2), scan_jpeg(["Dear Ana,", "Invoice 4411"])]))
    text = read_document(pdf)
    assert text.format == "pdf" and len(text.pages) == 3 and text.total_pages == 3
    assert text.pages[1].startswith("Page 2 of the municipal report.") and text.scanned == [3]


def test_word_html_markdown_and_code_are_read(tmp_path):
    assert read_document(write(tmp_path, "plan.docx", docx(["Budget 2027", "Roads: 4 million"]))).pages == [
        "Budget 2027\nRoads: 4 million"
    ]
    page = (
        "<html><head><style>p{}</style><script>alert(1)</script></head>"
        "<body><h1>Title</h1><p>One &amp; two</p></body></html>"
    )
    assert read_document(write(tmp_path, "page.html", page)).pages == ["Title\n\nOne & two"]
    assert read_document(write(tmp_path, "notes.md", "# Notes\n\n- a\n")).pages == ["# Notes\n\n- a\n"]
    assert read_document(write(tmp_path, "main.py", "print('hé')\n")).format == "text"


@pytest.mark.parametrize(
    ("name", "data", "words"),
    [
        ("locked.pdf", make_pdf(text_pages(1), encrypted=True), "locked with a password"),
        ("broken.pdf", make_pdf(text_pages(2))[:900], "damaged or not really a PDF"),
        ("fake.pdf", b"GIF89a not a pdf at all", "damaged or not really a PDF"),
        ("photo.txt", bytes(range(256)) * 64, "is not a text file, whatever its name says"),
        ("latin.txt", bytes(range(128, 256)) * 64, "not UTF-8 text"),
        ("empty.docx", b"PK\x05\x06" + bytes(18), "has no text part"),
        ("fake.docx", b"just text", "not a Word document Hearth can read"),
    ],
)
def test_bad_documents_are_refused_in_words(tmp_path, name, data, words):
    with pytest.raises(DocumentError, match=words):
        read_document(write(tmp_path, name, data))


def test_a_word_file_that_is_a_zip_bomb_is_refused_before_it_is_unpacked(tmp_path):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("word/document.xml", b"<" + b"a" * (200 * 1024**2) + b"/>")
    bomb = write(tmp_path, "bomb.docx", out.getvalue())
    assert bomb.stat().st_size < 1024**2
    with pytest.raises(DocumentError, match=r"zip bomb|too large"):
        read_document(bomb)


def test_a_file_too_large_is_refused_by_its_size_without_reading_it(tmp_path):
    huge = tmp_path / "scan.pdf"
    with huge.open("wb") as file:
        file.truncate(300 * 1024**2)  # sparse: 300 MB on paper, nothing on disk
    with pytest.raises(DocumentError, match="is 300 MB; Hearth reads documents of up to 100 MB"):
        read_document(huge)


def test_a_2000_page_pdf_is_read_as_far_as_hearth_goes_and_says_so(tmp_path):
    pdf = write(tmp_path, "archive.pdf", make_pdf(text_pages(2000, words_per_page=20)))
    text = read_document(pdf)
    assert len(text.pages) == MAX_PDF_PAGES and text.total_pages == 2000
    assert text.note == "Hearth read the first 1,000 of its 2,000 pages."


def test_a_long_document_answers_with_the_passages_that_match_the_question(tmp_path):
    pdf = write(tmp_path, "report.pdf", make_pdf(text_pages(300, topic=TOPIC)))
    library = DocumentLibrary(tmp_path / "documents")
    prepared = library.prepare("ab" * 32, pdf, "report.pdf")
    assert prepared.tokens > 50_000 and prepared.scans == []
    found = library.passages("ab" * 32, "When does the ferry to Porto leave?", max_chars=4000)
    assert [p.page for p in found if TOPIC in p.text] == [200]
    assert sum(len(p.text) for p in found) <= 4000
    assert library.passages("ab" * 32, "?", 4000) == []


def test_scanned_pages_become_pictures_once(tmp_path):
    pdf = write(
        tmp_path, "letter.pdf", make_pdf([["Cover letter"], scan_jpeg(["Dear Ana,"]), scan_jpeg(["Page 3"])])
    )
    library = DocumentLibrary(tmp_path / "documents")
    prepared = library.prepare("cd" * 32, pdf, "letter.pdf", max_scans=1)
    ((page, picture),) = prepared.scans
    with Image.open(picture) as image:
        assert page == 2 and max(image.size) <= 2000 and image.size[1] > image.size[0]
    made = picture.stat().st_mtime_ns
    assert library.prepare("cd" * 32, pdf, "letter.pdf", max_scans=1).scans == [(2, picture)]
    assert picture.stat().st_mtime_ns == made


def test_passages_follow_paragraphs_and_never_cross_pages():
    from app.storage.document_text import DocumentText

    text = DocumentText("x.pdf", "pdf", ["A short one.\n\n" + "word " * 400, "Second page."])
    passages = split_passages(text)
    assert [p.page for p in passages] == [1, 1, 1, 2]  # the long paragraph is cut in two
    assert passages[0].text == "A short one." and passages[-1].text == "Second page."
    assert all(set(p.text.split()) == {"word"} for p in passages[1:3])  # cut between words
