"""Shared builders for the breaker tests: calm loss series and a fold over observations."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from scaler_wizard.safety import PRESETS, BreakerState, Observation, StepObservation, Verdict
from scaler_wizard.safety import observe as observe_one
from scaler_wizard.safety.presets import Thresholds

# A loss that wobbles around 2.0: median 2.0, MAD 0.1 (robust σ 0.14826) for any 8-run.
WOBBLE = (2.0, 2.1, 1.9, 2.0, 2.2, 1.8, 2.0, 2.1)
EVERY = 10  # log every 10 steps, so the first calm logs already pass every preset's warm-up


def calm(count: int, first: int = 1) -> list[StepObservation]:
    """`count` ordinary logs at steps EVERY*first, EVERY*(first+1), ..."""
    return [
        StepObservation(step=EVERY * (first + i), loss=WOBBLE[i % len(WOBBLE)], grad_norm=0.5)
        for i in range(count)
    ]


def spikes(count: int, first: int, loss: float = 5.0) -> list[StepObservation]:
    return [StepObservation(EVERY * (first + i), loss, 0.9) for i in range(count)]


def run(
    limits: Thresholds, observations: Iterable[Observation], state: BreakerState | None = None
) -> tuple[BreakerState, list[Verdict]]:
    state = state or BreakerState()
    verdicts = []
    for observation in observations:
        state, verdict = observe_one(state, observation, limits)
        verdicts.append(verdict)
    return state, verdicts


def limits(preset: str = "standard", **changes: object) -> Thresholds:
    return replace(PRESETS[preset], **changes)  # type: ignore[index, arg-type]
