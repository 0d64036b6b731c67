"""JSON Schemas published in `schemas/` (draft 2020-12): the recipe, and the event envelope."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from scaler_wizard.recipe.spec import SCHEMA_VERSION, Recipe

DIALECT = "https://json-schema.org/draft/2020-12/schema"


def recipe_schema() -> dict[str, Any]:
    schema = Recipe.model_json_schema()
    return {"$schema": DIALECT, "$id": f"scaler-wizard/recipe/v{SCHEMA_VERSION}", **schema}


def render_schemas() -> dict[str, str]:
    """File name → JSON text for every published schema."""
    from scaler_wizard.telemetry.events import Event

    event = {"$schema": DIALECT, "$id": "scaler-wizard/event/v1", **Event.model_json_schema()}
    schemas = {"recipe.schema.json": recipe_schema(), "event.schema.json": event}
    return {
        name: json.dumps(body, indent=2, sort_keys=True) + "\n" for name, body in schemas.items()
    }


def write_schemas(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in render_schemas().items():
        (folder / name).write_text(text)
        written.append(folder / name)
    return written


if __name__ == "__main__":
    for path in write_schemas(Path("schemas")):
        print(f"wrote {path}")
