"""The story of one run, on one screen: plan → load → data → evaluate base → extend context →
grow → train → evaluate grown → contracts → export. Each step is one call and emits events.

A paused or interrupted run resumes from its latest checkpoint: the same recipe, the same data,
the same growth, and training continues where the checkpoint left it.

Under a launcher (`torchrun`, `accelerate launch`) the same story runs in every process, and
`launch.py` says who does what: rank 0 alone plans, writes the run folder, evaluates, checks,
waits at gates and exports (`launch.on_main`, the others wait); every process loads, prepares
the data, grows and trains its share. The sync points are marked "# launch:" below.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from scaler_wizard.alerts.build import build_alert_sink
from scaler_wizard.artifacts.run_folder import RunFolder, create_run_folder, find_run
from scaler_wizard.catalog import Catalog, build_catalog
from scaler_wizard.context import apply_context_plan
from scaler_wizard.data import PreparedData, prepare_data, write_data_report
from scaler_wizard.growth import GrowthContext, TrainingNeeds
from scaler_wizard.growth.base import GrowthError
from scaler_wizard.models.loader import load_config, load_model
from scaler_wizard.models.tokenizer_prep import fit_embeddings, load_tokenizer
from scaler_wizard.pipeline.breaker_gate import train_through_breaker_gate
from scaler_wizard.pipeline.evaluation import check_contracts, measure
from scaler_wizard.pipeline.export import (
    export_artifacts,
    run_export_hooks,
    write_model_card,
    write_plots,
)
from scaler_wizard.pipeline.gates import ApprovalDenied, await_approval
from scaler_wizard.pipeline.launch import Launch
from scaler_wizard.pipeline.manifest import flat_metrics, start_manifest, training_launch
from scaler_wizard.pipeline.phases import PhaseFailed, phase
from scaler_wizard.pipeline.plan import RunPlan, make_plan
from scaler_wizard.pipeline.stages import run_stages
from scaler_wizard.recipe import Recipe, RecipeError, load_recipe
from scaler_wizard.recipe.errors import Problem
from scaler_wizard.recipe.spec import PluginSinkSpec, TrainSpec
from scaler_wizard.telemetry.bus import EventBus, Sink
from scaler_wizard.telemetry.console_sink import ConsoleSink
from scaler_wizard.telemetry.events import (
    RunFailed,
    RunFinished,
    RunPaused,
    RunStarted,
    SinkDegraded,
)
from scaler_wizard.telemetry.jsonl_sink import JsonlSink, repair_event_log
from scaler_wizard.telemetry.queued_sink import QueuedSink
from scaler_wizard.telemetry.sink import SinkContext, describe
from scaler_wizard.train import TrainResult, train_model
from scaler_wizard.train.checkpoint import latest_checkpoint
from scaler_wizard.train.loop import TrainingAborted, TrainingPaused

__all__ = [
    "Launch",
    "PhaseFailed",
    "ResumeError",
    "RunOutcome",
    "make_plan",
    "resume_pipeline",
    "run_pipeline",
]


class ResumeError(ValueError):
    """A run that cannot be resumed; the message says why."""


@dataclass(frozen=True)
class RunOutcome:
    run: RunFolder
    manifest: dict[str, Any]

    @property
    def status(self) -> str:
        return str(self.manifest.get("status"))


def run_pipeline(
    recipe: Recipe,
    *,
    console: bool = True,
    catalog: Catalog | None = None,
    extra_sinks: list[Sink] | None = None,
    launch: Launch | None = None,
) -> RunOutcome:
    """Run `recipe` end to end; `launch` places this process in a multi-process run."""
    launch = launch or Launch()
    catalog = catalog or build_catalog()

    def start() -> tuple[RunPlan, RunFolder, dict[str, Any]]:
        plan = make_plan(recipe, catalog)  # fails before anything is written
        run = create_run_folder(recipe.name, recipe.model_dump(mode="json"))
        manifest = start_manifest(recipe, plan, run)
        run.write_manifest(manifest)
        return plan, run, manifest

    # launch: rank 0 plans and creates the run folder; the others learn the plan and the folder.
    plan, run, manifest = launch.on_main(start)
    if launch.is_main:
        bus = _bus(run, console, first_seq=0, extra=extra_sinks, recipe=recipe, catalog=catalog)
    else:
        run, bus = _silent(run)
    bus.emit(RunStarted(recipe_name=recipe.name, run_dir=str(run.path)))
    return _execute(recipe, plan, run, manifest, bus, catalog, None, launch)


def resume_pipeline(
    run_id: str,
    *,
    console: bool = True,
    catalog: Catalog | None = None,
    extra_sinks: list[Sink] | None = None,
    launch: Launch | None = None,
) -> RunOutcome:
    """Continue a paused, failed, killed or rolled-back run from its latest checkpoint."""
    launch = launch or Launch()

    def find() -> tuple[RunFolder, dict[str, Any], Path, Recipe]:
        run = find_run(run_id)
        manifest = run.read_manifest()
        if manifest.get("status") == "completed":
            raise ResumeError(f"run {run.run_id} is already completed; nothing to resume")
        checkpoint = latest_checkpoint(run.checkpoints)
        if checkpoint is None:
            raise ResumeError(f"run {run.run_id} has no checkpoint yet; start it again with `grow`")
        if manifest.get("plan", {}).get("stages"):
            raise ResumeError(
                f"run {run.run_id} grows its context in stages, which cannot resume yet"
            )
        if "base" not in manifest.get("metrics", {}):
            raise ResumeError(f"run {run.run_id} has no base measurements; start it again")
        trained_on = int(manifest.get("train", {}).get("processes", launch.world))
        if trained_on != launch.world:
            # The global batch and every process's share of the batch order follow the
            # process count: another count would not continue the same training.
            how = (
                f"torchrun --nproc_per_node {trained_on} -m scaler_wizard.cli grow --resume "
                f"{run.run_id}"
                if trained_on > 1
                else f"scaler-wizard grow --resume {run.run_id} (one process)"
            )
            raise ResumeError(
                f"run {run.run_id} trained on {trained_on} process(es), this launch has "
                f"{launch.world}; resume it as it ran: {how}"
            )
        return run, manifest, checkpoint, load_recipe(run.path / "recipe.yaml")

    # launch: rank 0 finds the run and its checkpoint; every process resumes from that one.
    run, manifest, checkpoint, recipe = launch.on_main(find)
    catalog = catalog or build_catalog()
    plan = launch.on_main(lambda: make_plan(recipe, catalog))
    if launch.is_main:
        # A kill during a write can leave half a line: drop it, and continue the sequence.
        next_seq, segment = repair_event_log(run.events)
        bus = _bus(
            run,
            console,
            next_seq,
            extra=extra_sinks,
            recipe=recipe,
            catalog=catalog,
            segment=segment,
        )
    else:
        run, bus = _silent(run)
    manifest.update(status="running", resumed_from=checkpoint.name)
    manifest.pop("error", None)
    manifest.pop("failed_phase", None)
    run.write_manifest(manifest)
    bus.emit(RunStarted(recipe_name=recipe.name, run_dir=str(run.path)))
    return _execute(recipe, plan, run, manifest, bus, catalog, checkpoint, launch)


def _silent(run: RunFolder) -> tuple[RunFolder, EventBus]:
    """What a process other than rank 0 sees: rank 0's folder read-only, and a bus that
    reaches no sink (rank 0 writes the event log; alerts and telemetry sinks are its own)."""
    if not run.path.is_dir():
        raise FileNotFoundError(
            f"this process cannot see the run folder {run.path}: every process of a run must "
            "share the workspace (one machine, or the same SCALER_WIZARD_HOME on a shared "
            "filesystem), since each one reads the checkpoints it resumes or rolls back to"
        )
    return run.view(), EventBus(run.run_id, [])


def _execute(
    recipe: Recipe,
    plan: RunPlan,
    run: RunFolder,
    manifest: dict[str, Any],
    bus: EventBus,
    catalog: Catalog,
    checkpoint: Path | None,
    launch: Launch,
) -> RunOutcome:
    started = time.perf_counter()
    model_path = Path(plan.model.path)
    current = "load"
    try:
        with phase(bus, "load", plan.model.name):
            tokenizer, new_tokens = load_tokenizer(model_path, recipe.model.tokenizer)
            runtime = plan.runtime
            config = load_config(model_path)
            model = load_model(model_path, config, runtime.dtype, runtime.attn_implementation)
            fit_embeddings(model, tokenizer)
        current = "data"
        with phase(bus, "data", plan.data_train) as summary:
            data = prepare_data(
                recipe.data,
                tokenizer,
                transforms=catalog.transforms,
                model=model,
                progress=launch.progress,
            )
            # launch: every process prepared the data itself; the rows must be the same.
            launch.check_rows(data.train_rows, "training data")
            summary.update(data.stats.to_dict())
            manifest["data"] = {
                "train": plan.data_train,
                "format": data.stats.format,
                "fingerprint": data.fingerprint,
                "stats": data.stats.to_dict(),
            }
            if data.report is not None and launch.is_main:  # records in/out per transform...
                write_data_report(data.report, run.path / "data")
                manifest["data"]["report"] = "data/data_report.md"
        evaluate = _measurer(tokenizer, data.eval_rows, recipe, plan, bus, run.path / "eval")
        current = "evaluate"
        if checkpoint is None:
            with phase(bus, "evaluate", "base model") as summary:
                # launch: rank 0 measures; the others wait for the numbers.
                manifest["metrics"] = {"base": launch.on_main(lambda: evaluate(model, "base"))}
                summary.update(flat_metrics(manifest["metrics"]["base"]))
                run.write_manifest(manifest)  # a resumed run reuses these
        base = manifest["metrics"]["base"]
        current = "train"
        # Written with the next manifest (paused, failed or completed); a resume records its own.
        manifest["train"].update(training_launch(recipe.train, launch.world))
        if plan.stages:
            model, reports, result, _ = run_stages(
                tokenizer,
                recipe,
                plan,
                run,
                bus,
                grow=lambda m: _grow(m, plan, catalog, recipe.train, tokenizer),
                measure=lambda m, rows, target, label: evaluate(m, label, target),
                manifest=manifest,
                transforms=catalog.transforms,
                # launch: rank 0 waits for the person; the others wait for rank 0.
                gate=lambda point: launch.on_main(
                    lambda: await_approval(run, manifest, bus, point, recipe.gates)
                ),
                launch=launch,
            )
        else:
            model, reports, result, evaluate = _grow_and_train(
                model,
                tokenizer,
                data,
                recipe,
                plan,
                run,
                bus,
                catalog,
                manifest,
                checkpoint,
                evaluate,
                launch,
            )
        manifest["growth"] = [
            {**r.model_dump(), "options": step.options}
            for r, step in zip(reports, plan.growth, strict=True)
        ]
        manifest["train"].update(
            duration_s=result.duration_s, losses=result.losses, tokens_per_s=result.tokens_per_s
        )
        if result.final_reports:
            manifest["growth_after_training"] = result.final_reports

        def evaluate_and_export() -> dict[str, Any]:
            nonlocal current
            current = "evaluate"
            with phase(bus, "evaluate", "grown model") as summary:
                grown = evaluate(model, "grown")
                manifest["metrics"] = {"base": base, "grown": grown}
                summary.update(flat_metrics(grown))
            current = "contracts"
            with phase(bus, "contracts"):
                manifest["contracts"] = check_contracts(recipe.contracts, base, grown, bus)
            if "export" in recipe.gates.approve_before:
                current = "gate"
                with phase(bus, "gate", "approval before export"):
                    await_approval(run, manifest, bus, "export", recipe.gates)
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
                    status="completed",
                    artifact_dir=str(run.path),
                    duration_s=manifest["duration_s"],
                )
            )
            return manifest

        # launch: evaluation, contracts, the export gate and the export are rank 0's; the
        # others wait for its final manifest (or its failure).
        manifest = launch.on_main(evaluate_and_export)
    except PhaseFailed as exc:
        if isinstance(exc.error, TrainingPaused):
            manifest.update(
                status="paused", paused_at_step=exc.error.step, paused_because=exc.error.reason
            )
            run.write_manifest(manifest)
            bus.emit(RunPaused(step=exc.error.step, checkpoint=str(exc.error.checkpoint)))
            return RunOutcome(run, manifest)
        stopped = isinstance(exc.error, TrainingAborted | ApprovalDenied)
        status = "aborted" if stopped else "failed"
        _record_failure(run, manifest, bus, exc.phase, exc.error, status)
        raise
    except BaseException as exc:
        _record_failure(run, manifest, bus, current, exc)
        raise
    finally:
        bus.close()
    return RunOutcome(run, manifest)


def _bus(
    run: RunFolder,
    console: bool,
    first_seq: int,
    extra: list[Sink] | None = None,
    *,
    recipe: Recipe,
    catalog: Catalog,
    segment: int = 0,
) -> EventBus:
    """JSONL first (the source of truth), the console, a host's `extra` sinks, then the
    recipe's `telemetry.sinks`, each on its own thread behind a queue so that none can slow
    training. A sink that cannot be built (missing package, unset token) is reported, not fatal.
    """
    telemetry = recipe.telemetry
    # `extra` lets a host (e.g. an integration) observe the run without the core knowing it.
    sinks: list[Sink] = [JsonlSink(run.events)] + ([ConsoleSink()] if console else [])
    sinks += extra or []
    context = SinkContext(run.run_id, run.path, recipe.model_dump(mode="json"))
    queued, failures = _recipe_sinks(recipe, catalog, context)
    sinks += queued
    bus = EventBus(
        run.run_id,
        sinks,
        first_seq=first_seq,
        report_every_s=telemetry.report_every_s,
        drain_timeout_s=telemetry.drain_timeout_s,
    )
    bus.segment = segment
    # First, so that its closing "run ended" clear still reaches the JSONL log.
    alerts = recipe.alerts if console else recipe.alerts.model_copy(update={"console": False})
    bus.sinks.insert(0, build_alert_sink(alerts, bus.emit, run_dir=run.path))
    for failure in failures:
        bus.emit(failure)
    return bus


def _recipe_sinks(
    recipe: Recipe, catalog: Catalog, context: SinkContext
) -> tuple[list[Sink], list[SinkDegraded]]:
    """The recipe's sinks, each behind a queue, and a report for each one that failed to build."""
    telemetry = recipe.telemetry
    kinds = Counter(spec.kind for spec in telemetry.sinks)
    sinks: list[Sink] = []
    failures: list[SinkDegraded] = []
    for index, spec in enumerate(telemetry.sinks, start=1):
        name = spec.kind if kinds[spec.kind] == 1 else f"{spec.kind}-{index}"
        try:
            entry = catalog.sinks.get(spec.kind)
            if isinstance(spec, PluginSinkSpec):  # a plugin's options model checks its options
                options: Any = entry.options.model_validate(spec.options)
            else:
                options = spec
            sink = entry.impl(options, context)
        except Exception as exc:
            failures.append(SinkDegraded(sink=name, errors=1, dropped=0, last_error=describe(exc)))
            continue
        sinks.append(
            QueuedSink(
                sink,
                name=name,
                max_queue=telemetry.queue_size,
                close_timeout_s=telemetry.drain_timeout_s,
            )
        )
    return sinks, failures


def _grow_and_train(
    model: Any,
    tokenizer: Any,
    data: PreparedData,
    recipe: Recipe,
    plan: RunPlan,
    run: RunFolder,
    bus: EventBus,
    catalog: Catalog,
    manifest: dict[str, Any],
    checkpoint: Path | None,
    evaluate: Any,
    launch: Launch,
) -> tuple[Any, list[Any], TrainResult, Any]:
    """Extend the context (config first, then weights), grow, and train: one stage."""
    with phase(bus, "context", f"{plan.context.engine} ×{plan.context.factor:g}") as summary:
        if plan.context.changes_config:
            model_path = Path(plan.model.path)
            config = load_config(model_path)
            apply_context_plan(config, plan.context)  # before instantiation: HF does the math
            model = load_model(
                model_path, config, plan.runtime.dtype, plan.runtime.attn_implementation
            )
            fit_embeddings(model, tokenizer)
        summary["max_position_embeddings"] = model.config.max_position_embeddings
    with phase(bus, "grow") as summary:
        vocabulary = len(tokenizer)
        model, reports, needs = _grow(model, plan, catalog, recipe.train, tokenizer)
        # e.g. prefix tuning: every token must see the prefix, which packed rows forbid
        unpack = needs.unpacked_rows and recipe.data.packing
        if len(tokenizer) != vocabulary or unpack:  # new tokens to train on, or new rows
            spec = recipe.data.model_copy(update={"packing": False}) if unpack else recipe.data
            data = prepare_data(
                spec, tokenizer, transforms=catalog.transforms, progress=launch.progress
            )
            launch.check_rows(data.train_rows, "training data")  # launch: as in the data phase
            manifest["data"]["fingerprint"] = data.fingerprint
        if unpack:
            manifest["data"].update(packing=False, stats=data.stats.to_dict())
            # Same examples, one per row: the base's packed loss is the same quantity.
            evaluate = _measurer(tokenizer, data.eval_rows, recipe, plan, bus, run.path / "eval")
        summary["trainable"] = reports[-1].trainable
    with phase(bus, "train", f"{recipe.train.steps} steps") as summary:
        teacher = _teacher(recipe, plan, tokenizer)
        result = train_through_breaker_gate(
            partial(
                train_model,
                model,
                data.train_rows,
                recipe.train,
                bus,
                run.checkpoints,
                needs,
                safety=recipe.safety,
                teacher=teacher,
            ),
            checkpoint,
            gated="breaker" in recipe.gates.approve_before,
            # launch: rank 0 waits for the person; the others wait for rank 0.
            gate=lambda point: launch.on_main(
                lambda: await_approval(run, manifest, bus, point, recipe.gates)
            ),
        )
        del teacher  # a whole model: gone before the grown model is evaluated and exported
        summary.update(tokens_per_s=result.tokens_per_s, final_loss=result.losses[-1][1])
        if recipe.train.distill is not None:
            summary["final_distill_loss"] = result.distill_losses[-1][1]
            manifest["train"]["distill"] = {
                **recipe.train.distill.model_dump(mode="json"),
                "losses": result.distill_losses,
            }
    return model, reports, result, evaluate


def _teacher(recipe: Recipe, plan: RunPlan, tokenizer: Any) -> Any:
    """The frozen distillation teacher, or None; 'base' gets the run's context settings, so
    teacher and student read positions alike."""
    if recipe.train.distill is None:
        return None
    from scaler_wizard.train.distill import load_teacher

    model_path = Path(plan.model.path)
    config = load_config(model_path)
    if plan.context.changes_config:
        apply_context_plan(config, plan.context)
    return load_teacher(recipe.train.distill, model_path, config, plan.runtime, tokenizer)


def _measurer(
    tokenizer: Any, rows: Any, recipe: Recipe, plan: RunPlan, bus: EventBus, out_dir: Path
) -> Any:
    def evaluate(current: Any, which: str, target: int | None = None) -> dict[str, Any]:
        return measure(
            current,
            tokenizer,
            rows,
            recipe.evaluate,
            target or plan.context.target_length,
            which,
            bus,
            recipe.train.batch_size,
            recipe.train.seed,
            out_dir,
        )

    return evaluate


def _record_failure(
    run: RunFolder,
    manifest: dict[str, Any],
    bus: EventBus,
    phase_name: str,
    error: BaseException,
    status: str = "failed",
) -> None:
    if run.read_only:  # another process of a launch: rank 0 records the failure
        return
    manifest.update(
        status=status, failed_phase=phase_name, error=f"{type(error).__name__}: {error}"
    )
    run.write_manifest(manifest)
    if manifest.get("metrics") or manifest["train"].get("losses"):
        write_plots(run, manifest)  # what was measured stays inspectable
    bus.emit(RunFailed(phase=phase_name, error=manifest["error"]))


def _grow(
    model: Any, plan: RunPlan, catalog: Catalog, train: TrainSpec, tokenizer: Any
) -> tuple[Any, list[Any], TrainingNeeds]:
    import torch

    torch.manual_seed(train.seed)  # adapter initialisation is part of the run's reproducibility
    context = GrowthContext(
        total_steps=train.steps,
        train_tokens=plan.train_tokens,
        memory_gib=max((g.memory_gib for g in plan.hardware.gpus), default=plan.hardware.ram_gib),
        has_cuda=plan.hardware.has_cuda,
        tokenizer=tokenizer,
    )
    reports = []
    for index, step in enumerate(plan.growth):
        entry = catalog.growth.get(step.strategy)
        try:
            model, report = entry.impl(model, entry.options.model_validate(step.options), context)
        except GrowthError as exc:
            raise RecipeError([Problem(exc.path_for(index), exc.message)]) from None
        reports.append(report)
    return model, reports, context.needs
