"""Verdict → telemetry payloads. Only changes are told (dark cockpit): a plain `continue`
says nothing; a warning, a trip, the start of probation and the recovery each become one event.
"""

from __future__ import annotations

import math

from scaler_wizard.safety.breaker import Verdict
from scaler_wizard.telemetry.events import (
    BreakerNumbers,
    BreakerProbationStarted,
    BreakerRecovered,
    BreakerTripped,
    BreakerWarned,
    Payload,
)


def json_numbers(numbers: dict[str, float]) -> BreakerNumbers:
    """JSON has no NaN or infinity: those become the strings "nan", "inf" and "-inf"."""
    return {k: v if math.isfinite(v) else str(v) for k, v in numbers.items()}


def verdict_events(verdict: Verdict) -> list[Payload]:
    """The payloads to emit for `verdict` (none for an ordinary step)."""
    numbers = json_numbers(verdict.numbers)
    trigger, action = verdict.trigger, verdict.action
    if verdict.status == "open" and verdict.previous != "open":
        if trigger is None or action not in ("pause", "abort", "rollback"):
            raise ValueError(f"a trip needs a trigger and a stopping action: {verdict}")
        return [
            BreakerTripped(
                trigger=trigger,
                action=action,
                reason=verdict.reason,
                numbers=numbers,
                escalated=verdict.escalated,
                previous_state=verdict.previous,
            )
        ]
    if action == "warn" and trigger is not None:
        return [
            BreakerWarned(
                trigger=trigger, reason=verdict.reason, numbers=numbers, state=verdict.status
            )
        ]
    if verdict.previous == "open" and verdict.status == "half_open":
        until = verdict.probation_until if verdict.probation_until is not None else verdict.step
        return [
            BreakerProbationStarted(
                resumed_step=verdict.step, until_step=until, reason=verdict.reason
            )
        ]
    if verdict.previous == "half_open" and verdict.status == "closed":
        steps = int(verdict.numbers.get("probation_steps", 0))
        return [BreakerRecovered(reason=verdict.reason, probation_steps=steps)]
    return []
