"""Model sources: the embedded model, cached conversions, and checks of a folder or hub id."""

from __future__ import annotations

from fastapi import APIRouter

from scaler_wizard.server.deps import ServicesDep, TokenRequired
from scaler_wizard.server.model_sources import describe_source, list_models
from scaler_wizard.server.routes.responses import REFUSALS
from scaler_wizard.server.schemas import ModelCheck, ModelInfo

router = APIRouter(
    prefix="/api/models", tags=["models"], dependencies=[TokenRequired], responses=REFUSALS
)


@router.get("")
def get_models(services: ServicesDep) -> list[ModelInfo]:
    return list_models(services.settings)


@router.post("/check")
def check_model(body: ModelCheck) -> ModelInfo:
    """What `model.source` would load, from files alone: no weights are read, nothing is
    downloaded."""
    return describe_source(body.source)
