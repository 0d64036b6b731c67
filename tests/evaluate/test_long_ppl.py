"""Long-document perplexity: chunked per-token NLL, buckets, truncated and sliding-window PPL."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
import torch
from torch.nn import functional

from scaler_wizard.evaluate.long_ppl import (
    LongPplResult,
    bucket_nll,
    evaluate_long_documents,
    sliding_windows,
)
from scaler_wizard.evaluate.loss import token_nll
from tiny_models import long_document


@pytest.fixture()
def docs(tmp_path: Path) -> list[Path]:
    """Two real documents, cut so one is shorter than the evaluated length."""
    stream = tmp_path / "stream.md"
    stream.write_text(long_document("nodejs-api-stream.md").read_text()[:3000])
    gpl = tmp_path / "gpl.txt"
    gpl.write_text(long_document("gpl-3.0.txt").read_text()[:150])
    return [stream, gpl]


def test_chunked_token_nll_matches_full_logits(tiny_model: Any, tiny_tokenizer: Any) -> None:
    text = long_document("gpl-3.0.txt").read_text()[:1200]
    ids = torch.tensor([tiny_tokenizer(text)["input_ids"][:200]])
    with torch.inference_mode():
        chunked = token_nll(tiny_model, ids, chunk_tokens=37)  # uneven last chunk
        logits = tiny_model(ids).logits[0, :-1]
        full = functional.cross_entropy(logits.float(), ids[0, 1:], reduction="none")
    assert chunked.shape == (1, 199)
    torch.testing.assert_close(chunked[0], full, atol=1e-4, rtol=0)


@pytest.mark.parametrize(
    ("tokens", "window", "stride", "skipped"),
    [(10, 4, 2, []), (9, 20, 3, []), (10, 4, 3, []), (11, 4, 4, [4, 8])],
)
def test_sliding_windows_score_every_target_once(
    tokens: int, window: int, stride: int, skipped: list[int]
) -> None:
    """Overlapping windows score every target; disjoint ones lose each window's first token."""
    scored: list[int] = []
    for begin, end, first in sliding_windows(tokens, window, stride):
        assert end - begin <= window and begin < first <= end
        scored.extend(range(first, end))
    assert scored == [t for t in range(1, tokens) if t not in skipped]


def test_stride_larger_than_window_is_an_error() -> None:
    with pytest.raises(ValueError, match="stride"):
        sliding_windows(100, 8, 9)


def test_strided_equals_full_when_the_window_covers_the_document(
    tiny_model: Any, tiny_tokenizer: Any, docs: list[Path]
) -> None:
    full = evaluate_long_documents(tiny_model, tiny_tokenizer, docs, max_length=200, bucket_size=64)
    strided = evaluate_long_documents(
        tiny_model, tiny_tokenizer, docs, max_length=200, bucket_size=64, stride=50, window=256
    )
    assert (full.mode, strided.mode) == ("single_pass", "sliding_window")
    assert strided.window == 200  # capped at the evaluated length: one window per document
    assert [d.passes for d in strided.documents] == [1, 1]
    assert strided.perplexity == pytest.approx(full.perplexity, rel=1e-6)
    assert strided.buckets == full.buckets


def test_short_window_strided_ppl_scores_each_token_with_bounded_context(
    tiny_model: Any, tiny_tokenizer: Any, docs: list[Path]
) -> None:
    """stride == window: independent chunks, so the total is the sum of separate chunk passes."""
    result = evaluate_long_documents(
        tiny_model, tiny_tokenizer, docs[:1], max_length=200, bucket_size=64, stride=64, window=64
    )
    ids = tiny_tokenizer(docs[0].read_text())["input_ids"][:200]
    expected = 0.0
    with torch.inference_mode():
        for begin in range(0, 200, 64):
            chunk = torch.tensor([ids[begin : begin + 64]])
            row = token_nll(tiny_model, chunk)[0]
            # Disjoint windows: a chunk's own first token is context only, never a target.
            expected += float(row.sum())
    assert result.documents[0].passes == 4
    assert result.scored_tokens == 199 - 3  # each chunk's first token has no context in it
    assert result.nll_sum == pytest.approx(expected, rel=1e-5)


def test_bucket_nll_sums_back_to_the_total(
    tiny_model: Any, tiny_tokenizer: Any, docs: list[Path]
) -> None:
    result = evaluate_long_documents(
        tiny_model, tiny_tokenizer, docs, max_length=200, bucket_size=64
    )
    short = result.documents[1]
    assert result.documents[0].tokens == 200 and short.tokens < 200
    for document in result.documents:
        assert sum(b.nll_sum for b in document.buckets) == pytest.approx(document.nll_sum)
        assert sum(b.tokens for b in document.buckets) == document.scored_tokens
        assert document.scored_tokens == document.tokens - 1 and document.passes == 1
    assert sum(b.nll_sum for b in result.buckets) == pytest.approx(result.nll_sum)
    assert sum(b.tokens for b in result.buckets) == result.scored_tokens
    assert result.scored_tokens == sum(d.scored_tokens for d in result.documents)
    assert [(b.start, b.end) for b in result.buckets] == [
        (0, 64),
        (64, 128),
        (128, 192),
        (192, 200),
    ]
    last = result.buckets[-1]
    assert last.cumulative_tokens == result.scored_tokens
    assert last.cumulative_perplexity == pytest.approx(result.perplexity)
    assert result.perplexity == pytest.approx(math.exp(result.nll_sum / result.scored_tokens))
    assert list(result.perplexity_by_length()) == ["64", "128", "192", "200"]
    again = LongPplResult.model_validate(json.loads(result.model_dump_json()))
    assert again == result


def test_cumulative_is_the_truncated_document_perplexity(
    tiny_model: Any, tiny_tokenizer: Any, docs: list[Path]
) -> None:
    """One pass gives every shorter cut: the 128-token cumulative equals a 128-token pass."""
    long = evaluate_long_documents(
        tiny_model, tiny_tokenizer, docs[:1], max_length=200, bucket_size=64
    )
    cut = evaluate_long_documents(
        tiny_model, tiny_tokenizer, docs[:1], max_length=128, bucket_size=64
    )
    assert long.buckets[1].cumulative_loss == pytest.approx(cut.loss, abs=1e-5)


def test_buckets_of_known_values() -> None:
    buckets = bucket_nll([1.0, 2.0, 3.0, 4.0, 5.0], bucket_size=2)  # targets 1..5
    assert [(b.start, b.end, b.tokens, b.nll_sum) for b in buckets] == [
        (0, 2, 1, 1.0),
        (2, 4, 2, 5.0),
        (4, 6, 2, 9.0),
    ]
    assert [b.cumulative_loss for b in buckets] == pytest.approx([1.0, 2.0, 3.0])


def test_mode_is_restored_and_progress_counts_passes(
    tiny_model: Any, tiny_tokenizer: Any, docs: list[Path]
) -> None:
    calls: list[tuple[int, int]] = []
    tiny_model.train()
    evaluate_long_documents(
        tiny_model, tiny_tokenizer, docs, max_length=200, bucket_size=64, stride=100,
        window=150, progress=lambda done, total: calls.append((done, total)),
    )  # fmt: skip
    assert tiny_model.training
    assert calls[-1][0] == calls[-1][1] == len(calls) >= 3
