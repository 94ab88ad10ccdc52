"""How fast documents are made ready and searched: text extraction per page and the passage
index for a 300-page text PDF, one question's passage look-up, and how long the UI event loop
stalls while the real window takes the PDF in (dropped on it) and answers the look-up.
Prints one JSON object as its last line."""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from _harness import LoopGaps, wait_for
from PySide6.QtWidgets import QApplication

from app.core.paths import resolve_paths
from app.storage.document_text import read_document
from app.storage.documents import DocumentLibrary, split_passages
from app.ui.application import build
from tests.pdf_maker import make_pdf, text_pages
from tests.window_input import drop_files

QUESTION = "When does the ferry to Porto leave, and from which pier?"
TOPIC = "The ferry to Porto leaves from pier 9 at 07:15 every Tuesday."


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pages", type=int, default=300)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="hearth-bench-"))
    pdf = folder / "report.pdf"
    pdf.write_bytes(make_pdf(text_pages(args.pages, topic=TOPIC)))

    extract, index, retrieve = [], [], []
    for run in range(args.runs):
        started = time.perf_counter()
        text = read_document(pdf)
        extracted = time.perf_counter()
        library = DocumentLibrary(folder / f"documents-{run}")
        library.prepare("ab" * 32, pdf, pdf.name, read=text)
        indexed = time.perf_counter()
        extract.append((extracted - started) * 1000)
        index.append((indexed - extracted) * 1000)
        for _ in range(10):
            asked = time.perf_counter()
            found = library.passages("ab" * 32, QUESTION, 12_000)
            retrieve.append((time.perf_counter() - asked) * 1000)
        assert any(TOPIC in passage.text for passage in found), "the passage was not found"
    passages = len(split_passages(text))

    # The window takes the PDF in while a 1 ms timer measures the UI thread.
    app = QApplication([])
    hearth = build(resolve_paths(folder / "home").ensure(), theme="light")
    window = hearth.window
    window.resize(1280, 800)
    shown = time.perf_counter()
    wait_for(lambda: time.perf_counter() - shown > 1.5)  # the window's first paints are not this
    gaps = LoopGaps()
    gaps.start()
    drop_files(window, [pdf])
    wait_for(lambda: len(window.composer.pending()) == 1)
    stored = window.composer.pending()[0].stored
    for _ in range(20):
        window.attachments.documents.passages(stored.sha256, QUESTION, 12_000)
        app.processEvents()
    gaps.stop()
    hearth.shutdown()

    result = {
        "pages": args.pages,
        "passages": passages,
        "extract_ms_per_page": round(statistics.median(extract) / args.pages, 3),
        "index_ms": round(statistics.median(index), 1),
        "retrieve_ms": round(statistics.median(retrieve), 2),
        "retrieve_ms_max": round(max(retrieve), 2),
        "ui_max_stall_ms": round(max(gaps.gaps), 1),
        "ui_p99_stall_ms": round(sorted(gaps.gaps)[int(len(gaps.gaps) * 0.99)], 1),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
