"""What a labeling function is: `(example) -> vote`, and the text helpers most of them need.

A vote is a label string ("keep", "drop", or any class name when tagging) or None to abstain.
Functions see one record at a time and never each other: the label model combines the votes.
"""

from __future__ import annotations

from collections.abc import Callable

from scaler_wizard.data.formats import Example

Vote = str | None
LabelFunction = Callable[[Example], Vote]
KEEP, DROP = "keep", "drop"
ABSTAIN: Vote = None


def question_of(example: Example) -> str:
    """The user turns of a conversation (or a completion's prompt), joined; empty for plain
    text, which has no prompt."""
    if example.messages is None:
        return example.prompt or ""
    return "\n".join(m.content for m in example.messages if m.role == "user")


def answer_of(example: Example) -> str:
    """The assistant turns of a conversation, joined; a plain text is all answer."""
    if example.messages is None:
        return example.text or ""
    return "\n".join(m.content for m in example.messages if m.role == "assistant")
