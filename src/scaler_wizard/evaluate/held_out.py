"""Held-out loss and perplexity over packed rows, reusing the chunked training loss."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import BaseModel, ConfigDict

from scaler_wizard.evaluate.loss import IGNORE_INDEX, label_loss_sum

if TYPE_CHECKING:
    import torch

Progress = Callable[[int, int], None]


class PackedRow(Protocol):
    """One packed row as the data layer produces it: three lists of equal length.

    `labels` are aligned with `input_ids` (the loss shifts them) and are IGNORE_INDEX where
    nothing should be learned; `position_ids` restart at 0 at every packed document.
    """

    @property
    def input_ids(self) -> Sequence[int]: ...

    @property
    def labels(self) -> Sequence[int]: ...

    @property
    def position_ids(self) -> Sequence[int]: ...


class HeldOutResult(BaseModel):
    """Token-weighted mean loss over every label token of the held-out rows."""

    model_config = ConfigDict(frozen=True)

    loss: float  # mean nats per label token
    perplexity: float
    label_tokens: int
    rows: int


def collate_rows(
    rows: Sequence[PackedRow], device: Any = None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Right-pad rows into (input_ids, labels, position_ids) long tensors.

    No attention mask: padding sits after every real token, so causal attention already keeps
    it out of real positions, and its labels are ignored. Padding positions continue the last
    document's count so an unpacked batch stays one sequence per row (SDPA's causal fast path).
    """
    import torch

    width = max(len(row.input_ids) for row in rows)
    ids: list[list[int]] = []
    labels: list[list[int]] = []
    positions: list[list[int]] = []
    for row in rows:
        n = len(row.input_ids)
        if not (len(row.labels) == n == len(row.position_ids)):
            raise ValueError("a row's input_ids, labels and position_ids differ in length")
        pad = width - n
        last = row.position_ids[-1] if n else -1
        ids.append([*row.input_ids, *([0] * pad)])
        labels.append([*row.labels, *([IGNORE_INDEX] * pad)])
        positions.append([*row.position_ids, *range(last + 1, last + 1 + pad)])

    def as_tensor(values: list[list[int]]) -> torch.Tensor:
        return torch.tensor(values, dtype=torch.long, device=device)

    return as_tensor(ids), as_tensor(labels), as_tensor(positions)


def model_device(model: Any) -> Any:
    """The device of the model's first parameter (PEFT wrappers have no `.device` of their own)."""
    return next(model.parameters()).device


def evaluate_held_out(
    model: Any,
    rows: Sequence[PackedRow],
    *,
    batch_size: int = 4,
    chunk_tokens: int = 1024,
    progress: Progress | None = None,
) -> HeldOutResult:
    """Mean cross-entropy (nats per label token) and perplexity of `model` on `rows`.

    The mean is over tokens, not rows, so long and short rows weigh what they contain.
    The model is put in eval mode (dropout off) and returned to its previous mode.
    """
    import torch

    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    rows = [row for row in rows if len(row.input_ids) > 0]
    if not rows:
        raise ValueError("no held-out rows to evaluate")
    device = model_device(model)
    was_training = bool(model.training)
    model.eval()
    total, count = 0.0, 0
    try:
        with torch.inference_mode():
            for start in range(0, len(rows), batch_size):
                batch = rows[start : start + batch_size]
                input_ids, labels, position_ids = collate_rows(batch, device)
                loss_sum, tokens = label_loss_sum(
                    model, input_ids, labels, position_ids, chunk_tokens=chunk_tokens
                )
                # Accumulate in Python float64: thousands of float32 partial sums drift.
                total += float(loss_sum)
                count += tokens
                if progress is not None:
                    progress(start + len(batch), len(rows))
    finally:
        model.train(was_training)
    if count == 0:
        raise ValueError("the held-out rows contain no label tokens")
    loss = total / count
    return HeldOutResult(
        loss=loss, perplexity=perplexity_of(loss), label_tokens=count, rows=len(rows)
    )


def perplexity_of(loss: float) -> float:
    """exp(loss), or infinity for a diverged model instead of an OverflowError."""
    return math.exp(loss) if loss < 709.0 else math.inf
