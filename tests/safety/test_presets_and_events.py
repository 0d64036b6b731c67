"""Presets are what the docs say; the recipe overrides them; verdicts become valid events."""

from __future__ import annotations

import json
import math
import typing
from dataclasses import asdict, fields

import pytest
from safety_helpers import calm, limits, run

from scaler_wizard.recipe import RecipeError, parse_recipe
from scaler_wizard.recipe.spec import SafetySpec
from scaler_wizard.recipe.templates import template_path
from scaler_wizard.safety import PRESETS, BreakerState, StepObservation, Verdict, presets, resolve
from scaler_wizard.safety import breaker as breaker_module
from scaler_wizard.safety.events import json_numbers, verdict_events
from scaler_wizard.safety.persist import dump_state, load_state
from scaler_wizard.safety.stats import MIN_SAMPLES, robust_z, slope
from scaler_wizard.telemetry import EventBus
from scaler_wizard.telemetry import events as telemetry

MINIMAL = "schema_version: 1\nname: demo\ndata:\n  train: x.jsonl\n"


def documented_table() -> dict[str, dict[str, str]]:
    """The preset table in presets.py's docstring, row by row."""
    lines = [line for line in (presets.__doc__ or "").splitlines() if line.startswith("| ")]
    header = [cell.strip() for cell in lines[0].strip("|").split("|")]
    return {
        cells[0]: dict(zip(header, cells, strict=True))
        for cells in ([c.strip() for c in line.strip("|").split("|")] for line in lines[1:])
    }


@pytest.mark.parametrize("name", ["strict", "standard", "expert"])
def test_each_preset_uses_its_documented_numbers(name: str) -> None:
    row, preset = documented_table()[name], PRESETS[name]  # type: ignore[index]
    slope_text, evals_text = row["ppl slope/k"].split("/")
    assert (row["NaN/inf"], row["spike"], row["ppl"], row["probe"]) == (
        preset.on_nan,
        preset.on_loss_spike,
        preset.on_perplexity_rise,
        preset.on_probe_drop,
    )
    assert float(row["spike z"]) == preset.loss_spike_z
    assert int(row["window"]) == preset.window and int(row["warm-up"]) == preset.warmup_steps
    assert int(row["in a row"]) == preset.consecutive_spikes
    assert (float(slope_text), int(evals_text)) == (
        preset.perplexity_slope,
        preset.perplexity_evals,
    )
    assert float(row["probe drop"]) == preset.probe_drop
    assert int(row["probation"]) == preset.probation_steps
    assert row["on probation"] == preset.on_probation_trip


def test_presets_table_lists_every_preset_and_the_recipe_allows_exactly_them() -> None:
    allowed = set(typing.get_args(SafetySpec.model_fields["preset"].annotation))
    assert set(documented_table()) == set(PRESETS) == allowed


def test_spec_overrides_cover_every_threshold() -> None:
    overridable = set(SafetySpec.model_fields) - {"preset"}
    assert overridable == {f.name for f in fields(presets.Thresholds)}
    assert all(p.window >= MIN_SAMPLES for p in PRESETS.values())
    assert SafetySpec.model_fields["window"].metadata[0].ge == MIN_SAMPLES


def test_recipe_override_wins_over_the_preset() -> None:
    recipe = parse_recipe(MINIMAL + "safety: {preset: standard, loss_spike_z: 5}\n")
    resolved = resolve(recipe.safety)
    assert resolved.loss_spike_z == 5.0
    assert asdict(resolved) | {"loss_spike_z": 6.0} == asdict(PRESETS["standard"])


def test_recipe_default_is_standard_and_beginner_templates_are_strict() -> None:
    assert parse_recipe(MINIMAL).safety.preset == "standard"
    for name in ("balanced", "tiny-cpu"):
        text = template_path(name).read_text()
        assert parse_recipe(text).safety.preset == "strict", name


@pytest.mark.parametrize(
    ("yaml", "path", "fragment"),
    [
        ("safety: {preset: standard, loss_spike_zz: 5}\n", "safety.loss_spike_zz", "allowed"),
        ("safety: {preset: reckless}\n", "safety.preset", "strict"),
        ("safety: {on_nan: ignore}\n", "safety.on_nan", "rollback"),
        ("safety: {window: 4}\n", "safety.window", "8"),
        ("safety: {on_probation_trip: rollback}\n", "safety.on_probation_trip", "abort"),
    ],
)
def test_bad_safety_section_is_rejected_with_its_path(yaml: str, path: str, fragment: str) -> None:
    with pytest.raises(RecipeError) as info:
        parse_recipe(MINIMAL + yaml)
    found = [(p.path, p.message) for p in info.value.problems]
    assert any(p == path and fragment in m for p, m in found), found


def test_event_literals_match_the_breaker() -> None:
    same = typing.get_args
    assert same(telemetry.BreakerStatus) == same(breaker_module.Status)
    assert same(telemetry.BreakerTrigger) == same(breaker_module.Trigger)


def _verdict(**changes: object) -> Verdict:
    base: dict[str, object] = {
        "step": 40,
        "action": "continue",
        "reason": "r",
        "previous": "closed",
        "status": "closed",
    }
    return Verdict(**(base | changes))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({}, []),
        ({"action": "warn", "trigger": "loss_spike"}, ["BreakerWarned"]),
        ({"action": "rollback", "trigger": "nan_inf", "status": "open"}, ["BreakerTripped"]),
        ({"action": "rollback", "trigger": "nan_inf", "previous": "open", "status": "open"}, []),
        (
            {"previous": "open", "status": "half_open", "probation_until": 80},
            ["BreakerProbationStarted"],
        ),
        ({"previous": "half_open", "status": "closed"}, ["BreakerRecovered"]),
        ({"previous": "half_open", "status": "half_open"}, []),
    ],
)
def test_verdict_events(changes: dict[str, object], expected: list[str]) -> None:
    assert [type(p).__name__ for p in verdict_events(_verdict(**changes))] == expected


def test_trip_event_carries_reason_and_json_safe_numbers() -> None:
    _, verdicts = run(limits("strict"), [*calm(3), StepObservation(40, math.nan, 1.0)])
    events: list[telemetry.Event] = []
    bus = EventBus(
        "run-1",
        sinks=[type("S", (), {"handle": lambda _, e: events.append(e), "close": lambda _: None})()],
    )
    for payload in verdict_events(verdicts[-1]):
        bus.emit(payload)
    (event,) = events
    data = json.loads(event.model_dump_json())["data"]
    assert event.type == "BreakerTripped"
    assert data["numbers"] == {"loss": "nan", "grad_norm": 1.0}
    assert data["action"] == "rollback" and data["trigger"] == "nan_inf"
    assert "not a number" in data["reason"] and data["previous_state"] == "closed"
    assert json_numbers({"a": math.inf, "b": -math.inf}) == {"a": "inf", "b": "-inf"}


def test_state_round_trips_through_json_for_checkpoints() -> None:
    state, _ = run(limits("strict"), [*calm(20), StepObservation(210, math.nan, 1.0)])
    data = json.loads(json.dumps(dump_state(state), allow_nan=False))  # strict JSON
    restored = load_state(data)
    assert restored.opened_by is not None and math.isnan(restored.opened_by.numbers["loss"])
    assert restored.losses == state.losses and restored.status == "open"
    assert load_state(dump_state(BreakerState())) == BreakerState()


@pytest.mark.parametrize(
    ("value", "window", "median", "mad", "z"),
    [
        (3.0, [1.0, 2.0, 3.0], 2.0, 1.0, 1 / 1.4826),
        (2.5, [2.0, 2.0, 2.0], 2.0, 0.0, 25.0),  # σ floored at 1% of the median (0.02)
        (1.0, [2.0, 2.2, 1.8, 2.0], 2.0, 0.1, -1 / 0.14826),  # below the median: negative
    ],
)
def test_robust_z(value: float, window: list[float], median: float, mad: float, z: float) -> None:
    found = robust_z(value, window)
    assert (found.median, found.mad) == pytest.approx((median, mad))
    assert found.z == pytest.approx(z)


@pytest.mark.parametrize(
    ("values", "expected"), [([1.0, 2.0], 1.0), ([0.0, 1.0, 4.0], 2.0), ([3.0, 3.0, 3.0], 0.0)]
)
def test_slope(values: list[float], expected: float) -> None:
    assert slope(values) == pytest.approx(expected)


def test_stats_refuse_too_little_data() -> None:
    with pytest.raises(ValueError):
        robust_z(1.0, [])
    with pytest.raises(ValueError):
        slope([1.0])
