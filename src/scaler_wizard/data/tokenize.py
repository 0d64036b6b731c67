"""Turn an `Example` into token ids and labels; loss only on what the model should learn to say."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from scaler_wizard.data.errors import DataError
from scaler_wizard.data.formats import Example, Message

IGNORE_INDEX = -100  # same value as the loss code's; data sits below evaluate, so not imported


@dataclass(frozen=True)
class TokenizedExample:
    """Token ids and same-length labels (IGNORE_INDEX where no loss is taken)."""

    input_ids: list[int]
    labels: list[int]
    truncated: bool = False

    @property
    def label_count(self) -> int:
        return sum(1 for label in self.labels if label != IGNORE_INDEX)


def tokenize_example(tokenizer: Any, example: Example, max_length: int) -> TokenizedExample:
    """Ids and labels of one example, cut to `max_length` tokens on the right.

    Conversations go through the tokenizer's chat template with loss on assistant turns only
    (their content and end-of-turn token); plain text learns every token and gets the EOS token;
    a prompt/completion pair is plain text learning only the completion (and EOS).
    The first label is always IGNORE_INDEX: no token predicts position 0.
    """
    if max_length < 1:
        raise ValueError(f"max_length must be >= 1, got {max_length}")
    if example.messages is not None:
        ids, labels = _conversation(tokenizer, example.messages, example.line, example.learn)
    elif example.text is not None:
        ids = list(tokenizer(example.text, add_special_tokens=False)["input_ids"])
        if tokenizer.eos_token_id is not None:
            ids.append(int(tokenizer.eos_token_id))
        labels = list(ids)
        if example.prompt is not None:  # tokenized apart so the boundary is exact, as in TRL
            prompt = [
                int(i) for i in tokenizer(example.prompt, add_special_tokens=False)["input_ids"]
            ]
            ids, labels = prompt + ids, [IGNORE_INDEX] * len(prompt) + labels
    else:
        raise ValueError("an Example needs messages or text")
    truncated = len(ids) > max_length
    ids, labels = ids[:max_length], labels[:max_length]
    if labels:
        labels[0] = IGNORE_INDEX
    return TokenizedExample(ids, labels, truncated)


def _conversation(
    tokenizer: Any, messages: Sequence[Message], line: int, learn: Collection[int] | None = None
) -> tuple[list[int], list[int]]:
    if not getattr(tokenizer, "chat_template", None):
        raise DataError(
            "the tokenizer has no chat template; set model.tokenizer.chat_template", line=line
        )
    full = _render(tokenizer, messages, False, line)
    spans = assistant_spans(tokenizer, messages, full, line, learn)
    try:
        encoded = tokenizer(full, add_special_tokens=False, return_offsets_mapping=True)
    except NotImplementedError as exc:
        raise DataError("assistant-only labels need a fast tokenizer (offset mapping)") from exc
    ids = [int(i) for i in encoded["input_ids"]]
    labels = [IGNORE_INDEX] * len(ids)
    span = 0
    for index, (start, _end) in enumerate(encoded["offset_mapping"]):
        while span < len(spans) and start >= spans[span][1]:
            span += 1
        if span < len(spans) and start >= spans[span][0]:
            labels[index] = ids[index]
    return ids, labels


def assistant_spans(
    tokenizer: Any,
    messages: Sequence[Message],
    full: str,
    line: int,
    learn: Collection[int] | None = None,
) -> list[tuple[int, int]]:
    """Character spans [start, end) of the assistant turns inside `full` (the whole rendering).

    A turn starts where the rendering of the turns before it, plus the generation prompt, ends
    and runs to the end of its own rendering, so its end-of-turn token is learned.
    """
    specials = _special_tokens(tokenizer)
    spans: list[tuple[int, int]] = []
    for index, message in enumerate(messages):
        if message.role != "assistant" or not message.content.strip():
            continue
        if learn is not None and index not in learn:  # context only (e.g. split_turns)
            continue
        before = _render(tokenizer, messages[:index], True, line)
        upto = _render(tokenizer, messages[: index + 1], False, line)
        if not (full.startswith(before) and full.startswith(upto) and len(upto) > len(before)):
            raise DataError(
                "the chat template is not prefix-stable: rendering the first "
                f"{index} message(s) is not a prefix of rendering the whole conversation, so "
                "assistant turns cannot be located; use a template that renders earlier turns "
                "the same whatever follows (set model.tokenizer.chat_template)",
                line=line,
            )
        spans.append((len(before), _turn_end(upto, len(before), specials)))
    return spans


def _turn_end(upto: str, start: int, specials: Sequence[str]) -> int:
    """End of a turn: whitespace after a closing special token (ChatML's "\\n") is not learned,
    since generation stops at that token; without one, the whole rendering is kept."""
    stripped = upto.rstrip()
    if len(stripped) > start and any(tok and stripped.endswith(tok) for tok in specials):
        return len(stripped)
    return len(upto)


def _special_tokens(tokenizer: Any) -> list[str]:
    tokens = {str(t) for t in getattr(tokenizer, "all_special_tokens", [])}
    decoder = getattr(tokenizer, "added_tokens_decoder", {}) or {}
    tokens.update(str(t.content) for t in decoder.values() if getattr(t, "special", False))
    return sorted(tokens)


def _render(
    tokenizer: Any, messages: Sequence[Message], add_generation_prompt: bool, line: int
) -> str:
    conversation = [{"role": m.role, "content": m.content} for m in messages]
    try:
        rendered = tokenizer.apply_chat_template(
            conversation, tokenize=False, add_generation_prompt=add_generation_prompt
        )
    except Exception as exc:  # jinja raises many types; all mean "this template cannot render it"
        raise DataError(f"the chat template failed: {exc}", line=line) from exc
    return str(rendered)
