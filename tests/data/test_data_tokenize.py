"""Tokenizing examples: assistant-only labels through the chat template, text with EOS."""

from __future__ import annotations

from typing import Any

import pytest

from scaler_wizard.data import DataError, Message, tokenize_example
from scaler_wizard.data.formats import Example
from scaler_wizard.data.tokenize import IGNORE_INDEX

CONVERSATION = (
    Message("system", "You are terse."),
    Message("user", "What does `json.dumps` do?"),
    Message("assistant", "Serialize obj to a JSON formatted str."),
    Message("user", "The pass key is 12345. Remember it."),
    Message("assistant", "The sky is blue. There and back again."),
)


def labelled_segments(tokenizer: Any, labels: list[int]) -> list[str]:
    """Decoded runs of consecutive labelled tokens."""
    runs: list[list[int]] = []
    previous = IGNORE_INDEX
    for label in labels:
        if label != IGNORE_INDEX:
            if previous == IGNORE_INDEX:
                runs.append([])
            runs[-1].append(label)
        previous = label
    return [tokenizer.decode(run, skip_special_tokens=False) for run in runs]


def test_only_assistant_turns_and_their_end_token_are_learned(tiny_tokenizer: Any) -> None:
    example = Example(CONVERSATION, None, line=1)
    tokenized = tokenize_example(tiny_tokenizer, example, max_length=1024)
    assert labelled_segments(tiny_tokenizer, tokenized.labels) == [
        "Serialize obj to a JSON formatted str.<|im_end|>",
        "The sky is blue. There and back again.<|im_end|>",
    ]
    # Exactly the template's rendering, no extra BOS or other special tokens.
    rendered = tiny_tokenizer.apply_chat_template(
        [{"role": m.role, "content": m.content} for m in CONVERSATION], tokenize=False
    )
    assert tokenized.input_ids == tiny_tokenizer(rendered, add_special_tokens=False)["input_ids"]
    assert tokenized.labels[0] == IGNORE_INDEX
    assert not tokenized.truncated


def test_plain_text_learns_every_token_and_eos(tiny_tokenizer: Any) -> None:
    text = "The quick brown fox jumps over the lazy dog."
    tokenized = tokenize_example(tiny_tokenizer, Example(None, text, line=1), max_length=1024)
    ids = tiny_tokenizer(text, add_special_tokens=False)["input_ids"]
    assert tokenized.input_ids == [*ids, tiny_tokenizer.eos_token_id]
    # position 0 is never predicted; every later token is
    assert tokenized.labels == [IGNORE_INDEX, *tokenized.input_ids[1:]]


@pytest.mark.parametrize(
    ("example", "max_length", "length", "labels", "truncated"),
    [
        (Example(None, "The quick brown fox jumps over the lazy dog.", 1), 5, 5, 4, True),
        (Example(None, "The quick brown fox jumps over the lazy dog.", 1), 1, 1, 0, True),
        # the user turn alone fills max_length: nothing left to learn
        (Example(CONVERSATION[1:3], None, 1), 8, 8, 0, True),
    ],
)
def test_truncation_on_the_right(
    tiny_tokenizer: Any,
    example: Example,
    max_length: int,
    length: int,
    labels: int,
    truncated: bool,
) -> None:
    full = tokenize_example(tiny_tokenizer, example, max_length=10_000)
    tokenized = tokenize_example(tiny_tokenizer, example, max_length=max_length)
    assert tokenized.input_ids == full.input_ids[:length]
    assert tokenized.label_count == labels
    assert tokenized.truncated is truncated


def test_prefix_unstable_template_is_rejected(
    tiny_tokenizer: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Renders the last message differently from earlier ones: prefixes do not line up.
    unstable = (
        "{% for m in messages %}{% if loop.last %}LAST {% endif %}"
        "{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"
    )
    monkeypatch.setattr(tiny_tokenizer, "chat_template", unstable)
    with pytest.raises(DataError, match="line 7: the chat template is not prefix-stable"):
        tokenize_example(tiny_tokenizer, Example(CONVERSATION, None, line=7), max_length=512)


def test_missing_chat_template_is_an_error(
    tiny_tokenizer: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tiny_tokenizer, "chat_template", None)
    with pytest.raises(DataError, match=r"no chat template; set model\.tokenizer\.chat_template"):
        tokenize_example(tiny_tokenizer, Example(CONVERSATION, None, line=1), max_length=512)


def test_turn_without_closing_special_token_keeps_its_whole_rendering(
    tiny_tokenizer: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No special end-of-turn token: the trailing newline is the only "stop", so it is learned.
    plain = (
        "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"
        "{% if add_generation_prompt %}assistant: {% endif %}"
    )
    monkeypatch.setattr(tiny_tokenizer, "chat_template", plain)
    example = Example(CONVERSATION[1:3], None, line=1)
    tokenized = tokenize_example(tiny_tokenizer, example, max_length=512)
    assert labelled_segments(tiny_tokenizer, tokenized.labels) == [
        "Serialize obj to a JSON formatted str.\n"
    ]
