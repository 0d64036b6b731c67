"""What every data transform shares: its signature, its output, and how a run is recorded.

A transform is a pure function `(examples, options, context) -> TransformOutput`. Filters and
dedup only drop; later kinds (labeling functions that tag, synthetic generators that add) fit
the same signature, since `kept` may hold changed or new examples.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from scaler_wizard.data.formats import Example

Role = Literal["all", "system", "user", "assistant"]
SAMPLES_KEPT = 5
PREVIEW_CHARS = 160


@dataclass(frozen=True)
class TransformContext:
    """What a transform may need beyond the examples: token counts and a seed."""

    count_tokens: Callable[[Example], int]
    seed: int = 0


@dataclass(frozen=True)
class TransformOutput:
    kept: list[Example]
    dropped: list[tuple[Example, str]] = field(default_factory=list)  # (example, reason)


TransformFn = Callable[[Sequence[Example], Any, TransformContext], TransformOutput]


@dataclass(frozen=True)
class DroppedSample:
    line: int
    reason: str
    preview: str


@dataclass(frozen=True)
class TransformStep:
    """One transform's effect, for the report: counts in and out, reasons, a few samples."""

    name: str
    options: dict[str, Any]
    records_in: int
    records_out: int
    reasons: dict[str, int]
    samples: list[DroppedSample]

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
    """The text a filter looks at: the turns of `role` joined, or a plain text whatever `role`."""
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
            samples.append(DroppedSample(example.line, why, preview))
    return TransformStep(name, options, records_in, len(output.kept), reasons, samples)
