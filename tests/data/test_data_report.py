"""The bad-line policy, transforms inside prepare_data, the fingerprint, and the data report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from data_helpers import chat, write_jsonl

from scaler_wizard.data import DataError, prepare_data, write_data_report
from scaler_wizard.data.report import TRAINED_CLOSE, TRAINED_OPEN
from scaler_wizard.recipe.spec import DataSpec

RECORDS = [chat(f"Question {i}: what is {i} + {i}?", f"It is {2 * i}.") for i in range(12)]
DEDUP = [{"name": "dedup_exact"}, {"name": "length", "options": {"max_tokens": 60}}]


def spec(path: Path, **extra: Any) -> DataSpec:
    return DataSpec(**{"train": str(path), "eval_records": 2, "seq_length": 128, **extra})


def test_skip_policy_reports_the_bad_line(tmp_path: Path, tiny_tokenizer: Any) -> None:
    lines: list[Any] = [*RECORDS[:5], '{"messages": [oops', *RECORDS[5:]]
    path = write_jsonl(tmp_path, lines)
    with pytest.raises(DataError, match=r"line 6: invalid JSON"):
        prepare_data(spec(path), tiny_tokenizer)
    data = prepare_data(spec(path, on_error="skip"), tiny_tokenizer)
    assert (data.stats.records_skipped, data.stats.records_read) == (1, 12)
    assert data.report is not None
    (sample,) = data.report.sources[0]["skipped_samples"]
    assert (sample["line"], sample["excerpt"]) == (6, '{"messages": [oops')
    assert sample["message"].startswith("invalid JSON")


def test_invalid_records_are_skipped_too(tmp_path: Path, tiny_tokenizer: Any) -> None:
    bad_role = {"messages": [{"role": "bot", "content": "x"}]}
    data = prepare_data(spec(write_jsonl(tmp_path, [*RECORDS, bad_role]), on_error="skip"),
                        tiny_tokenizer)  # fmt: skip
    assert data.report is not None
    (sample,) = data.report.sources[0]["skipped_samples"]
    assert sample["line"] == 13 and "messages[0].role" in sample["message"]


def test_transforms_run_and_everything_removed_names_the_step(
    tmp_path: Path, tiny_tokenizer: Any
) -> None:
    path = write_jsonl(tmp_path, [*RECORDS, RECORDS[0], RECORDS[1]])
    data = prepare_data(spec(path, transforms=DEDUP), tiny_tokenizer)
    assert data.stats.records_removed == 2
    assert data.stats.train_examples + data.stats.eval_examples == 12
    drop_all = [*DEDUP, {"name": "regex", "options": {"pattern": "Question"}}]
    with pytest.raises(DataError, match=r"^data\.transforms\[2\]: transform 'regex' removed every"):
        prepare_data(spec(path, transforms=drop_all), tiny_tokenizer)
    with pytest.raises(DataError, match=r"^data\.transforms\[0\]\.name: unknown data transform"):
        prepare_data(spec(tmp_path / "never-read.jsonl", transforms=[{"name": "x"}]),
                     tiny_tokenizer)  # fmt: skip


def test_fingerprint_covers_transforms(tmp_path: Path, tiny_tokenizer: Any) -> None:
    path = write_jsonl(tmp_path, RECORDS)
    base = prepare_data(spec(path, transforms=DEDUP), tiny_tokenizer).fingerprint
    assert prepare_data(spec(path, transforms=DEDUP), tiny_tokenizer).fingerprint == base
    other = [DEDUP[0], {"name": "length", "options": {"max_tokens": 61}}]
    changed = {
        prepare_data(spec(path), tiny_tokenizer).fingerprint,
        prepare_data(spec(path, transforms=other), tiny_tokenizer).fingerprint,
        prepare_data(spec(path, transforms=DEDUP[::-1]), tiny_tokenizer).fingerprint,
    }
    assert len(changed) == 3 and base not in changed


def test_report_files_and_rendered_examples(tmp_path: Path, tiny_tokenizer: Any) -> None:
    path = write_jsonl(tmp_path, [*RECORDS, RECORDS[0], "not json"])
    data = prepare_data(spec(path, transforms=DEDUP, on_error="skip"), tiny_tokenizer)
    assert data.report is not None
    paths = write_data_report(data.report, tmp_path / "run" / "data")
    assert sorted(p.name for p in paths.values()) == [
        "data_report.json",
        "data_report.md",
        "token_lengths.png",
    ]
    assert paths["histogram"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    saved = json.loads(paths["json"].read_text(encoding="utf-8"))
    assert saved["format"] == "messages"
    assert [(t["name"], t["records_in"], t["records_out"]) for t in saved["transforms"]] == [
        ("dedup_exact", 13, 12),
        ("length", 12, 12),
    ]
    assert saved["transforms"][0]["reasons"] == {"exact duplicate": 1}
    assert len(saved["token_lengths"]) == data.stats.train_examples
    example = data.report.examples[0]
    rendered = example.marked()
    # the exact template stream: role markers kept, loss only inside the assistant turn
    assert rendered.startswith("<|im_start|>user\n")
    assert f"<|im_start|>assistant\n{TRAINED_OPEN}It is" in rendered
    assert rendered.endswith(f"<|im_end|>{TRAINED_CLOSE}\n")
    trained = [s.text for s in example.segments if s.trained]
    assert len(trained) == 1 and "Question" not in trained[0]
    markdown = paths["markdown"].read_text(encoding="utf-8")
    for expected in ("| data.train |", "line 14: invalid JSON", "| dedup_exact | 13 | 12 |",
                     "<|im_start|>assistant", "token_lengths.png"):  # fmt: skip
        assert expected in markdown
