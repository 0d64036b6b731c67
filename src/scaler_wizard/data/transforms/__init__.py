"""Data transforms: a registry of filters and dedup steps, composed in recipe order.

Each entry is an options model, a pure function over examples (see `base.TransformFn`) and a
one-line summary. `run_transforms` applies a recipe's list and records every step's effect.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from pydantic import BaseModel, ValidationError

from scaler_wizard.data.errors import DataError
from scaler_wizard.data.formats import Example
from scaler_wizard.data.transforms.base import (
    OptionError,
    TransformContext,
    TransformFn,
    TransformOutput,
    TransformStep,
    example_text,
    keep_where,
    record_step,
)
from scaler_wizard.data.transforms.dedup import (
    DedupExactOptions,
    DedupNearOptions,
    dedup_exact,
    dedup_near,
)
from scaler_wizard.data.transforms.filters import (
    DropEmptyOptions,
    LengthOptions,
    QualityOptions,
    RegexOptions,
    ScriptOptions,
    drop_empty,
    length,
    quality,
    regex,
    script,
)
from scaler_wizard.recipe.spec import DataTransformSpec
from scaler_wizard.registry import Registry, UnknownEntryError

__all__ = [
    "OptionError",
    "TransformContext",
    "TransformFn",
    "TransformOutput",
    "TransformStep",
    "default_transforms",
    "example_text",
    "keep_where",
    "register_data_transforms",
    "run_transforms",
    "validate_transforms",
]

BUILT_INS: tuple[tuple[str, type[BaseModel], TransformFn, str], ...] = (
    ("length", LengthOptions, length, "Keep records within min_tokens..max_tokens (as trained)."),
    ("drop_empty", DropEmptyOptions, drop_empty, "Drop blank records and blank turns."),
    ("regex", RegexOptions, regex, "Keep or drop records whose chosen turns match a pattern."),
    ("script", ScriptOptions, script, "Keep records whose letters are mostly in given scripts."),
    ("quality", QualityOptions, quality, "Drop repetitive (n-gram) or symbol-heavy records."),
    ("dedup_exact", DedupExactOptions, dedup_exact, "Drop exact copies after normalisation."),
    ("dedup_near", DedupNearOptions, dedup_near, "Drop near copies (MinHash LSH, a threshold)."),
)


def register_data_transforms(registry: Registry[Any]) -> None:
    # Imported here: labeling functions build on the filters above (a module-level import
    # would make the two packages import each other).
    from scaler_wizard.data.labeling import LabelFunctionsOptions, label_functions

    for name, options, impl, summary in BUILT_INS:
        registry.register(name, options, impl, summary)
    registry.register(
        "label_functions",
        LabelFunctionsOptions,
        label_functions,
        "Labeling functions vote; a learned label model drops or tags records.",
    )


def default_transforms() -> Registry[Any]:
    """The built-in transforms alone (the catalog adds plugins' transforms to its own)."""
    registry: Registry[Any] = Registry("data transform")
    register_data_transforms(registry)
    return registry


def validate_transforms(
    specs: Sequence[DataTransformSpec], registry: Registry[Any], field: str = "data.transforms"
) -> list[tuple[TransformFn, BaseModel]]:
    """Each step's implementation and checked options; a DataError names the bad step."""
    steps: list[tuple[TransformFn, BaseModel]] = []
    for index, spec in enumerate(specs):
        where = f"{field}[{index}]"
        try:
            entry = registry.get(spec.name)
        except UnknownEntryError as exc:
            raise DataError(str(exc), field=f"{where}.name") from None
        try:
            options = entry.options.model_validate(spec.options)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc'])) or spec.name}: {e['msg']}" for e in exc.errors()
            )
            raise DataError(problems, field=f"{where}.options") from None
        steps.append((entry.impl, options))
    return steps


def run_transforms(
    examples: Sequence[Example],
    specs: Sequence[DataTransformSpec],
    registry: Registry[Any],
    context: TransformContext,
    field: str = "data.transforms",
    states: list[dict[str, Any]] | None = None,
    allow_empty: bool = False,
) -> tuple[list[Example], list[TransformStep]]:
    """Apply the steps in order; raise, naming the step, if one leaves no record at all.

    `states`: one dict per step that outlives this call, so the shards of a streamed source
    are deduplicated against each other (see `TransformContext.state`). `allow_empty`: a
    shard may lose every record (the caller checks the whole stream instead).
    """
    current = list(examples)
    log: list[TransformStep] = []
    if states is None:
        states = [{} for _ in specs]
    for index, ((impl, options), spec) in enumerate(
        zip(validate_transforms(specs, registry, field), specs, strict=True)
    ):
        try:
            output = impl(current, options, replace(context, state=states[index]))
        except OptionError as exc:
            where = f"{field}[{index}]"
            raise DataError(
                exc.message, field=f"{where}.{exc.field}" if exc.field else where
            ) from exc
        step = record_step(spec.name, options.model_dump(), len(current), output)
        log.append(step)
        if current and not output.kept and not allow_empty:
            reasons = ", ".join(f"{why}: {n}" for why, n in step.reasons.items())
            raise DataError(
                f"transform {spec.name!r} removed every remaining record "
                f"({len(current)} in, 0 out; {reasons or 'no reason given'})",
                field=f"{field}[{index}]",
            )
        current = output.kept
    return current, log
