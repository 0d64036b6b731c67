"""Default rules map the run's facts to alerts; recipe rules add, replace or disable them."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from alert_helpers import event
from pydantic import ValidationError

from scaler_wizard.alerts.regressions import eval_regressions
from scaler_wizard.alerts.rules import RuleBook
from scaler_wizard.recipe.alerts import AlertRuleSpec, AlertsSpec, FieldTest
from scaler_wizard.recipe.text_template import check_template, fill
from scaler_wizard.telemetry.events import (
    ApprovalRequested,
    BreakerTripped,
    BreakerWarned,
    ContractChecked,
    RunFailed,
    RunFinished,
)

TRIP = BreakerTripped(
    trigger="loss_spike",
    action="rollback",
    reason="The loss jumped far above its recent level.",
    numbers={"loss": 9.5, "median": 2.0},
    previous_state="closed",
).model_dump(mode="json")
WARN = BreakerWarned(
    trigger="nan_inf", reason="A loss was not a number.", numbers={"loss": "nan"}, state="closed"
).model_dump(mode="json")

DEFAULTS: list[tuple[str, dict[str, Any], tuple[str, str, str] | None]] = [
    (
        "BreakerTripped",
        TRIP,
        ("breaker_tripped", "warning", "Training stopped: circuit breaker tripped (loss_spike)"),
    ),
    ("BreakerWarned", WARN, ("breaker_warned", "caution", "Training looks unsteady (nan_inf)")),
    (
        "ApprovalRequested",
        ApprovalRequested(point="export", timeout_s=600).model_dump(),
        ("approval_requested", "caution", "A decision is waiting: export"),
    ),
    (
        "RunFailed",
        RunFailed(phase="train", error="CUDA out of memory").model_dump(),
        ("run_failed", "warning", "Run failed during train"),
    ),
    (
        "ContractChecked",
        ContractChecked(name="passkey_accuracy", passed=False, detail="lowest 40%").model_dump(),
        ("contract_failed", "caution", "Contract failed: passkey_accuracy"),
    ),
    (
        "ContractChecked",
        ContractChecked(name="passkey_accuracy", passed=True, detail="lowest 100%").model_dump(),
        None,
    ),
    (
        "RunFinished",
        RunFinished(status="completed", artifact_dir="/runs/x", duration_s=12.5).model_dump(),
        ("run_finished", "advisory", "Run finished"),
    ),
    (
        "SinkDegraded",
        {"sink": "http", "errors": 0, "dropped": 3, "last_error": ""},
        ("sink_degraded", "advisory", "Telemetry output degraded: http"),
    ),
    ("StepLogged", {"loss": 2.0}, None),
]


@pytest.mark.parametrize(("kind", "data", "expected"), DEFAULTS)
def test_default_rules(
    kind: str, data: dict[str, Any], expected: tuple[str, str, str] | None
) -> None:
    alerts = RuleBook().derive(event(kind, seq=7, **data))
    if expected is None:
        assert alerts == []
        return
    [alert] = alerts
    assert (alert.rule, alert.priority, alert.title) == expected
    assert alert.source_seq == 7
    assert alert.id == f"{expected[0]}-7"
    assert "?" not in alert.message  # every placeholder found its field


def test_a_degraded_sink_tells_its_counts_and_copes_with_missing_fields() -> None:
    data = {"sink": "http", "errors": 2, "dropped": 5, "last_error": "ConnectError: refused"}
    [alert] = RuleBook().derive(event("SinkDegraded", **data))
    assert alert.message == "Errors so far: 2, events lost: 5. ConnectError: refused"
    [bare] = RuleBook().derive(event("SinkDegraded"))
    assert (bare.title, bare.message) == (
        "Telemetry output degraded: a sink",
        "Errors so far: ?, events lost: ?.",
    )


def test_a_trip_tells_the_reason_and_the_action_and_silences_training_cautions() -> None:
    [alert] = RuleBook().derive(event("BreakerTripped", **TRIP))
    assert alert.message == "The loss jumped far above its recent level. Action: rollback."
    assert (alert.key, alert.inhibits) == ("training", ("training",))
    [failed] = RuleBook().derive(event("RunFailed", phase="train", error="boom"))
    assert set(failed.inhibits) == {"run", "training", "result"}


def test_a_decision_withdraws_the_approval_alert() -> None:
    assert RuleBook().resolved_by("ApprovalDecided") == ["approval_requested"]
    assert RuleBook().resolved_by("StepLogged") == []


def test_an_evaluation_worse_than_the_base_raises_a_caution() -> None:
    book = RuleBook()
    base = {"eval_loss": 1.80, "passkey": {"1024": 1.0}, "long_ppl": {"perplexity": 10.0}}
    grown = {"eval_loss": 1.95, "passkey": {"1024": 0.6}, "long_ppl": {"perplexity": 10.2}}
    assert book.derive(event("EvalCompleted", seq=1, model="base", metrics=base)) == []
    [alert] = book.derive(event("EvalCompleted", seq=2, model="grown", metrics=grown))
    assert (alert.rule, alert.priority) == ("eval_regressed", "caution")
    assert alert.title == "grown model is worse than the base model"
    assert alert.message == "held-out loss 1.8 → 1.95; passkey at 1024 tokens 100% → 60%"
    better = {"eval_loss": 1.70, "passkey": {"1024": 1.0}}
    assert book.derive(event("EvalCompleted", seq=3, model="stage-2", metrics=better)) == []


@pytest.mark.parametrize(
    ("base", "other", "notes"),
    [
        ({"eval_loss": 2.0}, {"eval_loss": 2.01}, []),  # inside the noise tolerance
        ({"eval_loss": 2.0}, {"eval_loss": "nan"}, ["held-out loss 2 → nan"]),
        ({"eval_loss": "nan"}, {"eval_loss": 2.0}, []),  # nothing to compare with
        (
            {"long_ppl": {"perplexity": 10.0}},
            {"long_ppl": {"perplexity": 11.0}},
            ["long-document perplexity 10 → 11"],
        ),
        ({}, {"eval_loss": 3.0}, []),
    ],
)
def test_eval_regressions(base: dict[str, Any], other: dict[str, Any], notes: list[str]) -> None:
    assert eval_regressions(base, other) == notes


def test_a_recipe_rule_adds_an_alert_with_field_tests() -> None:
    slow = AlertRuleSpec(
        name="slow_training",
        event="StepLogged",
        when={"tokens_per_s": FieldTest(lt=100)},
        priority="advisory",
        title="Training is slow: {tokens_per_s} tokens/s at step {step}",
    )
    book = RuleBook([slow])
    assert book.derive(event("StepLogged", tokens_per_s=250.0)) == []
    [alert] = book.derive(event("StepLogged", at_step=40, tokens_per_s=42.5))
    assert alert.title == "Training is slow: 42.5 tokens/s at step 40"
    assert alert.key == "slow_training" and alert.inhibits == ("slow_training",)


def test_a_recipe_rule_replaces_or_disables_a_default_by_name() -> None:
    louder = AlertRuleSpec(
        name="breaker_warned", event="BreakerWarned", priority="warning", title="Unsteady!"
    )
    [alert] = RuleBook([louder]).derive(event("BreakerWarned", **WARN))
    assert (alert.priority, alert.title) == ("warning", "Unsteady!")
    off = louder.model_copy(update={"enabled": False})
    assert RuleBook([off]).derive(event("BreakerWarned", **WARN)) == []
    assert RuleBook(defaults=False).derive(event("BreakerWarned", **WARN)) == []


@pytest.mark.parametrize(
    ("test", "value", "holds"),
    [
        (FieldTest(equals="x"), "x", True),
        (FieldTest(not_equals="x"), "y", True),
        (FieldTest(one_of=["pause", "abort"]), "abort", True),
        (FieldTest(one_of=["pause", "abort"]), "rollback", False),
        (FieldTest(gt=1.0, le=2.0), 2.0, True),
        (FieldTest(gt=1.0, le=2.0), 2.5, False),
        (FieldTest(ge=0), "nan", False),  # non-finite numbers travel as strings: never numeric
        (FieldTest(equals=1), True, False),  # booleans are not numbers here
        (FieldTest(lt=5), None, False),  # a missing field fails a bound
    ],
)
def test_field_tests(test: FieldTest, value: object, holds: bool) -> None:
    rule = AlertRuleSpec(name="r", event="E", when={"v": test}, priority="advisory", title="t")
    book = RuleBook([rule], defaults=False)
    assert bool(book.derive(event("E", v=value))) is holds


def test_nested_fields_and_defaults_in_templates() -> None:
    fields = {"numbers.loss": 9.51234, "name": "x"}
    assert fill("{numbers.loss} {name} {missing} {missing|none} {{literal}}", fields) == (
        "9.512 x ? none {literal}"
    )


@pytest.mark.parametrize("bad", ["{", "a } b", "{not valid}", "{x.__class__"])
def test_templates_with_stray_braces_are_refused_at_load(bad: str) -> None:
    with pytest.raises(ValueError, match="unmatched"):
        check_template(bad)
    with pytest.raises(ValidationError):
        AlertRuleSpec(name="r", event="E", priority="caution", title=bad)


def test_alert_settings_refuse_duplicate_rule_names_and_unknown_keys() -> None:
    rule = {"name": "r", "event": "E", "priority": "caution", "title": "t"}
    with pytest.raises(ValidationError, match="unique"):
        AlertsSpec.model_validate({"rules": [rule, rule]})
    with pytest.raises(ValidationError):
        AlertsSpec.model_validate({"rules": [{**rule, "severity": "high"}]})


def test_the_yaml_examples_in_the_docs_are_valid_settings() -> None:
    text = (Path(__file__).parents[2] / "docs" / "alerts.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```yaml\n(.*?)```", text, flags=re.DOTALL)
    webhooks, rules = (AlertsSpec.model_validate(yaml.safe_load(b)["alerts"]) for b in blocks)
    assert [w.format for w in webhooks.webhooks] == ["slack", "json"]
    book = {rule.name: rule for rule in RuleBook(rules.rules).rules}
    assert "run_finished" not in book and book["breaker_warned"].priority == "warning"
    [slow] = RuleBook(rules.rules).derive(event("StepLogged", at_step=9, tokens_per_s=40.0))
    assert slow.title == "Training is slow: 40 tokens/s at step 9"
    assert slow.message == "Memory in use: unknown GiB"


def test_recipe_and_event_priorities_are_the_same_values() -> None:
    from typing import get_args

    from scaler_wizard.recipe.alerts import AlertPriority as RecipePriority
    from scaler_wizard.telemetry.events import AlertPriority as EventPriority

    assert get_args(RecipePriority) == get_args(EventPriority)
