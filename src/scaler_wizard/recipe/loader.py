"""Load a recipe from YAML, apply `--set a.b=value` overrides, and explain every error."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from scaler_wizard.recipe.errors import Problem, RecipeError
from scaler_wizard.recipe.spec import Recipe

LineIndex = dict[tuple[str | int, ...], int]


def load_recipe(path: str | Path, overrides: list[str] | None = None) -> Recipe:
    """Read and validate a recipe file; raise RecipeError naming the field and line."""
    path = Path(path)
    if not path.is_file():
        raise RecipeError([Problem("", f"file not found: {path}")], source=str(path))
    return parse_recipe(path.read_text(encoding="utf-8"), overrides, source=str(path))


def parse_recipe(text: str, overrides: list[str] | None = None, source: str = "recipe") -> Recipe:
    try:
        node = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise RecipeError([Problem("", f"invalid YAML: {exc}", line)], source) from None
    if not isinstance(data, dict):
        raise RecipeError([Problem("", "a recipe must be a YAML mapping of sections")], source)
    lines = _index_lines(node) if node is not None else {}
    data = apply_overrides(data, overrides or [], source)
    return validate_recipe_dict(data, source, lines)


def validate_recipe_dict(
    data: dict[str, Any], source: str = "recipe", lines: LineIndex | None = None
) -> Recipe:
    try:
        return Recipe.model_validate(data)
    except ValidationError as exc:
        raise RecipeError(_problems(exc, Recipe, lines or {}), source) from None


def apply_overrides(
    data: dict[str, Any], overrides: list[str], source: str = "--set"
) -> dict[str, Any]:
    """Return a copy of `data` with each `a.b.0.c=value` applied; values are parsed as YAML."""
    result = copy.deepcopy(data)
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise RecipeError(
                [Problem(item, "an override must look like section.field=value")], "--set"
            )
        value = yaml.safe_load(raw) if raw.strip() else ""
        parts = key.strip().split(".")
        target: Any = result
        for i, part in enumerate(parts[:-1]):
            target = _child(target, part, parts[: i + 1])
        _assign(target, parts[-1], value, parts)
    return result


def format_validation_error(
    exc: ValidationError, model: type[BaseModel], prefix: str
) -> list[Problem]:
    """Problems for a nested options model, with paths prefixed (e.g. 'growth[0].options')."""
    problems = _problems(exc, model, {})
    return [Problem(f"{prefix}.{p.path}" if p.path else prefix, p.message) for p in problems]


def _child(target: Any, part: str, path: list[str]) -> Any:
    if isinstance(target, list):
        index = _index(part, target, path)
        return target[index]
    if not isinstance(target, dict):
        raise RecipeError(
            [Problem(".".join(path), "cannot set a field inside a plain value")], "--set"
        )
    if target.get(part) is None:
        target[part] = {}
    return target[part]


def _assign(target: Any, part: str, value: Any, path: list[str]) -> None:
    if isinstance(target, list):
        target[_index(part, target, path)] = value
    elif isinstance(target, dict):
        target[part] = value
    else:
        raise RecipeError(
            [Problem(".".join(path), "cannot set a field inside a plain value")], "--set"
        )


def _index(part: str, items: list[Any], path: list[str]) -> int:
    if not part.isdigit() or int(part) >= len(items):
        raise RecipeError(
            [Problem(".".join(path), f"list index must be 0..{len(items) - 1}, got {part!r}")],
            "--set",
        )
    return int(part)


def _index_lines(node: yaml.Node, path: tuple[str | int, ...] = ()) -> LineIndex:
    """Map each key path to the 1-based line where its value (or key) starts."""
    index: LineIndex = {path: node.start_mark.line + 1}
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            child = (*path, str(key_node.value))
            index.update(_index_lines(value_node, child))
            index[child] = key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            index.update(_index_lines(item, (*path, i)))
    return index


def _problems(exc: ValidationError, model: type[BaseModel], lines: LineIndex) -> list[Problem]:
    problems = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        message = err["msg"]
        if err["type"] == "extra_forbidden":
            allowed = _allowed_fields(model, loc[:-1])
            message = f"unknown field {loc[-1]!r}; allowed: {', '.join(allowed)}"
        elif err["type"] == "missing":
            message = "required field is missing"
        elif "input" in err and err["type"] not in ("model_type", "dict_type"):
            message = f"{message} (got {err['input']!r})"
        problems.append(Problem(_dotted(loc), message, _nearest_line(loc, lines)))
    return problems


def _allowed_fields(model: type[BaseModel], loc: tuple[str | int, ...]) -> list[str]:
    current: Any = model
    for part in loc:
        if isinstance(part, int):
            continue
        is_model = isinstance(current, type) and issubclass(current, BaseModel)
        field = current.model_fields.get(part) if is_model else None
        if field is None:
            return []
        current = _model_of(field.annotation)
        if current is None:
            return []
    return sorted(current.model_fields)


def _model_of(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _model_of(arg)
        if found is not None:
            return found
    return None


def _dotted(loc: tuple[str | int, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _nearest_line(loc: tuple[str | int, ...], lines: LineIndex) -> int | None:
    for end in range(len(loc), -1, -1):
        if loc[:end] in lines and end > 0:
            return lines[loc[:end]]
    return None
