"""Where records come from: files of every supported kind, a folder of text files, or the hub.

`read_source` is the one entry point; each reader returns a `RecordFile`, so format detection,
the bad-line policy and transforms work the same whatever the source.
"""

from __future__ import annotations

import csv
import itertools
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scaler_wizard.data.errors import DataError
from scaler_wizard.data.records import (
    SUFFIXES,
    TEXT_CHUNK_CHARS,
    TEXT_SUFFIXES,
    OnError,
    RawRecord,
    RecordFile,
    SkipLog,
    check_file,
    iter_records,
    read_records,
    text_file_records,
)

HUB_PREFIX = "hf:"
TABLE_SUFFIXES = (".csv", ".tsv", ".parquet")
ALL_SUFFIXES = (*SUFFIXES, *TABLE_SUFFIXES)
JSON_COLUMNS = ("messages", "conversations")  # list-valued columns a table stores as JSON text
PARQUET_BATCH_ROWS = 1024


def is_hub(name: str) -> bool:
    return name.startswith(HUB_PREFIX)


def parse_hub(name: str) -> tuple[str, str, str | None]:
    """`hf:owner/name[:split[:config]]` → (dataset, split, config); split defaults to train."""
    dataset, _, rest = name[len(HUB_PREFIX) :].partition(":")
    split, _, config = rest.partition(":")
    return dataset, split or "train", config or None


def resolve_source(name: str, root: Path) -> Path | str:
    """A local path (resolved against `root`) or the hub name unchanged."""
    if is_hub(name):
        return name
    path = Path(name).expanduser()
    return path if path.is_absolute() else root / path


def check_source(name: str, field: str, root: Path | None = None) -> str:
    """Cheap plan-time check: the resolved path (or hub name), or a DataError saying what's wrong.

    Hub sources are not contacted here; `read_source` says clearly if one is unavailable.
    """
    where = resolve_source(name, root if root is not None else Path.cwd())
    if isinstance(where, str):
        return where
    if where.is_dir():
        return str(where.resolve())
    check_file(where, field)
    if where.suffix.lower() not in ALL_SUFFIXES:
        raise DataError(
            f"unsupported file type {where.suffix or '(none)'!r}; use one of "
            f"{', '.join(ALL_SUFFIXES)}, a folder of text files, or hf:owner/name[:split]",
            field=field,
            path=where,
        )
    return str(where.resolve())


@dataclass
class SourceStream:
    """A source opened for reading: its records come lazily, one at a time.

    `skips` fills up as records are read; `shards` cuts the stream into `RecordFile`s of a
    bounded size, so the rest of the data layer works on a part exactly as on a whole file.
    """

    path: Path
    field: str
    unit: str
    skips: SkipLog
    records: Iterator[RawRecord]
    identity: str | None = None

    def collect(self) -> RecordFile:
        records = tuple(self.records)
        return RecordFile(self.path, self.field, records, self.unit, self.skips, self.identity)

    def shards(self, size: int) -> Iterator[RecordFile]:
        while chunk := tuple(itertools.islice(self.records, size)):
            yield RecordFile(self.path, self.field, chunk, self.unit, self.skips, self.identity)


def read_source(
    name: str,
    field: str,
    root: Path,
    *,
    on_error: OnError = "fail",
    text_chunk_chars: int = TEXT_CHUNK_CHARS,
) -> RecordFile:
    """Every record `name` holds: a file, a folder of .txt/.md files, or `hf:owner/name`."""
    where = resolve_source(name, root)
    if isinstance(where, str):
        return read_hub(where, field, on_error=on_error)
    suffix = where.suffix.lower()
    if suffix == ".json" and not where.is_dir():
        return read_records(where, field, text_chunk_chars=text_chunk_chars, on_error=on_error)
    return open_source(
        name, field, root, on_error=on_error, text_chunk_chars=text_chunk_chars
    ).collect()


def open_source(
    name: str,
    field: str,
    root: Path,
    *,
    on_error: OnError = "fail",
    text_chunk_chars: int = TEXT_CHUNK_CHARS,
) -> SourceStream:
    """`name` opened for streaming: every kind of source but a `.json` list (read whole)."""
    where = resolve_source(name, root)
    log = SkipLog(on_error)
    if isinstance(where, str):
        hub = read_hub(where, field, on_error=on_error, lazy=True)
        return SourceStream(hub.path, field, "row", log, _hub_rows(hub), hub.identity)
    if where.is_dir():
        records = _folder_records(where, field, log, text_chunk_chars)
        return SourceStream(where, field, "line", log, records)
    suffix = where.suffix.lower()
    if suffix in (".csv", ".tsv"):
        check_file(where, field)
        return SourceStream(where, field, "line", log, _csv_records(where, field, log))
    if suffix == ".parquet":
        check_file(where, field)
        return SourceStream(where, field, "row", log, _parquet_records(where, field, log))
    if suffix not in SUFFIXES:
        raise DataError(
            f"unsupported file type {suffix or '(none)'!r}; use one of {', '.join(ALL_SUFFIXES)}, "
            "a folder of text files, or hf:owner/name[:split]",
            field=field,
            path=where,
        )
    unit, records = iter_records(where, field, log, text_chunk_chars=text_chunk_chars)
    return SourceStream(where, field, unit, log, records)


def read_folder(
    folder: Path,
    field: str,
    *,
    on_error: OnError = "fail",
    text_chunk_chars: int = TEXT_CHUNK_CHARS,
) -> RecordFile:
    """Every .txt/.md file under `folder` (sorted, hidden ones left out), split like one file."""
    log = SkipLog(on_error)
    records = tuple(_folder_records(folder, field, log, text_chunk_chars))
    return RecordFile(folder, field, records, skips=log)


def _folder_records(
    folder: Path, field: str, log: SkipLog, text_chunk_chars: int
) -> Iterator[RawRecord]:
    for path in sorted(folder.rglob("*")):
        hidden = any(part.startswith(".") for part in path.relative_to(folder).parts)
        if hidden or not path.is_file() or path.suffix.lower() not in TEXT_SUFFIXES:
            continue
        try:
            # A file is read whole before its chunks go on: a bad byte skips the whole file.
            yield from list(text_file_records(path, field, text_chunk_chars, path))
        except DataError as exc:
            log.handle(exc)


def read_csv(path: Path, field: str, *, on_error: OnError = "fail") -> RecordFile:
    """One record per row, keyed by the header; JSON text in messages/conversations is decoded."""
    check_file(path, field)
    log = SkipLog(on_error)
    return RecordFile(path, field, tuple(_csv_records(path, field, log)), skips=log)


def _csv_records(path: Path, field: str, log: SkipLog) -> Iterator[RawRecord]:
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle, delimiter=delimiter)
            start = 2  # line 1 is the header
            for row in reader:
                record = _table_row(dict(row), path, field, start, "line", log)
                if record is not None:
                    yield record
                start = reader.line_num + 1  # a quoted cell may span lines
    except UnicodeDecodeError as exc:
        raise DataError(f"not UTF-8 text (byte {exc.start})", field=field, path=path) from exc
    except csv.Error as exc:
        raise DataError(f"invalid CSV ({exc})", field=field, path=path) from exc


def read_parquet(path: Path, field: str, *, on_error: OnError = "fail") -> RecordFile:
    """One record per row, read in batches so a large file is never decoded at once."""
    check_file(path, field)
    log = SkipLog(on_error)
    records = tuple(_parquet_records(path, field, log))
    return RecordFile(path, field, records, unit="row", skips=log)


def _parquet_records(path: Path, field: str, log: SkipLog) -> Iterator[RawRecord]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        rows = pq.ParquetFile(path).iter_batches(batch_size=PARQUET_BATCH_ROWS)
        index = 0
        for batch in rows:
            for row in batch.to_pylist():
                index += 1
                record = _table_row(row, path, field, index, "row", log)
                if record is not None:
                    yield record
    except (pa.ArrowException, OSError) as exc:
        raise DataError(f"cannot read Parquet ({exc})", field=field, path=path) from exc


def _table_row(
    row: dict[Any, Any], path: Path, field: str, line: int, unit: str, log: SkipLog
) -> RawRecord | None:
    def bad(message: str) -> None:
        log.handle(DataError(message, field=field, path=path, line=line, unit=unit), str(row))

    if None in row:  # csv.DictReader files surplus cells under the key None
        bad(f"row has more cells than the header ({len(row) - 1 + len(row[None])})")
        return None
    if any(value is None for value in row.values()) and unit == "line":
        bad("row has fewer cells than the header")
        return None
    for column in JSON_COLUMNS:
        value = row.get(column)
        if isinstance(value, str):
            try:
                row[column] = json.loads(value)
            except json.JSONDecodeError as exc:
                bad(f"column {column!r} is not valid JSON ({exc.msg} at column {exc.colno})")
                return None
    return RawRecord(row, line)


def read_hub(
    name: str, field: str, *, on_error: OnError = "fail", lazy: bool = False
) -> RecordFile:
    """A Hugging Face dataset through `datasets` (optional), using its cache when offline.

    `lazy`: no records are copied; the dataset (Arrow, memory-mapped) is kept for `_hub_rows`.
    """
    dataset_name, split, config = parse_hub(name)
    try:
        import datasets
    except ImportError:
        raise DataError(
            f"reading {name} needs the optional `datasets` package: pip install datasets "
            "(or export the data to JSONL/Parquet and name the file)",
            field=field,
        ) from None
    try:
        loaded = datasets.load_dataset(dataset_name, config, split=split)
    except Exception as exc:  # datasets raises many types; all mean "not available here"
        raise DataError(_hub_failure(dataset_name, split, exc), field=field) from exc
    identity = f"{name}@{getattr(loaded, '_fingerprint', '')}"  # changes when the data does
    if lazy:
        return _LazyHub(Path(name), field, (), "row", SkipLog(on_error), identity, loaded)
    records = tuple(RawRecord(dict(row), index) for index, row in enumerate(_rows(loaded), 1))
    return RecordFile(Path(name), field, records, "row", SkipLog(on_error), identity)


@dataclass(frozen=True)
class _LazyHub(RecordFile):
    dataset: Any = None


def _hub_rows(hub: RecordFile) -> Iterator[RawRecord]:
    dataset = hub.dataset if isinstance(hub, _LazyHub) else hub.records
    for index, row in enumerate(_rows(dataset), 1):
        yield RawRecord(dict(row), index)


def _rows(loaded: Any) -> Iterator[Any]:
    yield from loaded


def _hub_failure(name: str, split: str, exc: BaseException) -> str:
    flags = ("HF_DATASETS_OFFLINE", "HF_HUB_OFFLINE")
    offline = any(os.environ.get(v, "").lower() not in ("", "0", "false") for v in flags)
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and len(chain) < 8:
        chain.append(current)
        current = current.__cause__ or current.__context__
    network = any(
        word in type(e).__name__ for e in chain for word in ("Connection", "Offline", "Timeout")
    ) or any("offline" in str(e).lower() for e in chain)
    detail = f"{type(exc).__name__}: {exc}".strip()
    if offline or network:
        return (
            f"Hugging Face dataset {name!r} (split {split!r}) is not in the local cache and cannot "
            f"be downloaded ({'offline mode is on' if offline else 'no network'}); load it once "
            f"with network access, or export it to a local file ({detail})"
        )
    return f"could not load Hugging Face dataset {name!r} (split {split!r}): {detail}"
