"""From a recipe's `data` section to packed train and eval rows, with stats, a report and a
fingerprint (see `fingerprint.py`)."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from scaler_wizard.data.errors import DataError
from scaler_wizard.data.fingerprint import fingerprint
from scaler_wizard.data.formats import Example, convert_file, split_turns
from scaler_wizard.data.packing import PackedRow, pack_examples
from scaler_wizard.data.records import RecordFile
from scaler_wizard.data.report import DataReport, build_report
from scaler_wizard.data.sources import read_source
from scaler_wizard.data.tokenize import TokenizedExample, tokenize_example
from scaler_wizard.data.transforms import (
    TransformContext,
    TransformStep,
    default_transforms,
    run_transforms,
    validate_transforms,
)
from scaler_wizard.recipe.spec import DataSpec
from scaler_wizard.registry import Registry


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
    records_skipped: int = 0  # malformed records left out under `on_error: skip`
    records_removed: int = 0  # examples the transforms dropped (train and eval)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class PreparedData:
    """Rows ready for `collate_rows`; `fingerprint` changes whenever the rows could."""

    train_rows: list[PackedRow]
    eval_rows: list[PackedRow]
    fingerprint: str
    stats: DataStats
    report: DataReport | None = None  # write it with `write_data_report`


@dataclass(frozen=True)
class _Loaded:
    """One source after reading, conversion, split_turns and transforms."""

    source: RecordFile
    format: str
    converted: int
    examples: list[Example]
    steps: list[TransformStep]


def prepare_data(
    spec: DataSpec,
    tokenizer: Any,
    *,
    base_dir: Path | None = None,
    transforms: Registry[Any] | None = None,
) -> PreparedData:
    """Read, convert, transform, split, tokenize and pack the data a recipe names.

    Relative paths resolve against `base_dir` (default: the current directory). The held-out
    split is `eval_records` records drawn with `seed`, or, when `spec.eval` names a source, up
    to `eval_records` records of it (transformed the same way). Train rows are shuffled with
    `seed`. `transforms` is the registry to look steps up in (default: the built-ins).
    """
    root = base_dir if base_dir is not None else Path.cwd()
    registry = transforms if transforms is not None else default_transforms()
    validate_transforms(spec.transforms, registry)  # a typo fails before any reading
    counter = _TokenCounter(tokenizer)
    train = _load(spec, "train", spec.train, root, registry, counter)
    records = train.examples
    if spec.max_records is not None:
        records = records[: spec.max_records]
    loaded_eval: _Loaded | None = None
    if spec.eval is None:
        train_examples, held_out = _split(records, spec, train.source)
    else:
        loaded_eval = _load(spec, "eval", spec.eval, root, registry, counter)
        if not loaded_eval.examples:
            raise loaded_eval.source.error("no records found; need at least 1")
        if not records:
            raise train.source.error("no records found; need at least 1")
        train_examples = records
        held_out = _shuffled(loaded_eval.examples, spec.seed)[: spec.eval_records]
    eval_file = loaded_eval.source if loaded_eval else None

    max_length = spec.seq_length
    train_tok, train_dropped, train_cut = _tokenize_all(
        tokenizer, train_examples, max_length, train.source
    )
    eval_tok, eval_dropped, eval_cut = _tokenize_all(
        tokenizer, held_out, max_length, eval_file or train.source
    )
    for name, kept, source in (("train", train_tok, train.source), ("eval", eval_tok, eval_file)):
        if not kept:
            raise (source or train.source).error(
                f"no {name} example has a token to learn from after tokenizing to "
                f"seq_length={spec.seq_length}; need at least 1"
            )

    pad_id = _pad_token_id(tokenizer)
    train_rows = pack_examples(
        train_tok, spec.seq_length, pad_token_id=pad_id, packing=spec.packing
    )
    random.Random(spec.seed).shuffle(train_rows)  # best-fit puts long examples first
    eval_rows = pack_examples(eval_tok, spec.seq_length, pad_token_id=pad_id, packing=spec.packing)

    loads = [train] + ([loaded_eval] if loaded_eval else [])
    stats = DataStats(
        format=train.format,
        records_read=train.converted,
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
        records_skipped=sum(x.source.skips.count for x in loads),
        records_removed=sum(s.records_in - s.records_out for x in loads for s in x.steps),
    )
    report = build_report(
        spec,
        tokenizer,
        stats.to_dict(),
        [(x.source, x.format, x.steps) for x in loads],
        train_tok,
        train_examples,
    )
    identities = [x.source.identity or x.source.path for x in loads]
    return PreparedData(
        train_rows, eval_rows, fingerprint(spec, tokenizer, identities), stats, report
    )


def _load(
    spec: DataSpec,
    which: str,
    name: str,
    root: Path,
    registry: Registry[Any],
    counter: _TokenCounter,
) -> _Loaded:
    source = read_source(name, f"data.{which}", root, on_error=spec.on_error)
    fmt, examples = convert_file(source, spec.format)
    converted = len(examples)
    if spec.split_turns:
        examples = split_turns(examples)
    context = TransformContext(counter.bind(source), spec.seed)
    try:
        examples, steps = run_transforms(examples, spec.transforms, registry, context)
    except DataError as exc:
        if which == "train":
            raise
        raise DataError(f"on data.{which}: {exc.message}", field=exc.field) from exc
    return _Loaded(source, fmt, converted, examples, steps)


class _TokenCounter:
    """Untruncated token counts as trained (template included), computed once per example."""

    def __init__(self, tokenizer: Any) -> None:
        self.tokenizer = tokenizer
        self.cache: dict[Example, int] = {}

    def bind(self, source: RecordFile) -> Callable[[Example], int]:
        def count(example: Example) -> int:
            if example not in self.cache:
                try:
                    tokens = tokenize_example(self.tokenizer, example, 1 << 30)
                except DataError as exc:
                    raise source.error(exc.message, exc.line) from exc
                self.cache[example] = len(tokens.input_ids)
            return self.cache[example]

        return count


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
