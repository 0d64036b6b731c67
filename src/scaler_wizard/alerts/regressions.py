"""Did an evaluation get worse than the base model's? Pure comparison of two metric dicts as
`EvalCompleted` carries them (`eval_loss`, `passkey` by length, `long_ppl.perplexity`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

LOSS_TOLERANCE = 0.02  # nats: below this a held-out loss change is noise on small eval sets
ACCURACY_DROP = 0.05  # passkey accuracy points
PERPLEXITY_RISE = 0.05  # relative


def eval_regressions(base: Mapping[str, Any], other: Mapping[str, Any]) -> list[str]:
    """Plain-words notes, one per metric that got worse than the base beyond its tolerance."""
    notes: list[str] = []
    before, after = _number(base.get("eval_loss")), _number(other.get("eval_loss"))
    if _worse(before, after, LOSS_TOLERANCE):
        notes.append(f"held-out loss {before:.4g} → {after:.4g}")
    base_passkey, passkey = base.get("passkey") or {}, other.get("passkey") or {}
    for length, accuracy in passkey.items():
        was = _number(base_passkey.get(length))
        now = _number(accuracy)
        if _worse(now, was, ACCURACY_DROP):  # accuracy: lower is worse
            notes.append(f"passkey at {length} tokens {was:.0%} → {now:.0%}")
    before = _number((base.get("long_ppl") or {}).get("perplexity"))
    after = _number((other.get("long_ppl") or {}).get("perplexity"))
    if before is not None and _worse(before, after, PERPLEXITY_RISE * before):
        notes.append(f"long-document perplexity {before:.4g} → {after:.4g}")
    return notes


def regression_fields(base: Mapping[str, Any], other: Mapping[str, Any]) -> dict[str, object]:
    """Fields added to a non-base `EvalCompleted` so that rules can match on them."""
    notes = eval_regressions(base, other)
    fields: dict[str, object] = {"regressed": bool(notes), "regressions": "; ".join(notes)}
    before, after = _number(base.get("eval_loss")), _number(other.get("eval_loss"))
    if before is not None and after is not None:
        fields["eval_loss_delta"] = after - before
    return fields


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        return float(value)  # also "nan"/"inf", as non-finite numbers travel in events
    except ValueError:
        return None


def _worse(before: float | None, after: float | None, tolerance: float) -> bool:
    """`after` exceeds `before` by more than `tolerance`; a non-finite `after` (a NaN loss) is
    worse than any finite `before`, and a non-finite `before` compares with nothing."""
    if before is None or after is None or not math.isfinite(before):
        return False
    return not math.isfinite(after) or after - before > tolerance
