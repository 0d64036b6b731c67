"""Breaker rules on logged steps: NaN/inf, loss spikes, warm-up, and the hand-computed numbers."""

from __future__ import annotations

import math

import pytest
from safety_helpers import EVERY, WOBBLE, calm, limits, run, spikes

from scaler_wizard.safety import BreakerState, StepObservation, observe


@pytest.mark.parametrize(
    ("preset", "loss", "grad_norm", "action"),
    [
        ("strict", math.nan, 0.5, "rollback"),
        ("standard", 2.0, math.inf, "rollback"),
        ("standard", -math.inf, 0.5, "rollback"),
        ("expert", math.nan, math.nan, "pause"),
    ],
)
@pytest.mark.parametrize("k", [1, 12])  # inside warm-up with an empty window, and well after
def test_nan_or_inf_trips_at_once_per_preset(
    preset: str, loss: float, grad_norm: float, action: str, k: int
) -> None:
    state, _ = run(limits(preset), calm(k - 1))
    state, verdict = observe(state, StepObservation(EVERY * k, loss, grad_norm), limits(preset))
    assert (verdict.action, verdict.trigger, verdict.status) == (action, "nan_inf", "open")
    assert verdict.step == EVERY * k
    assert "not a number" in verdict.reason or "infinit" in verdict.reason
    assert state.status == "open" and len(state.losses) == min(k - 1, limits(preset).window)


@pytest.mark.parametrize(
    ("preset", "tail", "reason"),
    [
        ("standard", [2.3], "Nothing unusual"),  # z = 0.3 / 0.14826 = 2.0, below 6
        ("strict", [2.55], "Nothing unusual"),  # z = 3.7, below 4
        ("strict", [5.0], "1 of the 2"),  # one spike; 2 in a row needed
        ("standard", [5.0, 5.0], "2 of the 3"),
        ("standard", [5.0, 2.0, 5.0, 2.0, 5.0], "1 of the 3"),  # not in a row: counter resets
        ("expert", [5.0] * 4, "4 of the 5"),
    ],
)
def test_spikes_below_threshold_or_patience_continue(
    preset: str, tail: list[float], reason: str
) -> None:
    history = calm(40)
    tail_obs = [StepObservation(EVERY * (41 + i), loss, 0.5) for i, loss in enumerate(tail)]
    state, verdicts = run(limits(preset), history + tail_obs)
    assert {v.action for v in verdicts} == {"continue"}
    assert reason in verdicts[-1].reason and state.status == "closed"


@pytest.mark.parametrize(
    ("preset", "needed", "action", "status"),
    [
        ("strict", 2, "rollback", "open"),
        ("standard", 3, "rollback", "open"),
        ("expert", 5, "warn", "closed"),  # experts get warnings, LLM Foundry's log_only default
    ],
)
def test_sustained_spike_trips_with_configured_action(
    preset: str, needed: int, action: str, status: str
) -> None:
    state, verdicts = run(limits(preset), calm(70) + spikes(needed, first=71))
    assert [v.action for v in verdicts[-needed:]] == ["continue"] * (needed - 1) + [action]
    last = verdicts[-1]
    assert (last.trigger, last.status, state.status) == ("loss_spike", status, status)
    assert last.numbers["spikes_in_a_row"] == needed
    assert last.numbers["z"] > limits(preset).loss_spike_z
    assert "jumped to 5" in last.reason


def test_override_action_is_used() -> None:
    _, verdicts = run(limits("standard", on_loss_spike="abort"), calm(40) + spikes(3, first=41))
    assert verdicts[-1].action == "abort"


def test_spikes_during_warmup_never_trip_but_nan_does() -> None:
    warm = limits("strict", warmup_steps=10_000)
    state, verdicts = run(warm, calm(20) + spikes(5, first=21, loss=50.0))
    assert {v.action for v in verdicts} == {"continue"} and state.status == "closed"
    assert verdicts[-1].numbers["z"] > 100 and "warming up" in verdicts[-1].reason
    _, verdict = observe(state, StepObservation(260, math.nan, 1.0), warm)
    assert verdict.action == "rollback"


def test_too_few_values_never_trip() -> None:
    _, verdicts = run(limits("strict", warmup_steps=0), calm(3) + spikes(5, first=4, loss=99.0))
    assert {v.action for v in verdicts} == {"continue"}  # 8 values are needed to judge a spike


def test_numbers_match_a_hand_computation() -> None:
    exact = limits("standard", window=8, warmup_steps=0, consecutive_spikes=1, loss_spike_z=6.0)
    state, _ = run(exact, calm(len(WOBBLE)))
    _, verdict = observe(state, StepObservation(90, 3.0, 0.7), exact)
    # window sorted 1.8 1.9 2.0 2.0 2.0 2.1 2.1 2.2 → median 2.0; |x - 2| sorted
    # 0 0 0 .1 .1 .1 .2 .2 → MAD 0.1; robust σ = 1.4826 × 0.1; z = (3.0 - 2.0) / 0.14826
    assert verdict.numbers["window_median"] == pytest.approx(2.0)
    assert verdict.numbers["window_mad"] == pytest.approx(0.1)
    assert verdict.numbers["robust_std"] == pytest.approx(0.14826)
    assert verdict.numbers["z"] == pytest.approx(6.7449, abs=1e-4)
    assert verdict.numbers["window_size"] == 8 and verdict.numbers["loss"] == 3.0
    assert (verdict.action, verdict.trigger) == ("rollback", "loss_spike")
    assert "6.7 times" in verdict.reason and "around 2" in verdict.reason


def test_window_keeps_the_last_values_only() -> None:
    state, _ = run(limits("strict"), calm(40))
    assert len(state.losses) == 16 and state.losses[-1][0] == 400


def test_a_flat_window_does_not_make_tiny_rises_spikes() -> None:
    flat = [StepObservation(EVERY * i, 2.0, 0.5) for i in range(1, 21)]
    _, verdicts = run(limits("strict"), [*flat, StepObservation(210, 2.06, 0.5)])
    assert verdicts[-1].numbers["z"] == pytest.approx(3.0)  # floor: σ ≥ 1% of the median
    assert verdicts[-1].action == "continue"


def test_open_breaker_repeats_its_verdict() -> None:
    state, _ = run(limits("strict"), [*calm(3), StepObservation(40, math.nan, 1.0)])
    again_state, again = observe(state, StepObservation(50, 2.0, 0.5), limits("strict"))
    assert again_state == state
    assert (again.action, again.previous, again.status) == ("rollback", "open", "open")
    assert again.reason.startswith("The breaker has been open since step 40")


def test_state_is_immutable_and_input_state_unchanged() -> None:
    start = BreakerState()
    observe(start, StepObservation(1, 2.0, 0.5), limits())
    assert start == BreakerState()
