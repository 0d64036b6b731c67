"""Every source kind: CSV/TSV, Parquet, folders of text, JSONL streaming, the hub (faked)."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path
from typing import Any

import pytest
from data_helpers import chat

from scaler_wizard.data import DataError, prepare_data
from scaler_wizard.data.formats import convert_file
from scaler_wizard.data.sources import parse_hub, read_source
from scaler_wizard.recipe.spec import DataSpec


def test_csv_rows_become_records_with_line_numbers(tmp_path: Path) -> None:
    path = tmp_path / "alpaca.csv"
    path.write_text(
        'instruction,input,output\nSay hi,,Hi!\n"Two\nlines",x,Done\nAdd,1 2,3\n', encoding="utf-8"
    )
    source = read_source(path.name, "data.train", tmp_path)
    assert [r.line for r in source.records] == [2, 3, 5]  # a quoted cell spans lines 3-4
    fmt, examples = convert_file(source)
    assert fmt == "alpaca" and len(examples) == 3
    assert examples[1].messages is not None and examples[1].messages[0].content == "Two\nlines\n\nx"


def test_tsv_with_json_messages_column_and_short_row(tmp_path: Path) -> None:
    path = tmp_path / "chat.tsv"
    good = json.dumps(chat("q", "a")["messages"])
    path.write_text(f"messages\tsource\n{good}\tweb\n{good}\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"chat\.tsv line 3: row has fewer cells"):
        read_source(str(path), "data.train", tmp_path)
    source = read_source(str(path), "data.train", tmp_path, on_error="skip")
    assert len(source.records) == 1 and source.skips.count == 1
    assert convert_file(source)[0] == "messages"


def test_parquet_rows_are_read_in_batches(tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    path = tmp_path / "data.parquet"
    table = pa.table({"text": [f"document number {i}" for i in range(2500)]})
    pq.write_table(table, path, row_group_size=700)
    source = read_source(str(path), "data.train", tmp_path)
    assert len(source.records) == 2500 and source.unit == "row"
    assert (source.records[0].line, source.records[-1].data["text"]) == (1, "document number 2499")
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"not parquet at all")
    with pytest.raises(DataError, match=r"broken\.parquet: cannot read Parquet"):
        read_source(str(broken), "data.train", tmp_path)


def test_folder_of_text_files_is_split_per_file(tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.txt").write_text("First para.\n\nSecond para.", encoding="utf-8")
    (folder / "sub" / "b.md").write_text("\n\n# Title\nBody", encoding="utf-8")
    (folder / ".hidden.txt").write_text("secret", encoding="utf-8")
    (folder / "image.png").write_bytes(b"\x89PNG")
    (folder / "latin1.txt").write_bytes("caf\xe9".encode("latin-1"))
    with pytest.raises(DataError, match=r"latin1\.txt: not UTF-8"):
        read_source("docs", "data.train", tmp_path)
    source = read_source("docs", "data.train", tmp_path, on_error="skip")
    texts = [(r.path.name if r.path else None, r.line, r.data["text"]) for r in source.records]
    assert texts == [("a.txt", 1, "First para.\n\nSecond para."), ("b.md", 3, "# Title\nBody")]
    assert source.skips.count == 1


def test_folder_source_end_to_end_and_fingerprint(tmp_path: Path, tiny_tokenizer: Any) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    for i in range(4):
        (folder / f"{i}.txt").write_text(f"Document {i}. The sky is blue.", encoding="utf-8")
    spec = DataSpec(train=str(folder), eval_records=1, seq_length=64)
    first = prepare_data(spec, tiny_tokenizer)
    assert (first.stats.format, first.stats.records_read) == ("text", 4)
    assert prepare_data(spec, tiny_tokenizer).fingerprint == first.fingerprint
    (folder / "3.txt").write_text("Document 3. The sky is green.", encoding="utf-8")
    assert prepare_data(spec, tiny_tokenizer).fingerprint != first.fingerprint


def test_jsonl_skip_policy_counts_bad_lines(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    good = json.dumps(chat("q", "a")).encode()
    path.write_bytes(b"\n".join([good, b"{broken", b"\xff\xfe", b"[1]", good]) + b"\n")
    with pytest.raises(DataError, match=r"line 2: invalid JSON"):
        read_source(str(path), "data.train", tmp_path)
    source = read_source(str(path), "data.train", tmp_path, on_error="skip")
    assert [r.line for r in source.records] == [1, 5]
    assert [(b.line, b.message.split(" (")[0]) for b in source.skips.samples] == [
        (2, "invalid JSON"),
        (3, "not UTF-8 text"),
        (4, "expected a JSON object, got list"),
    ]


def _fake_datasets(monkeypatch: pytest.MonkeyPatch, load: Any) -> list[tuple[Any, ...]]:
    calls: list[tuple[Any, ...]] = []

    def load_dataset(name: str, config: str | None, split: str) -> Any:
        calls.append((name, config, split))
        return load(name, config, split)

    monkeypatch.setitem(sys.modules, "datasets", types.SimpleNamespace(load_dataset=load_dataset))
    return calls


class FakeDataset(list[dict[str, Any]]):
    _fingerprint = "abc123"


def test_hub_source_by_name_and_mapping(
    tmp_path: Path, tiny_tokenizer: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = FakeDataset(
        {"conversations": [{"from": "human", "value": f"Q{i}?"}, {"from": "gpt", "value": "A."}]}
        for i in range(5)
    )
    calls = _fake_datasets(monkeypatch, lambda *_: rows)
    assert parse_hub("hf:owner/name") == ("owner/name", "train", None)
    assert parse_hub("hf:owner/name:test:cfg") == ("owner/name", "test", "cfg")
    source = read_source("hf:owner/name:test", "data.train", tmp_path)
    assert (len(source.records), source.unit, source.identity) == (
        5,
        "row",
        "hf:owner/name:test@abc123",
    )
    spec = DataSpec.model_validate(
        {"train": {"hub": "owner/name", "split": "validation", "config": "en"}, "eval_records": 1}
    )
    assert spec.train == "hf:owner/name:validation:en"
    data = prepare_data(spec.model_copy(update={"seq_length": 64}), tiny_tokenizer)
    assert (data.stats.format, data.stats.records_read) == ("sharegpt", 5)
    assert calls[-1] == ("owner/name", "en", "validation")


def test_hub_errors_are_clear(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def offline(*_: Any) -> Any:
        raise ConnectionError("Couldn't reach the Hub")

    _fake_datasets(monkeypatch, offline)
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    with pytest.raises(DataError, match=r"^data\.train: .*'owner/name'.*not in the local cache.*"
                       r"offline mode is on"):  # fmt: skip
        read_source("hf:owner/name", "data.train", tmp_path)
    monkeypatch.setitem(sys.modules, "datasets", None)  # as if not installed
    with pytest.raises(DataError, match=r"needs the optional `datasets` package"):
        read_source("hf:owner/name", "data.train", tmp_path)


def test_check_source_for_plans(tmp_path: Path) -> None:
    from scaler_wizard.data.sources import check_source

    (tmp_path / "docs").mkdir()
    (tmp_path / "t.parquet").write_bytes(b"")
    assert check_source("hf:owner/name", "data.train", tmp_path) == "hf:owner/name"
    assert check_source("docs", "data.train", tmp_path) == str((tmp_path / "docs").resolve())
    assert check_source("t.parquet", "data.train", tmp_path).endswith("t.parquet")
    with pytest.raises(DataError, match=r"^data\.eval: file not found"):
        check_source("gone.jsonl", "data.eval", tmp_path)
    (tmp_path / "x.xlsx").write_bytes(b"")
    with pytest.raises(DataError, match=r"unsupported file type '\.xlsx'"):
        check_source("x.xlsx", "data.train", tmp_path)
