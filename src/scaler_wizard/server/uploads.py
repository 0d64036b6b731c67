"""Dataset uploads: size-limited, type-checked by extension and by content, then parsed with
the same readers a run uses, so the preview shows exactly what training would see."""

from __future__ import annotations

import codecs
import hashlib
import json
import re
import secrets
import shutil
from pathlib import Path
from typing import BinaryIO

from scaler_wizard.data.errors import DataError
from scaler_wizard.data.formats import Example, Format, convert_file
from scaler_wizard.data.sources import open_source, read_source
from scaler_wizard.server.errors import ApiError
from scaler_wizard.server.schemas import DatasetInfo, DatasetRecord
from scaler_wizard.server.settings import Settings

TEXT_EXTENSIONS = (".jsonl", ".json", ".csv", ".tsv", ".txt", ".md")
EXTENSIONS = (*TEXT_EXTENSIONS, ".parquet")
SNIFF_BYTES = 64 * 1024
CHUNK_BYTES = 1024 * 1024
PREVIEW_RECORDS = 5
DESCRIBE_SHARD_RECORDS = 10_000  # records parsed at a time when an upload is checked
PREVIEW_CHARS = 500
UPLOAD_ID = re.compile(r"^[0-9a-f]{16}$")
META = "upload.json"


def safe_name(filename: str) -> str:
    """The file's base name with anything but letters, digits, '.', '-' and '_' replaced:
    whatever the client sends, the file lands directly in its upload folder."""
    base = re.split(r"[\\/]", filename)[-1].strip().lstrip(".")
    cleaned = re.sub(r"[^A-Za-z0-9._-]", "_", base)[-120:]
    return cleaned or "upload"


def save_upload(settings: Settings, source: BinaryIO, filename: str) -> DatasetInfo:
    name = safe_name(filename)
    suffix = Path(name).suffix.lower()
    if suffix not in EXTENSIONS:
        raise ApiError(
            415, f"unsupported file type {suffix or '(none)'!r}; use {', '.join(EXTENSIONS)}"
        )
    upload_id = secrets.token_hex(8)
    folder = settings.uploads_dir / upload_id
    folder.mkdir(parents=True)
    path = folder / name
    try:
        digest, size = _copy_limited(source, path, settings.max_upload_bytes)
        _sniff(path, suffix)
        info = _describe(upload_id, path, digest, size)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)  # a refused upload leaves nothing behind
        raise
    (folder / META).write_text(info.model_dump_json(indent=2) + "\n")
    return info


def list_uploads(settings: Settings) -> list[DatasetInfo]:
    root = settings.uploads_dir
    if not root.is_dir():
        return []
    found = []
    for folder in sorted(root.iterdir()):
        meta = folder / META
        if UPLOAD_ID.fullmatch(folder.name) and meta.is_file():
            found.append(DatasetInfo.model_validate_json(meta.read_text()))
    return found


def _copy_limited(source: BinaryIO, path: Path, max_bytes: int) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with path.open("wb") as out:
        while chunk := source.read(CHUNK_BYTES):
            size += len(chunk)
            if size > max_bytes:
                raise ApiError(413, f"upload larger than the limit of {max_bytes} bytes")
            digest.update(chunk)
            out.write(chunk)
    if size == 0:
        raise ApiError(422, "the file is empty")
    return digest.hexdigest(), size


def _sniff(path: Path, suffix: str) -> None:
    """Refuse content that does not match the extension, before any parser sees it."""
    with path.open("rb") as file:
        head = file.read(SNIFF_BYTES)
        if suffix == ".parquet":
            file.seek(-4, 2)
            if head[:4] != b"PAR1" or file.read(4) != b"PAR1":
                raise ApiError(422, "not a Parquet file (no PAR1 magic at start and end)")
            return
    if b"\x00" in head:
        raise ApiError(422, f"binary content (NUL bytes) in a {suffix} file")
    try:  # an incremental decoder tolerates a character cut at the end of the sniffed bytes
        text = codecs.getincrementaldecoder("utf-8-sig")().decode(head, final=False)
    except UnicodeDecodeError as exc:
        raise ApiError(422, f"not UTF-8 text (byte {exc.start})") from None
    first = text.lstrip()[:1]
    if suffix == ".json" and first not in ("[", "{"):
        raise ApiError(422, "a .json file must hold a JSON list or object")
    if suffix == ".jsonl":
        line = next((ln for ln in text.splitlines() if ln.strip()), "")
        try:
            ok = isinstance(json.loads(line), dict)
        except ValueError:
            ok = False
        whole_line = "\n" in text or len(head) < SNIFF_BYTES
        if not ok and whole_line:
            raise ApiError(422, "the first line of a .jsonl file is not a JSON object")


def _describe(upload_id: str, path: Path, digest: str, size: int) -> DatasetInfo:
    """Parse every record as a run would; bad records are counted, none usable is refused.

    Records are read in shards, so an upload larger than memory is checked in bounded memory:
    the first shard decides the format and gives the preview.
    """
    fmt: Format | None = None
    preview: list[Example] = []
    records = 0
    try:
        if path.suffix.lower() == ".json":  # one JSON value: read whole
            source = read_source(str(path), "data.train", path.parent, on_error="skip")
            shards, skips = iter([source]), source.skips
        else:
            stream = open_source(str(path), "data.train", path.parent, on_error="skip")
            shards, skips = stream.shards(DESCRIBE_SHARD_RECORDS), stream.skips
        for shard in shards:
            fmt, examples = convert_file(shard, fmt or "auto")
            records += len(examples)
            preview.extend(examples[: PREVIEW_RECORDS - len(preview)])
    except DataError as exc:
        raise ApiError(422, f"unreadable dataset: {exc.message}") from None
    problems = [f"{s.unit} {s.line}: {s.message}" for s in skips.samples]
    if not records or fmt is None:
        why = f"; first problem: {problems[0]}" if problems else ""
        raise ApiError(422, f"no usable records{why}")
    return DatasetInfo(
        id=upload_id,
        name=path.name,
        path=str(path.resolve()),
        size_bytes=size,
        sha256=digest,
        format=fmt,
        records=records,
        skipped=skips.count,
        problems=problems,
        preview=[_preview(e) for e in preview],
    )


def _preview(example: Example) -> DatasetRecord:
    if example.messages is None:
        return DatasetRecord(line=example.line, text=(example.text or "")[:PREVIEW_CHARS])
    messages = [{"role": m.role, "content": m.content[:PREVIEW_CHARS]} for m in example.messages]
    return DatasetRecord(line=example.line, messages=messages)
