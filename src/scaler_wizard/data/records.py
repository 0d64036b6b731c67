"""Read raw records from a data file: JSONL, a JSON list, or plain text split into chunks."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scaler_wizard.data.errors import DataError

TEXT_SUFFIXES = (".txt", ".md")
SUFFIXES = (".jsonl", ".json", *TEXT_SUFFIXES)
TEXT_CHUNK_CHARS = 2000


@dataclass(frozen=True)
class RawRecord:
    """One JSON object (or text chunk) and where it starts, 1-based."""

    data: Mapping[str, Any]
    line: int


@dataclass(frozen=True)
class RecordFile:
    """Every record of one file, plus what is needed to point at a bad one."""

    path: Path
    field: str  # recipe field that named the file, e.g. "data.train"
    records: tuple[RawRecord, ...]
    unit: str = "line"  # "item" for a JSON list: there, `line` is the item's index

    def error(self, message: str, line: int | None = None) -> DataError:
        return DataError(message, field=self.field, path=self.path, line=line, unit=self.unit)


def read_records(path: Path, field: str, *, text_chunk_chars: int = TEXT_CHUNK_CHARS) -> RecordFile:
    """All records of `path`; `field` names the recipe field in error messages."""
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise DataError(
            f"unsupported file type {suffix or '(none)'!r}; use one of {', '.join(SUFFIXES)}",
            field=field,
            path=path,
        )
    text = _read_text(path, field)
    if suffix == ".jsonl":
        return RecordFile(path, field, tuple(_jsonl(text, path, field)))
    if suffix == ".json":
        return RecordFile(path, field, tuple(_json_list(text, path, field)), unit="item")
    chunks = _text_chunks(text, text_chunk_chars)
    return RecordFile(path, field, tuple(RawRecord({"text": c}, line) for line, c in chunks))


def _read_text(path: Path, field: str) -> str:
    if not path.exists():
        raise DataError(f"file not found: {path}", field=field)
    if not path.is_file():
        raise DataError(f"not a file: {path}", field=field)
    try:
        return path.read_text(encoding="utf-8-sig")  # -sig: tolerate a BOM from Windows editors
    except UnicodeDecodeError as exc:
        raise DataError(f"not UTF-8 text (byte {exc.start})", field=field, path=path) from exc


def _jsonl(text: str, path: Path, field: str) -> Iterator[RawRecord]:
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            value = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise DataError(
                f"invalid JSON ({exc.msg} at column {exc.colno})",
                field=field,
                path=path,
                line=number,
            ) from exc
        if not isinstance(value, dict):
            raise DataError(
                f"expected a JSON object, got {type(value).__name__}",
                field=field,
                path=path,
                line=number,
            )
        yield RawRecord(value, number)


def _json_list(text: str, path: Path, field: str) -> Iterator[RawRecord]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
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
            raise DataError(
                f"expected a JSON object, got {type(item).__name__}",
                field=field,
                path=path,
                line=index,
                unit="item",
            )
        yield RawRecord(item, index)


def _text_chunks(text: str, max_chars: int) -> list[tuple[int, str]]:
    """Blank-line separated paragraphs, grouped in order into chunks of at most ~max_chars."""
    chunks: list[tuple[int, str]] = []
    start, current = 0, ""
    for line, para in _paragraphs(text, max_chars):
        if current and len(current) + 2 + len(para) > max_chars:
            chunks.append((start, current))
            current = ""
        if not current:
            start, current = line, para
        else:
            current = f"{current}\n\n{para}"
    if current:
        chunks.append((start, current))
    return chunks


def _paragraphs(text: str, max_chars: int) -> Iterator[tuple[int, str]]:
    """(first line, paragraph); paragraphs longer than max_chars are cut at line ends."""
    lines: list[str] = []
    first = 0
    for number, raw in enumerate([*text.splitlines(), ""], start=1):
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
