"""Parse a model's continuation into one instruction/response pair, or say why not.

Small models drift from the format, so the parser accepts the prompt's markdown markers with
any number of `#`, any case and an optional colon, the synonyms Task/Question and
Answer/Output, or a JSON object {instruction, response}. The response ends at the next
instruction marker or heading; text that ran into the token limit without an end is refused,
since a cut-off answer teaches the model to stop mid-sentence.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

_INSTRUCTION = r"(?:instruction|task|question)"
_RESPONSE = r"(?:response|answer|output)"
# A marker is a word at a line start, then a colon or the end of that line ("### Response").
_MARK = r"(?:^|\n)[ \t]*#*[ \t]*{word}[ \t]*(?::[ \t]*|(?=\n)|$)\n?"
INSTRUCTION_MARK = re.compile(_MARK.format(word=_INSTRUCTION), re.IGNORECASE)
RESPONSE_MARK = re.compile(_MARK.format(word=_RESPONSE), re.IGNORECASE)
HEADING = re.compile(r"\n[ \t]*#{1,6}[ \t]")
JSON_OBJECT = re.compile(r"\{.*\}", re.DOTALL)
MIN_INSTRUCTION_CHARS = 8


@dataclass(frozen=True)
class Pair:
    instruction: str
    response: str


def parse_pair(text: str, finished: bool) -> tuple[Pair | None, str | None]:
    """(pair, None) or (None, reason). `finished`: generation stopped on its own (EOS)."""
    found = _from_json(text)
    if found is not None:
        return _checked(found)
    body = text.lstrip()
    lead = INSTRUCTION_MARK.match(body)
    if lead is not None:  # the prompt ends with the marker, but a model may repeat it
        body = body[lead.end() :]
    split = RESPONSE_MARK.search(body)
    if split is None:
        return None, "no response marker"
    instruction, rest = body[: split.start()], body[split.end() :]
    end = _first(INSTRUCTION_MARK.search(rest), HEADING.search(rest))
    if end is None and not finished:
        return None, "truncated at max_new_tokens"
    response = rest if end is None else rest[:end]
    return _checked(Pair(instruction.strip(), response.strip()))


def _first(*matches: re.Match[str] | None) -> int | None:
    starts = [m.start() for m in matches if m is not None]
    return min(starts) if starts else None


def _from_json(text: str) -> Pair | None:
    match = JSON_OBJECT.search(text)
    if match is None:
        return None
    try:
        value = json.loads(match.group())
    except json.JSONDecodeError:
        return None
    if not isinstance(value, dict):
        return None
    instruction = value.get("instruction") or value.get("question")
    response = value.get("response") or value.get("answer") or value.get("output")
    if isinstance(instruction, str) and isinstance(response, str):
        return Pair(instruction.strip(), response.strip())
    return None


def _checked(pair: Pair) -> tuple[Pair | None, str | None]:
    if len(pair.instruction) < MIN_INSTRUCTION_CHARS:
        return None, "instruction empty or too short"
    if not pair.response:
        return None, "empty response"
    return pair, None
