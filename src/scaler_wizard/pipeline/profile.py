"""Training memory for a recipe on this machine, and the settings recommended for it.

`scaler-wizard profile` shows it; `plan` embeds it and refuses a recipe whose training would
not fit at all, naming the settings that would.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from scaler_wizard.hardware.probe import HardwareProfile, probe_hardware
from scaler_wizard.hardware.recommend import (
    Goal,
    NothingFits,
    Recommendation,
    TemplateChoice,
    choose_template,
    memory_budget,
    recommend,
)
from scaler_wizard.hardware.template_models import template_model_config
from scaler_wizard.hardware.training_memory import (
    TrainingMemory,
    TrainingShape,
    estimate_training_memory,
)
from scaler_wizard.models.gguf_convert import ModelSourceError
from scaler_wizard.models.hf_compat import native_context
from scaler_wizard.models.loader import load_config
from scaler_wizard.models.runtime import resolve_runtime
from scaler_wizard.models.source import resolve_model_source
from scaler_wizard.paths import workspace_home
from scaler_wizard.recipe import Recipe, RecipeError, load_recipe
from scaler_wizard.recipe.errors import Problem
from scaler_wizard.recipe.templates import template_path

RANKED_STRATEGIES = ("lora", "adalora")


class TrainingFit(BaseModel):
    """The recipe's own training shape against this machine's memory."""

    memory: TrainingMemory
    budget_gib: float
    recommendation: Recommendation
    notes: list[str]


class Profile(BaseModel):
    hardware: HardwareProfile
    template: TemplateChoice
    recipe_name: str
    fit: TrainingFit


def make_profile(recipe: Recipe | None, goal: Goal = "balanced") -> Profile:
    """Hardware, the persona template for `goal`, and settings for `recipe` (default: that
    template)."""
    hardware = probe_hardware(workspace_home())
    choice = choose_template(hardware, goal)
    recipe = recipe or load_recipe(template_path(choice.template))
    return Profile(
        hardware=hardware,
        template=choice,
        recipe_name=recipe.name,
        fit=check_training_memory(
            _model_config(recipe), recipe, hardware, resolve_runtime(recipe.model).dtype
        ),
    )


def check_training_memory(
    config: Any, recipe: Recipe, hardware: HardwareProfile, dtype: str
) -> TrainingFit:
    """Estimate the recipe's training peak; raise RecipeError when it cannot fit at all."""
    t = recipe.train
    seq = max([recipe.data.seq_length, *(s.seq_length or 0 for s in recipe.context.stages)])
    rank = recipe_rank(recipe)
    shape = TrainingShape(
        batch_size=t.batch_size,
        seq_length=seq,
        gradient_checkpointing=t.gradient_checkpointing,
        lora_rank=rank or 16,
        loss_chunk_tokens=t.loss_chunk_tokens,
        dtype=dtype,
    )
    memory = estimate_training_memory(config, shape)
    _, budget = memory_budget(hardware)
    try:
        advice = recommend(
            config,
            hardware,
            batch_size=t.batch_size,
            grad_accum_steps=t.grad_accum_steps,
            seq_length=seq,
            lora_rank=rank,
            native_context=native_context(config),
        )
    except NothingFits as exc:
        raise RecipeError([Problem("train", str(exc))]) from None
    physical = max((g.memory_gib for g in hardware.gpus), default=hardware.ram_gib)
    notes = [f"training peak about {memory.explain()}"]
    if memory.total_gib > physical:
        raise RecipeError(
            [
                Problem(
                    "train.batch_size",
                    f"training needs about {memory.total_gib:.1f} GiB but this machine has "
                    f"{physical:.1f} GiB; these settings fit: --set "
                    + " --set ".join(advice.overrides()),
                )
            ]
        )
    if memory.total_gib > budget:
        notes.append(
            f"above the {budget:.1f} GiB it is safe to use here (the rest is left to the "
            "system); `scaler-wizard profile` shows settings that fit"
        )
    return TrainingFit(memory=memory, budget_gib=budget, recommendation=advice, notes=notes)


def recipe_rank(recipe: Recipe) -> int | None:
    """The first adapter rank the recipe fixes (None for `auto` or no ranked adapter)."""
    for step in recipe.growth:
        if step.strategy in RANKED_STRATEGIES:
            rank = step.options.get("r", step.options.get("init_r"))
            return rank if isinstance(rank, int) else None
    return None


def _model_config(recipe: Recipe) -> Any:
    """The real config when the model is reachable; the template's known shape offline."""
    try:
        return load_config(resolve_model_source(recipe.model).path)
    except ModelSourceError:
        known = template_model_config(recipe.model.source)
        if known is None:
            raise
        return known
