"""data.streaming: shards through the same steps, rows on disk, the cache, and bad input."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest
from data_helpers import chat, examples_in_rows, write_jsonl

from scaler_wizard.data import PreparedData, prepare_data
from scaler_wizard.data.errors import DataError
from scaler_wizard.data.packing import PackedRow
from scaler_wizard.data.row_store import RowStoreWriter, StoredRows
from scaler_wizard.data.streaming import DONE_FILE
from scaler_wizard.recipe.spec import DataSpec

RECORDS = [chat(f"Question {i}: what is {i} + {i}?", f"It is {2 * i}.") for i in range(60)]


examples_in = examples_in_rows


def prepare(path: Path, tokenizer: Any, cache: Path | None, **extra: Any) -> PreparedData:
    spec: dict[str, Any] = {"train": str(path), "eval_records": 6, "seq_length": 96, **extra}
    if cache is not None:
        spec["streaming"] = {"shard_records": 100, "cache_dir": str(cache), **extra.get("s", {})}
    spec.pop("s", None)
    return prepare_data(DataSpec(**spec), tokenizer)


def test_one_shard_gives_the_same_examples_as_in_memory(
    tmp_path: Path, tiny_tokenizer: Any
) -> None:
    path = write_jsonl(tmp_path, RECORDS)
    eager = prepare(path, tiny_tokenizer, None)
    streamed = prepare(path, tiny_tokenizer, tmp_path / "cache")
    assert sorted(examples_in(streamed.train_rows)) == sorted(examples_in(eager.train_rows))
    assert examples_in(streamed.eval_rows) == examples_in(eager.eval_rows)
    for name in ("records_read", "train_examples", "eval_examples", "train_rows"):
        assert getattr(streamed.stats, name) == getattr(eager.stats, name), name
    assert streamed.stats.train_label_tokens == eager.stats.train_label_tokens
    assert streamed.stats.packing_efficiency == eager.stats.packing_efficiency
    assert streamed.fingerprint != eager.fingerprint  # streaming changes how rows are made
    row = streamed.train_rows[0]
    assert isinstance(row, PackedRow) and len(row.input_ids) == 96
    assert streamed.report is not None and streamed.report.streaming["shards"] == 1


def test_dedup_and_max_records_reach_across_shards(tmp_path: Path, tiny_tokenizer: Any) -> None:
    records = [*RECORDS, *RECORDS[:25]] * 3  # 255 records: 60 distinct, copies in later shards
    path = write_jsonl(tmp_path, records)
    data = prepare(path, tiny_tokenizer, tmp_path / "cache", transforms=[{"name": "dedup_exact"}])
    assert data.report is not None and data.report.streaming["shards"] == 3
    assert data.stats.records_read == 255
    assert data.stats.records_removed == 255 - 60
    assert data.stats.train_examples + data.stats.eval_examples == 60
    train = examples_in(data.train_rows)
    assert len(set(train)) == len(train) == 54
    step = data.report.transforms[0]
    assert (step["records_in"], step["records_out"]) == (255, 60)
    capped = prepare(path, tiny_tokenizer, tmp_path / "cache2", max_records=150)
    # the first shard's 100 records feed the held-out split, the cap counts every shard
    assert capped.stats.train_examples + capped.stats.eval_examples == 150


def test_prepared_rows_are_cached_and_reused(tmp_path: Path, tiny_tokenizer: Any) -> None:
    path = write_jsonl(tmp_path, RECORDS * 3)
    first = prepare(path, tiny_tokenizer, tmp_path / "cache")
    done = tmp_path / "cache" / first.fingerprint / DONE_FILE
    stamp = done.stat().st_mtime_ns
    again = prepare(path, tiny_tokenizer, tmp_path / "cache")
    assert done.stat().st_mtime_ns == stamp  # read back, not processed again
    assert again.fingerprint == first.fingerprint
    assert list(map(tuple, (r.input_ids for r in again.train_rows))) == list(
        map(tuple, (r.input_ids for r in first.train_rows))
    )
    assert again.report is not None and again.report.to_dict() == first.report.to_dict()
    # changed data is a new fingerprint, a new folder; nothing half-written is left behind
    write_jsonl(tmp_path, RECORDS * 2)
    changed = prepare(path, tiny_tokenizer, tmp_path / "cache")
    assert changed.fingerprint != first.fingerprint
    leftovers = [p.name for p in (tmp_path / "cache").iterdir() if "partial" in p.name]
    assert leftovers == []


def test_csv_text_and_folder_sources_stream(tmp_path: Path, tiny_tokenizer: Any) -> None:
    sheet = tmp_path / "data.csv"
    with sheet.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["instruction", "output"])
        writer.writerows([f"Say {i}", f"{i}!"] for i in range(250))
    data = prepare(sheet, tiny_tokenizer, tmp_path / "cache")
    assert (data.stats.format, data.stats.records_read) == ("alpaca", 250)
    text = tmp_path / "book.txt"
    text.write_text("\n\n".join(f"Paragraph {i} of a long book." for i in range(400)))
    book = prepare(text, tiny_tokenizer, tmp_path / "cache", s={"shard_records": 100})
    assert book.stats.format == "text" and book.stats.train_examples > 0


def test_bad_lines_are_skipped_and_counted_in_every_shard(
    tmp_path: Path, tiny_tokenizer: Any
) -> None:
    lines: list[Any] = []
    for i, record in enumerate(RECORDS * 4):
        lines.append(record)
        if i % 50 == 0:
            lines.append("{not json")
    path = write_jsonl(tmp_path, lines)
    data = prepare(path, tiny_tokenizer, tmp_path / "cache", on_error="skip")
    assert data.stats.records_skipped == 5
    assert data.report is not None
    assert data.report.sources[0]["skipped"] == 5
    with pytest.raises(DataError, match=r"line 2: invalid JSON"):
        prepare(path, tiny_tokenizer, tmp_path / "cache2")


def test_a_json_list_cannot_be_streamed(tmp_path: Path, tiny_tokenizer: Any) -> None:
    path = tmp_path / "data.json"
    path.write_text(json.dumps(RECORDS), encoding="utf-8")
    with pytest.raises(DataError, match=r"data\.train: .*convert it to JSONL"):
        prepare(path, tiny_tokenizer, tmp_path / "cache")


def test_a_transform_removing_everything_is_named(tmp_path: Path, tiny_tokenizer: Any) -> None:
    path = write_jsonl(tmp_path, RECORDS * 3)
    drop_all = {"name": "regex", "options": {"pattern": "Question", "action": "drop"}}
    with pytest.raises(DataError, match=r"data\.transforms\[0\]"):
        prepare(path, tiny_tokenizer, tmp_path / "cache", transforms=[drop_all])
    assert not any((tmp_path / "cache").glob("*"))  # nothing cached from the failed pass


def test_weighted_sources_mix_by_rows(tmp_path: Path, tiny_tokenizer: Any) -> None:
    a = write_jsonl(tmp_path, RECORDS * 2, "a.jsonl")
    b = write_jsonl(tmp_path, [chat(f"Other {i}?", f"Yes {i}.") for i in range(200)], "b.jsonl")
    spec = DataSpec(
        sources=[
            {"name": "a", "path": str(a), "weight": 1.0},
            {"name": "b", "path": str(b), "weight": 3.0},
        ],
        eval_records=8,
        seq_length=96,
        streaming={"shard_records": 100, "cache_dir": str(tmp_path / "cache")},
    )
    data = prepare_data(spec, tiny_tokenizer)
    assert data.report is not None
    mix = {m["name"]: m for m in data.report.mix}
    assert sum(m["sampled"] for m in mix.values()) == len(data.train_rows)
    share_b = mix["b"]["sampled"] / len(data.train_rows)
    assert share_b == pytest.approx(0.75, abs=0.05)


def test_row_store_round_trip(tmp_path: Path) -> None:
    rows = [
        PackedRow([1, 2, 3, 0], [-100, 2, 3, -100], [0, 1, 2, 0], [3]),
        PackedRow([4, 5, 6, 7], [-100, 5, -100, 7], [0, 1, 0, 1], [2, 2]),
    ]
    writer = RowStoreWriter(tmp_path / "rows", 4)
    writer.write(rows)
    writer.close()
    stored = StoredRows(tmp_path / "rows")
    assert len(stored) == 2 and list(stored) == rows and stored[-1] == rows[1]
    assert stored.real_counts.tolist() == [3, 4]
    assert stored.label_counts.tolist() == [2, 2]
    with pytest.raises(IndexError):
        stored[2]
    with pytest.raises(ValueError, match=r"rows are 4 tokens, the store.s 5"):
        RowStoreWriter(tmp_path / "other", 5).write(rows)
