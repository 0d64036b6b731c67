"""Check a draft recipe: its fields (instant) or a full plan (a `scaler-wizard plan` child)."""

from __future__ import annotations

from fastapi import APIRouter

from scaler_wizard.server.deps import ServicesDep, TokenRequired
from scaler_wizard.server.probes import plan_recipe
from scaler_wizard.server.recipes import build_recipe
from scaler_wizard.server.routes.responses import REFUSALS
from scaler_wizard.server.schemas import PlanResult, RecipeChecked, RecipeInput

router = APIRouter(prefix="/api/recipes", tags=["recipes"], dependencies=[TokenRequired])


@router.post("/validate", responses=REFUSALS)
def validate_recipe(body: RecipeInput) -> RecipeChecked:
    """Field checks only; 422 lists each problem with its field path."""
    return RecipeChecked(recipe=build_recipe(body).model_dump(mode="json"))


@router.post("/plan", responses=REFUSALS)
def plan_draft(body: RecipeInput, services: ServicesDep) -> PlanResult:
    """Hardware, model facts, context plan and rank, as `scaler-wizard plan --json` says.

    Nothing heavy runs, but the model's config is read and the embedded model is converted
    once, so this can take a while the first time.
    """
    return PlanResult(plan=plan_recipe(services.settings, build_recipe(body)))
