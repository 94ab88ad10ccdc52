"""How much detail a picture is read at, and what it costs.

Gemma 4 reads a picture as a grid of 48-pixel squares, one visual token each, from 70 to 1,120
tokens (``app.core.gemma4.grid``: the engine scales a picture to it, and the tiles count by it).

"Automatic" detail looks at the picture (``look_of``) and its size (``detail_for``):

1. **A screenshot**: 70% or more of its pixels share its eight most common exact colours. Flat
   fills of an interface do that; no photograph does, whatever its subject.
2. **A page of text** (a scan, or a photo of a document): thin strokes, dark on light or light on
   dark and at most a few pixels wide, cover 8% or more of it, and quiet areas (paper between
   the lines) 15% or more. Texture such as grass has the strokes but no quiet.
3. **Anything else is a photo.**

Text needs detail to be read: screenshots and pages get the most their own pixels can use, up to
twice their size and at least 560 tokens. A photo is read at 280 tokens, Gemma 4's own default,
which is enough to see what it shows.
"""

from __future__ import annotations

import math
from enum import StrEnum
from typing import TYPE_CHECKING

from app.core.gemma4 import IMAGE_BUDGETS, MAX_IMAGE_TOKENS, SQUARE

if TYPE_CHECKING:
    import numpy as np
    from PIL.Image import Image

PHOTO_DETAIL = 280
TEXT_DETAIL_AT_LEAST = 560
LOOK_SIZE = 640  # pictures are judged at this size at most: enough to see text strokes
COLOUR_SAMPLE = 320  # ...and their colours counted at about this size
SCREEN_COLOURS, SCREEN_SHARE = 8, 0.70
STROKE_WIDTH, STROKE_CONTRAST = 7, 60  # a stroke fits in 7 pixels and stands 60 levels out
STROKE_SHARE, QUIET_SHARE = 0.08, 0.15


class Look(StrEnum):
    SCREENSHOT = "screenshot"
    PAGE = "page"
    PHOTO = "photo"


def detail_for(look: Look, width: int, height: int) -> int:
    """The budget "Automatic" gives a picture that looks like ``look``."""
    own = round(width / SQUARE) * round(height / SQUARE)  # squares at its own size
    wanted = min(PHOTO_DETAIL, own) if look is Look.PHOTO else max(TEXT_DETAIL_AT_LEAST, 2 * own)
    return next((b for b in IMAGE_BUDGETS if b >= wanted), MAX_IMAGE_TOKENS)


def look_of(image: Image) -> Look:
    """What a picture looks like (see the module's words); ``image`` is any Pillow image (a
    large one is best decoded smaller first, as ``Image.draft`` does for JPEG)."""
    import numpy as np
    from PIL import Image

    # Colours are counted on a sample of the pixels themselves: resampling would blend them.
    step = max(1, math.ceil(max(image.size) / COLOUR_SAMPLE))
    sample = image.convert("RGB").resize(
        (max(1, image.width // step), max(1, image.height // step)), Image.Resampling.NEAREST
    )
    rgb = np.asarray(sample, dtype=np.uint32)
    colours = ((rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]).ravel()
    _, counts = np.unique(colours, return_counts=True)
    counts.sort()
    if counts[-SCREEN_COLOURS:].sum() >= SCREEN_SHARE * colours.size:
        return Look.SCREENSHOT
    small = image.convert("L")
    small.thumbnail((LOOK_SIZE, LOOK_SIZE))
    gray = np.asarray(small, dtype=np.int16)
    if _stroke_share(gray) >= STROKE_SHARE and _quiet_share(gray) >= QUIET_SHARE:
        return Look.PAGE
    return Look.PHOTO


def _along_rows(gray: np.ndarray, pick: str) -> np.ndarray:
    import numpy as np
    from numpy.lib.stride_tricks import sliding_window_view

    half = STROKE_WIDTH // 2
    padded = np.pad(gray, ((0, 0), (half, half)), mode="edge")
    windows = sliding_window_view(padded, STROKE_WIDTH, axis=1)
    return windows.max(axis=-1) if pick == "max" else windows.min(axis=-1)


def _stroke_share(gray: np.ndarray) -> float:
    """The share of pixels in thin strokes: what a closing (for dark ink) or an opening (for
    light text on dark) along the rows removes, by more than ``STROKE_CONTRAST`` levels."""
    import numpy as np

    dark = _along_rows(_along_rows(gray, "max"), "min") - gray
    light = gray - _along_rows(_along_rows(gray, "min"), "max")
    return float((np.maximum(dark, light) > STROKE_CONTRAST).mean())


def _quiet_share(gray: np.ndarray) -> float:
    """The share of 8 × 8 blocks that are nearly even (paper, or a plain background)."""
    height, width = (gray.shape[0] // 8) * 8, (gray.shape[1] // 8) * 8
    if not height or not width:
        return 0.0
    blocks = gray[:height, :width].reshape(height // 8, 8, width // 8, 8).std(axis=(1, 3))
    return float((blocks < 4).mean())
