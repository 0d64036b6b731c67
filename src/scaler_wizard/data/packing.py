"""Pack tokenized examples into fixed-length rows whose position ids reset per example.

Rows carry no attention mask on purpose: given reset `position_ids` and `attention_mask=None`,
transformers builds a block-diagonal causal mask, so packed examples never see each other.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from scaler_wizard.data.tokenize import IGNORE_INDEX, TokenizedExample

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True)
class PackedRow:
    """One training row of exactly `seq_length` tokens."""

    input_ids: list[int]
    labels: list[int]
    position_ids: list[int]
    lengths: list[int] = field(default_factory=list)  # real examples in the row, in order

    @property
    def real_tokens(self) -> int:
        return sum(self.lengths)


def pack_examples(
    examples: Sequence[TokenizedExample],
    seq_length: int,
    *,
    pad_token_id: int = 0,
    packing: bool = True,
) -> list[PackedRow]:
    """Rows of exactly `seq_length` tokens, deterministic for the same input.

    With `packing`, best-fit decreasing (longest first, into the fullest row it fits) — far
    fewer pad tokens than in-order filling. Without, one example per row. Every example's first
    label is masked so no loss crosses a document boundary. The padded tail has no labels; when
    packing it is a separate pseudo-document (positions 0, 1, ...), without packing its
    positions continue the example's, so each row stays one sequence and SDPA keeps its plain
    causal path (pads come last: no real token can see them).
    """
    too_long = [len(e.input_ids) for e in examples if len(e.input_ids) > seq_length]
    if too_long:
        raise ValueError(f"{len(too_long)} example(s) longer than seq_length={seq_length}")
    groups = _best_fit(examples, seq_length) if packing else [[e] for e in examples if e.input_ids]
    return [_row(group, seq_length, pad_token_id, restart=packing) for group in groups]


def _best_fit(
    examples: Sequence[TokenizedExample], seq_length: int
) -> list[list[TokenizedExample]]:
    # Stable sort: equal lengths keep input order, so the result is deterministic.
    order = sorted(range(len(examples)), key=lambda i: -len(examples[i].input_ids))
    groups: list[list[TokenizedExample]] = []
    free: list[tuple[int, int]] = []  # (space left, group index), sorted: bisect finds best fit
    for index in order:
        example = examples[index]
        size = len(example.input_ids)
        if size == 0:
            continue
        slot = bisect.bisect_left(free, (size, -1))
        if slot < len(free):
            space, group = free.pop(slot)
        else:
            space, group = seq_length, len(groups)
            groups.append([])
        groups[group].append(example)
        if space - size > 0:
            bisect.insort(free, (space - size, group))
    return groups


def _row(
    group: Sequence[TokenizedExample], seq_length: int, pad_token_id: int, *, restart: bool
) -> PackedRow:
    ids: list[int] = []
    labels: list[int] = []
    positions: list[int] = []
    for example in group:
        ids.extend(example.input_ids)
        labels.append(IGNORE_INDEX)  # its first token would be predicted from the previous doc
        labels.extend(example.labels[1:])
        positions.extend(range(len(example.input_ids)))
    pad = seq_length - len(ids)
    ids.extend([pad_token_id] * pad)
    labels.extend([IGNORE_INDEX] * pad)
    first = 0 if restart else len(positions)
    positions.extend(range(first, first + pad))
    return PackedRow(ids, labels, positions, [len(e.input_ids) for e in group])


def collate_rows(rows: Sequence[PackedRow]) -> dict[str, torch.Tensor]:
    """A batch: `input_ids`, `labels`, `position_ids` as long tensors [B, T]; no attention mask."""
    import torch

    if not rows:
        raise ValueError("cannot collate an empty list of rows")
    return {
        "input_ids": torch.tensor([r.input_ids for r in rows], dtype=torch.long),
        "labels": torch.tensor([r.labels for r in rows], dtype=torch.long),
        "position_ids": torch.tensor([r.position_ids for r in rows], dtype=torch.long),
    }


def step_batches(
    groups: Sequence[Sequence[PackedRow]], max_tokens: int | None
) -> list[dict[str, torch.Tensor]]:
    """The forward passes of one optimizer step's micro-batches (groups of rows): one batch per
    group, or with `max_tokens` (`train.micro_batch_tokens`) all their examples re-packed by
    `token_budget_batches`."""
    if max_tokens is None:
        return [collate_rows(group) for group in groups]
    return token_budget_batches([row for group in groups for row in group], max_tokens)


def token_budget_batches(
    rows: Sequence[PackedRow], max_tokens: int
) -> list[dict[str, torch.Tensor]]:
    """The rows' examples re-packed into single-row batches of at most `max_tokens` tokens.

    Best-fit over the examples, as `pack_examples` does; an example longer than `max_tokens`
    is a batch of its own. Pad tails are dropped: they carry no labels, and no example attends
    to them, so the batches hold the same label positions with the same context as the rows
    and, with the loss normalised over the step's labels, give the same gradient. What a
    forward pass keeps for backward then follows `max_tokens`, not rows x seq_length.
    """
    if max_tokens < 1:
        raise ValueError(f"max_tokens must be at least 1, got {max_tokens}")
    examples: list[TokenizedExample] = []
    for row in rows:
        start = 0
        for length in row.lengths:
            end = start + length
            examples.append(TokenizedExample(row.input_ids[start:end], row.labels[start:end]))
            start = end
    batches = []
    for group in _best_fit(examples, max_tokens):
        size = sum(len(e.input_ids) for e in group)
        batches.append(collate_rows([_row(group, size, 0, restart=True)]))
    return batches
