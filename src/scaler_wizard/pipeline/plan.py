"""Step 1, the plan: validate against the catalog, probe hardware, resolve context and rank.

Everything here is cheap and runs before a run folder exists, so a bad recipe fails fast and
leaves nothing behind.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from scaler_wizard.catalog import Catalog
from scaler_wizard.context import ContextPlan, ContextPlanError, plan_context
from scaler_wizard.data import DataError
from scaler_wizard.data.sources import check_source
from scaler_wizard.data.transforms import validate_transforms
from scaler_wizard.growth import GrowthContext
from scaler_wizard.growth.preflight import meta_model, preflight_growth
from scaler_wizard.hardware.memory import estimate_eval_memory_gib
from scaler_wizard.hardware.probe import HardwareProfile, probe_hardware
from scaler_wizard.models.hf_compat import native_context, read_rope
from scaler_wizard.models.loader import load_config
from scaler_wizard.models.runtime import ModelRuntime, resolve_runtime
from scaler_wizard.models.source import resolve_model_source
from scaler_wizard.paths import workspace_home
from scaler_wizard.pipeline.profile import TrainingFit, check_training_memory
from scaler_wizard.recipe import Recipe, RecipeError
from scaler_wizard.recipe.errors import Problem
from scaler_wizard.recipe.loader import format_validation_error
from scaler_wizard.recipe.spec import ContextSpec
from scaler_wizard.registry import UnknownEntryError


class ModelFacts(BaseModel):
    """Read from the model's own config, never assumed."""

    name: str
    kind: str
    path: str
    architecture: str
    layers: int
    hidden_size: int
    vocab_size: int
    native_length: int
    rope: dict[str, Any] | None
    sliding_window: int | None


class GrowthStepPlan(BaseModel):
    strategy: str
    options: dict[str, Any]
    reason: str | None = None


class RunPlan(BaseModel):
    recipe_name: str
    hardware: HardwareProfile
    model: ModelFacts
    context: ContextPlan
    growth: list[GrowthStepPlan]
    train_tokens: int
    data_train: str
    stages: list[StagePlan] = []
    eval_memory_gib: float = 0.0
    training: TrainingFit | None = None
    runtime: ModelRuntime = ModelRuntime()


# Adapter strategies that merge back into same-shaped weights, so each stage can start afresh.
STAGE_STRATEGIES = frozenset({"lora", "adalora", "ia3"})


class StagePlan(BaseModel):
    """One progressive context stage, planned relative to the native context."""

    index: int
    context: ContextPlan
    steps: int
    seq_length: int
    learning_rate: float


def plan_stages(config: Any, recipe: Recipe, catalog: Catalog) -> list[StagePlan]:
    """Each stage's context plan; stage targets must grow, and each must be a real extension."""
    spec = recipe.context
    stages: list[StagePlan] = []
    structural = [s.strategy for s in recipe.growth if s.strategy not in STAGE_STRATEGIES]
    if spec.stages and structural:
        raise RecipeError(
            [
                Problem(
                    "context.stages",
                    f"stages retrain and merge an adapter per stage; {structural} would be applied "
                    f"again at every stage. With stages use {sorted(STAGE_STRATEGIES)}.",
                )
            ]
        )
    for index, stage in enumerate(spec.stages):
        stage_spec = ContextSpec(
            engine=spec.engine,
            target_length=stage.target_length,
            scale=stage.scale,
            options=spec.options,
        )
        context = _plan_context(config, stage_spec, catalog, f"context.stages[{index}]")
        if stages and context.target_length <= stages[-1].context.target_length:
            raise RecipeError(
                [
                    Problem(
                        f"context.stages[{index}]",
                        f"stage target {context.target_length} must exceed the previous stage's "
                        f"{stages[-1].context.target_length}",
                    )
                ]
            )
        stages.append(
            StagePlan(
                index=index,
                context=context,
                steps=stage.steps,
                seq_length=stage.seq_length or recipe.data.seq_length,
                learning_rate=stage.learning_rate or recipe.train.learning_rate,
            )
        )
    return stages


def _plan_context(
    config: Any, spec: ContextSpec, catalog: Catalog, where: str = "context"
) -> ContextPlan:
    try:
        return plan_context(config, spec, will_train=True, registry=catalog.context)
    except UnknownEntryError as exc:
        raise RecipeError([Problem("context.engine", str(exc))]) from None
    except ContextPlanError as exc:
        path = (exc.path or "context").replace("context", where, 1)
        raise RecipeError([Problem(path, str(exc))]) from None


def make_plan(recipe: Recipe, catalog: Catalog) -> RunPlan:
    options = validate_growth(recipe, catalog)
    data_train = check_data_files(recipe, catalog)
    hardware = probe_hardware(workspace_home())
    source = resolve_model_source(recipe.model)
    config = load_config(source.path)
    facts = ModelFacts(
        name=source.name,
        kind=source.kind,
        path=str(source.path),
        architecture=(config.architectures or [config.model_type])[0],
        layers=config.num_hidden_layers,
        hidden_size=config.hidden_size,
        vocab_size=config.vocab_size,
        native_length=native_context(config),
        rope=read_rope(config),
        sliding_window=getattr(config, "sliding_window", None),
    )
    stages = plan_stages(config, recipe, catalog)
    context = stages[-1].context if stages else _plan_context(config, recipe.context, catalog)
    runtime = resolve_runtime(recipe.model)
    eval_memory_gib = check_eval_memory(
        config, recipe, context.target_length, hardware, runtime.dtype
    )
    training = check_training_memory(config, recipe, hardware, runtime.dtype)
    t = recipe.train
    rows = t.batch_size * t.grad_accum_steps
    train_tokens = (
        sum(stage.steps * rows * stage.seq_length for stage in stages)
        if stages
        else t.steps * rows * recipe.data.seq_length
    )
    growth_context = GrowthContext(
        train_tokens=train_tokens,
        memory_gib=max((g.memory_gib for g in hardware.gpus), default=hardware.ram_gib),
        has_cuda=hardware.has_cuda,
        total_steps=sum(stage.steps for stage in stages) if stages else t.steps,
    )
    steps = [(step.strategy, opts) for step, opts in zip(recipe.growth, options, strict=True)]
    meta = meta_model(config)
    preflight_growth(meta, steps, growth_context)
    growth = [
        _resolve_step(step.strategy, opts, growth_context, meta)
        for step, opts in zip(recipe.growth, options, strict=True)
    ]
    return RunPlan(
        recipe_name=recipe.name,
        hardware=hardware,
        model=facts,
        context=context,
        growth=growth,
        train_tokens=train_tokens,
        data_train=data_train,
        stages=stages,
        eval_memory_gib=eval_memory_gib,
        training=training,
        runtime=runtime,
    )


def check_eval_memory(
    config: Any, recipe: Recipe, target: int, hardware: HardwareProfile, dtype: str
) -> float:
    """The memory the longest evaluation needs; refuse a plan this machine cannot evaluate."""
    evaluate = recipe.evaluate
    lengths = [target]
    if evaluate.passkey is not None and evaluate.passkey.lengths:
        lengths += evaluate.passkey.lengths
    if evaluate.needle is not None and evaluate.needle.lengths:
        lengths += evaluate.needle.lengths
    if evaluate.long_ppl is not None and evaluate.long_ppl.max_length:
        lengths.append(evaluate.long_ppl.max_length)
    longest = max(lengths)
    needed = estimate_eval_memory_gib(config, longest, dtype)
    gpu = max((g.memory_gib for g in hardware.gpus), default=0.0)
    available, where = (gpu, "GPU memory") if gpu else (hardware.ram_gib, "RAM")
    if needed > available:
        path = "context.target_length" if longest == target else "evaluate"
        raise RecipeError(
            [
                Problem(
                    path,
                    f"evaluating at {longest:,} tokens needs about {needed:.1f} GiB, but this "
                    f"machine has {available:.1f} GiB of {where}; lower the target or evaluate "
                    "on a bigger machine",
                )
            ]
        )
    return round(needed, 2)


def validate_growth(recipe: Recipe, catalog: Catalog) -> list[BaseModel]:
    """Each growth step's options, validated by its strategy's model; errors name the path."""
    problems: list[Problem] = []
    validated: list[BaseModel] = []
    if not recipe.growth:
        problems.append(Problem("growth", f"list at least one strategy: {catalog.growth.names()}"))
    for i, step in enumerate(recipe.growth):
        try:
            entry = catalog.growth.get(step.strategy)
            validated.append(entry.options.model_validate(step.options))
        except UnknownEntryError as exc:
            problems.append(Problem(f"growth[{i}].strategy", str(exc)))
        except ValidationError as exc:
            problems.extend(format_validation_error(exc, entry.options, f"growth[{i}].options"))
    if recipe.train.gradient_checkpointing and any(s.strategy == "prefix" for s in recipe.growth):
        problems.append(
            Problem(
                "train.gradient_checkpointing",
                "prefix tuning needs it off: checkpointed layers drop the prefix cache, so the "
                "prefix would get no gradient",
            )
        )
    if recipe.train.micro_batch_tokens is not None and any(
        s.strategy == "prefix" for s in recipe.growth
    ):
        problems.append(
            Problem(
                "train.micro_batch_tokens",
                "prefix tuning needs one example per row, and token-budget passes share rows "
                "between examples; leave it unset",
            )
        )
    if problems:
        raise RecipeError(problems)
    return validated


def check_data_files(recipe: Recipe, catalog: Catalog) -> str:
    """Sources exist and are readable kinds, and transforms are known with valid options."""
    problems = []
    resolved = {}
    named = [
        (f"data.sources[{i}].path" if recipe.data.sources else "data.train", s.path)
        for i, s in enumerate(recipe.data.train_sources())
    ]
    for field, value in [*named, ("data.eval", recipe.data.eval)]:
        if value is None:
            continue
        try:
            source = value if value.startswith("hf:") else str(Path(value).expanduser())
            resolved[field] = check_source(source, field)
        except DataError as exc:
            problems.append(Problem(exc.field or field, exc.message))
    try:
        validate_transforms(recipe.data.transforms, catalog.transforms)
    except DataError as exc:
        problems.append(Problem(exc.field or "data.transforms", exc.message))
    if problems:
        raise RecipeError(problems)
    return ", ".join(resolved[field] for field, _ in named)


def _resolve_step(
    strategy: str, options: BaseModel, context: GrowthContext, model: Any
) -> GrowthStepPlan:
    resolver = getattr(options, "resolved", None)
    reason = None
    if resolver is not None:
        options, reason = resolver(context, model)
    return GrowthStepPlan(strategy=strategy, options=options.model_dump(), reason=reason)
