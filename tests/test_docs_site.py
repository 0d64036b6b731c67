"""The documentation site: the generated recipe reference is fresh and `mkdocs build --strict`
passes (no broken links, no missing pages, no unknown anchors)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
GENERATOR = ROOT / "docs" / "gen_recipe_reference.py"


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_recipe_reference", GENERATOR)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_recipe_reference_is_fresh() -> None:
    gen = _generator()
    expected = gen.render(gen.load_schema())
    current = (ROOT / "docs" / "recipe-reference.md").read_text(encoding="utf-8")
    assert current == expected, (
        "docs/recipe-reference.md is stale: run docs/gen_recipe_reference.py"
    )


def test_recipe_reference_covers_every_field() -> None:
    gen = _generator()
    schema = gen.load_schema()
    page = gen.render(schema)
    for name, definition in schema["$defs"].items():
        assert f"\n## {name}\n" in page
        for field in definition.get("properties", {}):
            assert f"| `{field}` |" in page, f"{name}.{field} is missing"
    for field in schema["properties"]:
        assert f"| `{field}` |" in page


def test_every_page_is_in_the_nav() -> None:
    yaml = pytest.importorskip("yaml")
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))

    def pages(nav: list[Any]) -> list[str]:
        found: list[str] = []
        for item in nav:
            value = next(iter(item.values())) if isinstance(item, dict) else item
            found.extend(pages(value) if isinstance(value, list) else [value])
        return found

    listed = set(pages(config["nav"]))
    on_disk = {p.name for p in (ROOT / "docs").glob("*.md")}
    assert on_disk == listed


def test_site_builds_strict(tmp_path: Path) -> None:
    if importlib.util.find_spec("mkdocs") is None:
        pytest.skip("mkdocs is not installed (pip install -e '.[docs]')")
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "WARNING" not in output, output
    assert (tmp_path / "site" / "recipe-reference" / "index.html").is_file()
    assert (tmp_path / "site" / "screenshots" / "01-token-refused.png").is_file()
