"""Breaker rules on evaluations (perplexity slope, probe drop) and the half-open probation."""

from __future__ import annotations

import math

import pytest
from safety_helpers import EVERY, calm, limits, run, spikes

from scaler_wizard.safety import (
    BreakerState,
    EvalObservation,
    Resumed,
    StepObservation,
    observe,
    verdict_events,
)


def evals(
    perplexities: list[float], probes: list[float | None] | None = None
) -> list[EvalObservation]:
    probes = probes or [None] * len(perplexities)
    return [
        EvalObservation(100 * (i + 1), p, a)
        for i, (p, a) in enumerate(zip(perplexities, probes, strict=True))
    ]


@pytest.mark.parametrize(
    ("preset", "perplexities", "action"),
    [
        ("strict", [10.0, 10.5, 11.1], "pause"),  # slope of ln ppl 0.052 > 0.01
        ("strict", [10.0, 11.0], "continue"),  # k = 3 evaluations are needed
        ("strict", [10.0, 10.05, 10.1], "continue"),  # 0.5% per evaluation, limit 1%
        ("strict", [12.0, 11.0, 10.0], "continue"),  # falling is good
        ("standard", [10.0, 10.5, 11.0, 11.6], "warn"),
        ("expert", [10.0, 10.5, 11.0, 11.6, 12.2], "continue"),  # ~5% per eval, limit 5.1%
        ("expert", [10.0, 11.0, 12.0, 13.5, 15.0], "warn"),
    ],
)
def test_rising_perplexity_over_k_evals(
    preset: str, perplexities: list[float], action: str
) -> None:
    _, verdicts = run(limits(preset), evals(perplexities))
    assert [v.action for v in verdicts[:-1]] == ["continue"] * (len(perplexities) - 1)
    assert verdicts[-1].action == action
    if action != "continue":
        assert verdicts[-1].trigger == "perplexity_rise" and "kept rising" in verdicts[-1].reason


def test_slope_numbers_match_a_hand_computation() -> None:
    _, verdicts = run(limits("strict"), evals([10.0, 11.0, 12.1]))
    numbers = verdicts[-1].numbers
    assert numbers["perplexity_slope"] == pytest.approx(math.log(1.1))  # ppl × 1.1 per eval
    assert numbers["first_perplexity"] == pytest.approx(10.0) and numbers["evals_fitted"] == 3
    assert "about 10.0% per evaluation" in verdicts[-1].reason


@pytest.mark.parametrize(
    ("preset", "probes", "action"),
    [
        ("strict", [1.0, 0.6], "pause"),  # drop 0.4 > 0.2
        ("strict", [1.0, 0.8], "continue"),  # drop 0.2 is not more than 0.2
        ("strict", [0.4, 1.0, 0.7], "pause"),  # measured from the best so far, not the last
        ("standard", [1.0, 0.6], "pause"),
        ("standard", [1.0, 0.7], "continue"),
        ("expert", [1.0, 0.4], "warn"),
        ("expert", [None, 0.0], "continue"),  # nothing to compare with yet
    ],
)
def test_probe_accuracy_drop(preset: str, probes: list[float | None], action: str) -> None:
    _, verdicts = run(limits(preset), evals([10.0] * len(probes), probes))
    assert verdicts[-1].action == action
    if action != "continue":
        assert verdicts[-1].trigger == "probe_drop" and "fell to" in verdicts[-1].reason


def test_both_eval_triggers_act_on_the_worst_and_say_both() -> None:
    both = limits("standard", on_perplexity_rise="warn", on_probe_drop="abort")
    _, verdicts = run(both, evals([10.0, 11.0, 12.0, 13.0], [1.0, 1.0, 1.0, 0.0]))
    last = verdicts[-1]
    assert (last.action, last.trigger) == ("abort", "probe_drop")
    assert "kept rising" in last.reason and "fell to" in last.reason


def test_infinite_perplexity_is_a_nan_trip() -> None:
    _, verdicts = run(limits("expert"), evals([10.0, math.inf]))
    assert (verdicts[-1].action, verdicts[-1].trigger) == ("pause", "nan_inf")


@pytest.mark.parametrize("bad", [{"perplexity": 0.0}, {"perplexity": 5.0, "probe_accuracy": 1.5}])
def test_impossible_eval_values_are_programming_errors(bad: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        EvalObservation(step=1, **bad)


def _tripped(preset: str) -> tuple[BreakerState, int]:
    """A run that tripped on NaN at step 410 and rolled back to the checkpoint at step 200."""
    state, verdicts = run(limits(preset), [*calm(40), StepObservation(410, math.nan, 1.0)])
    assert verdicts[-1].status == "open"
    return state, 200


@pytest.mark.parametrize(
    ("preset", "probation"), [("strict", 60), ("standard", 40), ("expert", 20)]
)
def test_probation_passed_closes_the_breaker(preset: str, probation: int) -> None:
    state, resume_step = _tripped(preset)
    state, verdict = observe(state, Resumed(resume_step), limits(preset))
    assert (verdict.previous, verdict.status, verdict.action) == ("open", "half_open", "continue")
    assert verdict.probation_until == resume_step + probation
    assert all(step <= resume_step for step, _ in state.losses)  # the abandoned branch is gone
    logs = probation // EVERY
    state, verdicts = run(limits(preset), calm(logs, first=resume_step // EVERY + 1), state)
    assert [v.status for v in verdicts] == ["half_open"] * (logs - 1) + ["closed"]
    assert "closed again" in verdicts[-1].reason and state.probation_until is None
    assert [type(p).__name__ for p in verdict_events(verdicts[-1])] == ["BreakerRecovered"]


@pytest.mark.parametrize(
    ("preset", "trouble", "action"),
    [
        ("strict", [StepObservation(230, math.nan, 1.0)], "abort"),
        ("standard", spikes(3, first=23, loss=9.0), "abort"),  # rollback escalates to abort
        ("expert", [StepObservation(230, 2.0, math.inf)], "pause"),
    ],
)
def test_trip_during_probation_escalates(
    preset: str, trouble: list[StepObservation], action: str
) -> None:
    state, resume_step = _tripped(preset)
    state, _ = observe(state, Resumed(resume_step), limits(preset))
    state, verdicts = run(limits(preset), [*calm(1, first=21), *trouble], state)
    last = verdicts[-1]
    assert (last.action, last.escalated, last.previous, last.status) == (
        action,
        True,
        "half_open",
        "open",
    )
    assert "on probation" in last.reason
    (event,) = verdict_events(last)
    assert type(event).__name__ == "BreakerTripped" and event.model_dump()["escalated"] is True


def test_warning_on_probation_does_not_escalate() -> None:
    state, resume_step = _tripped("expert")
    state, _ = observe(state, Resumed(resume_step), limits("expert"))
    state, verdicts = run(limits("expert"), spikes(5, first=21), state)
    assert verdicts[-1].action == "warn" and state.status == "half_open"


def test_resume_without_a_trip_only_rewinds() -> None:
    state, _ = run(limits(), [*calm(30), *evals([10.0, 11.0])])
    state, verdict = observe(state, Resumed(150), limits())
    assert verdict.status == "closed" and verdict_events(verdict) == []
    assert max(step for step, _ in state.losses) == 150 and [e[0] for e in state.evals] == [100]
