"""Turn a request's recipe (template, object or YAML, plus overrides) into a valid Recipe."""

from __future__ import annotations

from typing import Any

import yaml

from scaler_wizard.recipe import Recipe, RecipeError, apply_overrides, parse_recipe
from scaler_wizard.recipe.loader import validate_recipe_dict
from scaler_wizard.recipe.templates import template_path
from scaler_wizard.server.errors import ApiError, FieldProblem, recipe_problems
from scaler_wizard.server.schemas import RecipeInput


def build_recipe(body: RecipeInput) -> Recipe:
    """The validated recipe, or ApiError(422) whose problems name each bad field."""
    overrides = [f"{path}={_yaml_value(value)}" for path, value in body.overrides.items()]
    try:
        if body.template is not None:
            text = _template_text(body.template)
            return parse_recipe(text, overrides, source=f"template {body.template}")
        if body.recipe_yaml is not None:
            return parse_recipe(body.recipe_yaml, overrides, source="recipe_yaml")
        data = apply_overrides(body.recipe or {}, overrides, source="overrides")
        return validate_recipe_dict(data, source="recipe")
    except RecipeError as exc:
        raise recipe_problems(exc) from None


def recipe_yaml(recipe: Recipe) -> str:
    return yaml.safe_dump(recipe.model_dump(mode="json"), sort_keys=False)


def _template_text(name: str) -> str:
    try:
        return template_path(name).read_text(encoding="utf-8")
    except RecipeError as exc:
        message = exc.problems[0].message if exc.problems else str(exc)
        raise ApiError(422, "unknown template", [FieldProblem("template", message)]) from None


def _yaml_value(value: Any) -> str:
    """One-line YAML that `--set` parses back to the same value (PyYAML keeps 1.0e-05 a float,
    where JSON's 1e-05 would read back as a string)."""
    text = yaml.safe_dump(value, default_flow_style=True, width=2**31, allow_unicode=True)
    return text.removesuffix("\n...\n").strip()
