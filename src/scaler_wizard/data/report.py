"""The data report: what each source and transform kept, token lengths, and examples rendered
through the chat template exactly as the model sees them, trained tokens marked.

Written as data_report.json (for tools), data_report.md (for people) and token_lengths.png.
The figure uses matplotlib's Agg canvas directly, never pyplot (no global state, no GUI).
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from scaler_wizard.data.formats import Example
from scaler_wizard.data.labeling.summary import render_label_summary
from scaler_wizard.data.records import RecordFile
from scaler_wizard.data.tokenize import IGNORE_INDEX, TokenizedExample, tokenize_example
from scaler_wizard.data.transforms.base import TransformStep
from scaler_wizard.recipe.spec import DataSpec

EXAMPLES_SHOWN = 3
TRAINED_OPEN, TRAINED_CLOSE = "⟦", "⟧"  # around the tokens that carry loss, in the markdown
FILES = {"json": "data_report.json", "markdown": "data_report.md", "histogram": "token_lengths.png"}


@dataclass(frozen=True)
class Segment:
    text: str
    trained: bool


@dataclass(frozen=True)
class RenderedExample:
    line: int
    segments: list[Segment]

    def marked(self) -> str:
        return "".join(
            f"{TRAINED_OPEN}{s.text}{TRAINED_CLOSE}" if s.trained else s.text for s in self.segments
        )


@dataclass(frozen=True)
class DataReport:
    format: str
    sources: list[dict[str, Any]]
    transforms: list[dict[str, Any]]  # TransformStep.to_dict() plus the source field
    stats: dict[str, Any]
    seq_length: int
    split_turns: bool
    token_lengths: list[int]  # train examples as packed (after truncation)
    examples: list[RenderedExample]
    mix: list[dict[str, Any]] = field(default_factory=list)  # MixedSource per data.sources entry
    synthetic: dict[str, Any] = field(default_factory=dict)  # per generator: counts, samples
    tags: dict[str, dict[str, int]] = field(default_factory=dict)  # train examples by tag
    # Streamed data: shards read, and how many examples `token_lengths` is a sample of.
    streaming: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DataReport:
        """The report as `to_dict` wrote it (a cached data preparation is reported again)."""
        examples = [
            RenderedExample(e["line"], [Segment(**s) for s in e["segments"]])
            for e in data["examples"]
        ]
        return cls(**{**data, "examples": examples})


def render_tokens(tokenizer: Any, tokenized: TokenizedExample) -> list[Segment]:
    """The token stream cut where training starts or stops, each run decoded as is."""
    segments: list[Segment] = []
    run: list[int] = []
    trained = False
    for token, label in zip(tokenized.input_ids, tokenized.labels, strict=True):
        flag = label != IGNORE_INDEX
        if run and flag != trained:
            segments.append(Segment(tokenizer.decode(run), trained))
            run = []
        trained = flag
        run.append(token)
    if run:
        segments.append(Segment(tokenizer.decode(run), trained))
    return segments


def build_report(
    spec: DataSpec,
    tokenizer: Any,
    stats: dict[str, Any],
    loads: Sequence[tuple[RecordFile, str]],
    steps: Sequence[tuple[str, TransformStep]],
    token_lengths: Sequence[int],
    shown: Sequence[Example] = (),
    extras: dict[str, Any] | None = None,
    *,
    records: Sequence[int] | None = None,
) -> DataReport:
    """`loads`: each source read and its format; `steps`: (which split, step) in order;
    `token_lengths`: of the train examples as packed; `extras`: the optional `mix`,
    `synthetic`, `tags` and `streaming` sections; `records`: per source, when `loads` holds
    only a part of it (a streamed source's first shard)."""
    counts = records if records is not None else [len(source.records) for source, _ in loads]
    sources = [
        {
            "field": source.field,
            "source": str(source.path),
            "format": fmt,
            "unit": source.unit,
            "records": count,
            "skipped": source.skips.count,
            "skipped_samples": [asdict(bad) for bad in source.skips.samples],
        }
        for (source, fmt), count in zip(loads, counts, strict=True)
    ]
    examples = [
        RenderedExample(
            e.line, render_tokens(tokenizer, tokenize_example(tokenizer, e, spec.seq_length))
        )
        for e in shown[:EXAMPLES_SHOWN]
    ]
    return DataReport(
        format=str(stats.get("format", loads[0][1])),
        sources=sources,
        transforms=[{"source": where, **step.to_dict()} for where, step in steps],
        stats=stats,
        seq_length=spec.seq_length,
        split_turns=spec.split_turns,
        token_lengths=list(token_lengths),
        examples=examples,
        **(extras or {}),
    )


def write_data_report(report: DataReport, folder: Path) -> dict[str, Path]:
    """data_report.json, data_report.md and token_lengths.png in `folder` (created)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {kind: folder / name for kind, name in FILES.items()}
    paths["json"].write_text(json.dumps(report.to_dict(), indent=2) + "\n", encoding="utf-8")
    plot_token_lengths(report.token_lengths, report.seq_length, paths["histogram"])
    paths["markdown"].write_text(render_markdown(report), encoding="utf-8")
    return paths


def plot_token_lengths(lengths: Sequence[int], seq_length: int, path: Path) -> Path:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(7.0, 4.0), dpi=110, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    if lengths:
        axes.hist(lengths, bins=min(40, max(1, len(set(lengths)))), color="#1f77b4")
    axes.axvline(seq_length, color="#d62728", linestyle="--", label=f"seq_length {seq_length}")
    axes.set_title(f"Token lengths of {len(lengths)} train examples")
    axes.set_xlabel("tokens per example (after truncation)")
    axes.set_ylabel("examples")
    axes.grid(alpha=0.3)
    axes.legend()
    figure.savefig(path, format="png")
    return path


def render_markdown(report: DataReport) -> str:
    lines = [
        "# Data report",
        "",
        f"Format: **{report.format}**; split_turns: {report.split_turns}; "
        f"seq_length: {report.seq_length}.",
        "",
        "## Sources",
        "",
        "| field | source | format | records | skipped |",
        "|---|---|---|---:|---:|",
    ]
    for s in report.sources:
        lines.append(
            f"| {s['field']} | `{s['source']}` | {s['format']} | {s['records']} | {s['skipped']} |"
        )
    for s in report.sources:
        for bad in s["skipped_samples"]:
            where = f"{bad['unit']} {bad['line']}" if bad["line"] is not None else ""
            lines.append(f"- skipped {bad['path']} {where}: {bad['message']} — `{bad['excerpt']}`")
    lines += ["", "## Transforms", ""]
    if report.transforms:
        lines += ["| source | transform | in | out | reasons |", "|---|---|---:|---:|---|"]
        for t in report.transforms:
            why = ", ".join(f"{k}: {v}" for k, v in t["reasons"].items()) or "—"
            lines.append(
                f"| {t['source']} | {t['name']} | {t['records_in']} | {t['records_out']} | {why} |"
            )
        for t in report.transforms:
            for sample in t["samples"]:
                where = f"{sample['source']} " if sample.get("source") else ""
                lines.append(
                    f"- {t['name']} dropped {where}line {sample['line']} ({sample['reason']}): "
                    f"{sample['preview']}"
                )
        for t in report.transforms:
            if "label_functions" in t["details"]:
                lines += render_label_summary(t["source"], t["details"])
    else:
        lines.append("No transforms in the recipe.")
    lines += render_mix(report) + render_synthetic(report) + render_tags(report)
    if report.streaming:
        lines += [
            "",
            "## Streaming",
            "",
            f"Read in {report.streaming['shards']} shard(s) of up to "
            f"{report.streaming['shard_records']} records; packed rows kept on disk in "
            f"`{report.streaming['rows_folder']}`.",
        ]
    lengths = report.token_lengths
    lines += ["", "## Token lengths", "", "![token lengths](token_lengths.png)", ""]
    if lengths:
        sampled = report.streaming.get("token_lengths_of")
        of = f" (a uniform sample of {sampled} streamed)" if sampled else ""
        lines.append(
            f"{len(lengths)} train examples{of}: min {min(lengths)}, median "
            f"{statistics.median(lengths):g}, max {max(lengths)}; truncated (all splits): "
            f"{report.stats.get('truncated', 0)}."
        )
    lines += [
        "",
        "## Examples as the model sees them",
        "",
        f"Tokens that carry loss are inside {TRAINED_OPEN}…{TRAINED_CLOSE}.",
    ]
    for example in report.examples:
        lines += ["", f"Line {example.line}:", "", "````text", example.marked(), "````"]
    lines += ["", "## Stats", "", "```json", json.dumps(report.stats, indent=2), "```", ""]
    return "\n".join(lines)


def render_mix(report: DataReport) -> list[str]:
    if not report.mix:
        return []
    total = sum(m["sampled"] for m in report.mix) or 1
    lines = [
        "",
        "## Mix",
        "",
        "| source | weight | target share | available | in the mix | actual share | passes |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for m in report.mix:
        lines.append(
            f"| {m['name']} | {m['weight']:g} | {m['share']:.1%} | {m['available']} | "
            f"{m['sampled']} | {m['sampled'] / total:.1%} | {m['passes']} |"
        )
    return lines


def render_synthetic(report: DataReport) -> list[str]:
    lines: list[str] = []
    made = report.synthetic.get("self_instruct")
    if made:
        rejected = ", ".join(f"{k}: {v}" for k, v in made["rejected"].items()) or "none"
        lines += [
            "",
            "## Synthetic: self-instruct",
            "",
            f"Model `{made['model']}`: {made['generated']} of {made['requested']} pairs in "
            f"{made['attempts']} attempts{' (cached)' if made['cached'] else ''}; rejected: "
            f"{rejected}; kept after transforms: {made.get('kept_after_transforms', '?')}.",
        ]
        for pair in made["samples"]:
            lines.append(f"- {pair['instruction'][:120]!r} → {pair['response'][:120]!r}")
    built = report.synthetic.get("long_context")
    if built:
        sizes = built["token_lengths"]
        lengths = ", ".join(f"{n} tokens: {k}" for n, k in built["lengths"].items()) or "none"
        lines += ["", "## Synthetic: long context", "", f"Samples per length: {lengths}."]
        if sizes:
            lines.append(f"Exact sizes: min {min(sizes)}, max {max(sizes)} tokens.")
        if built["left_out_lengths"]:
            lines.append(
                f"Left out (longer than seq_length {report.seq_length}): "
                f"{', '.join(map(str, built['left_out_lengths']))}."
            )
    return lines


def render_tags(report: DataReport) -> list[str]:
    lines: list[str] = []
    for name, counts in report.tags.items():
        values = ", ".join(f"{value}: {n}" for value, n in sorted(counts.items()))
        lines += ["", f"Train examples tagged `{name}`: {values}."]
    return ["", "## Tags", *lines] if lines else []
