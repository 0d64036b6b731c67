"""Safety decides, the loop acts: a pure circuit breaker over training and evaluation numbers.

limits = resolve(recipe.safety)
state = BreakerState()
state, verdict = observe(state, StepObservation(step, loss, grad_norm), limits)
for payload in verdict_events(verdict):
    bus.emit(payload)
"""

from scaler_wizard.safety.breaker import (
    BreakerState,
    EvalObservation,
    Observation,
    Resumed,
    StepObservation,
    Verdict,
    observe,
)
from scaler_wizard.safety.events import verdict_events
from scaler_wizard.safety.presets import PRESETS, Thresholds, resolve

__all__ = [
    "PRESETS",
    "BreakerState",
    "EvalObservation",
    "Observation",
    "Resumed",
    "StepObservation",
    "Thresholds",
    "Verdict",
    "observe",
    "resolve",
    "verdict_events",
]
