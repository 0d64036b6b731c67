"""Fault injection for the training loop: scale the training loss on chosen calls."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from scaler_wizard.train import loop


def inject(monkeypatch: pytest.MonkeyPatch, at: set[int], factor: float) -> None:
    """Multiply the training loss by `factor` on the given (1-based) training calls."""
    real = loop.label_loss_sum
    calls = {"n": 0}

    def faulty(*args: Any, **kwargs: Any) -> tuple[torch.Tensor, int]:
        loss, count = real(*args, **kwargs)
        if torch.is_grad_enabled():
            calls["n"] += 1
            if calls["n"] in at:
                loss = loss * factor
        return loss, count

    monkeypatch.setattr(loop, "label_loss_sum", faulty)
