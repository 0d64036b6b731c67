"""The Task's parameters: which recipe field each one sets and which control renders it.

Types, bounds, descriptions and choices come from the recipe schema, the shipped templates and
the catalog, so `task.yaml` cannot drift from the recipe (a test regenerates and compares it).
Numbers use 0 and selects use "persona" to mean "keep the persona's value": TransformerLab sends
every parameter with its default, and a concrete default would silently override the persona.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from scaler_wizard.catalog import Catalog, build_catalog
from scaler_wizard.recipe.templates import template_names
from scaler_wizard.schema_export import recipe_schema

KEEP = "persona"  # select value meaning "the persona's own value"
DEFAULT_PERSONA = "balanced"


@dataclass(frozen=True)
class Parameter:
    """One flat Task parameter. `path` is the recipe field it overrides ('' for none)."""

    key: str
    path: str
    title: str
    widget: str | None = None
    max: int | None = None  # for sliders whose field has no upper bound in the schema
    step: int | None = None


PARAMETERS: tuple[Parameter, ...] = (
    Parameter("persona", "", "Persona (recipe template)", "select"),
    Parameter("model", "model.source", "Base model", "lab_model_select"),
    Parameter("dataset", "data.train", "Training dataset", "lab_dataset_select"),
    Parameter("growth_strategy", "growth.0.strategy", "Growth strategy", "select"),
    Parameter("lora_rank", "growth.0.options.r", "LoRA rank (0 = persona's)", "slider", step=1),
    Parameter("context_engine", "context.engine", "Context engine", "select"),
    Parameter(
        "target_context",
        "context.target_length",
        "Target context in tokens (0 = persona's)",
        "slider",
        max=131072,
        step=1024,
    ),
    Parameter("steps", "train.steps", "Training steps (0 = persona's)"),
    Parameter("learning_rate", "train.learning_rate", "Learning rate (0 = persona's)"),
    Parameter("seq_length", "data.seq_length", "Tokens per training row (0 = persona's)"),
    Parameter(
        "checkpoint_every", "train.checkpoint_every", "Checkpoint every N steps (0 = persona's)"
    ),
    Parameter("overrides", "", "Extra recipe overrides (section.field=value, one per line)"),
)
BY_KEY = {p.key: p for p in PARAMETERS}


def task_parameters(catalog: Catalog | None = None) -> dict[str, dict[str, Any]]:
    """The `parameters:` mapping of task.yaml, in TransformerLab's extended form."""
    catalog = catalog or build_catalog(load_plugins=False)  # plugins vary per machine
    schema = recipe_schema()
    choices = {
        "persona": template_names(),
        "growth_strategy": [KEEP, *catalog.growth.names()],
        "context_engine": [KEEP, "auto", *catalog.context.names()],
    }
    lora_r = catalog.growth.get("lora").options.model_json_schema()["properties"]["r"]
    out: dict[str, dict[str, Any]] = {}
    for p in PARAMETERS:
        if p.key in choices:
            default = DEFAULT_PERSONA if p.key == "persona" else KEEP
            entry: dict[str, Any] = {"type": "enum", "default": default, "options": choices[p.key]}
        elif p.key in ("model", "dataset", "overrides"):
            entry = {"type": "string", "default": ""}
        else:
            field = (
                _resolve(schema, lora_r) if p.key == "lora_rank" else field_schema(schema, p.path)
            )
            entry = _number(field, p)
        entry["title"] = p.title
        if p.widget:
            entry["ui_widget"] = p.widget
        entry["description"] = _description(p, schema)
        if p.key in ("persona", "dataset"):
            entry["required"] = True
        out[p.key] = entry
    return out


def field_schema(schema: dict[str, Any], path: str) -> dict[str, Any]:
    """The JSON Schema of a dotted recipe path (list items as numbers), $refs resolved."""
    node = schema
    for part in path.split("."):
        node = _resolve(schema, node)
        node = node["items"] if part.isdigit() else node["properties"][part]
    return _resolve(schema, node)


def _resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while True:
        if "$ref" in node:
            node = schema["$defs"][node["$ref"].rsplit("/", 1)[-1]]
        elif "anyOf" in node:  # `X | None`: the non-null branch carries the type and bounds
            branch = next(b for b in node["anyOf"] if b.get("type") != "null")
            node = {**{k: v for k, v in node.items() if k != "anyOf"}, **branch}
        else:
            return node


def _number(field: dict[str, Any], p: Parameter) -> dict[str, Any]:
    kind = "float" if field["type"] == "number" else "int"
    entry: dict[str, Any] = {"type": kind, "default": 0.0 if kind == "float" else 0, "min": 0}
    upper = field.get("maximum", p.max)
    if upper is not None:
        entry["max"] = upper
    if p.step is not None:
        entry["step"] = p.step
    return entry


def _description(p: Parameter, schema: dict[str, Any]) -> str:
    if p.key == "persona":
        return "Recipe template the other parameters adjust."
    if p.key == "overrides":
        return "Any other recipe field, e.g. evaluate.passkey=null; values are YAML."
    if p.key == "lora_rank":
        return "Rank of the LoRA adapter (growth[0].options.r); 0 keeps the persona's rank."
    field = field_schema(schema, p.path)
    text = str(field.get("description") or field.get("title", "")).rstrip(".")
    dotted = p.path.replace(".0.", "[0].")
    keep = {
        "model": "; empty keeps the persona's model",
        "dataset": "; a workspace dataset id or a file path",
        "growth_strategy": f"; {KEEP!r} keeps the persona's growth steps",
        "context_engine": f"; {KEEP!r} keeps the persona's engine",
    }.get(p.key, "; 0 keeps the persona's value")
    return f"{text} ({dotted}){keep}."
