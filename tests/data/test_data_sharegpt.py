"""ShareGPT records: detection, role mapping, explicit override, and split_turns."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from data_helpers import write_jsonl

from scaler_wizard.data import DataError, prepare_data, tokenize_example
from scaler_wizard.data.formats import Message, convert_file, split_turns
from scaler_wizard.data.records import read_records
from scaler_wizard.recipe.spec import DataSpec


def sharegpt(*turns: tuple[str, str]) -> dict[str, Any]:
    return {"conversations": [{"from": who, "value": text} for who, text in turns]}


TALK = sharegpt(("system", "Be brief."), ("human", "Hi?"), ("gpt", "Hello."),
                ("human", "Sky?"), ("gpt", "Blue."))  # fmt: skip


def test_sharegpt_is_detected_and_roles_are_mapped(tmp_path: Path) -> None:
    source = read_records(write_jsonl(tmp_path, [TALK, TALK]), "data.train")
    fmt, examples = convert_file(source)
    assert fmt == "sharegpt"
    assert examples[0].messages == (
        Message("system", "Be brief."),
        Message("user", "Hi?"),
        Message("assistant", "Hello."),
        Message("user", "Sky?"),
        Message("assistant", "Blue."),
    )


def test_explicit_format_overrides_detection(tmp_path: Path) -> None:
    source = read_records(write_jsonl(tmp_path, [TALK]), "data.train")
    with pytest.raises(DataError, match=r"record is 'sharegpt' but the file's format is 'messages' "
                       r"\(data\.format\)"):  # fmt: skip
        convert_file(source, "messages")
    assert convert_file(source, "sharegpt")[0] == "sharegpt"


@pytest.mark.parametrize(
    ("record", "message"),
    [
        (sharegpt(("human", "q"), ("bot", "a")), "conversations[1].from must be one of human"),
        (sharegpt(("human", "q"), ("gpt", 3)), "conversations[1].value must be a string"),
        (sharegpt(("gpt", "a"), ("human", "q")), "conversations[0] is an assistant turn"),
        ({"conversations": []}, "'conversations' must be a non-empty list"),
    ],
)
def test_bad_sharegpt_records_name_the_turn(
    tmp_path: Path, record: dict[str, Any], message: str
) -> None:
    source = read_records(write_jsonl(tmp_path, [TALK, record]), "data.train")
    with pytest.raises(
        DataError, match="line 2: " + message.replace("[", r"\[").replace("]", r"\]")
    ):
        convert_file(source)


def test_split_turns_makes_one_example_per_assistant_turn(
    tmp_path: Path, tiny_tokenizer: Any
) -> None:
    one_turn = sharegpt(("human", "q"), ("gpt", "a"))
    source = read_records(write_jsonl(tmp_path, [TALK, one_turn]), "data.train")
    _, examples = convert_file(source)
    split = split_turns(examples)
    assert [len(e.messages or ()) for e in split] == [3, 5, 2]
    assert [e.learn for e in split] == [(2,), (4,), None]
    assert [e.line for e in split] == [1, 1, 2]
    # only the last turn is learned: "Hello." is context in the second example
    second = tokenize_example(tiny_tokenizer, split[1], 512)
    learned = tiny_tokenizer.decode([t for t in second.labels if t != -100])
    assert "Blue." in learned and "Hello." not in learned
    whole = tokenize_example(tiny_tokenizer, examples[0], 512)
    learned_whole = tiny_tokenizer.decode([t for t in whole.labels if t != -100])
    assert "Blue." in learned_whole and "Hello." in learned_whole


def test_split_turns_in_prepare_data(tmp_path: Path, tiny_tokenizer: Any) -> None:
    path = write_jsonl(tmp_path, [TALK] * 6)
    kept = prepare_data(DataSpec(train=str(path), eval_records=1, seq_length=64), tiny_tokenizer)
    split = prepare_data(
        DataSpec(train=str(path), eval_records=1, seq_length=64, split_turns=True), tiny_tokenizer
    )
    assert kept.stats.train_examples + kept.stats.eval_examples == 6
    assert split.stats.train_examples + split.stats.eval_examples == 12
    assert split.fingerprint != kept.fingerprint
