"""Mix several sources into one train split by weight, deterministically.

Weights are normalised to shares. The default mix size is the largest one that uses no record
twice: the scarcest source (relative to its share) is used whole, the others are sampled
without replacement. A larger `mix.records` needs `mix.replacement`: a source then repeats in
whole passes, plus a seeded sample without replacement for the remainder (lower variance than
drawing every record independently). Samples keep their sources' record order.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, TypeVar

from scaler_wizard.data.errors import DataError
from scaler_wizard.recipe.spec import MixSpec

T = TypeVar("T")


@dataclass(frozen=True)
class MixedSource:
    """What one source gave the train mix, for the report."""

    name: str
    weight: float
    share: float  # normalised weight: the intended fraction of the mix
    available: int  # train records after transforms and the held-out split
    sampled: int  # records in the mix, repeats counted
    passes: int  # whole passes over the source: 1 = used whole once, 0 = a sample of it

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def allocate(total: int, weights: Sequence[float]) -> list[int]:
    """`total` split by `weights`: floors, then the largest remainders (earlier source on ties)."""
    scale = sum(weights)
    exact = [total * w / scale for w in weights]
    counts = [math.floor(x) for x in exact]
    order = sorted(range(len(weights)), key=lambda i: (counts[i] - exact[i], i))
    for i in order[: total - sum(counts)]:
        counts[i] += 1
    return counts


def mix_size(available: Sequence[int], weights: Sequence[float]) -> int:
    """The largest mix whose allocation takes no source beyond what it holds."""
    scale = sum(weights)
    size = min(math.floor(n * scale / w + 1e-9) for n, w in zip(available, weights, strict=True))
    while size > 0 and any(c > n for c, n in zip(allocate(size, weights), available, strict=True)):
        size -= 1  # rounding can tip one source over by a record
    return size


def mix_sources(
    parts: Sequence[tuple[str, float, Sequence[T]]], spec: MixSpec, seed: int
) -> tuple[list[T], list[MixedSource]]:
    """(name, weight, examples) per source → the mixed examples and what each contributed.

    Items are usually examples; streamed data mixes packed rows (see `streaming.py`).
    """
    weights = [w for _, w, _ in parts]
    available = [len(examples) for _, _, examples in parts]
    size = spec.records if spec.records is not None else mix_size(available, weights)
    counts = allocate(size, weights)
    mixed: list[T] = []
    report: list[MixedSource] = []
    for index, ((name, weight, examples), count) in enumerate(zip(parts, counts, strict=True)):
        if count > len(examples) and not spec.replacement:
            most = mix_size(available, weights)
            raise DataError(
                f"source {name!r} holds {len(examples)} train record(s) after transforms and "
                f"the held-out split, but its weight asks for {count} of {size}; lower "
                f"data.mix.records (at most {most} without repeats) or set "
                "data.mix.replacement: true",
                field="data.mix.records",
            )
        rng = random.Random(f"mix:{seed}:{index}")  # str seeds hash stably across processes
        mixed.extend(_sample(examples, count, rng))
        passes = count // len(examples) if examples else 0
        share = weight / sum(weights)
        report.append(MixedSource(name, weight, round(share, 4), len(examples), count, passes))
    return mixed, report


def _sample(examples: Sequence[T], count: int, rng: random.Random) -> list[T]:
    if not examples:
        return []
    passes, rest = divmod(count, len(examples))
    picked = sorted(rng.sample(range(len(examples)), rest))
    return [*(e for _ in range(passes) for e in examples), *(examples[i] for i in picked)]
