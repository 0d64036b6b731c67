"""Record builders shared by the data tests."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def chat(question: str, answer: str, *more: str) -> dict[str, Any]:
    """A `messages` record: user/assistant, plus optional further user/assistant pairs."""
    turns = [question, answer, *more]
    roles = ["user", "assistant"] * len(turns)
    return {"messages": [{"role": r, "content": c} for r, c in zip(roles, turns, strict=False)]}


def write_jsonl(folder: Path, records: Sequence[Any], name: str = "data.jsonl") -> Path:
    """Write records (dicts, or raw strings for broken lines) as JSONL; returns the path."""
    path = folder / name
    lines = [r if isinstance(r, str) else json.dumps(r) for r in records]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def examples_in_rows(rows: Any) -> list[tuple[int, ...]]:
    """The token ids of every example placed in packed rows, in order."""
    out = []
    for row in rows:
        start = 0
        for length in row.lengths:
            out.append(tuple(row.input_ids[start : start + length]))
            start += length
    return out
