"""The story of one run, on one screen: plan → load → data → evaluate base → extend context →
grow → train → evaluate grown → contracts → export. Each step is one call and emits events."""

from __future__ import annotations

import copy
import platform
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from scaler_wizard import __version__
from scaler_wizard.artifacts.run_folder import RunFolder, create_run_folder
from scaler_wizard.catalog import Catalog, build_catalog
from scaler_wizard.context import apply_context_plan
from scaler_wizard.data import prepare_data
from scaler_wizard.growth import GrowthContext, TrainingNeeds
from scaler_wizard.models.loader import load_config, load_model
from scaler_wizard.models.tokenizer_prep import fit_embeddings, load_tokenizer
from scaler_wizard.pipeline.evaluation import check_contracts, measure
from scaler_wizard.pipeline.export import (
    export_artifacts,
    run_export_hooks,
    write_model_card,
    write_plots,
)
from scaler_wizard.pipeline.phases import PhaseFailed, phase
from scaler_wizard.pipeline.plan import RunPlan, make_plan
from scaler_wizard.recipe import Recipe
from scaler_wizard.telemetry.bus import EventBus, Sink
from scaler_wizard.telemetry.console_sink import ConsoleSink
from scaler_wizard.telemetry.events import RunFailed, RunFinished, RunStarted
from scaler_wizard.telemetry.jsonl_sink import JsonlSink
from scaler_wizard.train import train_model

__all__ = ["PhaseFailed", "RunOutcome", "make_plan", "run_pipeline"]


@dataclass(frozen=True)
class RunOutcome:
    run: RunFolder
    manifest: dict[str, Any]


def run_pipeline(
    recipe: Recipe, *, console: bool = True, catalog: Catalog | None = None
) -> RunOutcome:
    catalog = catalog or build_catalog()
    plan = make_plan(recipe, catalog)  # fails before anything is written
    run = create_run_folder(recipe.name, recipe.model_dump(mode="json"))
    sinks: list[Sink] = [JsonlSink(run.events)] + ([ConsoleSink()] if console else [])
    bus = EventBus(run.run_id, sinks)
    manifest = _start_manifest(recipe, plan, run)
    run.write_manifest(manifest)
    bus.emit(RunStarted(recipe_name=recipe.name, run_dir=str(run.path)))
    started = time.perf_counter()
    current = "load"
    try:
        current = "load"
        with phase(bus, "load", plan.model.name):
            tokenizer, new_tokens = load_tokenizer(Path(plan.model.path), recipe.model.tokenizer)
            model = load_model(
                Path(plan.model.path), load_config(Path(plan.model.path)), recipe.model.dtype
            )
            fit_embeddings(model, tokenizer)
        current = "data"
        with phase(bus, "data", recipe.data.train) as summary:
            data = prepare_data(recipe.data, tokenizer)
            summary.update(data.stats.to_dict())
            manifest["data"] = {
                "train": plan.data_train,
                "format": data.stats.format,
                "fingerprint": data.fingerprint,
                "stats": data.stats.to_dict(),
            }
        current = "evaluate"
        with phase(bus, "evaluate", "base model") as summary:
            base = measure(
                model,
                tokenizer,
                data.eval_rows,
                recipe.evaluate,
                plan.context.target_length,
                "base",
                bus,
                recipe.train.batch_size,
                recipe.train.seed,
            )
            summary.update(_flat(base))
        current = "context"
        with phase(bus, "context", f"{plan.context.engine} ×{plan.context.factor:g}") as summary:
            if plan.context.changes_config:
                config = load_config(Path(plan.model.path))
                apply_context_plan(config, plan.context)  # before instantiation: HF does the math
                model = load_model(Path(plan.model.path), config, recipe.model.dtype)
                fit_embeddings(model, tokenizer)
            summary["max_position_embeddings"] = model.config.max_position_embeddings
        current = "grow"
        with phase(bus, "grow") as summary:
            model, reports, needs = _grow(model, plan, catalog, recipe.train.steps)
            manifest["growth"] = [
                {**r.model_dump(), "options": step.options}
                for r, step in zip(reports, plan.growth, strict=True)
            ]
            summary["trainable"] = reports[-1].trainable
        current = "train"
        with phase(bus, "train", f"{recipe.train.steps} steps") as summary:
            result = train_model(model, data.train_rows, recipe.train, bus, run.checkpoints, needs)
            manifest["train"].update(
                duration_s=result.duration_s, losses=result.losses, tokens_per_s=result.tokens_per_s
            )
            if result.final_reports:
                manifest["growth_after_training"] = result.final_reports
            summary.update(tokens_per_s=result.tokens_per_s, final_loss=result.losses[-1][1])
        current = "evaluate"
        with phase(bus, "evaluate", "grown model") as summary:
            grown = measure(
                model,
                tokenizer,
                data.eval_rows,
                recipe.evaluate,
                plan.context.target_length,
                "grown",
                bus,
                recipe.train.batch_size,
                recipe.train.seed,
            )
            manifest["metrics"] = {"base": base, "grown": grown}
            summary.update(_flat(grown))
        current = "contracts"
        with phase(bus, "contracts"):
            manifest["contracts"] = check_contracts(recipe.contracts, base, grown, bus)
        current = "export"
        with phase(bus, "export", str(run.path)):
            manifest["exports"] = export_artifacts(
                model, tokenizer, run, recipe.export, manifest, bus
            )
            manifest["added_tokens"] = new_tokens
            manifest.update(status="completed", duration_s=time.perf_counter() - started)
            write_model_card(run, manifest)
            run.write_manifest(manifest)
            manifest["export_hooks"] = run_export_hooks(catalog, run, manifest)
            run.write_manifest(manifest)
        bus.emit(
            RunFinished(
                status="completed", artifact_dir=str(run.path), duration_s=manifest["duration_s"]
            )
        )
    except BaseException as exc:
        failed_phase = exc.phase if isinstance(exc, PhaseFailed) else current
        error = exc.error if isinstance(exc, PhaseFailed) else exc
        manifest.update(
            status="failed", failed_phase=failed_phase, error=f"{type(error).__name__}: {error}"
        )
        run.write_manifest(manifest)
        if manifest.get("metrics") or manifest["train"].get("losses"):
            write_plots(run, manifest)  # what was measured stays inspectable
        bus.emit(RunFailed(phase=failed_phase, error=manifest["error"]))
        raise
    finally:
        bus.close()
    return RunOutcome(run, manifest)


def _grow(
    model: Any, plan: RunPlan, catalog: Catalog, total_steps: int
) -> tuple[Any, list[Any], TrainingNeeds]:
    context = GrowthContext(
        total_steps=total_steps,
        train_tokens=plan.train_tokens,
        memory_gib=max((g.memory_gib for g in plan.hardware.gpus), default=plan.hardware.ram_gib),
        has_cuda=plan.hardware.has_cuda,
    )
    reports = []
    for step in plan.growth:
        entry = catalog.growth.get(step.strategy)
        model, report = entry.impl(model, entry.options.model_validate(step.options), context)
        reports.append(report)
    return model, reports, context.needs


def _start_manifest(recipe: Recipe, plan: RunPlan, run: RunFolder) -> dict[str, Any]:
    import peft
    import torch
    import transformers

    return {
        "run_id": run.run_id,
        "recipe_name": recipe.name,
        "status": "running",
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "base_model": {
            "source": recipe.model.source,
            "name": plan.model.name,
            "path": plan.model.path,
            "architecture": plan.model.architecture,
        },
        "plan": plan.model_dump(mode="json"),
        "context": plan.context.model_dump(mode="json"),
        "train": {**recipe.train.model_dump(mode="json"), "seq_length": recipe.data.seq_length},
        "recipe": copy.deepcopy(recipe.model_dump(mode="json")),
        "versions": {
            "scaler_wizard": __version__,
            "python": platform.python_version(),
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "peft": peft.__version__,
        },
    }


def _flat(metrics: dict[str, Any]) -> dict[str, Any]:
    flat = {k: v for k, v in metrics.items() if not isinstance(v, dict)}
    flat.update({f"passkey@{k}": v for k, v in metrics.get("passkey", {}).items()})
    return flat
