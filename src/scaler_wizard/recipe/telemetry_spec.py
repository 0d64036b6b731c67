"""The recipe's `telemetry` section: where events go besides the event log and the console."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Discriminator, Field, Tag, model_validator

from scaler_wizard.recipe.spec_base import Spec


class HttpSinkSpec(Spec):
    """POST events as JSON arrays to a collector, in batches, retried with backoff."""

    kind: Literal["http"]
    url: str = Field(pattern=r"^https?://", description="Collector endpoint.")
    token_env: str | None = Field(
        None, description="Environment variable holding a bearer token (never the token itself)."
    )
    batch_size: int = Field(100, ge=1, description="Events per POST at most.")
    flush_interval_s: float = Field(2.0, gt=0, description="Send a partial batch after this.")
    max_buffer: int = Field(
        10_000, ge=1, description="Events kept while the collector is down; oldest dropped beyond."
    )
    timeout_s: float = Field(10.0, gt=0, description="Timeout of one POST.")
    backoff_initial_s: float = Field(0.5, gt=0, description="First retry delay (then doubled).")
    backoff_max_s: float = Field(30.0, gt=0, description="Longest retry delay.")


class TensorBoardSinkSpec(Spec):
    """Train and eval scalars and the recipe, in a TensorBoard event file."""

    kind: Literal["tensorboard"]
    dir: str | None = Field(None, description="Log folder; default: `tensorboard/` in the run.")


class MlflowSinkSpec(Spec):
    """Train and eval metrics and the recipe as params, in an MLflow run."""

    kind: Literal["mlflow"]
    tracking_uri: str | None = Field(
        None, description="Default: $MLFLOW_TRACKING_URI, else MLflow's own default."
    )
    experiment: str = Field("scaler-wizard", min_length=1, description="Experiment name.")


class WandbSinkSpec(Spec):
    """Train and eval metrics and the recipe as config, in a Weights & Biases run."""

    kind: Literal["wandb"]
    project: str = Field("scaler-wizard", min_length=1)
    entity: str | None = Field(None, description="Team or user; default: the logged-in user.")
    mode: Literal["online", "offline", "disabled"] = Field(
        "online", description="'offline' writes locally for a later `wandb sync`."
    )
    dir: str | None = Field(None, description="Where W&B writes; default: the run folder.")


BUILT_IN_SINKS = ("http", "tensorboard", "mlflow", "wandb")


class PluginSinkSpec(Spec):
    """A sink a plugin registered; `options` is checked against the plugin's options model."""

    kind: str = Field(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$",
        description="Registered sink.",
        json_schema_extra={"not": {"enum": [*BUILT_IN_SINKS, "jsonl", "console"]}},
    )
    options: dict[str, Any] = Field(default_factory=dict, description="The sink's options.")

    @model_validator(mode="after")
    def _not_always_on(self) -> PluginSinkSpec:
        if self.kind in ("jsonl", "console"):
            raise ValueError(f"the {self.kind} sink is always on (console: unless --quiet)")
        return self


def _sink_kind(value: Any) -> str:
    kind = value.get("kind") if isinstance(value, dict) else getattr(value, "kind", None)
    return kind if kind in BUILT_IN_SINKS else "plugin"


SinkSpec = Annotated[
    Annotated[HttpSinkSpec, Tag("http")]
    | Annotated[TensorBoardSinkSpec, Tag("tensorboard")]
    | Annotated[MlflowSinkSpec, Tag("mlflow")]
    | Annotated[WandbSinkSpec, Tag("wandb")]
    | Annotated[PluginSinkSpec, Tag("plugin")],
    Discriminator(_sink_kind),
]


class TelemetrySpec(Spec):
    """Where events go besides `events.jsonl` (always written) and the console."""

    sinks: list[SinkSpec] = Field(
        default_factory=list, description="Extra sinks, each on its own thread behind a queue."
    )
    queue_size: int = Field(
        10_000, ge=1, description="Events a sink may fall behind by; newer ones are dropped."
    )
    drain_timeout_s: float = Field(
        10.0, ge=0, description="At the end, how long each sink may take to deliver the rest."
    )
    report_every_s: float = Field(
        30.0, gt=0, description="At most one SinkDegraded event per sink in this many seconds."
    )
