"""Write docs/recipe-reference.md from schemas/recipe.schema.json.

    python docs/gen_recipe_reference.py          # rewrite the page
    python docs/gen_recipe_reference.py --check  # exit 1 when the page is stale

Every section of a recipe is one table: field, type, default, allowed values, description.
The page is generated; edit the pydantic models in src/scaler_wizard/recipe/ (and run
`make schemas`), then run this script.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = ROOT / "schemas" / "recipe.schema.json"
PAGE = ROOT / "docs" / "recipe-reference.md"
REF_PREFIX = "#/$defs/"

HEADER = """\
# Recipe reference

<!-- Generated from schemas/recipe.schema.json by docs/gen_recipe_reference.py; do not edit. -->

Every field a recipe accepts, section by section, as published in `schemas/recipe.schema.json`
(JSON Schema draft 2020-12). Unknown fields are refused with the YAML line and the allowed
names. For what the sections do and how they fit together, see [Recipes](recipes.md); any field
can be overridden on the command line with `--set section.field=value`.

A default of "—" means the field is optional and holds an empty list, an empty mapping or the
defaults of its own section; "required" means the recipe must give it.
"""


def load_schema(path: Path = SCHEMA) -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return schema


def ref_name(node: dict[str, Any]) -> str | None:
    ref = node.get("$ref")
    return ref.removeprefix(REF_PREFIX) if isinstance(ref, str) else None


def link(name: str) -> str:
    return f"[{name}](#{name.lower()})"


def _alternatives(node: dict[str, Any]) -> list[dict[str, Any]]:
    alternatives: list[dict[str, Any]] = node.get("anyOf") or node.get("oneOf") or []
    return alternatives


def type_of(node: dict[str, Any]) -> str:
    """A short, readable type: `integer`, `list of string`, `DataSpec or null`."""
    name = ref_name(node)
    if name:
        return link(name)
    alternatives = _alternatives(node)
    if alternatives:
        return " or ".join(dict.fromkeys(type_of(alt) for alt in alternatives))
    kind = node.get("type")
    if kind == "array":
        items = node.get("items")
        return f"list of {type_of(items)}" if isinstance(items, dict) else "list"
    if kind == "object":
        values = node.get("additionalProperties")
        if isinstance(values, dict):
            return f"mapping of string to {type_of(values)}"
        return "mapping"
    if isinstance(kind, list):
        return " or ".join(str(k) for k in kind)
    if kind:
        return str(kind)
    if "const" in node:
        return type(node["const"]).__name__
    return "any"


def _code(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    if text == "":
        return '`""`'
    if "|" in text or "`" in text:
        return escape(text)
    return f"`{text}`"


def allowed_of(node: dict[str, Any]) -> str:
    """Enumerated values, constants, bounds and patterns, merged over the alternatives."""
    parts: list[str] = []
    for part in _constraints(node):
        if part not in parts:
            parts.append(part)
    return "; ".join(parts)


def _constraints(node: dict[str, Any]) -> Iterator[str]:
    if "enum" in node:
        yield ", ".join(_code(v) for v in node["enum"])
    if "const" in node:
        yield _code(node["const"])
    bounds = (
        ("minimum", "≥"),
        ("exclusiveMinimum", ">"),
        ("maximum", "≤"),
        ("exclusiveMaximum", "<"),
    )
    limits = [f"{sign} {node[key]}" for key, sign in bounds if key in node]
    if limits:
        yield ", ".join(limits)
    if "minItems" in node:
        yield f"at least {node['minItems']} item(s)"
    if "maxItems" in node:
        yield f"at most {node['maxItems']} item(s)"
    if "minLength" in node:
        yield f"at least {node['minLength']} character(s)"
    if "pattern" in node:
        yield f"matches {_code(node['pattern'])}"
    if "format" in node:
        yield f"format {node['format']}"
    for alt in _alternatives(node):
        yield from _constraints(alt)
    items = node.get("items")
    if node.get("type") == "array" and isinstance(items, dict):
        for part in _constraints(items):
            yield f"each: {part}"


def default_of(name: str, node: dict[str, Any], required: list[str]) -> str:
    if "default" in node:
        return _code(node["default"])
    if name in required:
        return "required"
    return "—"


def escape(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def description_of(node: dict[str, Any], schema: dict[str, Any]) -> str:
    """The field's own description, else that of the section it refers to."""
    if node.get("description"):
        return escape(node["description"])
    for alt in [node, *_alternatives(node)]:
        name = ref_name(alt)
        if name:
            return escape(schema["$defs"][name].get("description", ""))
    return ""


def field_rows(definition: dict[str, Any], schema: dict[str, Any]) -> list[str]:
    required = definition.get("required", [])
    rows = [
        "| Field | Type | Default | Allowed | Description |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name, node in definition.get("properties", {}).items():
        cells = (
            f"`{name}`",
            type_of(node),
            default_of(name, node, required),
            allowed_of(node),
            description_of(node, schema),
        )
        rows.append("| " + " | ".join(cells) + " |")
    return rows


def _refs(node: Any) -> Iterator[tuple[str, str]]:
    """(suffix, definition name) for every reference reachable without entering another
    definition: `[]` for list items, `{}` for mapping values."""
    if isinstance(node, dict):
        name = ref_name(node)
        if name:
            yield "", name
            return
        for alt in _alternatives(node):
            yield from _refs(alt)
        if isinstance(node.get("items"), dict):
            yield from ((f"[]{suffix}", ref) for suffix, ref in _refs(node["items"]))
        if isinstance(node.get("additionalProperties"), dict):
            values = node["additionalProperties"]
            yield from ((f"{{}}{suffix}", ref) for suffix, ref in _refs(values))


def usages(schema: dict[str, Any]) -> dict[str, list[str]]:
    """Each definition's recipe paths, in breadth-first order from the top level."""
    found: dict[str, list[str]] = {}
    queue: list[tuple[str, dict[str, Any]]] = [("", schema)]
    while queue:
        prefix, definition = queue.pop(0)
        for field, node in definition.get("properties", {}).items():
            for suffix, name in _refs(node):
                path = f"{prefix}{field}{suffix}"
                first = name not in found
                found.setdefault(name, []).append(path)
                if first:
                    queue.append((f"{path}.", schema["$defs"][name]))
    return found


def render(schema: dict[str, Any]) -> str:
    lines = [HEADER]
    lines.append("## Recipe (top level)\n")
    if schema.get("description"):
        lines.append(escape(schema["description"]) + "\n")
    lines.extend(field_rows(schema, schema))
    lines.append("")
    paths = usages(schema)
    unreached = sorted(set(schema.get("$defs", {})) - set(paths))
    for name in [*paths, *unreached]:
        definition = schema["$defs"][name]
        lines.append(f"## {name}\n")
        where = paths.get(name)
        if where:
            lines.append("At " + ", ".join(f"`{p}`" for p in where) + ".\n")
        if definition.get("description"):
            lines.append(escape(definition["description"]) + "\n")
        if definition.get("properties"):
            lines.extend(field_rows(definition, schema))
        else:
            lines.append(f"Type: {type_of(definition)}.")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def main(argv: list[str]) -> int:
    text = render(load_schema())
    if "--check" in argv:
        current = PAGE.read_text(encoding="utf-8") if PAGE.is_file() else ""
        if current != text:
            print(f"{PAGE} is stale: run python docs/gen_recipe_reference.py", file=sys.stderr)
            return 1
        return 0
    PAGE.write_text(text, encoding="utf-8")
    print(f"wrote {PAGE.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
