"""Reading records, detecting their format, and the errors users see for bad data."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from data_helpers import chat, write_jsonl

from scaler_wizard.data import DataError, Message, prepare_data
from scaler_wizard.data.formats import convert_file
from scaler_wizard.data.records import read_records
from scaler_wizard.recipe.spec import DataSpec

U, A = "user", "assistant"


@pytest.mark.parametrize(
    ("record", "requested", "fmt", "messages", "text"),
    [
        (chat("q", "a"), "auto", "messages", [(U, "q"), (A, "a")], None),
        (
            {"instruction": "Do", "input": "this", "output": "ok"},
            "auto",
            "alpaca",
            [(U, "Do\n\nthis"), (A, "ok")],
            None,
        ),
        (
            {"instruction": "Do", "input": "", "output": "ok"},
            "auto",
            "alpaca",
            [(U, "Do"), (A, "ok")],
            None,
        ),
        ({"instruction": "Do", "output": "ok"}, "auto", "alpaca", [(U, "Do"), (A, "ok")], None),
        ({"text": "plain"}, "auto", "text", None, "plain"),
        # explicit format wins over detection
        ({**chat("q", "a"), "text": "t"}, "text", "text", None, "t"),
        ({**chat("q", "a"), "text": "t"}, "auto", "messages", [(U, "q"), (A, "a")], None),
        ({"instruction": "I", "output": "O", "text": "t"}, "text", "text", None, "t"),
    ],
)
def test_format_detection_and_conversion(
    tmp_path: Path,
    record: dict[str, Any],
    requested: Any,
    fmt: str,
    messages: list[tuple[str, str]] | None,
    text: str | None,
) -> None:
    source = read_records(write_jsonl(tmp_path, [record, record]), "data.train")
    got_fmt, examples = convert_file(source, requested)
    assert got_fmt == fmt
    assert [e.line for e in examples] == [1, 2]
    first = examples[0]
    expected = None if messages is None else tuple(Message(r, c) for r, c in messages)
    assert first.messages == expected
    assert first.text == text


def test_jsonl_skips_blank_lines_and_keeps_line_numbers(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path, ["", json.dumps({"text": "a"}), "   ", json.dumps({"text": "b"})])
    source = read_records(path, "data.train")
    assert [(r.line, r.data["text"]) for r in source.records] == [(2, "a"), (4, "b")]


def test_json_list_is_read(tmp_path: Path) -> None:
    path = tmp_path / "d.json"
    path.write_text(json.dumps([{"text": "a"}, {"text": "b"}]), encoding="utf-8")
    source = read_records(path, "data.train")
    assert [r.data["text"] for r in source.records] == ["a", "b"]
    assert source.unit == "item"


def test_text_file_splits_into_paragraph_chunks(tmp_path: Path) -> None:
    paragraphs = [f"Paragraph {i} " + "word " * 5 for i in range(6)]  # ~40 chars each
    path = tmp_path / "notes.md"
    path.write_text("\n\n\n".join(paragraphs), encoding="utf-8")
    source = read_records(path, "data.train", text_chunk_chars=90)
    chunks = [r.data["text"] for r in source.records]
    assert len(chunks) == 3  # two ~40-char paragraphs per 90-char chunk
    assert all(len(c) <= 90 for c in chunks)
    assert "\n\n".join(chunks).split("\n\n") == [p.rstrip() for p in paragraphs]
    assert [r.line for r in source.records] == [1, 7, 13]  # each chunk's first line


def test_over_long_text_is_cut_to_the_chunk_size(tmp_path: Path) -> None:
    path = tmp_path / "long.txt"
    path.write_text("short line\n" + "x" * 250 + "\n", encoding="utf-8")
    chunks = [
        r.data["text"] for r in read_records(path, "data.train", text_chunk_chars=100).records
    ]
    assert all(len(c) <= 100 for c in chunks)
    assert "".join(c.replace("\n", "") for c in chunks) == "short line" + "x" * 250


GOOD = json.dumps(chat("q", "a"))


@pytest.mark.parametrize(
    ("lines", "spec_extra", "expected"),
    [
        ([GOOD, '{"messages": [1, 2'], {}, "{path} line 2: invalid JSON (Expecting"),
        ([GOOD, "[1, 2]"], {}, "{path} line 2: expected a JSON object, got list"),
        (
            [json.dumps({"question": "x", "reply": "y"})],
            {},
            "{path} line 1: record has neither 'messages', 'conversations', "
            "'instruction'/'output', 'prompt'/'completion' nor 'text'; keys: ['question', 'reply']",
        ),
        (
            [
                GOOD,
                GOOD,
                json.dumps(
                    {
                        "messages": [
                            {"role": "user", "content": "q"},
                            {"role": "bot", "content": "a"},
                        ]
                    }
                ),
            ],
            {},
            "{path} line 3: messages[1].role must be one of system, user, assistant (got 'bot')",
        ),
        (
            [GOOD, json.dumps({"messages": [{"role": "user", "content": 3}]})],
            {},
            "line 2: messages[0].content must be a string",
        ),
        (
            [GOOD, json.dumps({"messages": [{"role": "user", "content": "q"}]})],
            {},
            "line 2: conversation has no assistant turn with content",
        ),
        (
            [GOOD, json.dumps({"messages": [{"role": "assistant", "content": "hi"}]})],
            {},
            "line 2: messages[0] is an assistant turn",
        ),
        (
            [GOOD, json.dumps({"text": "t"})],
            {},
            "line 2: record is 'text' but the file's format is 'messages' (detected from line 1)",
        ),
        (
            [GOOD],
            {"format": "alpaca"},
            "line 1: record is 'messages' but the file's format is 'alpaca' (data.format)",
        ),
        ([json.dumps({"instruction": "i", "output": " "})], {}, "line 1: 'output' is empty"),
        ([json.dumps({"text": ""})], {}, "line 1: 'text' must be a non-empty string"),
        ([GOOD] * 3, {"eval_records": 4}, "{path}: found 3 record(s); need at least 5 (4 held out"),
        (["", "  "], {}, "{path}: found no records; need at least 49"),
    ],
)
def test_bad_data_errors_name_field_file_and_line(
    tmp_path: Path,
    lines: list[str],
    spec_extra: dict[str, Any],
    expected: str,
    tiny_tokenizer: Any,
) -> None:
    path = write_jsonl(tmp_path, lines)
    with pytest.raises(DataError) as caught:
        prepare_data(DataSpec(train=str(path), **spec_extra), tiny_tokenizer)
    message = str(caught.value)
    assert message.startswith("data.train: ")
    assert expected.format(path=path) in message


def test_missing_files_and_bad_suffix(tmp_path: Path, tiny_tokenizer: Any) -> None:
    missing = tmp_path / "nope.jsonl"
    with pytest.raises(DataError, match=r"^data\.train: file not found: .*nope\.jsonl$"):
        prepare_data(DataSpec(train=str(missing)), tiny_tokenizer)
    train = write_jsonl(tmp_path, [GOOD] * 3)
    with pytest.raises(DataError, match=r"^data\.eval: file not found: .*gone\.jsonl$"):
        prepare_data(DataSpec(train=str(train), eval=str(tmp_path / "gone.jsonl")), tiny_tokenizer)
    sheet = tmp_path / "d.xlsx"
    sheet.write_text("a,b\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"unsupported file type '\.xlsx'.*\.parquet.*hf:"):
        prepare_data(DataSpec(train=str(sheet)), tiny_tokenizer)


def test_data_error_is_a_value_error_with_parts() -> None:
    error = DataError("invalid JSON (x)", field="data.train", path="/d/x.jsonl", line=12)
    assert isinstance(error, ValueError)
    assert str(error) == "data.train: /d/x.jsonl line 12: invalid JSON (x)"
    assert str(DataError("boom", line=3)) == "line 3: boom"
