"""The `alerts:` section of a recipe: rules, throttle timings, delivery channels.

`scaler_wizard.alerts` runs them; this module only describes and validates them.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from scaler_wizard.recipe.text_template import check_template

# The same values as telemetry.events.AlertPriority (a test keeps them equal): the recipe and
# telemetry layers do not import each other.
AlertPriority = Literal["warning", "caution", "advisory"]

Scalar = str | int | float | bool


class AlertSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FieldTest(AlertSpec):
    """A condition on one event field; every test given must hold."""

    equals: Scalar | None = None
    not_equals: Scalar | None = None
    one_of: list[Scalar] | None = None
    gt: float | None = None
    ge: float | None = None
    lt: float | None = None
    le: float | None = None


class AlertRuleSpec(AlertSpec):
    """Derive an alert from an event. A rule with a default rule's name replaces it."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$", description="Also the spoken phrase's name.")
    event: str = Field(description="Event type to match, e.g. 'BreakerTripped'.")
    when: dict[str, Scalar | FieldTest] = Field(
        default_factory=dict,
        description="Field (dotted path into the event data) → value, or a FieldTest.",
    )
    priority: AlertPriority
    title: str = Field(description="Template: '{field}', '{a.b}', '{field|default}'.")
    message: str = ""
    key: str | None = Field(
        None, description="Related alerts share a key (inhibition, flood grouping); default: name."
    )
    inhibits: list[str] | None = Field(
        None, description="Keys a warning silences (lower priorities only); default: its own key."
    )
    resolved_by: list[str] = Field(
        default_factory=list, description="Event types that withdraw this rule's alerts."
    )
    phrases: dict[str, str] = Field(
        default_factory=dict, description="Spoken templates by language ('en', 'es', ...)."
    )
    enabled: bool = True

    @field_validator("title", "message")
    @classmethod
    def _template(cls, value: str) -> str:
        return check_template(value)

    @field_validator("phrases")
    @classmethod
    def _phrases(cls, value: dict[str, str]) -> dict[str, str]:
        for template in value.values():
            check_template(template)
        return value


class ThrottleSpec(AlertSpec):
    """How alerts take turns (see docs/alerts.md)."""

    min_display_s: float = Field(
        3.0, ge=0, description="No alert is replaced sooner (but pre-empted)."
    )
    warning_display_s: float | None = Field(30.0, gt=0, description="None: until acknowledged.")
    caution_display_s: float | None = Field(15.0, gt=0)
    advisory_display_s: float | None = Field(8.0, gt=0)
    flood_window_s: float = Field(60.0, gt=0)
    flood_threshold: int = Field(
        3, ge=1, description="More alerts than this with one key inside the window collapse."
    )
    inhibit_hold_s: float = Field(
        60.0, ge=0, description="A warning keeps silencing related alerts this long after it ends."
    )

    def display_s(self, priority: AlertPriority) -> float | None:
        return {
            "warning": self.warning_display_s,
            "caution": self.caution_display_s,
            "advisory": self.advisory_display_s,
        }[priority]


class WebhookSpec(AlertSpec):
    """POST each alert as JSON to a URL (chat services accept `format: slack`)."""

    url: str = Field(
        pattern=r"^(https?://|env:)",
        description="The URL, or 'env:NAME' to read it from an environment variable "
        "(keeps a chat service's secret URL out of the recipe and the artifacts).",
    )
    format: Literal["json", "slack"] = Field(
        "json", description="'json': the alert object; 'slack': {'text': ...}."
    )
    headers: dict[str, str] = Field(default_factory=dict)
    min_priority: AlertPriority = "advisory"
    on_clear: bool = Field(False, description="Also post when an alert is cleared.")
    timeout_s: float = Field(5.0, gt=0)
    max_attempts: int = Field(3, ge=1, le=10)
    backoff_s: float = Field(1.0, ge=0, description="Doubled after each failed attempt.")
    queue_size: int = Field(100, ge=1, description="Posts waiting beyond this are dropped.")


class VoiceSpec(AlertSpec):
    """Offline narration into the run folder (alerts/voice/NNNN-<lang>.wav)."""

    enabled: bool = False
    language: str = Field("en", description="BCP-47 tag; falls back to base language, then 'en'.")
    words_per_minute: int = Field(165, ge=80, le=450)
    min_priority: AlertPriority = "caution"


class AlertsSpec(AlertSpec):
    """Alerts derived from the run's events, released one at a time (see docs/alerts.md)."""

    rules: list[AlertRuleSpec] = Field(
        default_factory=list, description="Added to the defaults; same name replaces."
    )
    default_rules: bool = True
    throttle: ThrottleSpec = Field(default_factory=ThrottleSpec)
    console: bool = True
    webhooks: list[WebhookSpec] = Field(default_factory=list)
    voice: VoiceSpec = Field(default_factory=VoiceSpec)

    @model_validator(mode="after")
    def _unique_names(self) -> AlertsSpec:
        names = [rule.name for rule in self.rules]
        duplicated = sorted({n for n in names if names.count(n) > 1})
        if duplicated:
            raise ValueError(f"alert rule names must be unique: {duplicated}")
        return self
