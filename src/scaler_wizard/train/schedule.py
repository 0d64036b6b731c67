"""Learning-rate schedule: linear warmup, then cosine decay to 10% of the peak."""

from __future__ import annotations

import math

FLOOR = 0.1


def lr_multiplier(step: int, warmup_steps: int, total_steps: int) -> float:
    """Multiplier for the optimizer step `step` (0-based)."""
    if warmup_steps and step < warmup_steps:
        return (step + 1) / warmup_steps
    span = max(total_steps - warmup_steps, 1)
    progress = min((step - warmup_steps) / span, 1.0)
    return FLOOR + (1 - FLOOR) * 0.5 * (1 + math.cos(math.pi * progress))
