"""Automatic picture detail, judged on real pictures: photographs (tests/fixtures/photos), a page
of text as a PDF viewer shows it, the same page photographed (lit unevenly, grainy, a JPEG), and
the grid that says what each costs."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from app.core.gemma4 import IMAGE_BUDGETS, MAX_IMAGE_TOKENS, MIN_IMAGE_TOKENS, grid, tokens_at
from app.media.attachments import picture_preview
from app.media.picture_detail import PHOTO_DETAIL, Look, detail_for, look_of
from tests.pdf_maker import make_pdf

PHOTOS = sorted((Path(__file__).resolve().parent / "fixtures" / "photos").glob("*.jpg"))
LINES = [f"Line {n}: the invoice for March is attached, with the hours and the travel." for n in range(40)]


def rendered_page() -> Image.Image:
    import pypdfium2

    pdf = pypdfium2.PdfDocument(make_pdf([LINES]))
    return pdf[0].render(scale=1.5).to_pil().convert("RGB")


def photographed(page: Image.Image) -> Image.Image:
    """The page as a phone would see it: light falling off across it, sensor grain, a JPEG."""
    pixels = np.asarray(page, dtype=np.float32)
    height, width = pixels.shape[:2]
    light = np.linspace(1.0, 0.7, width)[None, :, None] * np.linspace(1.0, 0.85, height)[:, None, None]
    grain = np.random.default_rng(4).normal(0, 6, pixels.shape)
    shot = Image.fromarray(np.clip(pixels * light * 0.9 + 12 + grain, 0, 255).astype(np.uint8))
    out = io.BytesIO()
    shot.save(out, "JPEG", quality=80)
    return Image.open(io.BytesIO(out.getvalue()))


@pytest.mark.parametrize("photo", PHOTOS, ids=lambda path: path.stem)
def test_photographs_are_read_as_photos(photo):
    assert len(PHOTOS) == 4
    with Image.open(photo) as image:
        assert look_of(image) is Look.PHOTO


def test_a_page_of_text_gets_the_detail_to_be_read_on_screen_or_photographed():
    page = rendered_page()
    assert look_of(page) is not Look.PHOTO
    snapshot = photographed(page)
    assert look_of(snapshot) is Look.PAGE
    assert detail_for(Look.PAGE, *snapshot.size) >= 560


def test_automatic_detail_follows_the_look_and_the_pictures_own_size():
    assert detail_for(Look.PHOTO, 4000, 3000) == PHOTO_DETAIL
    assert detail_for(Look.PHOTO, 200, 150) == MIN_IMAGE_TOKENS  # no more squares than it has
    assert detail_for(Look.SCREENSHOT, 2560, 1440) == MAX_IMAGE_TOKENS
    assert detail_for(Look.SCREENSHOT, 400, 300) == 560
    assert all(detail_for(look, 1280, 800) in IMAGE_BUDGETS for look in Look)


def test_the_grid_keeps_the_shape_and_never_passes_gemmas_range():
    for width, height in [(1920, 1080), (512, 512), (100, 4000), (6000, 20)]:
        for budget in IMAGE_BUDGETS:
            columns, rows = grid(width, height, budget)
            assert MIN_IMAGE_TOKENS <= columns * rows <= max(budget, MIN_IMAGE_TOKENS + max(columns, rows))
            assert columns * rows <= MAX_IMAGE_TOKENS
    columns, rows = grid(1920, 1080, 1120)
    assert abs(columns / rows - 1920 / 1080) < 0.1
    assert tokens_at(1920, 1080, 1120) == columns * rows


def test_a_preview_brings_the_thumbnail_and_the_automatic_detail_from_one_look(tmp_path):
    coffee = next(p for p in PHOTOS if p.stem == "coffee")
    preview = picture_preview(coffee)
    assert (preview.width, preview.height) == (600, 400) and preview.auto_detail == detail_for(
        Look.PHOTO, 600, 400
    )
    assert Image.open(io.BytesIO(preview.thumbnail)).size == (160, 107)


def test_a_picture_asked_at_more_detail_than_gemma_reads_is_read_at_the_most():
    from app.engine.multimodal import AttachmentIndex

    coffee = str(next(p for p in PHOTOS if p.stem == "coffee"))
    index = AttachmentIndex()
    assert index.identify("image", coffee, "file", 10**9).detail == MAX_IMAGE_TOKENS
    assert index.identify("image", coffee, "file", -5).detail == 0
    assert index.identify("image", coffee, "file", 280).media_id.endswith("@280")
