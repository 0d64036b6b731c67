"""Detect a file's record format and convert records into validated `Example`s."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

from scaler_wizard.data.errors import DataError
from scaler_wizard.data.records import RawRecord, RecordFile

Format = Literal["messages", "sharegpt", "alpaca", "completion", "text"]
Requested = Literal["auto", "messages", "sharegpt", "alpaca", "completion", "text"]
ROLES = ("system", "user", "assistant")
# ShareGPT dumps name speakers differently; these are the spellings seen in the wild.
SHAREGPT_ROLES = {
    "human": "user",
    "user": "user",
    "gpt": "assistant",
    "chatgpt": "assistant",
    "assistant": "assistant",
    "system": "system",
}
NEEDED: dict[Format, tuple[str, ...]] = {
    "messages": ("messages",),
    "sharegpt": ("conversations",),
    "alpaca": ("instruction", "output"),
    "completion": ("prompt", "completion"),
    "text": ("text",),
}


@dataclass(frozen=True)
class Message:
    role: str
    content: str


@dataclass(frozen=True)
class Example:
    """A conversation (`messages`) or a plain text (`text`); exactly one is set.

    A prompt/completion record is a plain text with a `prompt` before it: no chat template,
    and loss on the completion only.

    `learn` lists the message indices that carry loss; None means every assistant turn.
    `source` names the source it came from when several are mixed (the report counts by it);
    `tags` are (field, value) pairs set by tagging transforms such as `label_functions`.
    """

    messages: tuple[Message, ...] | None
    text: str | None
    line: int
    learn: tuple[int, ...] | None = None
    source: str | None = None
    tags: tuple[tuple[str, str], ...] = ()
    prompt: str | None = None

    def tag(self, field: str) -> str | None:
        return next((value for key, value in self.tags if key == field), None)

    def with_tag(self, field: str, value: str) -> Example:
        """A copy tagged `field=value` (an earlier value of the same field is replaced)."""
        kept = tuple((k, v) for k, v in self.tags if k != field)
        return replace(self, tags=(*kept, (field, value)))


def detect_format(data: Mapping[str, Any]) -> Format | None:
    """The format a record looks like, or None when it matches none."""
    if "messages" in data:
        return "messages"
    if "conversations" in data:
        return "sharegpt"
    if "instruction" in data and "output" in data:
        return "alpaca"
    if "prompt" in data and "completion" in data:
        return "completion"
    if "text" in data:
        return "text"
    return None


def convert_file(source: RecordFile, requested: Requested = "auto") -> tuple[Format, list[Example]]:
    """The file's format (detected unless `requested`) and its examples.

    Bad records raise, or are counted in `source.skips` when the source's policy is skip.
    """
    if not source.records:
        return ("text" if requested == "auto" else requested), []
    fmt: Format | None = requested if requested != "auto" else None
    how = "data.format"
    if fmt is None:
        # The first record with a known shape decides, so one bad first line can be skipped.
        first = next((r for r in source.records if detect_format(r.data)), source.records[0])
        fmt = detect_format(first.data)
        if fmt is None:
            raise source.error(_unknown_shape(first.data), first.line)
        how = f"detected from {source.unit} {first.line}"
    examples: list[Example] = []
    for record in source.records:
        try:
            examples.append(_convert(source, record, fmt, how))
        except DataError as exc:
            source.skips.handle(exc, str(dict(record.data)))
    return fmt, examples


def split_turns(examples: Sequence[Example]) -> list[Example]:
    """One example per assistant turn, with every turn before it as (unlearned) context."""
    out: list[Example] = []
    for example in examples:
        if example.messages is None:
            out.append(example)
            continue
        turns = [
            i for i, m in enumerate(example.messages) if m.role == "assistant" and m.content.strip()
        ]
        if len(turns) <= 1:
            out.append(example)
            continue
        out.extend(replace(example, messages=example.messages[: i + 1], learn=(i,)) for i in turns)
    return out


def _unknown_shape(data: Mapping[str, Any]) -> str:
    return (
        "record has neither 'messages', 'conversations', 'instruction'/'output', "
        "'prompt'/'completion' nor 'text'; "
        f"keys: {sorted(data)}"
    )


def _convert(source: RecordFile, record: RawRecord, fmt: Format, how: str) -> Example:
    data, line = record.data, record.line
    if any(key not in data for key in NEEDED[fmt]):
        seen = detect_format(data)
        if seen is None:
            raise source.error(_unknown_shape(data), line)
        raise source.error(
            f"record is {seen!r} but the file's format is {fmt!r} ({how}); keys: {sorted(data)}",
            line,
        )
    if fmt == "messages":
        return Example(_messages(source, data["messages"], line), None, line)
    if fmt == "sharegpt":
        turns = _messages(source, data["conversations"], line, "conversations", SHAREGPT_ROLES)
        return Example(turns, None, line)
    if fmt == "alpaca":
        return Example(_alpaca(source, data, line), None, line)
    if fmt == "completion":
        prompt, completion = data["prompt"], data["completion"]
        if not isinstance(prompt, str) or not isinstance(completion, str):
            raise source.error("'prompt' and 'completion' must be strings", line)
        if not completion.strip():
            raise source.error("'completion' is empty: nothing to learn from", line)
        return Example(None, completion, line, prompt=prompt)
    text = data["text"]
    if not isinstance(text, str) or not text.strip():
        raise source.error("'text' must be a non-empty string", line)
    return Example(None, text, line)


def _messages(
    source: RecordFile,
    raw: Any,
    line: int,
    key: str = "messages",
    roles: Mapping[str, str] | None = None,
) -> tuple[Message, ...]:
    """OpenAI {role, content} turns, or ShareGPT {from, value} turns when `roles` maps them."""
    role_key, content_key = ("role", "content") if roles is None else ("from", "value")
    allowed = ROLES if roles is None else tuple(roles)
    if not isinstance(raw, list) or not raw:
        raise source.error(f"'{key}' must be a non-empty list", line)
    messages: list[Message] = []
    for index, item in enumerate(raw):
        if not isinstance(item, dict):
            raise source.error(f"{key}[{index}] must be an object", line)
        role, content = item.get(role_key), item.get(content_key)
        if role not in allowed:
            raise source.error(
                f"{key}[{index}].{role_key} must be one of {', '.join(allowed)} (got {role!r})",
                line,
            )
        if not isinstance(content, str):
            raise source.error(f"{key}[{index}].{content_key} must be a string", line)
        messages.append(Message(role if roles is None else roles[role], content))
    if messages[0].role == "assistant":
        # The loss span of a turn starts after the template's rendering of the turns before it;
        # chat templates cannot render an empty conversation, so a first assistant turn has none.
        raise source.error(f"{key}[0] is an assistant turn; start with a system or user turn", line)
    if not any(m.role == "assistant" and m.content.strip() for m in messages):
        raise source.error("conversation has no assistant turn with content to learn from", line)
    return tuple(messages)


def _alpaca(source: RecordFile, data: Mapping[str, Any], line: int) -> tuple[Message, ...]:
    instruction, extra, output = data["instruction"], data.get("input") or "", data["output"]
    for name, value in (("instruction", instruction), ("input", extra), ("output", output)):
        if not isinstance(value, str):
            raise source.error(f"'{name}' must be a string", line)
    if not output.strip():
        raise source.error("'output' is empty: nothing to learn from", line)
    prompt = f"{instruction}\n\n{extra}" if extra else instruction
    return Message("user", prompt), Message("assistant", output)
