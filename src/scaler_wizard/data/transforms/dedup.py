"""Deduplication: exact (a hash of normalised text) and near (MinHash LSH via datasketch)."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from scaler_wizard.data.formats import Example
from scaler_wizard.data.transforms.base import (
    Role,
    TransformContext,
    TransformOutput,
    example_text,
)

_SPACE = re.compile(r"\s+")
MINHASH_SEED = 1  # fixed: the same records must always hash alike, run after run


class DedupExactOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Role = Field("all", description="Which turns to compare (plain text: all of it).")
    ignore_case: bool = True


def normalise(text: str, ignore_case: bool = True) -> str:
    """NFKC, whitespace runs as one space, optionally case-folded: trivial variants match."""
    text = _SPACE.sub(" ", unicodedata.normalize("NFKC", text)).strip()
    return text.casefold() if ignore_case else text


def _key_text(example: Example, role: Role) -> str:
    # Roles are part of the key: the same words said by the user or the assistant differ.
    if example.messages is None:
        return example_text(example, role)
    return "\0".join(
        f"{m.role}:{normalise(m.content, ignore_case=False)}"
        for m in example.messages
        if role in ("all", m.role)
    )  # each turn normalised alone: leading spaces in a turn must not make it unique


def dedup_exact(
    examples: Sequence[Example], options: DedupExactOptions, context: TransformContext
) -> TransformOutput:
    """The first of each group of records equal after normalisation is kept."""
    # 16 bytes of sha256 per kept record: small enough to remember a streamed corpus.
    seen: set[bytes] = context.state.setdefault("seen", set())
    out = TransformOutput([], [])
    for example in examples:
        text = normalise(_key_text(example, options.role), options.ignore_case)
        key = hashlib.sha256(text.encode()).digest()[:16]
        if key in seen:
            out.dropped.append((example, "exact duplicate"))
        else:
            seen.add(key)
            out.kept.append(example)
    return out


class DedupNearOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    # Bounds keep datasketch's LSH able to pick at least two bands.
    threshold: float = Field(
        0.8, gt=0, le=0.95, description="Estimated Jaccard similarity at which a record is a copy."
    )
    num_perm: int = Field(128, ge=64, le=1024, description="MinHash permutations (accuracy).")
    ngram: int = Field(3, ge=1, description="Word n-gram size of the shingles.")
    role: Role = "all"


def shingles(text: str, n: int) -> set[bytes]:
    words = normalise(text).split()
    if len(words) < n:
        return {" ".join(words).encode()}
    return {" ".join(words[i : i + n]).encode() for i in range(len(words) - n + 1)}


def dedup_near(
    examples: Sequence[Example], options: DedupNearOptions, context: TransformContext
) -> TransformOutput:
    """LSH finds candidates; the MinHash estimate confirms, so LSH's false positives stay."""
    from datasketch import MinHash, MinHashLSH

    if "lsh" not in context.state:
        context.state["lsh"] = MinHashLSH(threshold=options.threshold, num_perm=options.num_perm)
    lsh = context.state["lsh"]
    kept_hashes: dict[str, Any] = context.state.setdefault("kept", {})
    out = TransformOutput([], [])
    for example in examples:
        minhash = MinHash(num_perm=options.num_perm, seed=MINHASH_SEED)
        minhash.update_batch(sorted(shingles(example_text(example, options.role), options.ngram)))
        similar = [
            key
            for key in lsh.query(minhash)
            if minhash.jaccard(kept_hashes[key]) >= options.threshold
        ]
        if similar:
            out.dropped.append((example, "near duplicate"))
            continue
        key = str(len(kept_hashes))
        lsh.insert(key, minhash)
        kept_hashes[key] = minhash
        out.kept.append(example)
    return out
