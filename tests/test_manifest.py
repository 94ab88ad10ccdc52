"""A manifest beside a model is read as a file like any other: whatever it holds, a damaged one
reads as no manifest."""

from __future__ import annotations

import pytest

from app.gguf.manifest import manifest_path, read_manifest


@pytest.mark.parametrize(
    "text",
    [
        "[" * 100_000 + "]" * 100_000,  # deeper than Python's JSON reader goes
        '{"files": 7}',
        '{"files": [{"role": "model", "path": 3}]}',
        "\x00\xff not json",
    ],
)
def test_a_damaged_manifest_reads_as_none(tmp_path, text):
    model = tmp_path / "model.gguf"
    manifest_path(model).write_text(text, encoding="utf-8")
    assert read_manifest(model) is None
