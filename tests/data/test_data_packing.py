"""Packing: exact row lengths, per-example positions, no loss across documents, same loss."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from scaler_wizard.data import Message, collate_rows, pack_examples, tokenize_example
from scaler_wizard.data.formats import Example
from scaler_wizard.data.packing import PackedRow
from scaler_wizard.data.tokenize import IGNORE_INDEX, TokenizedExample
from scaler_wizard.evaluate.loss import label_loss_sum


def synthetic(lengths: list[int]) -> list[TokenizedExample]:
    """Examples with distinct ids; every other token labelled (first never)."""
    examples = []
    for n, length in enumerate(lengths):
        ids = [1000 * (n + 1) + i for i in range(length)]
        labels = [IGNORE_INDEX if i == 0 or i % 2 else t for i, t in enumerate(ids)]
        examples.append(TokenizedExample(ids, labels))
    return examples


def segments(row: PackedRow) -> list[tuple[list[int], list[int], list[int]]]:
    """(ids, labels, positions) of each real example in the row, in order."""
    out, start = [], 0
    for length in row.lengths:
        end = start + length
        out.append((row.input_ids[start:end], row.labels[start:end], row.position_ids[start:end]))
        start = end
    return out


@pytest.mark.parametrize("packing", [True, False])
@pytest.mark.parametrize(
    ("lengths", "seq_length", "packed_rows"),
    [
        ([5, 3, 7, 2, 8, 1], 10, 3),  # 26 tokens: 8+2, 7+3, 5+1 (best fit decreasing)
        ([10, 10, 10], 10, 3),  # full rows, no padding
        ([4, 4, 4, 4], 16, 1),
        ([1, 9, 2, 8, 3, 7], 10, 3),
        ([], 10, 0),
    ],
)
def test_rows_are_exact_and_lose_nothing(
    lengths: list[int], seq_length: int, packed_rows: int, packing: bool
) -> None:
    examples = synthetic(lengths)
    rows = pack_examples(examples, seq_length, pad_token_id=7, packing=packing)
    assert len(rows) == (packed_rows if packing else len(lengths))
    placed = []
    for row in rows:
        assert len(row.input_ids) == len(row.labels) == len(row.position_ids) == seq_length
        for ids, labels, positions in segments(row):
            assert positions == list(range(len(ids)))  # positions restart per example
            assert labels[0] == IGNORE_INDEX  # no loss across a document boundary
            placed.append((ids, labels))
        tail = seq_length - row.real_tokens
        assert row.input_ids[seq_length - tail :] == [7] * tail
        assert row.labels[seq_length - tail :] == [IGNORE_INDEX] * tail
        first = 0 if packing else row.real_tokens  # unpacked: one sequence per row
        assert row.position_ids[seq_length - tail :] == list(range(first, first + tail))
    # every example appears exactly once, unchanged, so every label token survives
    assert sorted(placed) == sorted((e.input_ids, e.labels) for e in examples)
    label_tokens = sum(sum(x != IGNORE_INDEX for x in r.labels) for r in rows)
    assert label_tokens == sum(e.label_count for e in examples)
    assert rows == pack_examples(examples, seq_length, pad_token_id=7, packing=packing)


def test_doc_start_label_is_masked_even_if_set() -> None:
    example = TokenizedExample([1, 2, 3], [1, 2, 3])  # hand-made, first label set
    rows = pack_examples([example, example], 8)
    assert rows[0].labels == [IGNORE_INDEX, 2, 3, IGNORE_INDEX, 2, 3, IGNORE_INDEX, IGNORE_INDEX]
    assert rows[0].position_ids == [0, 1, 2, 0, 1, 2, 0, 1]


def test_too_long_example_is_refused() -> None:
    with pytest.raises(ValueError, match="longer than seq_length=4"):
        pack_examples(synthetic([5]), 4)


def test_collate_rows_gives_long_tensors() -> None:
    import torch

    batch = collate_rows(pack_examples(synthetic([2, 4, 5]), 6))
    assert set(batch) == {"input_ids", "labels", "position_ids"}  # no attention_mask
    for tensor in batch.values():
        assert tensor.dtype == torch.long
        assert tuple(tensor.shape) == (2, 6)


THREE = [
    Example(
        (
            Message("user", "What does `json.dumps` do?"),
            Message("assistant", "Serialize obj to a JSON formatted str."),
        ),
        None,
        1,
    ),
    Example(None, "The grass is green. The sky is blue. The sun is yellow.", 2),
    Example(
        (
            Message("system", "Be brief."),
            Message("user", "The pass key is 12345."),
            Message("assistant", "Remember it."),
            Message("user", "Here we go."),
            Message("assistant", "There and back again."),
        ),
        None,
        3,
    ),
]


def unpacked_loss(model: Any, examples: list[TokenizedExample]) -> tuple[float, int]:
    """Each example alone in its own unpadded row: the reference."""
    import torch

    total, count = 0.0, 0
    for e in examples:
        ids, labels = torch.tensor([e.input_ids]), torch.tensor([e.labels])
        loss, n = label_loss_sum(model, ids, labels)
        total, count = total + float(loss), count + n
    return total, count


# one full row / one padded row / several rows / unpacked: one padded row per example
@pytest.mark.parametrize(("extra", "packing"), [(0, True), (5, True), (-1, True), (5, False)])
def test_packed_loss_equals_sum_of_unpacked_losses(
    tiny_model: Any, tiny_tokenizer: Any, extra: int, packing: bool
) -> None:
    import torch

    examples = [tokenize_example(tiny_tokenizer, e, max_length=256) for e in THREE]
    longest, total = (
        max(len(e.input_ids) for e in examples),
        sum(len(e.input_ids) for e in examples),
    )
    seq_length = longest + 2 if extra < 0 else total + extra
    rows = pack_examples(
        examples, seq_length, pad_token_id=tiny_tokenizer.eos_token_id, packing=packing
    )
    assert (len(rows) > 1) == (extra < 0 or not packing)
    assert packing or len(rows) == len(examples)
    batch = collate_rows(rows)
    with torch.no_grad():
        packed, packed_count = label_loss_sum(
            tiny_model, batch["input_ids"], batch["labels"], batch["position_ids"]
        )
        reference, reference_count = unpacked_loss(tiny_model, examples)
    assert packed_count == reference_count > 0
    assert float(packed) == pytest.approx(reference, abs=1e-4)


def test_an_all_ones_attention_mask_would_leak_across_documents(
    tiny_model: Any, tiny_tokenizer: Any
) -> None:
    import torch
    from torch.nn import functional

    examples = [tokenize_example(tiny_tokenizer, e, max_length=256) for e in THREE]
    rows = pack_examples(examples, sum(len(e.input_ids) for e in examples) + 5)
    batch = collate_rows(rows)

    def loss(attention_mask: torch.Tensor | None) -> float:
        logits = tiny_model(
            input_ids=batch["input_ids"],
            position_ids=batch["position_ids"],
            attention_mask=attention_mask,
            use_cache=False,
        ).logits
        return float(
            functional.cross_entropy(
                logits[0, :-1], batch["labels"][0, 1:], ignore_index=IGNORE_INDEX, reduction="sum"
            )
        )

    with torch.no_grad():
        reference, _ = unpacked_loss(tiny_model, examples)
        no_mask = loss(None)
        ones = loss(torch.ones_like(batch["input_ids"]))
    assert no_mask == pytest.approx(reference, abs=1e-4)  # the helper itself is right
    assert abs(ones - reference) > 1e-3  # a plain mask lets later documents see earlier ones


@pytest.mark.parametrize("packing", [True, False])
def test_token_budget_batches_repack_the_same_examples_within_the_budget(packing: bool) -> None:
    from scaler_wizard.data import token_budget_batches

    examples = synthetic([5, 3, 7, 2, 8, 1, 14])
    rows = pack_examples(examples, 16, packing=packing)
    batches = token_budget_batches(rows, 9)
    sizes = [b["input_ids"].shape for b in batches]
    assert all(shape[0] == 1 for shape in sizes)
    # The 14-token example is a batch of its own; everything else fits in 9 (best fit).
    assert sorted(shape[1] for shape in sizes) == [8, 9, 9, 14]
    found = []
    for batch in batches:
        ids, labels, positions = (
            batch[k][0].tolist() for k in ("input_ids", "labels", "position_ids")
        )
        starts = [i for i, p in enumerate(positions) if p == 0] + [len(ids)]
        for a, b in itertools.pairwise(starts):
            assert positions[a:b] == list(range(b - a))
            found.append((ids[a:b], labels[a:b]))
    expected = [(ids, labels) for row in rows for ids, labels, _ in segments(row)]
    assert sorted(found) == sorted(expected)  # no pad tail, nothing lost or changed


def test_token_budget_batches_refuse_an_empty_budget() -> None:
    from scaler_wizard.data import token_budget_batches

    with pytest.raises(ValueError, match="max_tokens"):
        token_budget_batches(pack_examples(synthetic([3]), 4), 0)
