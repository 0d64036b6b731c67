"""Long-document perplexity: per-position NLL buckets and truncated perplexity at each length.

One causal pass over a T-token document scores token t from tokens < t only, so for static
context engines a single pass gives the truncated perplexity at every length <= T and the
position-bucketed NLL curve (reference §4.4). With a stride, Press et al. / HF sliding windows
score each token once, from at most `window` tokens of context.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from scaler_wizard.evaluate.held_out import model_device, perplexity_of
from scaler_wizard.evaluate.loss import token_nll

Progress = Callable[[int, int], None]


class LengthBucket(BaseModel):
    """Target positions [start, end): their own loss, and the truncated loss over [0, end)."""

    model_config = ConfigDict(frozen=True)

    start: int
    end: int
    tokens: int
    nll_sum: float
    loss: float  # mean nats per token inside the bucket
    perplexity: float
    cumulative_tokens: int
    cumulative_loss: float  # "truncated" loss: every scored token before `end`
    cumulative_perplexity: float


class DocumentPpl(BaseModel):
    model_config = ConfigDict(frozen=True)

    path: str
    tokens: int  # tokens taken from the document (at most max_length)
    scored_tokens: int  # tokens - 1: the first token has nothing to be predicted from
    nll_sum: float
    loss: float
    perplexity: float
    passes: int  # forward passes this document took
    buckets: list[LengthBucket]


class LongPplResult(BaseModel):
    """Token-weighted over all documents; JSON-serialisable (`model_dump_json`)."""

    model_config = ConfigDict(frozen=True)

    mode: Literal["single_pass", "sliding_window"]
    max_length: int
    bucket_size: int
    stride: int | None
    window: int  # the longest context any scored token saw
    model_window: int | None  # config.max_position_embeddings, for reading results past it
    scored_tokens: int
    nll_sum: float
    loss: float
    perplexity: float
    buckets: list[LengthBucket]
    documents: list[DocumentPpl]

    def perplexity_by_length(self) -> dict[str, float]:
        """{"2048": truncated perplexity over positions < 2048, ...} (JSON keys are strings)."""
        return {str(b.end): b.cumulative_perplexity for b in self.buckets}


def sliding_windows(tokens: int, window: int, stride: int) -> list[tuple[int, int, int]]:
    """(begin, end, first scored target) per window, as HF's perplexity guide walks them.

    Each target position in [1, tokens) is scored once, in the window that first reaches it;
    positions before it in that window are context only. With stride == window the windows
    do not overlap and each window's first token, having no context inside it, is skipped.
    """
    if not 1 <= stride <= window:
        raise ValueError(f"stride must be within [1, window={window}], got {stride}")
    spans: list[tuple[int, int, int]] = []
    previous_end = 0
    for begin in range(0, tokens, stride):
        end = min(begin + window, tokens)
        spans.append((begin, end, max(previous_end, begin + 1)))
        previous_end = end
        if end == tokens:
            break
    return spans


def bucket_nll(nll: Sequence[float], bucket_size: int) -> list[LengthBucket]:
    """Buckets of target positions; `nll[i]` is the NLL of token i + 1 (token 0 is unscored)."""
    if bucket_size < 1:
        raise ValueError("bucket_size must be at least 1")
    sums: dict[int, float] = {}
    counts: dict[int, int] = {}
    for index, value in enumerate(nll):
        key = (index + 1) // bucket_size
        sums[key] = sums.get(key, 0.0) + value
        counts[key] = counts.get(key, 0) + 1
    return _buckets_from(sums, counts, bucket_size, limit=len(nll) + 1)


def _buckets_from(
    sums: dict[int, float], counts: dict[int, int], bucket_size: int, limit: int
) -> list[LengthBucket]:
    """Running sums turn into truncated losses; the last bucket ends at `limit` tokens."""
    buckets: list[LengthBucket] = []
    running_sum, running_count = 0.0, 0
    for key in sorted(counts):
        running_sum += sums[key]
        running_count += counts[key]
        loss = sums[key] / counts[key]
        cumulative = running_sum / running_count
        buckets.append(
            LengthBucket(
                start=key * bucket_size,
                end=min((key + 1) * bucket_size, limit),
                tokens=counts[key],
                nll_sum=sums[key],
                loss=loss,
                perplexity=perplexity_of(loss),
                cumulative_tokens=running_count,
                cumulative_loss=cumulative,
                cumulative_perplexity=perplexity_of(cumulative),
            )
        )
    return buckets


def pool_buckets(documents: Sequence[DocumentPpl], bucket_size: int) -> list[LengthBucket]:
    """Token-weighted buckets over documents: a short document adds only the buckets it reaches."""
    sums: dict[int, float] = {}
    counts: dict[int, int] = {}
    for document in documents:
        for bucket in document.buckets:
            key = bucket.start // bucket_size
            sums[key] = sums.get(key, 0.0) + bucket.nll_sum
            counts[key] = counts.get(key, 0) + bucket.tokens
    limit = max((document.tokens for document in documents), default=0)
    return _buckets_from(sums, counts, bucket_size, limit)


def document_nll(
    model: Any,
    ids: Sequence[int],
    window: int,
    stride: int | None,
    chunk_tokens: int = 1024,
    on_pass: Callable[[], None] | None = None,
) -> tuple[list[float], int]:
    """(NLL of tokens 1..T-1 in order, forward passes): one pass, or sliding windows."""
    import torch

    device = model_device(model)
    spans = [(0, len(ids), 1)] if stride is None else sliding_windows(len(ids), window, stride)
    nll: list[float] = []
    for begin, end, first_target in spans:
        batch = torch.tensor([list(ids[begin:end])], dtype=torch.long, device=device)
        # Entry j of the row scores token begin + j + 1; keep targets >= first_target.
        row = token_nll(model, batch, chunk_tokens=chunk_tokens)[0]
        nll.extend(row[first_target - begin - 1 :].double().tolist())
        if on_pass is not None:
            on_pass()
    return nll, len(spans)


def model_window(model: Any) -> int | None:
    config = getattr(model, "config", None)
    value = getattr(config, "max_position_embeddings", None)
    return int(value) if isinstance(value, int) else None


def evaluate_long_documents(
    model: Any,
    tokenizer: Any,
    paths: Sequence[Path | str],
    *,
    max_length: int,
    bucket_size: int,
    stride: int | None = None,
    window: int | None = None,
    chunk_tokens: int = 1024,
    progress: Progress | None = None,
) -> LongPplResult:
    """Perplexity of the first `max_length` tokens of each plain-text document, per length bucket.

    Without `stride`: one forward pass per document ("truncated" mode), also past the model's
    window, which is how a static engine's breakdown there is seen; valid for static engines
    only (dynamic scaling changes with the pass length: give each length its own call).
    With `stride`: sliding windows of `window` tokens (default: the model's window, at most
    `max_length`) advancing by `stride`; with window >= max_length it equals the single pass.
    No BOS is added to later windows (HF guide); whatever the tokenizer adds comes first.
    """
    import torch

    if max_length < 2:
        raise ValueError("max_length must be at least 2 (one token predicts the next)")
    if not paths:
        raise ValueError("no documents to evaluate")
    native = model_window(model)
    # The span is the longest context a scored token sees: the whole cut in one pass.
    span = max_length if stride is None else min(window or native or max_length, max_length)
    documents: list[tuple[Path, list[int]]] = []
    for raw in paths:
        path = Path(raw)
        ids = list(tokenizer(path.read_text(encoding="utf-8"))["input_ids"])[:max_length]
        if len(ids) < 2:
            raise ValueError(f"{path} has fewer than 2 tokens")
        documents.append((path, ids))
    total_passes = sum(
        1 if stride is None else len(sliding_windows(len(ids), span, stride))
        for _, ids in documents
    )
    done = 0

    def on_pass() -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(done, total_passes)

    was_training = bool(model.training)
    model.eval()
    results: list[DocumentPpl] = []
    try:
        with torch.inference_mode():
            for path, ids in documents:
                nll, passes = document_nll(model, ids, span, stride, chunk_tokens, on_pass)
                total = sum(nll)
                results.append(
                    DocumentPpl(
                        path=str(path),
                        tokens=len(ids),
                        scored_tokens=len(nll),
                        nll_sum=total,
                        loss=total / len(nll),
                        perplexity=perplexity_of(total / len(nll)),
                        passes=passes,
                        buckets=bucket_nll(nll, bucket_size),
                    )
                )
    finally:
        model.train(was_training)
    scored = sum(doc.scored_tokens for doc in results)
    nll_sum = sum(doc.nll_sum for doc in results)
    return LongPplResult(
        mode="single_pass" if stride is None else "sliding_window",
        max_length=max_length,
        bucket_size=bucket_size,
        stride=stride,
        window=span,
        model_window=native,
        scored_tokens=scored,
        nll_sum=nll_sum,
        loss=nll_sum / scored,
        perplexity=perplexity_of(nll_sum / scored),
        buckets=pool_buckets(results, bucket_size),
        documents=results,
    )
