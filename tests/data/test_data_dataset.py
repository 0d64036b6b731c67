"""prepare_data end to end: split, stats, fingerprint, and the shared real dataset."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from data_helpers import chat, examples_in_rows, write_jsonl

from scaler_wizard.data import PreparedData, prepare_data
from scaler_wizard.recipe.spec import DataSpec
from tiny_models import SHARED_DATA

RECORDS = [
    chat(f"Question {i}: what is {i} + {i}?", f"It is {2 * i}. The sky is blue.") for i in range(20)
]


docs = examples_in_rows


def prepare(path: Path, tokenizer: Any, **extra: Any) -> PreparedData:
    return prepare_data(
        DataSpec(**{"train": str(path), "eval_records": 4, "seq_length": 128, **extra}), tokenizer
    )


def test_split_stats_and_rows_are_consistent(tmp_path: Path, tiny_tokenizer: Any) -> None:
    data = prepare(write_jsonl(tmp_path, RECORDS), tiny_tokenizer)
    stats = data.stats
    assert (stats.format, stats.records_read) == ("messages", 20)
    assert (stats.train_examples, stats.eval_examples, stats.dropped_empty) == (16, 4, 0)
    assert (stats.train_rows, stats.eval_rows) == (len(data.train_rows), len(data.eval_rows))
    train_docs, eval_docs = docs(data.train_rows), docs(data.eval_rows)
    assert len(train_docs) == 16 and len(eval_docs) == 4
    assert not set(train_docs) & set(eval_docs)  # held-out records never trained on
    assert stats.train_rows < 16  # packing put several examples per row
    for rows, label_tokens in (
        (data.train_rows, stats.train_label_tokens),
        (data.eval_rows, stats.eval_label_tokens),
    ):
        assert all(len(r.input_ids) == 128 for r in rows)
        assert label_tokens == sum(sum(x != -100 for x in r.labels) for r in rows) > 0
    real = sum(r.real_tokens for r in data.train_rows)
    assert stats.packing_efficiency == pytest.approx(real / (128 * stats.train_rows), abs=1e-4)
    assert json.loads(json.dumps(stats.to_dict())) == stats.to_dict()


def test_split_is_deterministic_and_seeded(tmp_path: Path, tiny_tokenizer: Any) -> None:
    path = write_jsonl(tmp_path, RECORDS)
    first, again = prepare(path, tiny_tokenizer), prepare(path, tiny_tokenizer)
    assert (first.train_rows, first.eval_rows) == (again.train_rows, again.eval_rows)
    other = prepare(path, tiny_tokenizer, seed=1)
    assert set(docs(first.eval_rows)) != set(docs(other.eval_rows))


def test_fingerprint_tracks_everything_that_changes_rows(
    tmp_path: Path, tiny_tokenizer: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_jsonl(tmp_path, RECORDS)
    base = prepare(path, tiny_tokenizer).fingerprint
    assert prepare(path, tiny_tokenizer).fingerprint == base
    # the same file named relative to base_dir or the current directory: same data
    relative = prepare_data(
        DataSpec(train=path.name, eval_records=4, seq_length=128),
        tiny_tokenizer,
        base_dir=path.parent,
    )
    assert relative.fingerprint == base
    monkeypatch.chdir(path.parent)
    assert prepare(Path(path.name), tiny_tokenizer).fingerprint == base

    changed = {
        prepare(path, tiny_tokenizer, seq_length=256).fingerprint,
        prepare(path, tiny_tokenizer, seed=3).fingerprint,
        prepare(path, tiny_tokenizer, packing=False).fingerprint,
        prepare(path, tiny_tokenizer, max_records=10).fingerprint,
        prepare(path, tiny_tokenizer, format="messages").fingerprint,
        prepare_data(
            DataSpec(train=str(path), eval_records=5, seq_length=128), tiny_tokenizer
        ).fingerprint,
        prepare(write_jsonl(tmp_path, RECORDS[:19], "fewer.jsonl"), tiny_tokenizer).fingerprint,
    }
    assert len(changed) == 7 and base not in changed


def test_max_records_packing_off_and_separate_eval_file(
    tmp_path: Path, tiny_tokenizer: Any
) -> None:
    path = write_jsonl(tmp_path, RECORDS)
    capped = prepare(path, tiny_tokenizer, max_records=10)
    assert (capped.stats.records_read, capped.stats.train_examples) == (20, 6)

    unpacked = prepare(path, tiny_tokenizer, packing=False)
    assert unpacked.stats.train_rows == unpacked.stats.train_examples == 16
    assert all(len(r.lengths) == 1 for r in unpacked.train_rows + unpacked.eval_rows)

    held_out = write_jsonl(tmp_path, [chat(f"Other {i}?", "Yes.") for i in range(3)], "eval.jsonl")
    separate = prepare(path, tiny_tokenizer, eval=str(held_out))
    assert (separate.stats.train_examples, separate.stats.eval_examples) == (20, 3)


def test_too_long_examples_are_truncated_or_dropped(tmp_path: Path, tiny_tokenizer: Any) -> None:
    long_question = chat("The quick brown fox jumps over the lazy dog. " * 20, "Fine.")
    long_answer = chat("Why?", "The grass is green. " * 30)
    data = prepare(write_jsonl(tmp_path, [long_question, long_answer, *RECORDS]), tiny_tokenizer)
    assert data.stats.truncated == 2
    assert data.stats.dropped_empty == 1  # the long question leaves no room for its answer
    assert data.stats.train_examples + data.stats.eval_examples == 21


def test_text_file_becomes_many_text_examples(tmp_path: Path, tiny_tokenizer: Any) -> None:
    path = tmp_path / "notes.txt"
    path.write_text(
        "\n\n".join(f"Paragraph {i}. " + "The sky is blue. " * 30 for i in range(12)),
        encoding="utf-8",
    )
    data = prepare_data(DataSpec(train=str(path), eval_records=2, seq_length=256), tiny_tokenizer)
    assert data.stats.format == "text"
    assert data.stats.records_read > 2
    assert data.stats.train_examples == data.stats.records_read - 2


@pytest.mark.skipif(not (SHARED_DATA / "sft_stdlib.jsonl").exists(), reason="shared data missing")
def test_real_sft_file(tiny_tokenizer: Any) -> None:
    data = prepare_data(
        DataSpec(train=str(SHARED_DATA / "sft_stdlib.jsonl"), seq_length=256), tiny_tokenizer
    )
    stats = data.stats
    assert (stats.format, stats.records_read) == ("messages", 989)
    assert stats.eval_examples == 48
    assert stats.train_examples + stats.eval_examples + stats.dropped_empty == 989
    assert stats.packing_efficiency > 0.9
    assert all(len(r.input_ids) == 256 for r in data.train_rows[:50])
