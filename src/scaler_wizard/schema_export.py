"""JSON Schemas published in `schemas/` (draft 2020-12): the recipe, the event (envelope and
every typed payload) and the cockpit snapshot. `python -m scaler_wizard.schema_export` rewrites
them; a test fails while a published file is stale."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic.json_schema import GenerateJsonSchema, models_json_schema
from pydantic_core import core_schema

from scaler_wizard.recipe.spec import SCHEMA_VERSION, Recipe

DIALECT = "https://json-schema.org/draft/2020-12/schema"


class _NullableNumbers(GenerateJsonSchema):
    """JSON has no NaN or Infinity and pydantic writes a non-finite float as `null`, so in an
    event payload a number may be `null` (e.g. the loss of the step that went NaN)."""

    def float_schema(self, schema: core_schema.FloatSchema) -> dict[str, Any]:
        return {**super().float_schema(schema), "type": ["number", "null"]}


def recipe_schema() -> dict[str, Any]:
    schema = Recipe.model_json_schema()
    return {"$schema": DIALECT, "$id": f"scaler-wizard/recipe/v{SCHEMA_VERSION}", **schema}


def event_schema() -> dict[str, Any]:
    """The envelope, with `data` checked against the payload that `type` names (one `oneOf`
    branch per type, told apart by a `const` on `type`)."""
    from scaler_wizard.telemetry.events import Event, published_payload_types

    payloads = published_payload_types()
    _, defs = models_json_schema(
        [(cls, "validation") for cls in payloads.values()],
        ref_template="#/$defs/{model}",
        schema_generator=_NullableNumbers,
    )
    envelope = Event.model_json_schema()
    envelope["properties"]["type"] = {
        "description": "The payload's class name: what happened.",
        "enum": list(payloads),
        "title": "Type",
        "type": "string",
    }
    envelope["properties"]["data"] = {"description": "The typed payload.", "type": "object"}
    branches = [
        {"properties": {"type": {"const": name}, "data": {"$ref": f"#/$defs/{name}"}}}
        for name in payloads
    ]
    return {
        "$schema": DIALECT,
        "$id": "scaler-wizard/event/v1",
        **envelope,
        "oneOf": branches,
        "$defs": defs["$defs"],
    }


def cockpit_schema() -> dict[str, Any]:
    from scaler_wizard.telemetry.cockpit import CockpitSnapshot

    schema = CockpitSnapshot.model_json_schema()
    return {"$schema": DIALECT, "$id": "scaler-wizard/cockpit-snapshot/v1", **schema}


def render_schemas() -> dict[str, str]:
    """File name → JSON text for every published schema."""
    schemas = {
        "recipe.schema.json": recipe_schema(),
        "event.schema.json": event_schema(),
        "cockpit-snapshot.schema.json": cockpit_schema(),
    }
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
