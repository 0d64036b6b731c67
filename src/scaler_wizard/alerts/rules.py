"""Rules turn events into alerts. The defaults below cover the run's own facts; a recipe adds
rules or replaces a default by giving one with the same name (`enabled: false` turns it off).

Rules match on the event `type` string, so events defined elsewhere (e.g. `SinkDegraded`) need
no import here.
"""

from __future__ import annotations

import operator
from collections.abc import Mapping, Sequence
from typing import Any

from scaler_wizard.alerts.model import Alert
from scaler_wizard.alerts.regressions import regression_fields
from scaler_wizard.recipe.alerts import AlertRuleSpec, FieldTest, Scalar
from scaler_wizard.recipe.text_template import fill
from scaler_wizard.telemetry.events import Event

DEFAULT_RULES: tuple[AlertRuleSpec, ...] = (
    AlertRuleSpec(
        name="breaker_tripped",
        event="BreakerTripped",
        priority="warning",
        title="Training stopped: circuit breaker tripped ({trigger})",
        message="{reason} Action: {action}.",
        key="training",
    ),
    AlertRuleSpec(
        name="run_failed",
        event="RunFailed",
        priority="warning",
        title="Run failed during {phase}",
        message="{error}",
        key="run",
        inhibits=["run", "training", "result"],
    ),
    AlertRuleSpec(
        name="breaker_warned",
        event="BreakerWarned",
        priority="caution",
        title="Training looks unsteady ({trigger})",
        message="{reason}",
        key="training",
    ),
    AlertRuleSpec(
        name="approval_requested",
        event="ApprovalRequested",
        priority="caution",
        title="A decision is waiting: {point}",
        message="Approve or deny in the web app or with `scaler-wizard approve`/`deny` "
        "(no answer within {timeout_s} s counts as a denial).",
        key="approval",
        resolved_by=["ApprovalDecided"],
    ),
    AlertRuleSpec(
        name="contract_failed",
        event="ContractChecked",
        when={"passed": False},
        priority="caution",
        title="Contract failed: {name}",
        message="{detail}",
        key="result",
    ),
    AlertRuleSpec(
        name="eval_regressed",
        event="EvalCompleted",
        when={"regressed": True},
        priority="caution",
        title="{model} model is worse than the base model",
        message="{regressions}",
        key="result",
    ),
    AlertRuleSpec(
        name="run_finished",
        event="RunFinished",
        priority="advisory",
        title="Run finished",
        message="Artifacts in {artifact_dir} after {duration_s} s.",
        key="run",
    ),
    AlertRuleSpec(
        name="sink_degraded",
        event="SinkDegraded",
        priority="advisory",
        title="Telemetry output degraded: {sink|a sink}",
        message="Errors so far: {errors|?}, events lost: {dropped|?}. {last_error|}",
        key="telemetry",
    ),
)


class RuleBook:
    """The active rules, plus the one piece of memory rules need: the base model's metrics."""

    def __init__(self, rules: Sequence[AlertRuleSpec] = (), *, defaults: bool = True) -> None:
        merged = {rule.name: rule for rule in DEFAULT_RULES} if defaults else {}
        merged.update({rule.name: rule for rule in rules})
        self.rules: list[AlertRuleSpec] = [rule for rule in merged.values() if rule.enabled]
        self._base_metrics: Mapping[str, Any] | None = None

    def derive(self, event: Event) -> list[Alert]:
        fields = self._fields(event)
        return [
            make_alert(rule, event, fields)
            for rule in self.rules
            if rule.event == event.type and matches(rule.when, fields)
        ]

    def resolved_by(self, event_type: str) -> list[str]:
        """Names of the rules whose alerts an event of this type withdraws."""
        return [rule.name for rule in self.rules if event_type in rule.resolved_by]

    def phrases(self) -> dict[str, dict[str, str]]:
        """Spoken templates that rules bring with them: rule → language → template."""
        return {rule.name: dict(rule.phrases) for rule in self.rules if rule.phrases}

    def _fields(self, event: Event) -> dict[str, object]:
        fields = {"run_id": event.run_id, "seq": event.seq, "step": event.step}
        fields.update(flatten(event.data))
        if event.type == "EvalCompleted":
            metrics = event.data.get("metrics") or {}
            if event.data.get("model") == "base":
                self._base_metrics = metrics
            elif self._base_metrics is not None:
                fields.update(regression_fields(self._base_metrics, metrics))
        return fields


def make_alert(rule: AlertRuleSpec, event: Event, fields: Mapping[str, object]) -> Alert:
    key = rule.key or rule.name
    return Alert(
        id=f"{rule.name}-{event.seq}",
        priority=rule.priority,
        title=fill(rule.title, fields).strip(),
        message=fill(rule.message, fields).strip(),
        rule=rule.name,
        key=key,
        inhibits=tuple(rule.inhibits if rule.inhibits is not None else [key]),
        source_seq=event.seq,
        run_id=event.run_id,
        fields=dict(fields),
    )


def flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, object]:
    """Top-level values as they are, nested mapping values also under dotted names."""
    flat: dict[str, object] = {}
    for name, value in data.items():
        flat[prefix + name] = value
        if isinstance(value, Mapping):
            flat.update(flatten(value, f"{prefix}{name}."))
    return flat


def matches(when: Mapping[str, Scalar | FieldTest], fields: Mapping[str, object]) -> bool:
    return all(_holds(test, fields.get(name)) for name, test in when.items())


def _holds(test: Scalar | FieldTest, value: object) -> bool:
    if not isinstance(test, FieldTest):
        return _same(value, test)
    number = value if isinstance(value, int | float) and not isinstance(value, bool) else None
    bounds = (
        (test.gt, operator.gt),
        (test.ge, operator.ge),
        (test.lt, operator.lt),
        (test.le, operator.le),
    )
    return (
        (test.equals is None or _same(value, test.equals))
        and (test.not_equals is None or not _same(value, test.not_equals))
        and (test.one_of is None or any(_same(value, option) for option in test.one_of))
        and all(
            limit is None or (number is not None and bool(compare(number, limit)))
            for limit, compare in bounds
        )
    )


def _same(value: object, expected: Scalar) -> bool:
    """Equality that keeps booleans apart from numbers (True is not 1 here)."""
    if isinstance(value, bool) or isinstance(expected, bool):
        return isinstance(value, bool) and isinstance(expected, bool) and value == expected
    return value == expected
