"""``hearth --self-test --model PATH``: the real worker loads the model and answers, one line of
JSON says so, and the exit code is 0 only if all of that worked (what packaging/build trusts)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def self_test(model: Path) -> tuple[int, dict]:
    done = subprocess.run(
        [sys.executable, "-m", "app", "--self-test", "--model", str(model)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return done.returncode, json.loads(done.stdout.strip().splitlines()[-1])


def test_a_working_model_passes(smollm2_path):
    code, report = self_test(smollm2_path)
    assert code == 0 and report["ok"] is True
    assert report["architecture"] == "llama" and report["tokens"] > 0 and report["text"]
    assert report["documents"] is True  # PDFium reads and renders a PDF
    assert report["formats"] is True  # libheif reads a HEIC photo, FFmpeg an Opus voice note


def test_a_file_that_is_no_model_fails_in_words(tmp_path):
    bogus = tmp_path / "notes.gguf"
    bogus.write_text("not a model", encoding="utf-8")
    code, report = self_test(bogus)
    assert code == 1 and report["ok"] is False
    assert "GGUF" in report["error"]
