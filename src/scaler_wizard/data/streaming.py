"""Data larger than memory (`data.streaming`): sources read in shards, packed rows on disk.

The steps of `dataset.prepare_data`, one shard at a time: convert → transforms (their state
carries over between shards, so dedup sees every earlier record) → tokenize → pack → append
to a row store (`row_store.py`). Only the first shard of each source is held whole: it gives
the format, the held-out split, self-instruct's seeds and the report's examples.

Finished rows are cached under the data fingerprint: another run (or a resume) with the same
data and recipe reads them back instead of processing again. A run that stops half-way
leaves only a `.partial-*` folder behind, which the next attempt replaces.
"""

from __future__ import annotations

import json
import os
import random
import shutil
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, cast

from scaler_wizard.data.dataset import (
    DataStats,
    PreparedData,
    _pad_token_id,
    _read,
    _report_extras,
    _TokenCounter,
    _tokenize_all,
    _transform,
    count_tags,
    train_sources,
)
from scaler_wizard.data.errors import DataError
from scaler_wizard.data.fingerprint import fingerprint
from scaler_wizard.data.formats import Example, Requested, convert_file, split_turns
from scaler_wizard.data.labeling.imports import is_reference, resolve_function
from scaler_wizard.data.mixing import MixedSource, mix_sources
from scaler_wizard.data.packing import pack_examples
from scaler_wizard.data.records import RecordFile
from scaler_wizard.data.report import DataReport, build_report
from scaler_wizard.data.row_store import RowStoreWriter, RowView, StoredRows
from scaler_wizard.data.sources import SourceStream, open_source, read_hub, resolve_source
from scaler_wizard.data.split import shuffled, split_held_out
from scaler_wizard.data.synthetic import SELF_INSTRUCT, ProgressFn, build_synthetic
from scaler_wizard.data.transforms import TransformContext, TransformStep, run_transforms
from scaler_wizard.data.transforms.base import SAMPLES_KEPT
from scaler_wizard.paths import workspace_home
from scaler_wizard.recipe.data_spec import DataSpec, StreamingSpec
from scaler_wizard.registry import Registry

DONE_FILE = "prepared.json"
PICKS_FILE = "train_picks.npy"
LENGTH_SAMPLE = 50_000  # token lengths kept for the report's histogram (a uniform sample)
CACHE_VERSION = 1


def prepare_streamed(
    spec: DataSpec,
    tokenizer: Any,
    *,
    root: Path,
    registry: Registry[Any],
    model: Any = None,
    progress: ProgressFn | None = None,
) -> PreparedData:
    """`prepare_data` for `data.streaming`: the rows come back memory-mapped from disk."""
    streaming = spec.streaming or StreamingSpec()
    key = streamed_fingerprint(spec, tokenizer, root)
    cache = Path(streaming.cache_dir).expanduser() if streaming.cache_dir else None
    folder = (cache or workspace_home() / "data-cache") / key
    if (folder / DONE_FILE).is_file() and not _self_instruct(spec):
        return load_prepared(folder)
    work = folder.parent / f"{folder.name}.partial-{os.getpid()}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    try:
        _Streamer(spec, tokenizer, root, registry, streaming.shard_records).run(
            work, key, model, progress
        )
        shutil.rmtree(folder, ignore_errors=True)  # an earlier, unfinished copy
        work.rename(folder)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return load_prepared(folder)


def streamed_fingerprint(spec: DataSpec, tokenizer: Any, root: Path) -> str:
    """The data fingerprint, known before any record is processed (it names the cache).

    Local files are hashed by their bytes, a hub dataset by `datasets`' own fingerprint, and
    user labeling functions by their code, as the in-memory path does after running them.
    """
    identities: list[Path | str] = []
    names = [s.path for s in spec.train_sources()] + ([spec.eval] if spec.eval else [])
    for index, name in enumerate(names):
        where = resolve_source(name, root)
        if isinstance(where, str):
            hub = read_hub(where, f"data source {index}", lazy=True)
            identities.append(hub.identity or where)
        else:
            identities.append(where)
    for step in spec.transforms:
        if step.name == "label_functions":
            for name in step.options.get("functions", []):
                if isinstance(name, str) and is_reference(name):
                    identities.append(resolve_function(name, root).code_sha256)
    return fingerprint(spec, tokenizer, identities)


def load_prepared(folder: Path) -> PreparedData:
    """The prepared data a finished streaming pass left in `folder`."""
    import numpy as np

    done = json.loads((folder / DONE_FILE).read_text())
    if done.get("version") != CACHE_VERSION:
        raise DataError(f"data cache {folder} is from another version; delete it")
    stores = [StoredRows(folder / name) for name in done["stores"]]
    picks = np.load(folder / PICKS_FILE, mmap_mode="r")
    report = DataReport.from_dict(done["report"])
    report.streaming["rows_folder"] = str(folder)
    return PreparedData(
        RowView(stores, picks),
        list(StoredRows(folder / "eval")),
        done["fingerprint"],
        DataStats(**done["stats"]),
        report,
    )


def _self_instruct(spec: DataSpec) -> bool:
    # Generated pairs depend on the generating model's weights, which the fingerprint does
    # not see: such data is always prepared afresh.
    return spec.synthetic is not None and spec.synthetic.self_instruct is not None


@dataclass
class _Source:
    """One train source being streamed: its first shard is kept, the rest flows through."""

    label: str
    weight: float
    stream: SourceStream
    shards: Iterator[RecordFile]
    first: RecordFile
    format: str
    examples: list[Example]  # the first shard's, converted
    records: int = 0  # raw records read, every shard
    converted: int = 0
    kept: int = 0  # after transforms (for data.max_records)


@dataclass
class _Tally:
    """What the shards added up to, for DataStats and the report."""

    train_examples: int = 0
    dropped: int = 0
    truncated: int = 0
    shards: int = 0
    lengths: list[int] = field(default_factory=list)
    lengths_seen: int = 0
    tags: dict[str, dict[str, int]] = field(default_factory=dict)


class _Streamer:
    def __init__(
        self,
        spec: DataSpec,
        tokenizer: Any,
        root: Path,
        registry: Registry[Any],
        shard_records: int,
    ) -> None:
        self.spec, self.tokenizer, self.root, self.registry = spec, tokenizer, root, registry
        self.shard_records = shard_records
        self.counter = _TokenCounter(tokenizer)
        self.states: list[dict[str, Any]] = [{} for _ in spec.transforms]
        self.steps: list[list[TransformStep]] = []  # per shard, in order
        self.tally = _Tally()
        self.rng = random.Random(spec.seed)
        self.pad_id = _pad_token_id(tokenizer)

    def run(self, work: Path, key: str, model: Any, progress: ProgressFn | None) -> None:
        import numpy as np

        spec = self.spec
        sources = self._open_sources()
        synthetic = build_synthetic(
            spec, self.tokenizer, [e for s in sources for e in s.examples], self.root,
            model=model, progress=progress,
        )  # fmt: skip
        pool = [*(e for s in sources for e in s.examples), *synthetic.generated]
        kept = self._transform(pool, sources[0])
        groups: dict[str | None, list[Example]] = {}
        for example in kept:
            groups.setdefault(example.source, []).append(example)
        real = [self._cap(s, groups.get(s.label, [])) for s in sources]
        parts, held_out, eval_source, eval_steps = self._hold_out(sources, real)
        writers = [RowStoreWriter(work / f"train-{i}", spec.seq_length) for i in range(len(real))]
        synthetic_writer = RowStoreWriter(work / "synthetic", spec.seq_length)
        for source, writer, part in zip(sources, writers, parts, strict=True):
            self._write(writer, part, source)
        generated = groups.get(SELF_INSTRUCT, [])
        self._write(synthetic_writer, [*generated, *synthetic.constructed], sources[0])
        with _progress_bar() as advance:
            advance(sum(len(s.first.records) for s in sources))
            for source, writer in zip(sources, writers, strict=True):
                self._stream_rest(source, writer, advance)
        for writer in [*writers, synthetic_writer]:
            writer.close()
        merged = self._merged_steps()
        names = [*(f"train-{i}" for i in range(len(writers))), "synthetic"]
        stores = [StoredRows(work / name) for name in names]
        picks, mixed = self._mix(sources, stores)
        picks = picks[np.random.default_rng(spec.seed).permutation(len(picks))]
        np.save(work / PICKS_FILE, picks)
        eval_writer = RowStoreWriter(work / "eval", spec.seq_length)
        eval_tok, eval_dropped, eval_cut = _tokenize_all(
            self.tokenizer, held_out, spec.seq_length, {}, (eval_source or sources[0].first)
        )
        if not eval_tok:
            raise (eval_source or sources[0].first).error(
                f"no eval example has a token to learn from after tokenizing to "
                f"seq_length={spec.seq_length}; need at least 1"
            )
        eval_rows = pack_examples(
            eval_tok, spec.seq_length, pad_token_id=self.pad_id, packing=spec.packing
        )
        eval_writer.write(eval_rows)
        eval_writer.close()
        view = RowView(stores, picks)
        if len(view) == 0:
            raise sources[0].first.error("no train example has a token to learn from")
        tally = self.tally
        stats = DataStats(
            format=_one_format(sources),
            records_read=sum(s.converted for s in sources),
            train_examples=tally.train_examples,
            eval_examples=len(eval_tok),
            dropped_empty=tally.dropped + eval_dropped,
            truncated=tally.truncated + eval_cut,
            train_rows=len(view),
            eval_rows=len(eval_rows),
            train_label_tokens=view.label_tokens(),
            eval_label_tokens=eval_writer.label_tokens,
            packing_efficiency=round(view.real_tokens() / (len(view) * spec.seq_length), 4),
            records_skipped=sum(s.stream.skips.count for s in sources),
            records_removed=sum(s.records_in - s.records_out for s in [*merged, *eval_steps]),
            synthetic_examples=len(generated) + len(synthetic.constructed),
        )
        train_field = "data.sources" if spec.sources else "data.train"
        loads = [(s.first, s.format) for s in sources]
        extras = _report_extras(mixed, synthetic.report, tally.tags, generated)
        extras["streaming"] = {
            "shards": tally.shards,
            "shard_records": self.shard_records,
            "token_lengths_of": tally.lengths_seen,
        }
        report = build_report(
            spec,
            self.tokenizer,
            stats.to_dict(),
            loads,
            [(train_field, step) for step in merged] + [("data.eval", s) for s in eval_steps],
            tally.lengths,
            parts[0][:3] if parts[0] else generated[:3],
            extras,
            records=[s.records for s in sources],
        )
        done = {
            "version": CACHE_VERSION,
            "fingerprint": key,
            "stores": names,
            "stats": stats.to_dict(),
            "report": report.to_dict(),
        }
        (work / DONE_FILE).write_text(json.dumps(done, indent=2) + "\n")

    def _open_sources(self) -> list[_Source]:
        spec = self.spec
        opened: list[_Source] = []
        for field_name, source in train_sources(spec):
            stream = open_source(source.path, field_name, self.root, on_error=spec.on_error)
            shards = stream.shards(self.shard_records)
            first = next(shards, None)
            if first is None:
                empty = RecordFile(stream.path, field_name, (), stream.unit, stream.skips)
                raise empty.error("no records found; need at least 1")
            requested = source.format or spec.format
            fmt, examples = convert_file(first, requested)
            opened.append(
                _Source(
                    source.label, source.weight, stream, shards, first, fmt,
                    self._prepare(examples, source.label), len(first.records), len(examples),
                )
            )  # fmt: skip
        return opened

    def _prepare(self, examples: list[Example], label: str) -> list[Example]:
        if self.spec.split_turns:
            examples = split_turns(examples)
        return [replace(e, source=label) for e in examples]

    def _transform(self, examples: Sequence[Example], source: _Source) -> list[Example]:
        context = TransformContext(
            self.counter.bind({source.label: source.first}, source.first), self.spec.seed, self.root
        )
        # The first shard must keep something (it holds the held-out split); a later one
        # may lose every record, the whole stream is checked at the end.
        kept, steps = run_transforms(
            examples, self.spec.transforms, self.registry, context,
            states=self.states, allow_empty=bool(self.steps),
        )  # fmt: skip
        self.steps.append(steps)
        self.tally.shards += 1
        return kept

    def _cap(self, source: _Source, kept: list[Example]) -> list[Example]:
        limit = self.spec.max_records
        if limit is not None:
            kept = kept[: max(0, limit - source.kept)]
        source.kept += len(kept)
        return kept

    def _hold_out(
        self, sources: Sequence[_Source], real: Sequence[list[Example]]
    ) -> tuple[list[list[Example]], list[Example], RecordFile | None, list[TransformStep]]:
        """The first shards give the held-out split, or `data.eval` does (read whole)."""
        spec = self.spec
        if spec.eval is None:
            parts, held_out = split_held_out(
                [(s.first, r) for s, r in zip(sources, real, strict=True)],
                [s.weight for s in sources],
                spec.eval_records,
                spec.seed,
            )
            return parts, held_out, None, []
        loaded = _read(spec, spec.eval, "data.eval", self.root, "eval", 1.0, None)
        context = TransformContext(self.counter.bind({}, loaded.source), spec.seed, self.root)
        kept, steps = _transform(loaded.examples, spec, self.registry, context, "eval")
        if not kept:
            raise loaded.source.error("no records found; need at least 1")
        return list(real), shuffled(kept, spec.seed)[: spec.eval_records], loaded.source, steps

    def _stream_rest(self, source: _Source, writer: RowStoreWriter, advance: Any) -> None:
        limit = self.spec.max_records
        for shard in source.shards:
            if limit is not None and source.kept >= limit:
                break
            source.records += len(shard.records)
            _, examples = convert_file(shard, cast(Requested, source.format))
            source.converted += len(examples)
            kept = self._transform(self._prepare(examples, source.label), source)
            self._write(writer, self._cap(source, kept), source, shard)
            advance(len(shard.records))

    def _write(
        self,
        writer: RowStoreWriter,
        examples: Sequence[Example],
        source: _Source,
        shard: RecordFile | None = None,
    ) -> None:
        where = shard or source.first
        tokenized, dropped, cut = _tokenize_all(
            self.tokenizer, examples, self.spec.seq_length, {source.label: where}, where
        )
        tally = self.tally
        tally.train_examples += len(tokenized)
        tally.dropped += dropped
        tally.truncated += cut
        for item in tokenized:  # reservoir sampling: every length equally likely to stay
            tally.lengths_seen += 1
            if len(tally.lengths) < LENGTH_SAMPLE:
                tally.lengths.append(len(item.input_ids))
            elif (slot := self.rng.randrange(tally.lengths_seen)) < LENGTH_SAMPLE:
                tally.lengths[slot] = len(item.input_ids)
        count_tags(examples, into=tally.tags)
        if tokenized:
            packed = pack_examples(
                tokenized, self.spec.seq_length, pad_token_id=self.pad_id, packing=self.spec.packing
            )
            writer.write(packed)

    def _merged_steps(self) -> list[TransformStep]:
        """Each step's shards summed; raise if one removed every record of every shard."""
        merged = [_merge(list(column)) for column in zip(*self.steps, strict=True)]
        for index, step in enumerate(merged):
            if step.records_in and not step.records_out:
                reasons = ", ".join(f"{why}: {n}" for why, n in step.reasons.items())
                raise DataError(
                    f"transform {step.name!r} removed every remaining record "
                    f"({step.records_in} in, 0 out; {reasons or 'no reason given'})",
                    field=f"data.transforms[{index}]",
                )
        return merged

    def _mix(
        self, sources: Sequence[_Source], stores: Sequence[StoredRows]
    ) -> tuple[Any, list[MixedSource]]:
        """(store, row) pairs of the train rows: several sources mixed by rows, by weight."""
        import numpy as np

        synthetic = len(stores) - 1
        extra = [(synthetic, r) for r in range(len(stores[synthetic]))]
        if not self.spec.sources:
            picks = [(0, r) for r in range(len(stores[0]))] + extra
            return np.asarray(picks, dtype=np.int64).reshape(-1, 2), []
        parts = [(s.label, s.weight, _Pairs(i, len(stores[i]))) for i, s in enumerate(sources)]
        mixed, report = mix_sources(parts, self.spec.mix, self.spec.seed)
        return np.asarray([*mixed, *extra], dtype=np.int64).reshape(-1, 2), report


class _Pairs(Sequence[tuple[int, int]]):
    """(store, row) for every row of one store, without building the list."""

    def __init__(self, store: int, rows: int) -> None:
        self.store, self.rows = store, rows

    def __len__(self) -> int:
        return self.rows

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return [(self.store, r) for r in range(*index.indices(self.rows))]
        if not 0 <= index < self.rows:
            raise IndexError(index)
        return (self.store, index)


def _merge(steps: list[TransformStep]) -> TransformStep:
    first = steps[0]
    reasons: dict[str, int] = {}
    for step in steps:
        for why, n in step.reasons.items():
            reasons[why] = reasons.get(why, 0) + n
    samples = [s for step in steps for s in step.samples][:SAMPLES_KEPT]
    details = dict(first.details)
    if len(steps) > 1:
        details["details_from"] = "the first shard"
    return TransformStep(
        first.name,
        first.options,
        sum(s.records_in for s in steps),
        sum(s.records_out for s in steps),
        reasons,
        samples,
        details,
    )


def _one_format(sources: Sequence[_Source]) -> str:
    formats = {s.format for s in sources}
    return formats.pop() if len(formats) == 1 else "mixed"


@contextmanager
def _progress_bar() -> Iterator[Any]:
    """A Rich bar of records read (on a terminal); the total is unknown while streaming."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    console = Console(stderr=True)
    with Progress(
        TextColumn("streaming data"),
        BarColumn(),
        TextColumn("{task.completed:,} records"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    ) as bar:
        task = bar.add_task("records", total=None, completed=0)
        yield lambda n: bar.advance(task, n)
