"""The `label_functions` transform: run labeling functions, fit the label model, then drop the
records it labels "drop" (filter mode) or write its label into a tag (tag mode).

Per-function statistics (coverage, overlaps, conflicts, learned accuracy and weight) go into
the step's details for the data report, with the code digests that join the fingerprint.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from scaler_wizard.data.formats import Example
from scaler_wizard.data.labeling.builtin import BUILT_IN_FUNCTIONS
from scaler_wizard.data.labeling.functions import DROP, KEEP
from scaler_wizard.data.labeling.imports import (
    LabelFunctionImportError,
    ResolvedFunction,
    is_reference,
    resolve_function,
)
from scaler_wizard.data.labeling.model import Decision, FittedModel, Votes, fit_label_model
from scaler_wizard.data.transforms.base import OptionError, TransformContext, TransformOutput


class LabelFunctionsOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    functions: list[str] = Field(
        min_length=1,
        description="Built-in labeling functions by name, and/or user functions as "
        "'file.py:function' (relative to the recipe's base folder) or 'module.path:function'.",
    )
    mode: Literal["filter", "tag"] = Field(
        "filter",
        description="filter: drop records labelled 'drop'; tag: keep every record and write "
        "the winning label into `tag_field`.",
    )
    threshold: float = Field(
        0.5,
        ge=0,
        le=1,
        description="filter: drop when P(drop) >= threshold; tag: tag only when the winning "
        "label's probability >= threshold.",
    )
    tag_field: str = Field("label", min_length=1, description="Tag name written in tag mode.")
    on_tie: Literal["keep", "drop"] = Field(
        "keep", description="filter: what happens to a record whose votes are exactly balanced."
    )
    prior_accuracy: float = Field(
        0.7, gt=0.5, lt=1, description="Accuracy assumed for a function before any evidence."
    )

    @field_validator("functions")
    @classmethod
    def _known_built_ins(cls, names: list[str]) -> list[str]:
        # User references are imported when the data is prepared; built-in typos fail at plan.
        unknown = [n for n in names if not is_reference(n) and n not in BUILT_IN_FUNCTIONS]
        if unknown:
            raise ValueError(
                f"unknown built-in labeling function(s) {unknown}; built-ins: "
                f"{', '.join(BUILT_IN_FUNCTIONS)}; user code: 'file.py:function' or "
                "'module.path:function'"
            )
        if len(set(names)) != len(names):
            raise ValueError("a labeling function is listed twice; its vote would count double")
        return names


def label_functions(
    examples: Sequence[Example], options: LabelFunctionsOptions, context: TransformContext
) -> TransformOutput:
    if "functions" not in context.state:
        context.state["functions"] = _resolve_all(options.functions, context)
    resolved: list[ResolvedFunction] = context.state["functions"]
    votes = [_votes(example, resolved, options) for example in examples]
    if "model" not in context.state:
        # A streamed source's first shard fits the label model; later shards reuse it, so
        # every record is judged by the same learned accuracies.
        classes = (KEEP, DROP) if options.mode == "filter" else _labels_seen(votes)
        context.state["model"] = fit_label_model(
            votes, len(resolved), classes, prior_accuracy=options.prior_accuracy
        )
    model: FittedModel = context.state["model"]
    decisions = [model.decide(v) for v in votes]
    out = TransformOutput([], [], _details(resolved, votes, decisions, model, options))
    for example, vote, decision in zip(examples, votes, decisions, strict=True):
        if options.mode == "tag":
            out.kept.append(_tagged(example, decision, options))
            continue
        why = _drop_reason(vote, decision, resolved, options)
        if why is None:
            out.kept.append(example)
        else:
            out.dropped.append((example, why))
    return out


def _resolve_all(names: Sequence[str], context: TransformContext) -> list[ResolvedFunction]:
    resolved = []
    for index, name in enumerate(names):
        try:
            resolved.append(resolve_function(name, context.base_dir))
        except LabelFunctionImportError as exc:
            raise OptionError(
                f"cannot load labeling function {name!r}: {exc}",
                field=f"options.functions[{index}]",
            ) from exc
    return resolved


def _votes(
    example: Example, functions: Sequence[ResolvedFunction], options: LabelFunctionsOptions
) -> list[tuple[int, str]]:
    votes = []
    for index, lf in enumerate(functions):
        try:
            vote = lf.function(example)
        except Exception as exc:  # user code: name the function and the record, keep the cause
            raise OptionError(
                f"labeling function {lf.name!r} failed on record {example.line}: "
                f"{type(exc).__name__}: {exc}",
                field=f"options.functions[{index}]",
            ) from exc
        if vote is None:
            continue
        if not isinstance(vote, str) or (options.mode == "filter" and vote not in (KEEP, DROP)):
            allowed = "'keep', 'drop' or None" if options.mode == "filter" else "a string or None"
            raise OptionError(
                f"labeling function {lf.name!r} returned {vote!r} on record {example.line}; "
                f"{options.mode} mode accepts {allowed}",
                field=f"options.functions[{index}]",
            )
        votes.append((index, vote))
    return votes


def _labels_seen(votes: Sequence[Votes]) -> tuple[str, ...]:
    return tuple(sorted({label for record in votes for _, label in record}))


def _drop_reason(
    votes: Votes,
    decision: Decision,
    functions: Sequence[ResolvedFunction],
    options: LabelFunctionsOptions,
) -> str | None:
    """Why a record goes: the functions that voted drop, or the tie rule that sent it."""
    against = "+".join(functions[i].name for i, label in votes if label == DROP)
    if decision.status == "tie":
        return f"tie ({against}), on_tie: drop" if options.on_tie == DROP else None
    if decision.status == "abstain" or decision.probability[DROP] < options.threshold:
        return None
    return f"drop: {against}"


def _tagged(example: Example, decision: Decision, options: LabelFunctionsOptions) -> Example:
    if decision.label is None or decision.probability[decision.label] < options.threshold:
        return example
    return example.with_tag(options.tag_field, decision.label)


def _details(
    functions: Sequence[ResolvedFunction],
    votes: Sequence[Votes],
    decisions: Sequence[Decision],
    model: FittedModel,
    options: LabelFunctionsOptions,
) -> dict[str, Any]:
    total = max(len(votes), 1)
    rows = []
    for index, lf in enumerate(functions):
        counts: dict[str, int] = {}
        overlaps = conflicts = 0
        for record in votes:
            mine = next((label for j, label in record if j == index), None)
            if mine is None:
                continue
            counts[mine] = counts.get(mine, 0) + 1
            others = [label for j, label in record if j != index]
            overlaps += bool(others)
            conflicts += any(label != mine for label in others)
        covered = sum(counts.values())
        rows.append(
            {
                "name": lf.name,
                "votes": dict(sorted(counts.items())),
                "coverage": round(covered / total, 4),
                "overlaps": round(overlaps / total, 4),
                "conflicts": round(conflicts / total, 4),
                "accuracy": round(model.accuracies[index], 4),
                "weight": round(model.weights[index], 4),
            }
        )
    outcome: dict[str, int] = {}
    for decision in decisions:
        key = decision.label if decision.status == "voted" else decision.status
        outcome[str(key)] = outcome.get(str(key), 0) + 1
    code = hashlib.sha256("".join(f.name + f.code_sha256 for f in functions).encode())
    return {
        "label_functions": rows,
        "outcome": dict(sorted(outcome.items())),
        "mode": options.mode,
        "iterations": model.iterations,
        "converged": model.converged,
        "fingerprint": code.hexdigest(),
    }
