"""Synthetic train examples: self-instruct pairs written by a local model, and long-context
samples built from real documents. See `SyntheticSpec` for where they enter the data."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scaler_wizard.data.formats import Example, convert_file
from scaler_wizard.data.sources import read_source
from scaler_wizard.data.synthetic.documents import load_documents
from scaler_wizard.data.synthetic.generate import generator_name, load_generator
from scaler_wizard.data.synthetic.long_context import SOURCE as LONG_CONTEXT
from scaler_wizard.data.synthetic.long_context import build_long_context
from scaler_wizard.data.synthetic.progress import ProgressFn, rich_progress
from scaler_wizard.data.synthetic.self_instruct import SOURCE as SELF_INSTRUCT
from scaler_wizard.data.synthetic.self_instruct import self_instruct
from scaler_wizard.recipe.spec import DataSpec

__all__ = ["LONG_CONTEXT", "SELF_INSTRUCT", "ProgressFn", "SyntheticData", "build_synthetic"]


@dataclass(frozen=True)
class SyntheticData:
    generated: list[Example] = field(default_factory=list)  # through the recipe's transforms
    constructed: list[Example] = field(default_factory=list)  # added after the transforms
    report: dict[str, Any] = field(default_factory=dict)

    @property
    def fingerprint(self) -> str:
        """Changes with any synthetic example (generation depends on a model the recipe's text
        does not pin down, so the examples themselves are hashed)."""
        digest = hashlib.sha256()
        for example in (*self.generated, *self.constructed):
            digest.update(repr((example.messages, example.text)).encode())
        return digest.hexdigest()


def build_synthetic(
    spec: DataSpec,
    tokenizer: Any,
    seeds: Sequence[Example],
    root: Path,
    *,
    model: Any = None,
    progress: ProgressFn | None = None,
) -> SyntheticData:
    """The synthetic examples `spec.synthetic` asks for; `seeds` are the train records as read,
    used by self-instruct unless it names its own; `model` is the run's base model, if loaded."""
    synthetic = spec.synthetic
    if synthetic is None:
        return SyntheticData()
    seed = synthetic.seed if synthetic.seed is not None else spec.seed
    out = SyntheticData()
    if synthetic.self_instruct is not None:
        options = synthetic.self_instruct
        if options.seeds is not None:
            field_name = "data.synthetic.self_instruct.seeds"
            source = read_source(options.seeds, field_name, root, on_error=spec.on_error)
            seeds = convert_file(source, spec.format)[1]
        name = generator_name(options.model, tokenizer)
        with _progress(progress) as report:
            result = self_instruct(
                options,
                name,
                lambda: load_generator(options.model, model, tokenizer),
                seeds,
                seed,
                report,
            )
        out.generated.extend(result.examples)
        out.report["self_instruct"] = result.report(options, name)
    if synthetic.long_context is not None:
        options_lc = synthetic.long_context
        documents = load_documents(options_lc.documents, root, tokenizer)
        built, summary = build_long_context(options_lc, tokenizer, documents, spec.seq_length, seed)
        out.constructed.extend(built)
        out.report["long_context"] = summary
    return out


@contextmanager
def _progress(given: ProgressFn | None) -> Iterator[ProgressFn]:
    with nullcontext(given) if given is not None else rich_progress() as report:
        yield report
