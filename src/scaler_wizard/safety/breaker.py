"""The circuit breaker: closed → open → half-open → closed, as one pure function.

`observe(state, observation, limits)` returns the next state and a verdict; nothing here acts.
Safety decides, the loop acts: it carries out the verdict (pause, roll back, abort) and, once
training resumes from a checkpoint, reports `Resumed(step)` so the breaker starts probation.

- closed: normal watching. A trigger with action warn keeps it closed; pause, rollback or
  abort open it.
- open: the loop is acting on the trip; any further observation repeats the same verdict
  (fail fast, as in the classic breaker) until `Resumed` arrives.
- half-open: probation for `probation_steps` after resuming. A trip now means the first
  remedy did not work, so its action is replaced by `on_probation_trip` (abort by default);
  getting through probation closes the breaker.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Literal

from pydantic import ConfigDict

from scaler_wizard.recipe.spec import SafetyAction
from scaler_wizard.safety import reasons
from scaler_wizard.safety.presets import Thresholds
from scaler_wizard.safety.stats import MIN_SAMPLES, finite, robust_z, slope

Status = Literal["closed", "open", "half_open"]
Trigger = Literal["nan_inf", "loss_spike", "perplexity_rise", "probe_drop"]
VerdictAction = Literal["continue", "warn", "pause", "abort", "rollback"]

MAX_EVALS = 64  # evaluations remembered (for the best probe accuracy); runs have a handful
SEVERITY: dict[SafetyAction, int] = {"warn": 1, "pause": 2, "rollback": 3, "abort": 4}


@dataclass(frozen=True)
class StepObservation:
    """One logged training step: the loss (mean since the last log) and the grad norm."""

    step: int
    loss: float
    grad_norm: float


@dataclass(frozen=True)
class EvalObservation:
    """One evaluation: held-out perplexity and, when measured, a probe's accuracy (0-1)."""

    step: int
    perplexity: float
    probe_accuracy: float | None = None

    def __post_init__(self) -> None:
        if math.isfinite(self.perplexity) and self.perplexity <= 0:
            raise ValueError(f"perplexity must be positive, got {self.perplexity}")
        if self.probe_accuracy is not None and not 0.0 <= self.probe_accuracy <= 1.0:
            raise ValueError(f"probe accuracy must be within [0, 1], got {self.probe_accuracy}")


@dataclass(frozen=True)
class Resumed:
    """Training resumed from the checkpoint at `step` (after a rollback, or a person's go)."""

    step: int


Observation = StepObservation | EvalObservation | Resumed


@dataclass(frozen=True)
class Verdict:
    """What the loop should do now, why (plain words), and the numbers that led to it."""

    # A NaN loss is a number worth keeping: JSON has no NaN, so it is written as "NaN".
    __pydantic_config__ = ConfigDict(ser_json_inf_nan="strings")

    step: int
    action: VerdictAction
    reason: str
    previous: Status
    status: Status
    trigger: Trigger | None = None
    numbers: dict[str, float] = field(default_factory=dict)
    escalated: bool = False
    probation_until: int | None = None


@dataclass(frozen=True)
class BreakerState:
    """Everything the breaker remembers; immutable, and JSON-able via pydantic's TypeAdapter."""

    status: Status = "closed"
    losses: tuple[tuple[int, float], ...] = ()  # (step, loss): the last `window` finite losses
    spike_run: int = 0  # spikes in a row so far
    evals: tuple[tuple[int, float, float | None], ...] = ()  # (step, ln perplexity, probe acc)
    opened_by: Verdict | None = None
    probation_until: int | None = None


@dataclass(frozen=True)
class _Finding:
    trigger: Trigger | None
    action: SafetyAction | None
    reason: str
    numbers: dict[str, float]


def observe(
    state: BreakerState, observation: Observation, limits: Thresholds
) -> tuple[BreakerState, Verdict]:
    """The breaker's one rule: (state, observation) → (next state, verdict)."""
    if isinstance(observation, Resumed):
        return _resume(state, observation.step, limits)
    if state.status == "open" and state.opened_by is not None:
        trip = state.opened_by
        reason = reasons.still_open(trip.step, trip.reason)
        return state, replace(trip, step=observation.step, reason=reason, previous="open")
    if isinstance(observation, StepObservation):
        state, finding = _check_step(state, observation, limits)
    else:
        state, finding = _check_eval(state, observation, limits)
    return _decide(state, observation.step, finding, limits)


def _check_step(
    state: BreakerState, obs: StepObservation, limits: Thresholds
) -> tuple[BreakerState, _Finding]:
    numbers: dict[str, float] = {"loss": obs.loss, "grad_norm": obs.grad_norm}
    if not finite(obs.loss, obs.grad_norm):  # never waits for warm-up; never enters the window
        reason = reasons.broken_step(obs.loss, obs.grad_norm)
        return replace(state, spike_run=0), _Finding("nan_inf", limits.on_nan, reason, numbers)
    history = [loss for _, loss in state.losses]
    losses = (*state.losses, (obs.step, obs.loss))[-limits.window :]
    if len(history) < MIN_SAMPLES:
        return replace(state, losses=losses, spike_run=0), _Finding(
            None, None, reasons.ALL_CLEAR, numbers
        )
    rz = robust_z(obs.loss, history)
    numbers |= {
        "z": rz.z,
        "z_limit": limits.loss_spike_z,
        "window_median": rz.median,
        "window_mad": rz.mad,
        "robust_std": rz.scale,
        "window_size": rz.samples,
    }
    if rz.z <= limits.loss_spike_z:
        return replace(state, losses=losses, spike_run=0), _Finding(
            None, None, reasons.ALL_CLEAR, numbers
        )
    if obs.step < limits.warmup_steps:
        reason = reasons.warmup_spike(obs.step, limits.warmup_steps)
        return replace(state, losses=losses, spike_run=0), _Finding(None, None, reason, numbers)
    run = state.spike_run + 1
    numbers["spikes_in_a_row"] = run
    if run < limits.consecutive_spikes:
        reason = reasons.lone_spike(rz.z, run, limits.consecutive_spikes)
        return replace(state, losses=losses, spike_run=run), _Finding(None, None, reason, numbers)
    reason = reasons.loss_spike(obs.loss, rz.median, rz.z, limits.loss_spike_z, run)
    return replace(state, losses=losses, spike_run=0), _Finding(
        "loss_spike", limits.on_loss_spike, reason, numbers
    )


def _check_eval(
    state: BreakerState, obs: EvalObservation, limits: Thresholds
) -> tuple[BreakerState, _Finding]:
    numbers: dict[str, float] = {"perplexity": obs.perplexity}
    if obs.probe_accuracy is not None:
        numbers["probe_accuracy"] = obs.probe_accuracy
    if not finite(obs.perplexity):
        return state, _Finding(
            "nan_inf", limits.on_nan, reasons.broken_eval(obs.perplexity), numbers
        )
    evals = (*state.evals, (obs.step, math.log(obs.perplexity), obs.probe_accuracy))[-MAX_EVALS:]
    findings: list[_Finding] = []
    k = limits.perplexity_evals
    if len(evals) >= k:
        fitted = [log_ppl for _, log_ppl, _ in evals[-k:]]
        rise = slope(fitted)
        numbers |= {"perplexity_slope": rise, "slope_limit": limits.perplexity_slope}
        numbers |= {"evals_fitted": k, "first_perplexity": math.exp(fitted[0])}
        if rise > limits.perplexity_slope:
            text = reasons.perplexity_rise(
                math.exp(fitted[0]), obs.perplexity, k, rise, limits.perplexity_slope
            )
            findings.append(_Finding("perplexity_rise", limits.on_perplexity_rise, text, numbers))
    earlier = [acc for _, _, acc in state.evals if acc is not None]
    if obs.probe_accuracy is not None and earlier:
        best = max(earlier)
        drop = best - obs.probe_accuracy
        numbers |= {"best_probe_accuracy": best, "probe_drop": drop}
        numbers["probe_drop_limit"] = limits.probe_drop
        if drop > limits.probe_drop:
            text = reasons.probe_drop(best, obs.probe_accuracy, drop, limits.probe_drop)
            findings.append(_Finding("probe_drop", limits.on_probe_drop, text, numbers))
    state = replace(state, evals=evals)
    if not findings:
        return state, _Finding(None, None, reasons.ALL_CLEAR, numbers)
    # Both may fire at once: act on the most severe, and say everything that was seen.
    worst = max(findings, key=lambda f: SEVERITY[f.action] if f.action else 0)
    text = " ".join(f.reason for f in findings)
    return state, replace(worst, reason=text, numbers=numbers)


def _decide(
    state: BreakerState, step: int, finding: _Finding, limits: Thresholds
) -> tuple[BreakerState, Verdict]:
    previous = state.status
    if finding.trigger is None or finding.action is None:
        until = state.probation_until
        # Recovery needs a clean log: a spike run still in progress is not "no trouble".
        if previous == "half_open" and until is not None and step >= until and not state.spike_run:
            numbers = finding.numbers | {"probation_steps": limits.probation_steps}
            closed = replace(state, status="closed", probation_until=None)
            reason = reasons.recovered(limits.probation_steps)
            return closed, Verdict(step, "continue", reason, previous, "closed", numbers=numbers)
        return state, Verdict(
            step, "continue", finding.reason, previous, previous, numbers=finding.numbers
        )
    action: SafetyAction = finding.action
    if action == "warn":
        reason = f"{finding.reason} {reasons.NEXT_STEP['warn']}"
        verdict = Verdict(
            step, "warn", reason, previous, previous, finding.trigger, finding.numbers
        )
        return state, verdict
    escalated = previous == "half_open"
    reason = finding.reason
    if escalated:
        action = limits.on_probation_trip
        reason = f"{reason} {reasons.escalated(action)}"
    reason = f"{reason} {reasons.NEXT_STEP[action]}"
    verdict = Verdict(
        step, action, reason, previous, "open", finding.trigger, finding.numbers, escalated
    )
    opened = replace(state, status="open", opened_by=verdict, probation_until=None, spike_run=0)
    return opened, verdict


def _resume(state: BreakerState, step: int, limits: Thresholds) -> tuple[BreakerState, Verdict]:
    # The model went back to `step`; forget what the abandoned branch taught the statistics.
    rewound = replace(
        state,
        losses=tuple(item for item in state.losses if item[0] <= step),
        evals=tuple(item for item in state.evals if item[0] <= step),
        spike_run=0,
        opened_by=None,
    )
    if state.status == "closed":
        return rewound, Verdict(step, "continue", reasons.resumed_closed(step), "closed", "closed")
    until = step + limits.probation_steps
    reason = reasons.probation(step, until, limits.on_probation_trip)
    numbers: dict[str, float] = {"resumed_step": step, "probation_until": until}
    verdict = Verdict(
        step, "continue", reason, state.status, "half_open", numbers=numbers, probation_until=until
    )
    return replace(rewound, status="half_open", probation_until=until), verdict
