"""The loop's side of the safety breaker: feed it numbers, emit its events, remember its state."""

from __future__ import annotations

from typing import Any

from scaler_wizard.recipe.spec import SafetySpec, TrainSpec
from scaler_wizard.safety import (
    BreakerState,
    Resumed,
    StepObservation,
    Verdict,
    observe,
    resolve,
    verdict_events,
)
from scaler_wizard.safety.persist import dump_state, load_state
from scaler_wizard.telemetry.bus import EventBus


class SafetyWatch:
    """Owns the breaker state for one training phase; decisions stay in `scaler_wizard.safety`."""

    def __init__(self, spec: SafetySpec, bus: EventBus) -> None:
        self.limits = resolve(spec)
        self.state = BreakerState()
        self.bus = bus

    @property
    def healthy(self) -> bool:
        """Checkpoints are written only while the breaker is not open (no broken weights)."""
        return self.state.status != "open"

    def observe_step(self, step: int, loss: float, grad_norm: float) -> Verdict:
        self.state, verdict = observe(
            self.state, StepObservation(step, loss, grad_norm), self.limits
        )
        self._emit(verdict)
        return verdict

    def resumed(self, step: int) -> None:
        """Training continues from the checkpoint at `step`: probation starts."""
        self.state, verdict = observe(self.state, Resumed(step), self.limits)
        self._emit(verdict)

    def spike_span(self, spec: TrainSpec) -> int:
        """Steps the current trouble may go back: roll back to a checkpoint before all of it."""
        return self.limits.consecutive_spikes * spec.log_every

    def dump(self) -> Any:
        return dump_state(self.state)

    def restore(self, data: Any) -> None:
        if data is not None:
            self.state = load_state(data)

    def _emit(self, verdict: Verdict) -> None:
        for payload in verdict_events(verdict):
            self.bus.emit(payload)
