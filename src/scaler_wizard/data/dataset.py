"""From a recipe's `data` section to packed train and eval rows, with stats, a report and a
fingerprint (see `fingerprint.py`)."""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, cast

from scaler_wizard.data.errors import DataError
from scaler_wizard.data.fingerprint import fingerprint
from scaler_wizard.data.formats import Example, Requested, convert_file, split_turns
from scaler_wizard.data.mixing import MixedSource, mix_sources
from scaler_wizard.data.packing import PackedRow, pack_examples
from scaler_wizard.data.records import RecordFile
from scaler_wizard.data.report import DataReport, build_report
from scaler_wizard.data.sources import read_source
from scaler_wizard.data.split import shuffled, split_held_out
from scaler_wizard.data.synthetic import SELF_INSTRUCT, ProgressFn, build_synthetic
from scaler_wizard.data.tokenize import TokenizedExample, tokenize_example
from scaler_wizard.data.transforms import (
    TransformContext,
    TransformStep,
    default_transforms,
    run_transforms,
    validate_transforms,
)
from scaler_wizard.recipe.spec import DataSourceSpec, DataSpec
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
    synthetic_examples: int = 0  # train examples from data.synthetic, after transforms

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class PreparedData:
    """Rows ready for `collate_rows`; `fingerprint` changes whenever the rows could."""

    train_rows: Sequence[PackedRow]  # a list, or rows memory-mapped from disk (streaming)
    eval_rows: list[PackedRow]
    fingerprint: str
    stats: DataStats
    report: DataReport | None = None  # write it with `write_data_report`


@dataclass(frozen=True)
class _Loaded:
    """One source after reading, conversion and split_turns (transforms run on the union)."""

    source: RecordFile
    label: str  # what `Example.source` says for its records
    weight: float
    format: str
    converted: int
    examples: list[Example]


def prepare_data(
    spec: DataSpec,
    tokenizer: Any,
    *,
    base_dir: Path | None = None,
    transforms: Registry[Any] | None = None,
    model: Any = None,
    progress: ProgressFn | None = None,
) -> PreparedData:
    """Read, convert, transform, split, mix, tokenize and pack the data a recipe names.

    Relative paths resolve against `base_dir` (default: the current directory), user labeling
    functions too. Transforms run once over every train source together (so dedup works across
    them) plus the self-instruct pairs. The held-out split is `eval_records` records drawn with
    `seed` (from each source by weight), or up to `eval_records` records of `spec.eval`
    (transformed the same way); synthetic examples are train-only. Several sources are then
    mixed by weight (see `mixing.py`). Train rows are shuffled with `seed`. `transforms` is the
    registry to look steps up in (default: the built-ins); `model` is the run's loaded base
    model, used by self-instruct; `progress` reports generation (default: a Rich bar).
    """
    root = base_dir if base_dir is not None else Path.cwd()
    registry = transforms if transforms is not None else default_transforms()
    validate_transforms(spec.transforms, registry)  # a typo fails before any reading
    if spec.streaming is not None:
        # Imported here: the streaming path builds on this module's steps.
        from scaler_wizard.data.streaming import prepare_streamed

        return prepare_streamed(
            spec, tokenizer, root=root, registry=registry, model=model, progress=progress
        )
    counter = _TokenCounter(tokenizer)
    loads = _read_sources(spec, root)
    files: dict[str | None, RecordFile] = {x.label: x.source for x in loads}
    synthetic = build_synthetic(
        spec, tokenizer, [e for x in loads for e in x.examples], root, model=model,
        progress=progress,
    )  # fmt: skip
    pool = [*(e for x in loads for e in x.examples), *synthetic.generated]
    context = TransformContext(counter.bind(files, loads[0].source), spec.seed, root)
    kept, steps = _transform(pool, spec, registry, context, "train")
    groups: dict[str | None, list[Example]] = {}
    for example in kept:
        groups.setdefault(example.source, []).append(example)
    real = [groups.get(x.label, [])[: spec.max_records] for x in loads]
    split = _split_and_mix(spec, loads, real, counter, registry, root)
    loaded_eval, eval_steps, held_out = split.eval_load, split.eval_steps, split.held_out
    generated = groups.get(SELF_INSTRUCT, [])
    train_examples = [*split.train, *generated, *synthetic.constructed]

    max_length = spec.seq_length
    eval_files: dict[str | None, RecordFile] = (
        {"eval": loaded_eval.source} if loaded_eval else files
    )
    train_tok, train_dropped, train_cut = _tokenize_all(
        tokenizer, train_examples, max_length, files, loads[0].source
    )
    eval_tok, eval_dropped, eval_cut = _tokenize_all(
        tokenizer, held_out, max_length, eval_files, (loaded_eval or loads[0]).source
    )
    for name, kept_tok, source in (
        ("train", train_tok, loads[0].source),
        ("eval", eval_tok, (loaded_eval or loads[0]).source),
    ):
        if not kept_tok:
            raise source.error(
                f"no {name} example has a token to learn from after tokenizing to "
                f"seq_length={spec.seq_length}; need at least 1"
            )

    pad_id = _pad_token_id(tokenizer)
    train_rows = pack_examples(
        train_tok, spec.seq_length, pad_token_id=pad_id, packing=spec.packing
    )
    random.Random(spec.seed).shuffle(train_rows)  # best-fit puts long examples first
    eval_rows = pack_examples(eval_tok, spec.seq_length, pad_token_id=pad_id, packing=spec.packing)

    formats = {x.format for x in loads}
    all_loads = [*loads, *([loaded_eval] if loaded_eval else [])]
    stats = DataStats(
        format=formats.pop() if len(formats) == 1 else "mixed",
        records_read=sum(x.converted for x in loads),
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
        records_skipped=sum(x.source.skips.count for x in all_loads),
        records_removed=sum(s.records_in - s.records_out for s in [*steps, *eval_steps]),
        synthetic_examples=len(generated) + len(synthetic.constructed),
    )
    train_field = "data.sources" if spec.sources else "data.train"
    report = build_report(
        spec,
        tokenizer,
        stats.to_dict(),
        [(x.source, x.format) for x in all_loads],
        [(train_field, step) for step in steps] + [("data.eval", step) for step in eval_steps],
        [len(t.input_ids) for t in train_tok],
        train_examples,
        extras=_report_extras(split.mixed, synthetic.report, count_tags(train_examples), generated),
    )
    identities: list[Path | str] = [x.source.identity or x.source.path for x in all_loads]
    identities += [s.details["fingerprint"] for s in steps if "fingerprint" in s.details]
    identities.append(synthetic.fingerprint)
    return PreparedData(
        train_rows, eval_rows, fingerprint(spec, tokenizer, identities), stats, report
    )


@dataclass(frozen=True)
class _Split:
    train: list[Example]  # real train examples, mixed when there are several sources
    held_out: list[Example]
    mixed: list[MixedSource]
    eval_load: _Loaded | None  # `data.eval` when it names a source
    eval_steps: list[TransformStep]


def _split_and_mix(
    spec: DataSpec,
    loads: Sequence[_Loaded],
    real: Sequence[list[Example]],
    counter: _TokenCounter,
    registry: Registry[Any],
    root: Path,
) -> _Split:
    """Hold out evaluation records (a split by weight, or `data.eval`), then mix the rest."""
    eval_steps: list[TransformStep] = []
    loaded_eval: _Loaded | None = None
    if spec.eval is None:
        parts, held_out = split_held_out(
            [(x.source, r) for x, r in zip(loads, real, strict=True)],
            [x.weight for x in loads],
            spec.eval_records,
            spec.seed,
        )
    else:
        loaded_eval = _read(spec, spec.eval, "data.eval", root, "eval", 1.0, None)
        context = TransformContext(counter.bind({}, loaded_eval.source), spec.seed, root)
        eval_kept, eval_steps = _transform(loaded_eval.examples, spec, registry, context, "eval")
        if not eval_kept:
            raise loaded_eval.source.error("no records found; need at least 1")
        for x, records in zip(loads, real, strict=True):
            if not records:
                raise x.source.error("no records found; need at least 1")
        parts = list(real)
        held_out = shuffled(eval_kept, spec.seed)[: spec.eval_records]
    if not spec.sources:
        return _Split(parts[0], held_out, [], loaded_eval, eval_steps)
    named = [(x.label, x.weight, part) for x, part in zip(loads, parts, strict=True)]
    train, mixed = mix_sources(named, spec.mix, spec.seed)
    return _Split(train, held_out, mixed, loaded_eval, eval_steps)


def _read_sources(spec: DataSpec, root: Path) -> list[_Loaded]:
    return [
        _read(spec, source.path, field, root, source.label, source.weight, source.format)
        for field, source in train_sources(spec)
    ]


def train_sources(spec: DataSpec) -> list[tuple[str, DataSourceSpec]]:
    """(recipe field, source) of every train source; two sources may not share a name."""
    out: list[tuple[str, DataSourceSpec]] = []
    for index, source in enumerate(spec.train_sources()):
        if any(other.label == source.label for _, other in out):
            raise DataError(
                f"two sources are called {source.label!r}; give each a distinct name",
                field=f"data.sources[{index}].name",
            )
        out.append((f"data.sources[{index}].path" if spec.sources else "data.train", source))
    return out


def _read(
    spec: DataSpec,
    name: str,
    field: str,
    root: Path,
    label: str,
    weight: float,
    fmt: str | None,
) -> _Loaded:
    source = read_source(name, field, root, on_error=spec.on_error)
    requested = cast(Requested, fmt or spec.format)
    detected, examples = convert_file(source, requested)
    converted = len(examples)
    if spec.split_turns:
        examples = split_turns(examples)
    tagged = [replace(e, source=label) for e in examples]
    return _Loaded(source, label, weight, detected, converted, tagged)


def _transform(
    examples: Sequence[Example],
    spec: DataSpec,
    registry: Registry[Any],
    context: TransformContext,
    which: str,
) -> tuple[list[Example], list[TransformStep]]:
    try:
        return run_transforms(examples, spec.transforms, registry, context)
    except DataError as exc:
        if which == "train":
            raise
        raise DataError(f"on data.{which}: {exc.message}", field=exc.field) from exc


def count_tags(
    examples: Sequence[Example], into: dict[str, dict[str, int]] | None = None
) -> dict[str, dict[str, int]]:
    """Examples per tag value (`into` is added to: a streamed pass counts shard by shard)."""
    tags = into if into is not None else {}
    for example in examples:
        for key, value in example.tags:
            counts = tags.setdefault(key, {})
            counts[value] = counts.get(value, 0) + 1
    return tags


def _report_extras(
    mixed: Sequence[MixedSource],
    synthetic: dict[str, Any],
    tags: dict[str, dict[str, int]],
    generated: Sequence[Example],
) -> dict[str, Any]:
    if "self_instruct" in synthetic:
        synthetic["self_instruct"]["kept_after_transforms"] = len(generated)
    return {"mix": [m.to_dict() for m in mixed], "synthetic": synthetic, "tags": tags}


class _TokenCounter:
    """Untruncated token counts as trained (template included), computed once per example."""

    def __init__(self, tokenizer: Any) -> None:
        self.tokenizer = tokenizer
        self.cache: dict[Example, int] = {}

    def bind(
        self, files: Mapping[str | None, RecordFile], default: RecordFile
    ) -> Callable[[Example], int]:
        """A counter whose errors name the file the example came from."""

        def count(example: Example) -> int:
            if example not in self.cache:
                try:
                    tokens = tokenize_example(self.tokenizer, example, 1 << 30)
                except DataError as exc:
                    source = files.get(example.source, default)
                    raise source.error(exc.message, exc.line) from exc
                self.cache[example] = len(tokens.input_ids)
            return self.cache[example]

        return count


def _tokenize_all(
    tokenizer: Any,
    examples: Sequence[Example],
    max_length: int,
    files: Mapping[str | None, RecordFile],
    default: RecordFile,
) -> tuple[list[TokenizedExample], int, int]:
    """Kept examples, how many were dropped (nothing to learn), how many were truncated."""
    kept: list[TokenizedExample] = []
    dropped = truncated = 0
    for example in examples:
        try:
            tokenized = tokenize_example(tokenizer, example, max_length)
        except DataError as exc:  # add the file, which tokenize_example does not know
            raise files.get(example.source, default).error(exc.message, exc.line) from exc
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
