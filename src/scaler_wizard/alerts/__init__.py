"""Alerts: priorities derived from events, a cognitive-load throttle, delivery channels."""

from scaler_wizard.alerts.build import build_alert_sink
from scaler_wizard.alerts.engine import AlertSink
from scaler_wizard.alerts.model import Alert
from scaler_wizard.alerts.rules import DEFAULT_RULES, RuleBook
from scaler_wizard.recipe.alerts import (
    AlertRuleSpec,
    AlertsSpec,
    ThrottleSpec,
    VoiceSpec,
    WebhookSpec,
)

__all__ = [
    "DEFAULT_RULES",
    "Alert",
    "AlertRuleSpec",
    "AlertSink",
    "AlertsSpec",
    "RuleBook",
    "ThrottleSpec",
    "VoiceSpec",
    "WebhookSpec",
    "build_alert_sink",
]
