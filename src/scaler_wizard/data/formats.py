"""Detect a file's record format and convert records into validated `Example`s."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from scaler_wizard.data.records import RawRecord, RecordFile

Format = Literal["messages", "alpaca", "text"]
ROLES = ("system", "user", "assistant")


@dataclass(frozen=True)
class Message:
    role: str
    content: str


@dataclass(frozen=True)
class Example:
    """A conversation (`messages`) or a plain text (`text`); exactly one is set."""

    messages: tuple[Message, ...] | None
    text: str | None
    line: int


def detect_format(data: Mapping[str, Any]) -> Format | None:
    """The format a record looks like, or None when it matches none."""
    if "messages" in data:
        return "messages"
    if "instruction" in data and "output" in data:
        return "alpaca"
    if "text" in data:
        return "text"
    return None


def convert_file(
    source: RecordFile, requested: Literal["auto", "messages", "alpaca", "text"] = "auto"
) -> tuple[Format, list[Example]]:
    """The file's format (from its first record unless `requested`) and its examples."""
    if not source.records:
        return ("text" if requested == "auto" else requested), []
    first = source.records[0]
    fmt: Format | None = detect_format(first.data) if requested == "auto" else requested
    if fmt is None:
        raise source.error(_unknown_shape(first.data), first.line)
    how = f"detected from {source.unit} {first.line}" if requested == "auto" else "data.format"
    return fmt, [_convert(source, record, fmt, how) for record in source.records]


def _unknown_shape(data: Mapping[str, Any]) -> str:
    return f"record has neither 'messages', 'instruction'/'output' nor 'text'; keys: {sorted(data)}"


def _convert(source: RecordFile, record: RawRecord, fmt: Format, how: str) -> Example:
    data, line = record.data, record.line
    needed = {"messages": ("messages",), "alpaca": ("instruction", "output"), "text": ("text",)}
    if any(key not in data for key in needed[fmt]):
        seen = detect_format(data)
        if seen is None:
            raise source.error(_unknown_shape(data), line)
        raise source.error(
            f"record is {seen!r} but the file's format is {fmt!r} ({how}); keys: {sorted(data)}",
            line,
        )
    if fmt == "messages":
        return Example(_messages(source, data["messages"], line), None, line)
    if fmt == "alpaca":
        return Example(_alpaca(source, data, line), None, line)
    text = data["text"]
    if not isinstance(text, str) or not text.strip():
        raise source.error("'text' must be a non-empty string", line)
    return Example(None, text, line)


def _messages(source: RecordFile, raw: Any, line: int) -> tuple[Message, ...]:
    if not isinstance(raw, list) or not raw:
        raise source.error("'messages' must be a non-empty list", line)
    messages: list[Message] = []
    for index, item in enumerate(raw):
        if not isinstance(item, dict):
            raise source.error(f"messages[{index}] must be an object", line)
        role, content = item.get("role"), item.get("content")
        if role not in ROLES:
            raise source.error(
                f"messages[{index}].role must be one of {', '.join(ROLES)} (got {role!r})", line
            )
        if not isinstance(content, str):
            raise source.error(f"messages[{index}].content must be a string", line)
        messages.append(Message(role, content))
    if messages[0].role == "assistant":
        # The loss span of a turn starts after the template's rendering of the turns before it;
        # chat templates cannot render an empty conversation, so a first assistant turn has none.
        raise source.error(
            "messages[0] is an assistant turn; start with a system or user turn", line
        )
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
