"""From a recipe's `data` section to packed train and eval rows, with stats and a fingerprint."""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from scaler_wizard.data.errors import DataError
from scaler_wizard.data.formats import Example, convert_file
from scaler_wizard.data.packing import PackedRow, pack_examples
from scaler_wizard.data.records import RecordFile, read_records
from scaler_wizard.data.tokenize import TokenizedExample, tokenize_example
from scaler_wizard.recipe.spec import DataSpec

# Bump when the pipeline's output changes for the same inputs: old caches must not match.
PIPELINE_VERSION = 1


@dataclass(frozen=True)
class DataStats:
    """What `prepare_data` read, kept and produced."""

    format: str
    records_read: int
    train_examples: int
    eval_examples: int
    dropped_empty: int  # examples with no label token left after truncation
    truncated: int  # examples cut to seq_length
    train_rows: int
    eval_rows: int
    train_label_tokens: int
    eval_label_tokens: int
    packing_efficiency: float  # real tokens / row tokens, over train rows

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class PreparedData:
    """Rows ready for `collate_rows`; `fingerprint` changes whenever the rows could."""

    train_rows: list[PackedRow]
    eval_rows: list[PackedRow]
    fingerprint: str
    stats: DataStats


def prepare_data(spec: DataSpec, tokenizer: Any, *, base_dir: Path | None = None) -> PreparedData:
    """Read, split, tokenize and pack the data a recipe names.

    Relative paths resolve against `base_dir` (default: the current directory). The held-out
    split is `eval_records` records drawn with `seed`, or, when `spec.eval` names a file, up to
    `eval_records` records of that file. Train rows are shuffled with `seed`.
    """
    root = base_dir if base_dir is not None else Path.cwd()
    train_file = read_records(_resolve(spec.train, root), "data.train")
    fmt, records = convert_file(train_file, spec.format)
    records_read = len(records)
    if spec.max_records is not None:
        records = records[: spec.max_records]
    eval_file: RecordFile | None = None
    if spec.eval is None:
        train, held_out = _split(records, spec, train_file)
    else:
        eval_file = read_records(_resolve(spec.eval, root), "data.eval")
        _, eval_records = convert_file(eval_file, spec.format)
        if not eval_records:
            raise eval_file.error("no records found; need at least 1")
        if not records:
            raise train_file.error("no records found; need at least 1")
        train = records
        held_out = _shuffled(eval_records, spec.seed)[: spec.eval_records]

    max_length = spec.seq_length
    train_tok, train_dropped, train_cut = _tokenize_all(tokenizer, train, max_length, train_file)
    eval_tok, eval_dropped, eval_cut = _tokenize_all(
        tokenizer, held_out, max_length, eval_file or train_file
    )
    for name, kept, source in (("train", train_tok, train_file), ("eval", eval_tok, eval_file)):
        if not kept:
            raise (source or train_file).error(
                f"no {name} example has a token to learn from after tokenizing to "
                f"seq_length={spec.seq_length}; need at least 1"
            )

    pad_id = _pad_token_id(tokenizer)
    train_rows = pack_examples(
        train_tok, spec.seq_length, pad_token_id=pad_id, packing=spec.packing
    )
    random.Random(spec.seed).shuffle(train_rows)  # best-fit puts long examples first
    eval_rows = pack_examples(eval_tok, spec.seq_length, pad_token_id=pad_id, packing=spec.packing)

    stats = DataStats(
        format=fmt,
        records_read=records_read,
        train_examples=len(train_tok),
        eval_examples=len(eval_tok),
        dropped_empty=train_dropped + eval_dropped,
        truncated=train_cut + eval_cut,
        train_rows=len(train_rows),
        eval_rows=len(eval_rows),
        train_label_tokens=_label_tokens(train_rows),
        eval_label_tokens=_label_tokens(eval_rows),
        packing_efficiency=round(
            sum(r.real_tokens for r in train_rows) / (len(train_rows) * spec.seq_length), 4
        ),
    )
    files = [train_file.path] + ([eval_file.path] if eval_file else [])
    return PreparedData(train_rows, eval_rows, fingerprint(spec, tokenizer, files), stats)


def fingerprint(spec: DataSpec, tokenizer: Any, files: Sequence[Path]) -> str:
    """sha256 of the file bytes, the spec fields that shape the rows, and the tokenizer."""
    digest = hashlib.sha256()
    for path in files:
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        digest.update(b"\0file\0")
    settings = {
        "pipeline": PIPELINE_VERSION,
        "has_eval_file": spec.eval is not None,
        "format": spec.format,
        "max_records": spec.max_records,
        "eval_records": spec.eval_records,
        "seq_length": spec.seq_length,
        "packing": spec.packing,
        "seed": spec.seed,
        "vocab_size": len(tokenizer),
        # The template decides the token stream of every conversation.
        "chat_template": getattr(tokenizer, "chat_template", None),
    }
    digest.update(json.dumps(settings, sort_keys=True, default=str).encode())
    return digest.hexdigest()


def _resolve(name: str, root: Path) -> Path:
    path = Path(name).expanduser()
    return path if path.is_absolute() else root / path


def _shuffled(examples: Sequence[Example], seed: int) -> list[Example]:
    order = list(examples)
    random.Random(seed).shuffle(order)
    return order


def _split(
    examples: Sequence[Example], spec: DataSpec, source: RecordFile
) -> tuple[list[Example], list[Example]]:
    needed = spec.eval_records + 1
    if len(examples) < needed:
        found = "no records" if not examples else f"{len(examples)} record(s)"
        raise source.error(
            f"found {found}; need at least {needed} ({spec.eval_records} held out for "
            "data.eval_records + 1 to train): add records, lower data.eval_records "
            "or name a data.eval file"
        )
    order = _shuffled(examples, spec.seed)
    held_out = order[: spec.eval_records]
    train = sorted(order[spec.eval_records :], key=lambda e: e.line)  # keep file order
    return train, held_out


def _tokenize_all(
    tokenizer: Any, examples: Sequence[Example], max_length: int, source: RecordFile
) -> tuple[list[TokenizedExample], int, int]:
    """Kept examples, how many were dropped (nothing to learn), how many were truncated."""
    kept: list[TokenizedExample] = []
    dropped = truncated = 0
    for example in examples:
        try:
            tokenized = tokenize_example(tokenizer, example, max_length)
        except DataError as exc:  # add the file, which tokenize_example does not know
            raise source.error(exc.message, exc.line) from exc
        truncated += tokenized.truncated
        if tokenized.label_count == 0:
            dropped += 1
        else:
            kept.append(tokenized)
    return kept, dropped, truncated


def _pad_token_id(tokenizer: Any) -> int:
    for candidate in (tokenizer.pad_token_id, tokenizer.eos_token_id):
        if candidate is not None:
            return int(candidate)
    return 0  # labels there are IGNORE_INDEX and the mask isolates them: any id works


def _label_tokens(rows: Sequence[PackedRow]) -> int:
    return sum(sum(1 for label in row.labels if label != -100) for row in rows)
