"""Held-out loss over packed, padded batches equals plain full-logits cross-entropy per document."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import pytest

from scaler_wizard.evaluate.held_out import collate_rows, evaluate_held_out

IGNORE = -100


@dataclass(frozen=True)
class Row:
    input_ids: list[int]
    labels: list[int]
    position_ids: list[int]


def documents(vocab: int) -> list[tuple[list[int], list[int]]]:
    """(input_ids, labels) per document; the second one masks a 'prompt', SFT style."""
    import torch

    generator = torch.Generator().manual_seed(1)
    docs = []
    for length, masked in ((20, 0), (15, 6), (25, 0), (9, 0)):
        ids = torch.randint(0, vocab, (length,), generator=generator).tolist()
        docs.append((ids, [IGNORE] * masked + ids[masked:]))
    return docs


def pack(docs: list[tuple[list[int], list[int]]]) -> Row:
    """Concatenate documents; each restarts its positions and never predicts across a seam."""
    ids: list[int] = []
    labels: list[int] = []
    positions: list[int] = []
    for doc_ids, doc_labels in docs:
        ids += doc_ids
        labels += [IGNORE, *doc_labels[1:]]
        positions += list(range(len(doc_ids)))
    return Row(ids, labels, positions)


def reference_loss(model: Any, docs: list[tuple[list[int], list[int]]]) -> tuple[float, int]:
    """Token-mean NLL from one unpacked forward per document with the full logits."""
    import torch
    from torch.nn import functional

    total, count = 0.0, 0
    with torch.no_grad():
        for ids, labels in docs:
            logits = model(input_ids=torch.tensor([ids])).logits[0]
            targets = torch.tensor(labels[1:])
            total += float(
                functional.cross_entropy(logits[:-1], targets, ignore_index=IGNORE, reduction="sum")
            )
            count += int((targets != IGNORE).sum())
    return total / count, count


def test_packed_loss_equals_unpacked_cross_entropy(tiny_model: Any) -> None:
    docs = documents(tiny_model.config.vocab_size)
    # Batch 1: a two-document packed row next to a shorter single-document row (padding).
    # Batch 2: one row alone, so the token-weighted mean spans batches of different sizes.
    rows = [pack(docs[:2]), pack(docs[2:3]), pack(docs[3:])]
    result = evaluate_held_out(tiny_model, rows, batch_size=2, chunk_tokens=7)
    expected, count = reference_loss(tiny_model, docs)
    assert result.label_tokens == count == 19 + (14 - 5) + 24 + 8
    assert result.rows == 3
    assert result.loss == pytest.approx(expected, abs=1e-4)
    assert result.perplexity == pytest.approx(math.exp(result.loss), rel=1e-9)


def test_batch_size_does_not_change_the_result(tiny_model: Any) -> None:
    rows = [pack([doc]) for doc in documents(tiny_model.config.vocab_size)]
    one = evaluate_held_out(tiny_model, rows, batch_size=1)
    four = evaluate_held_out(tiny_model, rows, batch_size=4)
    assert four.loss == pytest.approx(one.loss, abs=1e-5)
    assert four.label_tokens == one.label_tokens


def test_restores_training_mode_and_reports_progress(tiny_model: Any) -> None:
    rows = [pack([doc]) for doc in documents(tiny_model.config.vocab_size)[:3]]
    calls: list[tuple[int, int]] = []
    tiny_model.train()
    evaluate_held_out(tiny_model, rows, batch_size=2, progress=lambda d, t: calls.append((d, t)))
    assert tiny_model.training
    assert calls == [(2, 3), (3, 3)]
    tiny_model.eval()
    evaluate_held_out(tiny_model, rows, batch_size=2)
    assert not tiny_model.training


def test_collate_pads_to_the_longest_row() -> None:
    ids, labels, positions = collate_rows(
        [Row([5, 6, 7], [5, 6, 7], [0, 1, 0]), Row([8], [8], [0])]
    )
    assert ids.tolist() == [[5, 6, 7], [8, 0, 0]]
    assert labels.tolist() == [[5, 6, 7], [8, IGNORE, IGNORE]]
    assert positions.tolist() == [[0, 1, 0], [0, 1, 2]]


@pytest.mark.parametrize(
    "rows",
    [
        [],
        [Row([1, 2, 3], [IGNORE, IGNORE, IGNORE], [0, 1, 2])],
    ],
    ids=["no rows", "no label tokens"],
)
def test_nothing_to_score_is_an_error(tiny_model: Any, rows: list[Row]) -> None:
    with pytest.raises(ValueError):
        evaluate_held_out(tiny_model, rows)


def test_mismatched_row_is_an_error() -> None:
    with pytest.raises(ValueError, match="differ in length"):
        collate_rows([Row([1, 2], [1], [0, 1])])
