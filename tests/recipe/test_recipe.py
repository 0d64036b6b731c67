"""The recipe schema: strict, versioned, overridable, and explaining every error."""

from __future__ import annotations

from pathlib import Path

import pytest

from scaler_wizard.recipe import RecipeError, load_recipe, parse_recipe
from scaler_wizard.recipe.loader import apply_overrides
from scaler_wizard.recipe.templates import PERSONAS, copy_template, template_names, template_path
from scaler_wizard.schema_export import render_schemas

MINIMAL = "schema_version: 1\nname: demo\ndata:\n  train: x.jsonl\n"


def problems(text: str, overrides: list[str] | None = None) -> list[tuple[str, int | None, str]]:
    with pytest.raises(RecipeError) as info:
        parse_recipe(text, overrides)
    return [(p.path, p.line, p.message) for p in info.value.problems]


def test_minimal_recipe_gets_defaults() -> None:
    recipe = parse_recipe(MINIMAL)
    assert recipe.model.source == "embedded"
    assert [g.strategy for g in recipe.growth] == ["lora"]
    assert recipe.train.steps > 0


@pytest.mark.parametrize(
    ("text", "path", "line", "fragment"),
    [
        (MINIMAL + "train:\n  stepz: 3\n", "train.stepz", 6, "allowed: batch_size"),
        (MINIMAL + "train:\n  steps: 0\n", "train.steps", 6, "greater than or equal to 1"),
        (MINIMAL.replace("schema_version: 1", "schema_version: 7"), "schema_version", 1, "1"),
        ("name: demo\ndata:\n  train: x.jsonl\n", "schema_version", None, "required"),
        (MINIMAL + "data:\n  train: x\n  format: csvv\n", "data.format", 7, "'messages'"),
        (MINIMAL + "context:\n  scale: 2\n  target_length: 9000\n", "context", 5, "not both"),
        (MINIMAL + "train:\n  offload: optimizer\n", "train", 5, "train.parallel: zero3"),
        (
            MINIMAL + "train:\n  parallel: zero2\n  offload: parameters\n",
            "train",
            5,
            "needs train.parallel: zero3",
        ),
        (
            MINIMAL + "growth:\n  - strategy: lora\n    optionz: {}\n",
            "growth[0].optionz",
            7,
            "options",
        ),
    ],
)
def test_errors_name_path_line_and_allowed(
    text: str, path: str, line: int | None, fragment: str
) -> None:
    found = problems(text)
    assert any(p == path and (line is None or n == line) and fragment in m for p, n, m in found), (
        found
    )


def test_invalid_yaml_reports_line() -> None:
    found = problems("schema_version: 1\nname: [oops\n")
    assert found[0][1] is not None and "invalid YAML" in found[0][2]


def test_overrides_parse_yaml_values_and_index_lists() -> None:
    data = {"train": {"steps": 3}, "growth": [{"strategy": "lora", "options": {}}]}
    out = apply_overrides(data, ["train.steps=12", "growth.0.options.r=8", "context.scale=2.5"])
    assert out["train"]["steps"] == 12
    assert out["growth"][0]["options"]["r"] == 8
    assert out["context"]["scale"] == 2.5
    assert data["train"]["steps"] == 3  # the input is not mutated


@pytest.mark.parametrize("override", ["train.steps", "growth.4.strategy=x", "=3"])
def test_bad_overrides_are_explained(override: str) -> None:
    with pytest.raises(RecipeError):
        apply_overrides({"growth": []}, [override])


def test_override_error_is_validated_like_yaml() -> None:
    found = problems(MINIMAL, ["train.learning_rate=-1"])
    assert found[0][0] == "train.learning_rate"


@pytest.mark.parametrize("name", template_names())
def test_every_shipped_template_validates(name: str) -> None:
    recipe = load_recipe(template_path(name))
    assert recipe.name == name


def test_personas_are_shipped() -> None:
    assert set(PERSONAS) <= set(template_names())
    assert "tiny-cpu" in template_names()


def test_copy_template_never_overwrites(tmp_path: Path) -> None:
    target = copy_template("balanced", tmp_path)
    assert target.read_text() == template_path("balanced").read_text()
    with pytest.raises(FileExistsError):
        copy_template("balanced", tmp_path)


def test_unknown_template_lists_the_known_ones() -> None:
    with pytest.raises(RecipeError, match="balanced"):
        template_path("no-such-persona")


def test_published_schemas_are_fresh() -> None:
    folder = Path(__file__).resolve().parents[2] / "schemas"
    for name, text in render_schemas().items():
        published = folder / name
        assert published.is_file(), f"{published} missing: run `make schemas`"
        assert published.read_text() == text, f"{published} is stale: run `make schemas`"
