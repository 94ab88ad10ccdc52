"""Gemma 4's limits that several parts of Hearth must agree on: the visual token budgets a picture
may take, and the micro-batch sizes the worker runs with (which the memory estimate counts)."""

from __future__ import annotations

# Gemma 4's visual token budgets per picture; 0 lets the model choose (its default is 280).
IMAGE_BUDGETS = (70, 140, 280, 560, 1120)
AUTO_IMAGE_BUDGET = 0
MAX_IMAGE_TOKENS = max(IMAGE_BUDGETS)

# The worker's micro-batch for text-only models.
TEXT_BATCH = 512
# Image tokens attend to each other non-causally, so a whole picture must fit one micro-batch: with a
# projector the batch is raised to the largest budget, plus room for the markers around it.
PROJECTOR_BATCH = MAX_IMAGE_TOKENS + 32


def batch_size(with_projector: bool) -> int:
    return PROJECTOR_BATCH if with_projector else TEXT_BATCH
