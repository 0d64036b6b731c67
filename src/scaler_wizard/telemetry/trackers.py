"""Experiment trackers as sinks: TensorBoard, MLflow and Weights & Biases.

All three read the same pure mapping: `StepLogged` → train/* scalars at the event's step,
`EvalCompleted` → eval/<model>/<metric> scalars, `RunStarted` → the run's parameters (the recipe,
flattened). Each tracker package is optional: the sink checks it is installed when it is built,
naming the extra to install, and imports it on the first event, on the sink's own thread.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from scaler_wizard.telemetry.events import Event

INSTALL_HINT = "pip install 'scaler-wizard[trackers]'"
TRAIN_SCALARS = {
    "loss": "train/loss",
    "learning_rate": "train/learning_rate",
    "grad_norm": "train/grad_norm",
    "tokens_per_s": "train/tokens_per_s",
    "memory_gib": "train/memory_gib",
}
WandbMode = Literal["online", "offline", "disabled"]
ENDINGS = {"RunFinished": "FINISHED", "RunFailed": "FAILED", "RunPaused": "KILLED"}


class TrackerMissingError(ImportError):
    """A tracker sink whose package is not installed."""


def require(module: str, sink: str) -> None:
    """Fail when the sink is built, not at the first event, with the command that fixes it."""
    if importlib.util.find_spec(module) is None:
        raise TrackerMissingError(
            f"the {sink} telemetry sink needs the '{module}' package: {INSTALL_HINT}"
        )


def scalars(event: Event) -> dict[str, float]:
    """Tracker scalars carried by an event; non-numbers and non-finite values are left out."""
    if event.type == "StepLogged":
        found = {name: event.data.get(key) for key, name in TRAIN_SCALARS.items()}
    elif event.type == "EvalCompleted":
        found = flatten(event.data.get("metrics", {}), f"eval/{event.data['model']}/", "/")
    else:
        return {}
    return {k: float(v) for k, v in found.items() if isinstance(v, int | float) and _finite(v)}


def params(config: Mapping[str, Any]) -> dict[str, str]:
    """The recipe as flat `section.field` → text pairs (lists and nested options included)."""
    return {k: v if isinstance(v, str) else json.dumps(v) for k, v in flatten(config).items()}


def flatten(tree: Mapping[str, Any], prefix: str = "", sep: str = ".") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        if isinstance(value, Mapping) and value:
            flat.update(flatten(value, f"{prefix}{key}{sep}", sep))
        elif isinstance(value, list) and value and all(isinstance(v, Mapping) for v in value):
            for i, item in enumerate(value):
                flat.update(flatten(item, f"{prefix}{key}{sep}{i}{sep}", sep))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _finite(value: float) -> bool:
    return not isinstance(value, bool) and math.isfinite(value)


class TensorBoardSink:
    """Writes an event file under `log_dir` with tensorboard's own writer (no TensorFlow)."""

    name = "tensorboard"

    def __init__(self, log_dir: Path, config: Mapping[str, Any] | None = None) -> None:
        require("tensorboard", self.name)
        self.log_dir = log_dir
        self.config = dict(config or {})
        self._writer: Any = None

    def handle(self, event: Event) -> None:
        from tensorboard.compat.proto import event_pb2, summary_pb2  # type: ignore[import-untyped]

        if self._writer is None:
            from tensorboard.summary.writer.event_file_writer import (  # type: ignore[import-untyped]
                EventFileWriter,
            )

            self._writer = EventFileWriter(str(self.log_dir))
        wall_time = event.time.timestamp()
        if event.type == "RunStarted":
            from tensorboard.plugins.text.summary_v2 import text_pb  # type: ignore[import-untyped]

            summary = text_pb("config", _markdown_table({"run_id": event.run_id, **self.config}))
            self._writer.add_event(event_pb2.Event(wall_time=wall_time, step=0, summary=summary))
        values = scalars(event)
        if values:
            summary = summary_pb2.Summary(
                value=[summary_pb2.Summary.Value(tag=k, simple_value=v) for k, v in values.items()]
            )
            self._writer.add_event(
                event_pb2.Event(wall_time=wall_time, step=event.step, summary=summary)
            )

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()


class MlflowSink:
    """Logs to an MLflow tracking server or store; a resumed run continues its MLflow run."""

    name = "mlflow"
    RUN_TAG = "scaler_wizard_run_id"

    def __init__(
        self,
        tracking_uri: str | None,
        experiment: str,
        config: Mapping[str, Any] | None = None,
    ) -> None:
        require("mlflow", self.name)
        self.tracking_uri = tracking_uri
        self.experiment = experiment
        self.config = dict(config or {})
        self._client: Any = None
        self.mlflow_run_id: str | None = None
        self._new_run = False
        self._ended = False

    def handle(self, event: Event) -> None:
        from mlflow.entities import Metric, Param

        run_id = self._open(event.run_id)
        if event.type == "RunStarted" and self._new_run:
            pairs = [Param(k[:250], v[:6000]) for k, v in params(self.config).items()]
            for i in range(0, len(pairs), 100):  # MLflow takes at most 100 params per batch
                self._client.log_batch(run_id, params=pairs[i : i + 100])
        values = scalars(event)
        if values:
            stamp = int(event.time.timestamp() * 1000)
            metrics = [Metric(k, v, stamp, event.step) for k, v in values.items()]
            self._client.log_batch(run_id, metrics=metrics)
        if event.type in ENDINGS:
            self._client.set_terminated(run_id, ENDINGS[event.type])
            self._ended = True
        elif event.type == "RunStarted":
            self._ended = False

    def close(self) -> None:
        if self._client is not None and self.mlflow_run_id and not self._ended:
            self._client.set_terminated(self.mlflow_run_id, "KILLED")

    def _open(self, run_id: str) -> str:
        if self.mlflow_run_id is not None:
            return self.mlflow_run_id
        from mlflow.tracking import MlflowClient

        self._client = client = MlflowClient(tracking_uri=self.tracking_uri)
        found = client.get_experiment_by_name(self.experiment)
        experiment_id = found.experiment_id if found else client.create_experiment(self.experiment)
        earlier = client.search_runs(
            [experiment_id], f"tags.{self.RUN_TAG} = '{run_id}'", max_results=1
        )
        if earlier:
            self.mlflow_run_id = earlier[0].info.run_id
            client.update_run(self.mlflow_run_id, status="RUNNING")
        else:
            created = client.create_run(experiment_id, tags={self.RUN_TAG: run_id}, run_name=run_id)
            self.mlflow_run_id, self._new_run = created.info.run_id, True
        return self.mlflow_run_id


class WandbSink:
    """Logs to Weights & Biases; `mode: offline` writes under `dir` for a later `wandb sync`.

    W&B wants its own step to grow, but ours goes back after a rollback, so every row carries
    `step` and `segment` and `step` is declared the x-axis of every metric.
    """

    name = "wandb"

    def __init__(
        self,
        project: str,
        mode: WandbMode = "online",
        entity: str | None = None,
        directory: Path | None = None,
        config: Mapping[str, Any] | None = None,
    ) -> None:
        require("wandb", self.name)
        self.project, self.mode, self.entity, self.directory = project, mode, entity, directory
        self.config = dict(config or {})
        self._run: Any = None
        self._ended = False

    def handle(self, event: Event) -> None:
        if self._run is None:
            if self._ended and event.type != "RunStarted":
                return  # the W&B run is finished; only a resume opens it again
            self._run, self._ended = self._start(event.run_id), False
        values = scalars(event)
        if values:
            self._run.log({**values, "step": event.step, "segment": event.segment})
        if event.type in ENDINGS:
            self._run.finish(exit_code=0 if event.type == "RunFinished" else 1)
            self._run, self._ended = None, True

    def close(self) -> None:
        if self._run is not None:
            self._run.finish()
            self._run = None

    def _start(self, run_id: str) -> Any:
        import wandb

        if self.directory is not None:
            self.directory.mkdir(parents=True, exist_ok=True)
        run = wandb.init(
            project=self.project,
            entity=self.entity,
            mode=self.mode,
            dir=str(self.directory) if self.directory else None,
            id=run_id,
            name=run_id,
            resume="allow",  # a resumed run continues the same W&B run
            config=self.config,
            settings=wandb.Settings(silent=True, console="off"),
        )
        run.define_metric("step")
        run.define_metric("*", step_metric="step")
        return run


def _markdown_table(values: Mapping[str, Any]) -> str:
    rows = [f"| {k} | {v} |" for k, v in params(values).items()]
    return "\n".join(["| parameter | value |", "|---|---|", *rows])
