"""The breaker's reasons in plain words: what happened, how far from normal, what happens next.

Kept apart from the decision rules so that wording can change without touching a threshold.
"""

from __future__ import annotations

import math

from scaler_wizard.recipe.spec import SafetyAction

NEXT_STEP: dict[SafetyAction, str] = {
    "warn": "Training continues; keep an eye on it.",
    "pause": "Training pauses after saving a checkpoint, so a person can decide what to do.",
    "rollback": "Training goes back to the last healthy checkpoint and continues from there.",
    "abort": "Training stops.",
}


def number(value: float) -> str:
    if math.isnan(value):
        return "NaN (not a number)"
    if math.isinf(value):
        return "infinite" if value > 0 else "minus infinity"
    return f"{value:.4g}"


def broken_step(loss: float, grad_norm: float) -> str:
    what, value = (
        ("training loss", loss) if not math.isfinite(loss) else ("gradient size", grad_norm)
    )
    return (
        f"The {what} became {number(value)}: the model's numbers have broken down "
        "and will not recover by themselves."
    )


def broken_eval(perplexity: float) -> str:
    return (
        f"Evaluation perplexity became {number(perplexity)}: the model's numbers have broken down."
    )


def loss_spike(loss: float, median: float, z: float, limit: float, in_a_row: int) -> str:
    return (
        f"The training loss jumped to {number(loss)}; it had recently been around "
        f"{number(median)}. That is {z:.1f} times its usual wobble (the limit is {limit:g}), "
        f"{in_a_row} log{'s' if in_a_row > 1 else ''} in a row."
    )


def lone_spike(z: float, in_a_row: int, needed: int) -> str:
    return (
        f"The training loss jumped ({z:.1f} times its usual wobble), {in_a_row} of the "
        f"{needed} logs in a row that would trip the breaker; watching."
    )


def warmup_spike(step: int, warmup_steps: int) -> str:
    return (
        f"The training loss jumped, but at step {step} the run is still warming up "
        f"(first {warmup_steps} steps), when jumps are normal."
    )


def perplexity_rise(first: float, last: float, evals: int, slope: float, limit: float) -> str:
    per_eval, allowed = math.expm1(slope) * 100, math.expm1(limit) * 100
    return (
        f"Evaluation perplexity kept rising over the last {evals} evaluations "
        f"({number(first)} → {number(last)}, about {per_eval:.1f}% per evaluation; the limit "
        f"is {allowed:.1f}%): the model is getting worse on text it was not trained on."
    )


def probe_drop(best: float, now: float, drop: float, limit: float) -> str:
    return (
        f"Probe accuracy (such as passkey retrieval) fell to {now:.0%} from a best of "
        f"{best:.0%}, a drop of {drop * 100:.0f} percentage points (the limit is "
        f"{limit * 100:.0f})."
    )


def escalated(action: SafetyAction) -> str:
    return f"This happened on probation after an earlier trip, so the action is raised to {action}."


def still_open(since_step: int, reason: str) -> str:
    return f"The breaker has been open since step {since_step}. {reason}"


def probation(step: int, until: int, on_trip: SafetyAction) -> str:
    return (
        f"Training resumed from step {step}. Until step {until} it is on probation: "
        f"another problem before then means {on_trip}."
    )


def recovered(steps: int) -> str:
    return f"No trouble for {steps} steps after resuming: the breaker is closed again."


def resumed_closed(step: int) -> str:
    return f"Training resumed from step {step}; the breaker forgets what came after it."


ALL_CLEAR = "Nothing unusual."
