"""Every source kind: CSV/TSV, Parquet, text folders, JSONL streaming, the hub (real `datasets`)."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import datasets
import huggingface_hub
import pytest
from data_helpers import chat
from datasets.data_files import DataFilesDict
from datasets.packaged_modules.json.json import Json

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
    with pytest.raises(DataError, match=r"latin1\.txt line 1: not UTF-8"):
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


COMMIT = "0123456789abcdef0123456789abcdef01234567"  # the hub commit a cached load is filed under


@pytest.fixture
def hf_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty, offline Hugging Face cache private to the test; returns the datasets cache."""
    home = tmp_path / "hf"
    cache = home / "datasets"
    for var, path in (
        ("HF_HOME", home),
        ("HF_HUB_CACHE", home / "hub"),
        ("HF_DATASETS_CACHE", cache),
    ):
        monkeypatch.setenv(var, str(path))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    # datasets and huggingface_hub read those variables once, at import, so set what they read too.
    for name, value in (
        ("HF_CACHE_HOME", str(home)),
        ("HF_DATASETS_CACHE", cache),
        ("HF_MODULES_CACHE", home / "modules"),
        ("DOWNLOADED_DATASETS_PATH", cache / "downloads"),
        ("EXTRACTED_DATASETS_PATH", cache / "downloads" / "extracted"),
        ("HF_HUB_OFFLINE", True),
        ("HF_DATASETS_OFFLINE", True),
    ):
        monkeypatch.setattr(datasets.config, name, value)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(home / "hub"))
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    return cache


def cache_hub_dataset(
    cache: Path, repo_id: str, config: str, splits: dict[str, list[dict[str, Any]]]
) -> None:
    """Leave `repo_id` (one config) in the cache the way an online `load_dataset` does.

    Offline, datasets 5.x never opens the hub's snapshot folder (hub/datasets--owner--name): its
    load_dataset goes straight to the prepared Arrow cache, <cache>/owner___name/<config>/<version>/
    <commit>/ (CachedDatasetModuleFactory and packaged_modules/cache). The real JSON builder writes
    that layout. Its data files are set after construction because, given a repo_id, it only
    accepts hf:// paths inside that repo, which would need the network.
    """
    source = cache.parent / "source" / repo_id / config
    source.mkdir(parents=True)
    for split, rows in splits.items():
        text = "".join(json.dumps(row) + "\n" for row in rows)
        (source / f"{split}.jsonl").write_text(text, encoding="utf-8")
    name = repo_id.split("/")[1]
    builder = Json(
        cache_dir=str(cache),
        repo_id=repo_id,
        dataset_name=name,
        config_name=config,
        hash=COMMIT,
    )
    patterns = {split: [str(source / f"{split}.jsonl")] for split in splits}
    builder.config.data_files = DataFilesDict.from_patterns(patterns)
    builder.download_and_prepare()


def conversation(question: str) -> dict[str, Any]:
    return {"conversations": [{"from": "human", "value": question}, {"from": "gpt", "value": "A."}]}


def test_parse_hub_names() -> None:
    assert parse_hub("hf:owner/name") == ("owner/name", "train", None)
    assert parse_hub("hf:owner/name:test") == ("owner/name", "test", None)
    assert parse_hub("hf:owner/name::cfg") == ("owner/name", "train", "cfg")
    assert parse_hub("hf:owner/name:test:cfg") == ("owner/name", "test", "cfg")


def test_hub_source_read_from_the_offline_cache(tmp_path: Path, hf_cache: Path) -> None:
    cache_hub_dataset(
        hf_cache,
        "owner/name",
        "default",
        {"train": [{"text": f"train {i}"} for i in range(3)], "test": [{"text": "test 0"}]},
    )
    source = read_source("hf:owner/name:test", "data.train", tmp_path)
    assert [(r.line, r.data) for r in source.records] == [(1, {"text": "test 0"})]
    # The identity carries the cached data's fingerprint, so prepared data follows the cache.
    assert source.unit == "row" and re.fullmatch(r"hf:owner/name:test@\w+", source.identity or "")
    train = read_source("hf:owner/name", "data.train", tmp_path)  # split defaults to train
    assert [r.data["text"] for r in train.records] == ["train 0", "train 1", "train 2"]
    assert read_source("hf:owner/name:test", "data.train", tmp_path).identity == source.identity


def test_hub_source_config_and_mapping(tmp_path: Path, tiny_tokenizer: Any, hf_cache: Path) -> None:
    cache_hub_dataset(
        hf_cache, "owner/name", "en", {"validation": [conversation(f"Q{i}?") for i in range(5)]}
    )
    cache_hub_dataset(hf_cache, "owner/name", "fr", {"validation": [conversation("Pourquoi ?")]})
    french = read_source("hf:owner/name:validation:fr", "data.train", tmp_path)
    assert [r.data for r in french.records] == [conversation("Pourquoi ?")]
    spec = DataSpec.model_validate(
        {"train": {"hub": "owner/name", "split": "validation", "config": "en"}, "eval_records": 1}
    )
    assert spec.train == "hf:owner/name:validation:en"
    data = prepare_data(spec.model_copy(update={"seq_length": 64}), tiny_tokenizer)
    assert (data.stats.format, data.stats.records_read) == ("sharegpt", 5)


def test_hub_source_missing_from_the_offline_cache(tmp_path: Path, hf_cache: Path) -> None:
    missing = r"(?s)^data\.train: .*'owner/name' \(split 'train'\) is not in the local cache.*"
    with pytest.raises(DataError, match=missing + r"offline mode is on.*load it once with network"):
        read_source("hf:owner/name", "data.train", tmp_path)
    cache_hub_dataset(hf_cache, "owner/name", "en", {"train": [{"text": "x"}]})
    with pytest.raises(DataError, match=missing + r"Available configs in the cache: \['en'\]"):
        read_source("hf:owner/name::de", "data.train", tmp_path)


def test_hub_source_without_the_datasets_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "datasets", None)  # makes `import datasets` fail, as if absent
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
