"""The recipe: one validated schema for everything a run does."""

from scaler_wizard.recipe.errors import RecipeError
from scaler_wizard.recipe.loader import apply_overrides, load_recipe, parse_recipe
from scaler_wizard.recipe.spec import SCHEMA_VERSION, Recipe

__all__ = [
    "SCHEMA_VERSION",
    "Recipe",
    "RecipeError",
    "apply_overrides",
    "load_recipe",
    "parse_recipe",
]
