"""Record builders shared by the data tests."""

from __future__ import annotations

from typing import Any


def chat(question: str, answer: str, *more: str) -> dict[str, Any]:
    """A `messages` record: user/assistant, plus optional further user/assistant pairs."""
    turns = [question, answer, *more]
    roles = ["user", "assistant"] * len(turns)
    return {"messages": [{"role": r, "content": c} for r, c in zip(roles, turns, strict=False)]}
