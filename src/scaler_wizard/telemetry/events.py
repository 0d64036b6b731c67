"""Events are past-tense facts with one envelope: {id, type, time, run_id, seq, step, segment}."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Phase = Literal[
    "plan", "load", "grow", "context", "data", "train", "evaluate", "contracts", "gate", "export"
]


class Event(BaseModel):
    """The envelope every event shares; `seq` strictly increases within a run."""

    model_config = ConfigDict(extra="forbid")

    id: str
    type: str
    time: datetime = Field(default_factory=lambda: datetime.now(UTC))
    run_id: str
    seq: int = Field(ge=0)
    step: int = Field(0, ge=0, description="Optimizer step at the time of the event.")
    segment: int = Field(0, ge=0, description="Bumped at each rollback.")
    data: dict[str, Any] = Field(default_factory=dict)


class Payload(BaseModel):
    """Base of typed payloads; the class name is the event type."""

    model_config = ConfigDict(extra="forbid")


class RunStarted(Payload):
    recipe_name: str
    run_dir: str


class PhaseStarted(Payload):
    phase: Phase
    description: str = ""


class ProgressUpdated(Payload):
    """Progress of a long task inside a phase (training steps, evaluation batches, trials)."""

    task: str
    done: int
    total: int
    unit: str = "steps"


class PhaseFinished(Payload):
    phase: Phase
    duration_s: float
    summary: dict[str, Any] = Field(default_factory=dict)


class StepLogged(Payload):
    loss: float
    grad_norm: float
    learning_rate: float
    tokens_per_s: float
    memory_gib: float
    eta_s: float
    label_tokens: int


class EvalCompleted(Payload):
    model: str = Field(description="'base', 'grown', or a stage such as 'stage-1'.")
    metrics: dict[str, Any]


class CheckpointSaved(Payload):
    path: str


class ContractChecked(Payload):
    name: str
    passed: bool
    detail: str


class ArtifactExported(Payload):
    path: str
    kind: str


class RunFinished(Payload):
    status: Literal["completed"]
    artifact_dir: str
    duration_s: float


class ApprovalRequested(Payload):
    """The run waits for `scaler-wizard approve RUN` or `deny RUN` (or the web app)."""

    point: str
    timeout_s: float


class ApprovalDecided(Payload):
    point: str
    decision: Literal["approve", "deny"]
    by: str = Field(description="'user' or 'timeout'.")
    note: str = ""


class RolledBack(Payload):
    """A person rolled the run back to a checkpoint; later work was set aside, not deleted."""

    checkpoint: str
    set_aside: str


class RunPaused(Payload):
    """Training stopped on request after saving a checkpoint; `grow --resume` continues it."""

    step: int
    checkpoint: str


class RunFailed(Payload):
    phase: str
    error: str


# The circuit breaker's facts (scaler_wizard.safety). Numbers that are not finite are written
# as the strings "nan", "inf" or "-inf" so that every event stays valid JSON.
BreakerStatus = Literal["closed", "open", "half_open"]
BreakerTrigger = Literal["nan_inf", "loss_spike", "perplexity_rise", "probe_drop"]
BreakerNumbers = dict[str, float | str]


class BreakerWarned(Payload):
    """Something looked wrong; the recipe says to warn only, so training continues."""

    trigger: BreakerTrigger
    reason: str = Field(description="Plain words for a non-expert.")
    numbers: BreakerNumbers = Field(default_factory=dict)
    state: BreakerStatus


class BreakerTripped(Payload):
    """The breaker opened: the loop must pause, roll back or abort as `action` says."""

    trigger: BreakerTrigger
    action: Literal["pause", "abort", "rollback"]
    reason: str = Field(description="Plain words for a non-expert.")
    numbers: BreakerNumbers = Field(default_factory=dict)
    escalated: bool = Field(
        False, description="True when the trip came during probation and the action was raised."
    )
    previous_state: BreakerStatus


class BreakerProbationStarted(Payload):
    """Training resumed after a trip; until `until_step` a new trip escalates."""

    resumed_step: int
    until_step: int
    reason: str


class BreakerRecovered(Payload):
    """Probation passed without trouble; the breaker is closed again."""

    reason: str
    probation_steps: int


# Alerts (scaler_wizard.alerts): what a person should look at, derived from the facts above and
# released one at a time by the cognitive-load throttle.
AlertPriority = Literal["warning", "caution", "advisory"]


class AlertRaised(Payload):
    """An alert became the active one (warning: act now; caution: act soon; advisory: know)."""

    alert_id: str
    priority: AlertPriority
    title: str
    message: str
    rule: str = Field(description="The rule that derived it from an event.")
    source_seq: int | None = Field(None, description="`seq` of the event that caused it.")
    count: int = Field(1, ge=1, description="Alerts collapsed into this one by flood control.")


class AlertCleared(Payload):
    """The active alert finished, was pre-empted by a higher priority, or was inhibited."""

    alert_id: str
    reason: Literal["finished", "preempted", "inhibited", "acknowledged", "run_ended"]


# The telemetry's own health: a sink that fails or loses events says so on the other sinks.
class SinkDegraded(Payload):
    """A sink failed or dropped events since it last reported; counts are totals for the run."""

    sink: str
    errors: int = Field(ge=0, description="Failed deliveries or handler errors so far.")
    dropped: int = Field(ge=0, description="Events lost so far (full queue or buffer, deadline).")
    last_error: str = ""


def payload_types() -> dict[str, type[Payload]]:
    """Every typed payload by event type: built-ins in definition order, then any subclass
    defined elsewhere (a plugin's) that is imported."""
    found: dict[str, type[Payload]] = {}
    todo = list(Payload.__subclasses__())
    while todo:
        cls = todo.pop(0)
        found.setdefault(cls.__name__, cls)
        todo.extend(cls.__subclasses__())
    return found


def published_payload_types() -> dict[str, type[Payload]]:
    """The built-in payloads, the ones `schemas/event.schema.json` describes."""
    return {k: v for k, v in payload_types().items() if v.__module__ == __name__}
