"""``hearth --self-test --model PATH``: proof that an installed or frozen Hearth works end to end.

It starts the real worker the way the app does (the same executable, ``--worker``), loads the
model, generates a few tokens, and prints one line of JSON. It exits 0 only if all of that
worked, so a build pipeline can trust a bundle it never opened.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

from PySide6.QtCore import QCoreApplication, QTimer

from app import __version__
from app.core.generation import GenerationSettings
from app.engine import protocol as p
from app.ui.supervisor import WorkerSupervisor

DEADLINE_S = 300  # a cold disk and a big model load slowly, but never this slowly
QUESTION = "Say hello in one short sentence."
ANSWER_TOKENS = 8


def documents_work() -> bool | str:
    """True if PDFs can be read (PDFium's library is in place), else what went wrong."""
    import tempfile
    from pathlib import Path

    try:
        import pypdfium2 as pdfium

        from app.storage.document_text import read_document, render_page

        pdf = pdfium.PdfDocument.new()
        pdf.new_page(200, 300)
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "blank.pdf"
            with path.open("wb") as out:
                pdf.save(out)
            pdf.close()
            return read_document(path).total_pages == 1 and render_page(path, 1).startswith(b"\x89PNG")
    except Exception as error:  # anything here means a broken bundle, and the report says what
        return f"{type(error).__name__}: {error}"


def formats_work() -> bool | str:
    """True if a HEIC photo and an Opus voice note are taken (libheif and FFmpeg are in place)."""
    import tempfile
    from pathlib import Path

    try:
        import av
        import pillow_heif
        from PIL import Image

        from app.media.attachments import check_media

        pillow_heif.register_heif_opener()
        with tempfile.TemporaryDirectory() as folder:
            photo = Path(folder) / "photo.heic"
            Image.new("RGB", (64, 48), (200, 40, 40)).save(photo, "HEIF")
            note = Path(folder) / "note.opus"
            with av.open(str(note), "w", format="ogg") as out:
                stream = out.add_stream("libopus", rate=48_000, layout="mono")
                frame = av.AudioFrame(format="s16", layout="mono", samples=960)
                frame.sample_rate = 48_000
                for plane in frame.planes:
                    plane.update(bytes(plane.buffer_size))
                for _ in range(25):
                    for packet in stream.encode(frame):
                        out.mux(packet)
                for packet in stream.encode(None):
                    out.mux(packet)
            picture, sound = check_media(photo), check_media(note)
            return picture.suffix == ".jpg" and sound.suffix == ".wav" and sound.converted is not None
    except Exception as error:  # anything here means a broken bundle, and the report says what
        return f"{type(error).__name__}: {error}"


def run_self_test(model: str, context_length: int = 2048) -> int:
    app = QCoreApplication.instance() or QCoreApplication(sys.argv[:1])
    report: dict[str, Any] = {"hearth": __version__, "frozen": bool(getattr(sys, "frozen", False))}
    started = time.perf_counter()
    supervisor = WorkerSupervisor()
    pieces: list[str] = []

    def finish(ok: bool, **facts: Any) -> None:
        if "ok" in report:  # the first outcome stands (a crash while loading also fails the load)
            return
        report.update(facts, ok=ok, total_ms=round((time.perf_counter() - started) * 1000))
        app.exit(0 if ok else 1)

    def loaded(model_loaded: p.ModelLoaded) -> None:
        report.update(model=model_loaded.name, architecture=model_loaded.architecture)
        report.update(
            load_ms=round(model_loaded.load_ms), vision=model_loaded.vision, audio=model_loaded.audio
        )
        settings = GenerationSettings(
            temperature=0.0, max_tokens=ANSWER_TOKENS, context_length=context_length
        )
        supervisor.generate("self-test", [p.ChatTurn(p.Role.USER, QUESTION)], settings)

    def done(result: p.Done) -> None:
        finish(
            result.completion_tokens > 0 and report["documents"] is True and report["formats"] is True,
            tokens=result.completion_tokens,
            ttft_ms=round(result.ttft_ms, 1),
            text="".join(pieces),
        )

    report["documents"] = documents_work()
    report["formats"] = formats_work()
    supervisor.model_loaded.connect(loaded)
    supervisor.delta.connect(lambda _request, text, _reasoning: pieces.append(text))
    supervisor.finished.connect(done)
    supervisor.load_failed.connect(lambda _path, message: finish(False, error=message))
    supervisor.generation_failed.connect(lambda _request, message: finish(False, error=message))
    supervisor.failed.connect(lambda message: finish(False, error=message))
    supervisor.crashed.connect(lambda message: finish(False, error=f"the worker crashed: {message}"))
    QTimer.singleShot(DEADLINE_S * 1000, lambda: finish(False, error=f"no answer within {DEADLINE_S} s"))
    supervisor.start()
    supervisor.load_model(model, context_length, projector_path="auto")
    # The worker may fail to start at once, before the loop runs (exit() does nothing then).
    code = app.exec() if "ok" not in report else (0 if report["ok"] else 1)
    supervisor.stop()
    print(json.dumps(report), flush=True)
    return code
