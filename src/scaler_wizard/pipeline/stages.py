"""Progressive context stages: native → 2× → 4× ..., each a train-and-measure phase of one run.

Every stage is planned relative to the native context (factor = stage target / native, the way
published staged recipes do it), instantiated from the previous stage's merged weights with
that stage's RoPE parameters, grown afresh, trained at its own row length and measured at its
own target before the next stage begins. Earlier stages leave a merged model in
`stages/stage-N/` that a user can go back to; the last stage's model continues into the run's
usual evaluate → contracts → export steps.

Under a launcher every process instantiates, grows, prepares and trains each stage; rank 0
alone measures a finished stage and saves its merged weights, which the others then load.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from scaler_wizard.artifacts.run_folder import RunFolder
from scaler_wizard.context import apply_context_plan
from scaler_wizard.data import PreparedData, prepare_data
from scaler_wizard.models.hf_compat import write_rope
from scaler_wizard.models.loader import load_config, load_model
from scaler_wizard.models.tokenizer_prep import fit_embeddings
from scaler_wizard.pipeline.breaker_gate import train_through_breaker_gate
from scaler_wizard.pipeline.export import merge_model
from scaler_wizard.pipeline.launch import Launch
from scaler_wizard.pipeline.manifest import flat_metrics
from scaler_wizard.pipeline.phases import phase
from scaler_wizard.pipeline.plan import RunPlan, StagePlan
from scaler_wizard.recipe import Recipe
from scaler_wizard.telemetry.bus import EventBus
from scaler_wizard.train import TrainResult, train_model

Grow = Callable[[Any], tuple[Any, list[Any], Any]]
Measure = Callable[[Any, PreparedData, int, str], dict[str, Any]]


def run_stages(
    tokenizer: Any,
    recipe: Recipe,
    plan: RunPlan,
    run: RunFolder,
    bus: EventBus,
    grow: Grow,
    measure: Measure,
    manifest: dict[str, Any],
    transforms: Any = None,
    gate: Callable[[str], None] | None = None,
    launch: Launch | None = None,
) -> tuple[Any, list[Any], TrainResult, PreparedData]:
    """Run every stage; returns the last stage's grown model, reports, training and data.

    `gate(point)` waits for approval at the points `recipe.gates.approve_before` names;
    `launch` places this process in a multi-process run."""
    launch = launch or Launch()
    weights = Path(plan.model.path)
    manifest["stages"] = []
    for stage in plan.stages:
        last = stage.index == len(plan.stages) - 1
        label = f"stage {stage.index + 1}/{len(plan.stages)}"
        if gate is not None and stage.index > 0 and "stage" in recipe.gates.approve_before:
            with phase(bus, "gate", f"approval before {label}"):
                gate(f"stage-{stage.index + 1}")
        model = _instantiate(weights, stage, plan, recipe, tokenizer, bus, label)
        with phase(bus, "grow", label):
            model, reports, needs = grow(model)
        with phase(bus, "data", f"{label}: rows of {stage.seq_length} tokens"):
            spec = recipe.data.model_copy(update={"seq_length": stage.seq_length})
            data = prepare_data(spec, tokenizer, transforms=transforms, progress=launch.progress)
            launch.check_rows(data.train_rows, "training data")  # launch: the same rows everywhere
        with phase(bus, "train", f"{label}: {stage.steps} steps") as summary:
            train_spec = recipe.train.model_copy(
                update={"steps": stage.steps, "learning_rate": stage.learning_rate}
            )
            folder = run.checkpoints / f"stage-{stage.index + 1}"
            result = train_through_breaker_gate(
                partial(
                    train_model,
                    model,
                    data.train_rows,
                    train_spec,
                    bus,
                    folder,
                    needs,
                    safety=recipe.safety,
                ),
                None,
                gated=gate is not None and "breaker" in recipe.gates.approve_before,
                gate=gate or (lambda point: None),
            )
            summary.update(final_loss=result.losses[-1][1], tokens_per_s=result.tokens_per_s)
        record: dict[str, Any] = {
            "index": stage.index,
            "target_length": stage.context.target_length,
            "engine": stage.context.engine,
            "factor": stage.context.factor,
            "steps": stage.steps,
            "seq_length": stage.seq_length,
            "losses": result.losses,
        }
        if not last:
            # launch: rank 0 measures and saves the stage; the others load what it saved.
            record["metrics"], weights = launch.on_main(
                partial(_measure_and_save, model, tokenizer, data, stage, run, bus, measure, label)
            )
            record["model"] = str(weights)
        manifest["stages"].append(record)
        run.write_manifest(manifest)
    return model, reports, result, data


def _instantiate(
    weights: Path,
    stage: StagePlan,
    plan: RunPlan,
    recipe: Recipe,
    tokenizer: Any,
    bus: EventBus,
    label: str,
) -> Any:
    context = stage.context
    with phase(bus, "context", f"{label}: {context.engine} ×{context.factor:g}") as summary:
        # Shapes (and any added vocabulary) come from the weights being loaded; RoPE goes back
        # to the native parameters that every stage's plan is relative to.
        config = load_config(weights)
        if context.rope_before is not None:
            write_rope(config, dict(context.rope_before), replace=True)
        if context.max_position_embeddings_before is not None:
            config.max_position_embeddings = context.max_position_embeddings_before
        apply_context_plan(config, context)
        model = load_model(weights, config, plan.runtime.dtype, plan.runtime.attn_implementation)
        fit_embeddings(model, tokenizer)
        summary["max_position_embeddings"] = model.config.max_position_embeddings
    return model


def _measure_and_save(
    model: Any,
    tokenizer: Any,
    data: PreparedData,
    stage: StagePlan,
    run: RunFolder,
    bus: EventBus,
    measure: Measure,
    label: str,
) -> tuple[dict[str, Any], Path]:
    """Measure a finished stage at its own target, then keep its merged weights."""
    with phase(bus, "evaluate", label) as summary:
        metrics = measure(model, data, stage.context.target_length, f"stage-{stage.index + 1}")
        summary.update(flat_metrics(metrics))
    return metrics, _save_stage(model, tokenizer, run, stage)


def _save_stage(model: Any, tokenizer: Any, run: RunFolder, stage: StagePlan) -> Path:
    """Merge this stage's growth into its weights and keep them: the next stage's starting point."""
    merged, _ = merge_model(model, tokenizer)
    target = run.path / "stages" / f"stage-{stage.index + 1}"
    staging = target.with_name(f".{target.name}.partial")
    shutil.rmtree(staging, ignore_errors=True)
    merged.save_pretrained(staging)
    tokenizer.save_pretrained(staging)
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)
    return target
