"""The held-out split: a seeded draw from each source, in proportion to the sources' weights,
so evaluation measures the same mix that is trained. Held-out records are never trained on."""

from __future__ import annotations

import random
from collections.abc import Sequence

from scaler_wizard.data.formats import Example
from scaler_wizard.data.mixing import allocate
from scaler_wizard.data.records import RecordFile


def shuffled(examples: Sequence[Example], seed: int) -> list[Example]:
    order = list(examples)
    random.Random(seed).shuffle(order)
    return order


def split_held_out(
    parts: Sequence[tuple[RecordFile, Sequence[Example]]],
    weights: Sequence[float],
    eval_records: int,
    seed: int,
) -> tuple[list[list[Example]], list[Example]]:
    """Train examples per source (in record order) and the held-out examples of all sources.

    Source i is shuffled with `seed + i`: one source splits exactly as it always has.
    """
    counts = allocate(eval_records, weights)
    trains: list[list[Example]] = []
    held_out: list[Example] = []
    for index, ((source, examples), count) in enumerate(zip(parts, counts, strict=True)):
        needed = count + 1
        if len(examples) < needed:
            found = "no records" if not examples else f"{len(examples)} record(s)"
            share = (
                f"{count} held out for data.eval_records"
                if len(parts) == 1
                else f"{count} of data.eval_records={eval_records} held out by its weight"
            )
            raise source.error(
                f"found {found}; need at least {needed} ({share} + 1 to train): add records, "
                "lower data.eval_records or name a data.eval file"
            )
        order = shuffled(examples, seed + index)
        held_out.extend(order[:count])
        trains.append(sorted(order[count:], key=lambda e: e.line))  # keep record order
    return trains, held_out
