"""Read raw records from a data file: JSONL (streamed), a JSON list, or plain text in chunks.

Other sources (CSV, Parquet, folders, the Hugging Face hub) live in `sources.py`; they all
produce the same `RecordFile`, so formats and transforms never care where records came from.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from dataclasses import field as dataclass_field
from pathlib import Path
from typing import Any, Literal

from scaler_wizard.data.errors import DataError

OnError = Literal["fail", "skip"]
TEXT_SUFFIXES = (".txt", ".md")
SUFFIXES = (".jsonl", ".json", *TEXT_SUFFIXES)
TEXT_CHUNK_CHARS = 2000
SAMPLES_KEPT = 10  # bad lines quoted in the report; the rest are only counted
EXCERPT_CHARS = 160


@dataclass(frozen=True)
class RawRecord:
    """One JSON object (or text chunk, or table row) and where it starts, 1-based."""

    data: Mapping[str, Any]
    line: int
    path: Path | None = None  # the file inside a folder source; None: the source's own path


@dataclass(frozen=True)
class BadLine:
    """A record that could not be used, kept for the report when `on_error: skip`."""

    path: str | None
    line: int | None
    unit: str
    message: str
    excerpt: str = ""


@dataclass
class SkipLog:
    """The bad-line policy of one source: raise at the first bad record, or count and sample."""

    policy: OnError = "fail"
    count: int = 0
    samples: list[BadLine] = field(default_factory=list)

    def handle(self, error: DataError, excerpt: str = "") -> None:
        if self.policy == "fail":
            raise error
        self.count += 1
        if len(self.samples) < SAMPLES_KEPT:
            bad = BadLine(
                error.path, error.line, error.unit, error.message, excerpt[:EXCERPT_CHARS]
            )
            self.samples.append(bad)


@dataclass(frozen=True)
class RecordFile:
    """Every usable record of one source, plus what is needed to point at a bad one."""

    path: Path
    field: str  # recipe field that named the file, e.g. "data.train"
    records: tuple[RawRecord, ...]
    unit: str = "line"  # "item" for a JSON list, "row" for tables: what `line` counts
    skips: SkipLog = dataclass_field(default_factory=SkipLog, compare=False)
    identity: str | None = None  # what the fingerprint hashes when `path` is not a local file

    def error(self, message: str, line: int | None = None) -> DataError:
        return DataError(message, field=self.field, path=self.path, line=line, unit=self.unit)


def read_records(
    path: Path,
    field: str,
    *,
    text_chunk_chars: int = TEXT_CHUNK_CHARS,
    on_error: OnError = "fail",
) -> RecordFile:
    """All records of `path`; `field` names the recipe field in error messages."""
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise DataError(
            f"unsupported file type {suffix or '(none)'!r}; use one of {', '.join(SUFFIXES)}",
            field=field,
            path=path,
        )
    check_file(path, field)
    log = SkipLog(on_error)
    if suffix == ".jsonl":
        return RecordFile(path, field, tuple(_jsonl(path, field, log)), skips=log)
    if suffix == ".json":
        text = read_text(path, field)
        return RecordFile(path, field, tuple(_json_list(text, path, field, log)), "item", log)
    return RecordFile(
        path, field, tuple(text_file_records(path, field, text_chunk_chars)), skips=log
    )


def iter_records(
    path: Path, field: str, log: SkipLog, *, text_chunk_chars: int = TEXT_CHUNK_CHARS
) -> tuple[str, Iterator[RawRecord]]:
    """(unit, records read lazily) of a JSONL or text file: memory stays bounded by a record.

    A `.json` file is one value and cannot be read in parts: it is refused here.
    """
    suffix = path.suffix.lower()
    check_file(path, field)
    if suffix == ".jsonl":
        return "line", _jsonl(path, field, log)
    if suffix in TEXT_SUFFIXES:
        return "line", text_file_records(path, field, text_chunk_chars)
    raise DataError(
        f"a {suffix or '(no suffix)'} file cannot be streamed (a .json file is one list, read "
        "whole); convert it to JSONL (one object per line) or turn data.streaming off",
        field=field,
        path=path,
    )


def check_file(path: Path, field: str) -> None:
    if not path.exists():
        raise DataError(f"file not found: {path}", field=field)
    if not path.is_file():
        raise DataError(f"not a file: {path}", field=field)


def read_text(path: Path, field: str) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")  # -sig: tolerate a BOM from Windows editors
    except UnicodeDecodeError as exc:
        raise DataError(f"not UTF-8 text (byte {exc.start})", field=field, path=path) from exc


def text_records(text: str, max_chars: int, path: Path | None = None) -> Iterator[RawRecord]:
    for line, chunk in _text_chunks(text.splitlines(), max_chars):
        yield RawRecord({"text": chunk}, line, path)


def text_file_records(
    path: Path, field: str, max_chars: int, inner: Path | None = None
) -> Iterator[RawRecord]:
    """A text file's chunks, read line by line: a file larger than memory is never held whole.

    `inner` marks records of a file inside a folder source.
    """
    for line, chunk in _text_chunks(_text_lines(path, field), max_chars):
        yield RawRecord({"text": chunk}, line, inner)


def _text_lines(path: Path, field: str) -> Iterator[str]:
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                text = raw.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError as exc:
                message = f"not UTF-8 text (byte {exc.start} of the line)"
                raise DataError(message, field=field, path=path, line=number) from exc
            yield text.rstrip("\r\n")


def _jsonl(path: Path, field: str, log: SkipLog) -> Iterator[RawRecord]:
    """One line at a time, so a file larger than memory is never held as one string."""
    with path.open("rb") as handle:
        for number, raw_bytes in enumerate(handle, start=1):
            excerpt = raw_bytes.decode("utf-8", "replace").strip()
            try:
                raw = raw_bytes.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError as exc:
                log.handle(
                    DataError(f"not UTF-8 text (byte {exc.start})", field=field, path=path,
                              line=number),
                    excerpt,
                )  # fmt: skip
                continue
            if not raw.strip():
                continue
            try:
                value = json.loads(raw)
            except json.JSONDecodeError as exc:
                message = f"invalid JSON ({exc.msg} at column {exc.colno})"
                log.handle(DataError(message, field=field, path=path, line=number), excerpt)
                continue
            if not isinstance(value, dict):
                message = f"expected a JSON object, got {type(value).__name__}"
                log.handle(DataError(message, field=field, path=path, line=number), excerpt)
                continue
            yield RawRecord(value, number)


def _json_list(text: str, path: Path, field: str, log: SkipLog) -> Iterator[RawRecord]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:  # the whole file is one value: nothing to skip to
        raise DataError(
            f"invalid JSON ({exc.msg} at column {exc.colno})",
            field=field,
            path=path,
            line=exc.lineno,
        ) from exc
    if not isinstance(value, list):
        raise DataError(
            f"a .json file must hold a list of objects, got {type(value).__name__}",
            field=field,
            path=path,
        )
    for index, item in enumerate(value, start=1):
        if not isinstance(item, dict):
            message = f"expected a JSON object, got {type(item).__name__}"
            error = DataError(message, field=field, path=path, line=index, unit="item")
            log.handle(error, json.dumps(item)[:EXCERPT_CHARS])
            continue
        yield RawRecord(item, index)


def _text_chunks(lines: Iterable[str], max_chars: int) -> Iterator[tuple[int, str]]:
    """Blank-line separated paragraphs, grouped in order into chunks of at most ~max_chars."""
    start, current = 0, ""
    for line, para in _paragraphs(lines, max_chars):
        if current and len(current) + 2 + len(para) > max_chars:
            yield start, current
            current = ""
        if not current:
            start, current = line, para
        else:
            current = f"{current}\n\n{para}"
    if current:
        yield start, current


def _paragraphs(lines_in: Iterable[str], max_chars: int) -> Iterator[tuple[int, str]]:
    """(first line, paragraph); paragraphs longer than max_chars are cut at line ends."""
    lines: list[str] = []
    first = 0
    for number, raw in enumerate(itertools.chain(lines_in, [""]), start=1):
        if raw.strip():
            if not lines:
                first = number
            lines.append(raw.rstrip())
            continue
        if lines:
            yield from _split_long(first, lines, max_chars)
            lines = []


def _split_long(first: int, lines: list[str], max_chars: int) -> Iterator[tuple[int, str]]:
    piece: list[str] = []
    size, start = 0, first
    for offset, raw in enumerate(lines):
        # A single over-long line is cut hard: a chunk must never be unbounded.
        for cut in range(0, max(len(raw), 1), max_chars):
            part = raw[cut : cut + max_chars]
            if piece and size + 1 + len(part) > max_chars:
                yield start, "\n".join(piece)
                piece, size = [], 0
            if not piece:
                start = first + offset
            piece.append(part)
            size += len(part) + (1 if size else 0)
    if piece:
        yield start, "\n".join(piece)
