"""Gemma 4's limits that several parts of Hearth must agree on: the visual token budgets a picture
may take and the grid it is read as, and the micro-batch sizes the worker runs with (which the
memory estimate counts)."""

from __future__ import annotations

import math

# Gemma 4's visual token budgets per picture; 0 lets the model choose (its default is 280).
IMAGE_BUDGETS = (70, 140, 280, 560, 1120)
AUTO_IMAGE_BUDGET = 0
MAX_IMAGE_TOKENS = max(IMAGE_BUDGETS)
MIN_IMAGE_TOKENS = min(IMAGE_BUDGETS)
# Pixels of a picture per visual token, on each side: 16-pixel patches, pooled three by three.
SQUARE = 48

# The worker's micro-batch for text-only models.
TEXT_BATCH = 512
# Image tokens attend to each other non-causally, so a whole picture must fit one micro-batch: with a
# projector the batch is raised to the largest budget, plus room for the markers around it.
PROJECTOR_BATCH = MAX_IMAGE_TOKENS + 32


def batch_size(with_projector: bool) -> int:
    return PROJECTOR_BATCH if with_projector else TEXT_BATCH


def grid(width: int, height: int, tokens: int) -> tuple[int, int]:
    """The columns and rows of squares a ``width`` × ``height`` picture is read as at a budget
    of ``tokens``: as many as fit, in the picture's shape (at least one each). The engine scales
    a picture to exactly this grid, so the count is exact."""
    scale = math.sqrt(tokens / max(1.0, (width / SQUARE) * (height / SQUARE)))
    columns = max(1, math.floor(width / SQUARE * scale))
    rows = max(1, math.floor(height / SQUARE * scale))
    while columns * rows > tokens and (columns > 1 or rows > 1):  # rounding kept it over
        if columns >= rows:
            columns -= 1
        else:
            rows -= 1
    # Fewer squares than the least Gemma 4 reads would be scaled up again by the projector.
    while columns * rows < MIN_IMAGE_TOKENS:
        if columns / width <= rows / height:
            columns += 1
        else:
            rows += 1
    return columns, rows


def tokens_at(width: int, height: int, budget: int) -> int:
    """The visual tokens a picture takes at ``budget``."""
    columns, rows = grid(width, height, budget)
    return columns * rows
