"""The `breaker` approval point: a person decides whether training goes on after a trip.

Apart from `gates.py` because the web service imports that one, and this one needs the loop.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from scaler_wizard.train.loop import TrainingPaused

T = TypeVar("T")


def train_through_breaker_gate(
    train: Callable[..., T],
    resume_from: Path | None,
    *,
    gated: bool,
    gate: Callable[[str], None],
) -> T:
    """Run `train(resume_from=...)`. When the circuit breaker pauses it and the recipe gates on
    the breaker, wait for a person (`gate("breaker")`): approval continues from the last healthy
    checkpoint with the batches after the trip (the ones that caused it are skipped, as with a
    rollback); a denial or the timeout raises ApprovalDenied and the run ends."""
    skip_to: int | None = None
    while True:
        try:
            return train(resume_from=resume_from, skip_to_step=skip_to)
        except TrainingPaused as paused:
            if not (gated and paused.by_breaker):
                raise
            gate("breaker")
            resume_from, skip_to = paused.checkpoint, paused.step
