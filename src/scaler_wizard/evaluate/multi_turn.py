"""Held-out loss per assistant turn: turn 1, turn 2, ... of each conversation, and overall.

Conversations are tokenized exactly as for training (chat template, labels on assistant turns
only, their end-of-turn token included), so a reply is a run of label tokens. The run's number
is how many assistant headers the text before it holds, which also numbers turns correctly
when `data.split_turns` left earlier replies unlabelled.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

from scaler_wizard.data.errors import DataError
from scaler_wizard.data.formats import Example, convert_file
from scaler_wizard.data.records import read_records
from scaler_wizard.data.tokenize import tokenize_example
from scaler_wizard.evaluate.chat_markers import ChatMarkers, chat_markers
from scaler_wizard.evaluate.held_out import model_device, perplexity_of
from scaler_wizard.evaluate.loss import IGNORE_INDEX, backbone_and_head, label_hidden

if TYPE_CHECKING:
    import torch

Progress = Callable[[int, int], None]
CONVERSATION_FORMATS = ("messages", "sharegpt", "alpaca")


@dataclass(frozen=True)
class Reply:
    """One assistant reply: its turn number (1-based) and its label tokens [start, end)."""

    turn: int
    start: int
    end: int


@dataclass(frozen=True)
class Conversation:
    """A tokenized conversation: ids, training labels, and where its replies are."""

    input_ids: list[int]
    labels: list[int]
    replies: tuple[Reply, ...]


class TurnLoss(BaseModel):
    model_config = ConfigDict(frozen=True)

    turn: int
    loss: float  # mean nats per label token of this turn's replies
    perplexity: float
    label_tokens: int
    replies: int


class MultiTurnResult(BaseModel):
    """Token-weighted loss per assistant turn, and over every reply."""

    model_config = ConfigDict(frozen=True)

    loss: float
    perplexity: float
    label_tokens: int
    conversations: int
    replies: int
    turns: list[TurnLoss]

    def loss_by_turn(self) -> dict[str, float]:
        """{"1": 2.31, "2": 2.05, ...}: JSON keys are strings, like passkey lengths."""
        return {str(t.turn): t.loss for t in self.turns}

    def perplexity_by_turn(self) -> dict[str, float]:
        return {str(t.turn): t.perplexity for t in self.turns}


def label_runs(labels: Sequence[int]) -> list[tuple[int, int]]:
    """Maximal runs [start, end) of positions whose label is set."""
    runs: list[tuple[int, int]] = []
    start: int | None = None
    for index, label in enumerate(labels):
        if label != IGNORE_INDEX and start is None:
            start = index
        elif label == IGNORE_INDEX and start is not None:
            runs.append((start, index))
            start = None
    if start is not None:
        runs.append((start, len(labels)))
    return runs


def find_replies(
    tokenizer: Any, input_ids: Sequence[int], labels: Sequence[int], markers: ChatMarkers
) -> tuple[Reply, ...]:
    """The label runs that follow an assistant header, numbered by the headers before them.

    A run with no header before it is plain text or a completion, not a chat reply: skipped.
    A template without a generation prompt cannot tell; its runs are numbered in order.
    """
    header = markers.assistant_header
    replies: list[Reply] = []
    for start, end in label_runs(labels):
        if not header:
            replies.append(Reply(len(replies) + 1, start, end))
            continue
        before = str(tokenizer.decode(list(input_ids[:start]), skip_special_tokens=False))
        if before.rstrip().endswith(markers.generation_prompt.rstrip()):
            replies.append(Reply(before.count(header), start, end))
    return tuple(replies)


def row_documents(rows: Iterable[Any]) -> Iterable[tuple[list[int], list[int]]]:
    """(input_ids, labels) of each document of packed rows: by the row's `lengths` when it
    has them (the data layer's rows), else where the position ids restart at 0."""
    for row in rows:
        ids, labels = [int(i) for i in row.input_ids], [int(i) for i in row.labels]
        lengths = getattr(row, "lengths", None)
        if not lengths:
            positions = list(row.position_ids)
            starts = [i for i, p in enumerate(positions) if p == 0] or [0]
            lengths = [b - a for a, b in zip(starts, [*starts[1:], len(ids)], strict=True)]
        offset = 0
        for length in lengths:
            yield ids[offset : offset + length], labels[offset : offset + length]
            offset += length


def conversations_from_rows(
    tokenizer: Any, rows: Iterable[Any], limit: int | None = None
) -> list[Conversation]:
    """The chat conversations among held-out rows (the run's own eval split), at most `limit`."""
    markers = chat_markers(tokenizer)
    found: list[Conversation] = []
    for ids, labels in row_documents(rows):
        if limit is not None and len(found) >= limit:
            break
        replies = find_replies(tokenizer, ids, labels, markers)
        if replies:
            found.append(Conversation(ids, labels, replies))
    return found


def read_conversations(
    path: Path, field: str = "conversations", limit: int | None = None
) -> list[Example]:
    """The first `limit` conversations of a JSONL/JSON file: OpenAI messages, ShareGPT or
    Alpaca records (the format is detected as for training data)."""
    source = read_records(path, field)
    fmt, examples = convert_file(source)
    if fmt not in CONVERSATION_FORMATS:
        raise DataError(
            f"records are {fmt!r}; multi-turn evaluation needs conversations: "
            "'messages' (OpenAI), 'conversations' (ShareGPT) or 'instruction'/'output' (Alpaca)",
            field=field,
            path=path,
        )
    if not examples:
        raise DataError("no conversation to evaluate", field=field, path=path)
    return examples[:limit] if limit is not None else examples


def tokenize_conversations(
    tokenizer: Any, examples: Sequence[Example], max_length: int
) -> list[Conversation]:
    """Examples tokenized as for training (cut to `max_length` tokens), with their replies."""
    markers = chat_markers(tokenizer)
    found: list[Conversation] = []
    for example in examples:
        tokenized = tokenize_example(tokenizer, example, max_length)
        replies = find_replies(tokenizer, tokenized.input_ids, tokenized.labels, markers)
        if replies:
            found.append(Conversation(tokenized.input_ids, tokenized.labels, replies))
    return found


def evaluate_turns(
    model: Any,
    conversations: Sequence[Conversation],
    *,
    batch_size: int = 4,
    chunk_tokens: int = 1024,
    progress: Progress | None = None,
) -> MultiTurnResult:
    """Mean cross-entropy (nats per label token) per assistant turn and over all replies.

    One forward pass per conversation scores all of its turns; the LM head runs on
    `chunk_tokens` label positions at a time, so [tokens x vocab] logits never exist.
    """
    import torch

    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    if not conversations:
        raise ValueError("no conversation with an assistant reply to evaluate")
    device = model_device(model)
    _, head = backbone_and_head(model)
    sums: dict[int, float] = {}
    counts: dict[int, int] = {}
    replies: dict[int, int] = {}
    for conversation in conversations:
        for reply in conversation.replies:
            replies[reply.turn] = replies.get(reply.turn, 0) + 1
    was_training = bool(model.training)
    model.eval()
    try:
        with torch.inference_mode():
            for first in range(0, len(conversations), batch_size):
                batch = conversations[first : first + batch_size]
                ids, labels, turns, positions = _collate(batch, device)
                selected, wanted = label_hidden(model, ids, labels, positions)
                turn_of = turns[:, 1:][labels[:, 1:] != IGNORE_INDEX]
                for start in range(0, wanted.numel(), chunk_tokens):
                    stop = start + chunk_tokens
                    logits = head(selected[start:stop]).float()
                    nll = torch.nn.functional.cross_entropy(
                        logits, wanted[start:stop], reduction="none"
                    )
                    _accumulate(sums, counts, turn_of[start:stop], nll)
                if progress is not None:
                    progress(first + len(batch), len(conversations))
    finally:
        model.train(was_training)
    total_tokens = sum(counts.values())
    if total_tokens == 0:
        raise ValueError("the conversations' replies contain no label token")
    loss = sum(sums.values()) / total_tokens
    per_turn = [
        TurnLoss(
            turn=turn,
            loss=sums[turn] / counts[turn],
            perplexity=perplexity_of(sums[turn] / counts[turn]),
            label_tokens=counts[turn],
            replies=replies.get(turn, 0),
        )
        for turn in sorted(counts)
    ]
    return MultiTurnResult(
        loss=loss,
        perplexity=perplexity_of(loss),
        label_tokens=total_tokens,
        conversations=len(conversations),
        replies=sum(replies.values()),
        turns=per_turn,
    )


def _collate(
    batch: Sequence[Conversation], device: Any
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Right-padded ids, labels kept on replies only, each label position's turn (0: none),
    and positions counting on through the padding (one sequence per row, as in held_out)."""
    import torch

    width = max(len(c.input_ids) for c in batch)
    ids: list[list[int]] = []
    labels: list[list[int]] = []
    turns: list[list[int]] = []
    positions: list[list[int]] = []
    for conversation in batch:
        n = len(conversation.input_ids)
        row_labels = [IGNORE_INDEX] * width
        row_turns = [0] * width
        for reply in conversation.replies:
            for index in range(reply.start, reply.end):
                row_labels[index] = conversation.labels[index]
                row_turns[index] = reply.turn
        ids.append([*conversation.input_ids, *([0] * (width - n))])
        labels.append(row_labels)
        turns.append(row_turns)
        positions.append(list(range(width)))

    def as_tensor(rows: list[list[int]]) -> torch.Tensor:
        return torch.tensor(rows, dtype=torch.long, device=device)

    return as_tensor(ids), as_tensor(labels), as_tensor(turns), as_tensor(positions)


def _accumulate(
    sums: dict[int, float], counts: dict[int, int], turns: torch.Tensor, nll: torch.Tensor
) -> None:
    """Add each position's NLL to its turn; float64 sums, since thousands of float32 drift."""
    import torch

    size = int(turns.max()) + 1 if turns.numel() else 0
    if size == 0:
        return
    totals = torch.bincount(turns, weights=nll.double(), minlength=size).tolist()
    numbers = torch.bincount(turns, minlength=size).tolist()
    for turn in range(1, size):
        if numbers[turn]:
            sums[turn] = sums.get(turn, 0.0) + float(totals[turn])
            counts[turn] = counts.get(turn, 0) + int(numbers[turn])
