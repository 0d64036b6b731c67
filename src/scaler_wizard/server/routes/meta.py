"""Health, recipe templates, the recipe JSON Schema and the hardware profile."""

from __future__ import annotations

from typing import Any

import yaml
from fastapi import APIRouter, Query

from scaler_wizard import __version__
from scaler_wizard.recipe import RecipeError
from scaler_wizard.recipe.templates import (
    PERSONAS,
    template_description,
    template_names,
    template_path,
)
from scaler_wizard.schema_export import recipe_schema
from scaler_wizard.server.deps import ServicesDep, TokenRequired
from scaler_wizard.server.errors import ApiError
from scaler_wizard.server.probes import hardware_profile
from scaler_wizard.server.schemas import TemplateDetail, TemplateInfo

router = APIRouter(prefix="/api", tags=["meta"])


@router.get("/health")
def health() -> dict[str, str]:
    """Always answers (no token): the service is up, and which version it is."""
    return {"status": "ok", "version": __version__}


@router.get("/templates")
def list_templates() -> list[TemplateInfo]:
    return [
        TemplateInfo(name=n, persona=n in PERSONAS, description=template_description(n))
        for n in template_names()
    ]


@router.get("/templates/{name}")
def get_template(name: str) -> TemplateDetail:
    if name not in template_names():  # only shipped names reach the filesystem
        raise ApiError(404, f"no template {name!r}; templates: {', '.join(template_names())}")
    try:
        text = template_path(name).read_text(encoding="utf-8")
    except RecipeError as exc:
        raise ApiError(404, str(exc)) from None
    return TemplateDetail(
        name=name,
        persona=name in PERSONAS,
        description=template_description(name),
        yaml=text,
        recipe=yaml.safe_load(text),
    )


@router.get("/schema/recipe")
def get_recipe_schema() -> dict[str, Any]:
    """The recipe's JSON Schema (draft 2020-12), as published in schemas/recipe.schema.json."""
    return recipe_schema()


@router.get("/hardware", dependencies=[TokenRequired])
def get_hardware(
    services: ServicesDep, refresh: bool = Query(False, description="Probe again.")
) -> dict[str, Any]:
    """CPU cores, RAM, GPUs, free disk: probed in a child process once, then cached."""
    return hardware_profile(services.settings, refresh)
