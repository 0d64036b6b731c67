"""`lab.get_config()` → a validated recipe: a persona template plus `--set`-style overrides.

TransformerLab may send every value as a string (sweeps, `--param`), so each value is coerced
by its parameter's type. Every error names the Task parameter, not only the recipe field.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from scaler_wizard.integrations.transformerlab.parameters import (
    BY_KEY,
    DEFAULT_PERSONA,
    KEEP,
    task_parameters,
)
from scaler_wizard.recipe import Recipe, RecipeError, parse_recipe
from scaler_wizard.recipe.templates import template_path

SOURCE = "TransformerLab parameters"
# Keys TransformerLab itself may add to a job's parameters; they are not recipe settings.
HOST_KEYS = frozenset({"experiment_name"})

Resolver = Callable[[str], str]


class ParameterError(ValueError):
    """A Task parameter that cannot become a valid recipe; the message names it."""


@dataclass
class Mapped:
    recipe: Recipe
    overrides: list[str]
    set_keys: dict[str, str] = field(default_factory=dict)  # parameter → recipe path it set
    warnings: list[str] = field(default_factory=list)


def config_to_recipe(
    config: Mapping[str, Any],
    resolve_model: Resolver = str,
    resolve_dataset: Resolver = str,
) -> Mapped:
    """Build the recipe; raise ParameterError naming the parameter at fault."""
    spec = task_parameters()
    warnings = [
        f"ignoring unknown parameter {key!r}"
        for key in config
        if key not in BY_KEY and key not in HOST_KEYS and not key.startswith("_")
    ]
    persona = _text(config.get("persona")) or DEFAULT_PERSONA
    if persona not in spec["persona"]["options"]:
        allowed = ", ".join(spec["persona"]["options"])
        raise ParameterError(
            f"parameter 'persona': unknown persona {persona!r}; allowed: {allowed}"
        )
    overrides: list[str] = []
    set_keys: dict[str, str] = {}
    for key, entry in spec.items():
        if key in ("persona", "overrides") or key not in config:
            continue
        value = _coerce(key, entry, config[key])
        if value is None:
            continue
        if key == "model":
            value = _resolved(key, resolve_model, value)
        elif key == "dataset":
            value = _resolved(key, resolve_dataset, value)
        if key == "growth_strategy":  # a new strategy starts from its own defaults
            overrides.append(f"growth=[{{strategy: {json.dumps(value)}}}]")
        elif key == "target_context":  # the target replaces the persona's scale or stages
            overrides += ["context.scale=null", "context.stages=[]"]
        if key != "growth_strategy":
            overrides.append(f"{BY_KEY[key].path}={json.dumps(value)}")
        set_keys[key] = BY_KEY[key].path
    extra = _extra_overrides(config.get("overrides"))
    if extra:
        set_keys["overrides"] = ""
    if "dataset" not in set_keys:  # every persona names a placeholder file; never train on it
        raise ParameterError("parameter 'dataset': required; choose a dataset or give a file path")
    text = template_path(persona).read_text(encoding="utf-8")
    try:
        recipe = parse_recipe(text, overrides + extra, source=SOURCE)
    except RecipeError as exc:
        raise ParameterError(explain(exc, set_keys, persona)) from None
    return Mapped(recipe, overrides + extra, set_keys, warnings)


def explain(error: RecipeError, set_keys: Mapping[str, str], persona: str) -> str:
    """Restate recipe problems in terms of the Task parameters that caused them."""
    lines = []
    for problem in error.problems:
        key = _owner(problem.path, set_keys, persona)
        lines.append(f"parameter {key!r} ({problem.path or 'recipe'}): {problem.message}")
    return "; ".join(lines)


def _owner(path: str, set_keys: Mapping[str, str], persona: str) -> str:
    dotted = {k: p.replace(".0.", "[0].") for k, p in set_keys.items() if p}
    for key, field_path in dotted.items():  # the field itself or something inside it
        if path == field_path or path.startswith(field_path + "."):
            return key
    for key, field_path in dotted.items():  # a section-level rule about a field that was set
        if path and field_path.startswith(path + "."):
            return key
    if path.startswith("growth") and "growth_strategy" in set_keys:
        return "growth_strategy"
    return "overrides" if "overrides" in set_keys else f"persona={persona}"


def _coerce(key: str, entry: Mapping[str, Any], raw: Any) -> Any:
    """The value as its declared type, or None when it means "keep the persona's value"."""
    kind = entry["type"]
    if kind == "enum":
        value = _text(raw)
        if value in ("", KEEP):
            return None
        if value not in entry["options"]:
            allowed = ", ".join(entry["options"])
            raise ParameterError(f"parameter {key!r}: {value!r} is not one of {allowed}")
        return value
    if kind == "string":
        return _text(raw) or None
    number: int | float
    try:
        number = float(raw) if kind == "float" else _integer(raw)
    except (TypeError, ValueError):
        expected = "a number" if kind == "float" else "a whole number"
        raise ParameterError(f"parameter {key!r}: expected {expected}, got {raw!r}") from None
    return None if number == 0 else number


def _integer(raw: Any) -> int:
    if isinstance(raw, bool):
        raise ValueError(raw)
    value = float(raw)
    if not value.is_integer():
        raise ValueError(raw)
    return int(value)


def _text(raw: Any) -> str:
    return "" if raw is None else str(raw).strip()


def _resolved(key: str, resolve: Resolver, value: str) -> str:
    try:
        return resolve(value)
    except (OSError, ValueError) as exc:
        raise ParameterError(f"parameter {key!r}: {exc}") from None


def _extra_overrides(raw: Any) -> list[str]:
    text = _text(raw)
    items = [line.strip() for chunk in text.splitlines() for line in chunk.split(";")]
    return [item for item in items if item]
