"""The shipped recipe templates (personas): list, read and copy them."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

import yaml

from scaler_wizard.recipe.errors import Problem, RecipeError

PERSONAS = ("balanced", "max-context", "max-parameters")


def _folder() -> Path:
    return Path(str(files("scaler_wizard.recipe") / "templates"))


def template_names() -> list[str]:
    names = sorted(p.stem for p in _folder().glob("*.yaml"))
    return sorted(
        names, key=lambda n: (n not in PERSONAS, PERSONAS.index(n) if n in PERSONAS else 0, n)
    )


def template_path(name: str) -> Path:
    path = _folder() / f"{name}.yaml"
    if not path.is_file():
        allowed = ", ".join(template_names())
        raise RecipeError([Problem("", f"no recipe template {name!r}; templates: {allowed}")], name)
    return path


def template_description(name: str) -> str:
    data = yaml.safe_load(template_path(name).read_text())
    return str(data.get("description", ""))


def copy_template(name: str, destination: Path) -> Path:
    """Copy a template to `destination` (a file, or a folder to put `<name>.yaml` in)."""
    source = template_path(name)
    target = destination / source.name if destination.is_dir() else destination
    if target.exists():
        raise FileExistsError(f"{target} already exists; choose another path or delete it first")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(source.read_text())
    return target


def resolve_recipe_path(name_or_path: str) -> Path:
    """A recipe argument is a YAML file path or the name of a shipped template."""
    path = Path(name_or_path).expanduser()
    if path.suffix in (".yaml", ".yml") or path.exists():
        return path
    return template_path(name_or_path)
