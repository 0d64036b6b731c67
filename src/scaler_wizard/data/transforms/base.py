"""What every data transform shares: its signature, its output, and how a run is recorded.

A transform is a pure function `(examples, options, context) -> TransformOutput`. Filters and
dedup only drop; later kinds (labeling functions that tag, synthetic generators that add) fit
the same signature, since `kept` may hold changed or new examples.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from scaler_wizard.data.errors import DataError
from scaler_wizard.data.formats import Example

Role = Literal["all", "system", "user", "assistant"]
SAMPLES_KEPT = 5
PREVIEW_CHARS = 160


class OptionError(DataError):
    """An option a transform cannot use, found while running it; `field` is relative to the
    step (e.g. "options.functions[1]") and `run_transforms` prefixes the step's own path."""


@dataclass(frozen=True)
class TransformContext:
    """What a transform may need beyond the examples: token counts, a seed, and the folder
    that relative paths in its options (e.g. user code) resolve against."""

    count_tokens: Callable[[Example], int]
    seed: int = 0
    base_dir: Path = field(default_factory=Path.cwd)
    # A step's memory across calls when data is streamed in shards (dedup's seen records, a
    # fitted label model); fresh for every call otherwise.
    state: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TransformOutput:
    kept: list[Example]
    dropped: list[tuple[Example, str]] = field(default_factory=list)  # (example, reason)
    # JSON-ready facts for the report; a "fingerprint" string here joins the data fingerprint
    # (e.g. the code of user labeling functions, which the recipe's text does not capture).
    details: dict[str, Any] = field(default_factory=dict)


TransformFn = Callable[[Sequence[Example], Any, TransformContext], TransformOutput]


@dataclass(frozen=True)
class DroppedSample:
    line: int
    reason: str
    preview: str
    source: str | None = None  # set when several sources are mixed


@dataclass(frozen=True)
class TransformStep:
    """One transform's effect, for the report: counts in and out, reasons, a few samples."""

    name: str
    options: dict[str, Any]
    records_in: int
    records_out: int
    reasons: dict[str, int]
    samples: list[DroppedSample]
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def keep_where(
    examples: Sequence[Example], reason: Callable[[Example], str | None]
) -> TransformOutput:
    """A filter from a per-example test: `reason` returns why to drop, or None to keep."""
    out = TransformOutput([], [])
    for example in examples:
        why = reason(example)
        if why is None:
            out.kept.append(example)
        else:
            out.dropped.append((example, why))
    return out


def example_text(example: Example, role: Role = "all") -> str:
    """The text a filter looks at: the turns of `role` joined, or a plain text whatever `role`
    (a prompt/completion pair: the prompt is the user's part, the completion the assistant's)."""
    if example.messages is None and example.prompt is not None:
        parts = {"user": example.prompt, "assistant": example.text or "", "system": ""}
        return parts.get(role, f"{example.prompt}\n{example.text or ''}")
    if example.messages is None:
        return example.text or ""
    return "\n".join(m.content for m in example.messages if role in ("all", m.role))


def record_step(
    name: str, options: dict[str, Any], records_in: int, output: TransformOutput
) -> TransformStep:
    reasons: dict[str, int] = {}
    samples: list[DroppedSample] = []
    for example, why in output.dropped:
        reasons[why] = reasons.get(why, 0) + 1
        if len(samples) < SAMPLES_KEPT:
            preview = " ".join(example_text(example).split())[:PREVIEW_CHARS]
            samples.append(DroppedSample(example.line, why, preview, example.source))
    return TransformStep(
        name, options, records_in, len(output.kept), reasons, samples, dict(output.details)
    )
