"""Loss per assistant turn: the tokens, labels and numbers of training's loss, split by turn."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from scaler_wizard.data import DataError
from scaler_wizard.data.formats import Example, Message
from scaler_wizard.data.packing import pack_examples
from scaler_wizard.data.tokenize import tokenize_example
from scaler_wizard.evaluate.chat_markers import ChatTemplateError, chat_markers, role_leaks
from scaler_wizard.evaluate.held_out import evaluate_held_out
from scaler_wizard.evaluate.multi_turn import (
    conversations_from_rows,
    evaluate_turns,
    label_runs,
    read_conversations,
    row_documents,
    tokenize_conversations,
)

DATA = Path(__file__).parent / "data"
CHATS = DATA / "chats.jsonl"
IGNORE = -100


def test_chat_markers_of_chatml(tiny_tokenizer: Any) -> None:
    markers = chat_markers(tiny_tokenizer)
    assert markers.generation_prompt == "<|im_start|>assistant\n"
    assert markers.end_of_turn == "<|im_end|>"
    assert markers.stop_token_ids == (tiny_tokenizer.convert_tokens_to_ids("<|im_end|>"),)
    assert markers.headers == ("<|im_start|>user", "<|im_start|>assistant")
    assert set(markers.special_tokens) == {"<|endoftext|>", "<|im_start|>", "<|im_end|>"}


def test_role_leaks_name_what_leaked(tiny_tokenizer: Any) -> None:
    markers = chat_markers(tiny_tokenizer)
    assert role_leaks("The sky is blue.\nA user: asks", markers) == []  # not at a line start
    assert role_leaks("Sure.\nUser: and now?", markers) == ["role line 'User:'"]
    leaked = role_leaks("Fine.<|im_start|>user\nhi", markers)
    assert leaked == ["special token <|im_start|>", "role header '<|im_start|>user'"]


def test_a_tokenizer_without_template_is_refused(tiny_tokenizer: Any) -> None:
    bare = tiny_tokenizer.__class__(tokenizer_object=tiny_tokenizer.backend_tokenizer)
    bare.chat_template = None
    with pytest.raises(ChatTemplateError, match="no chat template"):
        chat_markers(bare)


def test_label_runs() -> None:
    assert label_runs([IGNORE, 5, 6, IGNORE, IGNORE, 7, IGNORE, 8, 9]) == [(1, 3), (5, 6), (7, 9)]
    assert label_runs([IGNORE, IGNORE]) == []


def reference_turn_losses(model: Any, tokenizer: Any) -> dict[int, tuple[float, int]]:
    """Full-logits cross-entropy per turn, turns found from the chats' messages themselves:
    the k-th assistant message with content is turn k, whatever the code under test finds."""
    import torch
    from torch.nn import functional

    sums: dict[int, float] = {}
    counts: dict[int, int] = {}
    for line, record in enumerate(CHATS.read_text().splitlines(), 1):
        messages = tuple(Message(m["role"], m["content"]) for m in json.loads(record)["messages"])
        tokenized = tokenize_example(tokenizer, Example(messages, None, line), 512)
        runs = label_runs(tokenized.labels)
        assert len(runs) == sum(m.role == "assistant" for m in messages)
        with torch.no_grad():
            logits = model(input_ids=torch.tensor([tokenized.input_ids])).logits[0]
        for turn, (start, end) in enumerate(runs, 1):
            targets = torch.tensor(tokenized.input_ids[start:end])
            nll = functional.cross_entropy(logits[start - 1 : end - 1], targets, reduction="sum")
            sums[turn] = sums.get(turn, 0.0) + float(nll)
            counts[turn] = counts.get(turn, 0) + end - start
    return {turn: (sums[turn] / counts[turn], counts[turn]) for turn in sums}


def test_turn_losses_equal_full_logits_cross_entropy(tiny_model: Any, tiny_tokenizer: Any) -> None:
    examples = read_conversations(CHATS)
    conversations = tokenize_conversations(tiny_tokenizer, examples, 512)
    result = evaluate_turns(tiny_model, conversations, batch_size=3, chunk_tokens=5)
    expected = reference_turn_losses(tiny_model, tiny_tokenizer)
    assert [t.turn for t in result.turns] == [1, 2, 3]
    assert [t.replies for t in result.turns] == [4, 3, 2]  # the chats have 3, 2, 1 and 3 turns
    for turn in result.turns:
        loss, count = expected[turn.turn]
        assert turn.label_tokens == count
        assert turn.loss == pytest.approx(loss, abs=1e-4)
    total = sum(loss * count for loss, count in expected.values())
    assert result.label_tokens == sum(count for _, count in expected.values())
    assert result.loss == pytest.approx(total / result.label_tokens, abs=1e-4)
    assert result.conversations == 4 and result.replies == 9
    assert result.loss_by_turn() == {str(t.turn): t.loss for t in result.turns}


def test_held_out_rows_give_the_same_turns_and_the_held_out_loss(
    tiny_model: Any, tiny_tokenizer: Any
) -> None:
    """From packed eval rows (the run's own split), documents and turns are recovered exactly;
    over all-chat data the overall loss is the held-out loss."""
    examples = read_conversations(CHATS)
    tokenized = [tokenize_example(tiny_tokenizer, e, 512) for e in examples]
    rows = pack_examples(tokenized, 256, packing=True)
    assert [len(row.lengths) for row in rows] == [2, 2]  # two chats per row, then padding
    from_rows = evaluate_turns(tiny_model, conversations_from_rows(tiny_tokenizer, rows))
    from_file = evaluate_turns(tiny_model, tokenize_conversations(tiny_tokenizer, examples, 512))
    assert from_rows.loss_by_turn() == pytest.approx(from_file.loss_by_turn(), abs=1e-5)
    held = evaluate_held_out(tiny_model, rows)
    assert from_rows.label_tokens == held.label_tokens
    assert from_rows.loss == pytest.approx(held.loss, abs=1e-5)
    limited = conversations_from_rows(tiny_tokenizer, rows, limit=2)
    assert len(limited) == 2


@dataclass(frozen=True)
class BareRow:
    """A row without `lengths`: documents are found where positions restart."""

    input_ids: list[int]
    labels: list[int]
    position_ids: list[int]


def test_documents_split_where_positions_restart() -> None:
    row = BareRow([1, 2, 3, 4, 5, 0], [IGNORE, 2, 3, IGNORE, 5, IGNORE], [0, 1, 2, 0, 1, 0])
    assert list(row_documents([row])) == [
        ([1, 2, 3], [IGNORE, 2, 3]),
        ([4, 5], [IGNORE, 5]),
        ([0], [IGNORE]),
    ]


def test_plain_text_is_not_a_conversation(tiny_model: Any, tiny_tokenizer: Any) -> None:
    text = Example(None, "The quick brown fox jumps over the lazy dog.", 1)
    chat = read_conversations(CHATS, limit=1)[0]
    tokenized = [tokenize_example(tiny_tokenizer, e, 512) for e in (text, chat)]
    rows = pack_examples(tokenized, 512, packing=True)
    found = conversations_from_rows(tiny_tokenizer, rows)
    assert len(found) == 1 and [r.turn for r in found[0].replies] == [1, 2, 3]
    assert conversations_from_rows(tiny_tokenizer, pack_examples(tokenized[:1], 512)) == []


def test_an_unlabelled_earlier_turn_keeps_the_turn_number(tiny_tokenizer: Any) -> None:
    """`data.split_turns` learns one turn with the earlier ones as context: still turn 2."""
    chat = read_conversations(CHATS, limit=1)[0]
    assert chat.messages is not None
    second = Example(chat.messages[:4], None, 1, learn=(3,))
    conversations = tokenize_conversations(tiny_tokenizer, [second], 512)
    assert [r.turn for r in conversations[0].replies] == [2]


def test_sharegpt_and_alpaca_records_are_conversations(tiny_tokenizer: Any, tmp_path: Path) -> None:
    shared = read_conversations(DATA / "chats_sharegpt.jsonl")
    assert [len(c.messages or ()) for c in shared] == [6, 5]
    alpaca = tmp_path / "alpaca.jsonl"
    alpaca.write_text(json.dumps({"instruction": "Say hi.", "input": "", "output": "Hi!"}) + "\n")
    conversations = tokenize_conversations(tiny_tokenizer, read_conversations(alpaca), 512)
    assert [r.turn for r in conversations[0].replies] == [1]


def test_plain_text_files_are_refused_naming_the_field(tmp_path: Path) -> None:
    path = tmp_path / "notes.jsonl"
    path.write_text(json.dumps({"text": "just prose"}) + "\n")
    with pytest.raises(DataError, match=r"--conversations: .*notes.jsonl: records are 'text'"):
        read_conversations(path, "--conversations")


def test_a_bad_record_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "chats.jsonl"
    good = {"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]}
    bad = {"messages": [{"role": "robot", "content": "a"}]}
    path.write_text(json.dumps(good) + "\n" + json.dumps(bad) + "\n")
    with pytest.raises(DataError, match=r"line 2: messages\[0\]\.role must be one of"):
        read_conversations(path)


def test_no_conversation_is_an_error(tiny_model: Any) -> None:
    with pytest.raises(ValueError, match="no conversation"):
        evaluate_turns(tiny_model, [])
