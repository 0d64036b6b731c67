"""Builds every registry: built-ins, then plugins from the `scaler_wizard.plugins` entry point.

A plugin package declares, in its pyproject.toml:
    [project.entry-points."scaler_wizard.plugins"]
    my_plugin = "my_package.plugin:register"
and `register(catalog)` calls `catalog.growth.register(...)` (or any other registry).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from scaler_wizard.context import register_context_engines
from scaler_wizard.data.formats import Format, convert_file
from scaler_wizard.data.transforms import register_data_transforms
from scaler_wizard.evaluate.held_out import evaluate_held_out
from scaler_wizard.evaluate.passkey import run_passkey
from scaler_wizard.growth import GrowthStrategy, register_growth_strategies
from scaler_wizard.recipe.spec import (
    HttpSinkSpec,
    MlflowSinkSpec,
    PasskeySpec,
    TensorBoardSinkSpec,
    WandbSinkSpec,
)
from scaler_wizard.registry import Registry
from scaler_wizard.telemetry.console_sink import ConsoleSink
from scaler_wizard.telemetry.jsonl_sink import JsonlSink
from scaler_wizard.telemetry.sink import Sink, SinkContext
from scaler_wizard.telemetry.trackers import MlflowSink, TensorBoardSink, WandbSink

PLUGIN_GROUP = "scaler_wizard.plugins"
ExportHook = Callable[[Any, dict[str, Any]], None]
# A sink entry builds its sink from validated options and the run it will observe.
SinkFactory = Callable[[Any, SinkContext], Sink]


class NoOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")


@dataclass
class Catalog:
    growth: Registry[GrowthStrategy] = field(default_factory=lambda: Registry("growth strategy"))
    context: Registry[Any] = field(default_factory=lambda: Registry("context engine"))
    data: Registry[Any] = field(default_factory=lambda: Registry("data format"))
    transforms: Registry[Any] = field(default_factory=lambda: Registry("data transform"))
    evaluators: Registry[Any] = field(default_factory=lambda: Registry("evaluator"))
    sinks: Registry[SinkFactory] = field(default_factory=lambda: Registry("telemetry sink"))
    export_hooks: Registry[ExportHook] = field(default_factory=lambda: Registry("export hook"))
    plugin_errors: dict[str, str] = field(default_factory=dict)

    def sections(self) -> dict[str, Registry[Any]]:
        return {
            "growth strategies": self.growth,
            "context engines": self.context,
            "data formats": self.data,
            "data transforms": self.transforms,
            "evaluators": self.evaluators,
            "telemetry sinks": self.sinks,
            "export hooks": self.export_hooks,
        }


def build_catalog(load_plugins: bool = True) -> Catalog:
    catalog = Catalog()
    register_growth_strategies(catalog.growth)
    register_context_engines(catalog.context)
    register_data_transforms(catalog.transforms)
    _register_builtins(catalog)
    if load_plugins:
        _load_plugins(catalog)
    return catalog


def _register_builtins(catalog: Catalog) -> None:
    """Data formats, evaluators and sinks; each entry's implementation is the real one."""
    formats: dict[Format, str] = {
        "messages": "OpenAI chat records {messages: [{role, content}]}, multi-turn kept whole.",
        "sharegpt": "ShareGPT records {conversations: [{from, value}]}; human/gpt/system roles.",
        "alpaca": "Instruction records {instruction, input, output}.",
        "completion": "Prompt/completion records {prompt, completion}; loss on the completion.",
        "text": "Plain text: JSONL {text} records or .txt/.md files split into passages.",
    }
    for name, summary in formats.items():
        catalog.data.register(name, NoOptions, partial(convert_file, requested=name), summary)
    catalog.evaluators.register(
        "held_out", NoOptions, evaluate_held_out, "Held-out loss and perplexity, base vs grown."
    )
    catalog.evaluators.register(
        "passkey", PasskeySpec, run_passkey, "Passkey retrieval at the target context (greedy)."
    )
    _register_sinks(catalog.sinks)


def _load_plugins(catalog: Catalog) -> None:
    for ep in entry_points(group=PLUGIN_GROUP):
        origin = ep.dist.name if ep.dist is not None else ep.value
        registries = catalog.sections().values()
        for registry in registries:
            registry.default_origin = origin
        try:
            register = ep.load()
            register(catalog)
        except Exception as exc:  # one broken plugin must not take the tool down
            catalog.plugin_errors[origin] = f"{type(exc).__name__}: {exc}"
        finally:
            for registry in registries:
                registry.default_origin = "built-in"


def _register_sinks(sinks: Registry[SinkFactory]) -> None:
    """Built-in sinks. jsonl and console are always on; the others come from `telemetry.sinks`.
    A plugin registers its own the same way: `catalog.sinks.register(kind, Options, factory,
    summary)` where `factory(options, context)` returns an object with `handle` and `close`."""
    sinks.register(
        "jsonl",
        NoOptions,
        lambda _, run: JsonlSink(run.run_dir / "events.jsonl"),
        "events.jsonl in the run folder: the source of truth (always on).",
    )
    sinks.register(
        "console", NoOptions, lambda _, run: ConsoleSink(), "Rich progress and phase lines."
    )
    sinks.register(
        "http", HttpSinkSpec, _http_sink, "Batches of events POSTed to a collector, with retries."
    )
    sinks.register(
        "tensorboard",
        TensorBoardSinkSpec,
        _tensorboard_sink,
        "Train/eval scalars and the recipe in a TensorBoard log (extra: trackers).",
    )
    sinks.register(
        "mlflow",
        MlflowSinkSpec,
        _mlflow_sink,
        "Train/eval metrics and the recipe as params in an MLflow run (extra: trackers).",
    )
    sinks.register(
        "wandb",
        WandbSinkSpec,
        _wandb_sink,
        "Train/eval metrics and the recipe as config in a W&B run (extra: trackers).",
    )


def _http_sink(spec: HttpSinkSpec, run: SinkContext) -> Sink:
    from scaler_wizard.telemetry.http_sink import HttpSink  # httpx only when a recipe asks

    token = None
    if spec.token_env:
        token = os.environ.get(spec.token_env)
        if not token:
            raise ValueError(f"environment variable {spec.token_env} (token_env) is not set")
    return HttpSink(
        spec.url,
        token=token,
        batch_size=spec.batch_size,
        flush_interval_s=spec.flush_interval_s,
        max_buffer=spec.max_buffer,
        timeout_s=spec.timeout_s,
        backoff_initial_s=spec.backoff_initial_s,
        backoff_max_s=spec.backoff_max_s,
    )


def _tensorboard_sink(spec: TensorBoardSinkSpec, run: SinkContext) -> Sink:
    log_dir = Path(spec.dir).expanduser() if spec.dir else run.run_dir / "tensorboard"
    return TensorBoardSink(log_dir, run.config)


def _mlflow_sink(spec: MlflowSinkSpec, run: SinkContext) -> Sink:
    return MlflowSink(spec.tracking_uri, spec.experiment, run.config)


def _wandb_sink(spec: WandbSinkSpec, run: SinkContext) -> Sink:
    directory = Path(spec.dir).expanduser() if spec.dir else run.run_dir
    return WandbSink(spec.project, spec.mode, spec.entity, directory, run.config)
