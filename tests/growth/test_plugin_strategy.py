"""A growth strategy from a real plugin distribution: listed, validated and run like a built-in."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch

from scaler_wizard.catalog import build_catalog
from scaler_wizard.growth import GrowthContext
from scaler_wizard.models.loader import count_parameters
from scaler_wizard.pipeline.plan import validate_growth
from scaler_wizard.recipe import Recipe, RecipeError

DIST = "sw-scale-head"
PLUGIN = """
from pydantic import BaseModel, ConfigDict, Field


class ScaleHeadOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    factor: float = Field(gt=0, description="Multiplies every logit.")


def scale_head(model, options, context):
    import torch

    from scaler_wizard.growth import GrowthReport
    from scaler_wizard.models.loader import count_parameters

    before, _ = count_parameters(model)
    with torch.no_grad():  # the final norm feeds the (linear) head: logits scale exactly
        model.model.norm.weight.mul_(options.factor)
    after, trainable = count_parameters(model)
    return model, GrowthReport(
        strategy="scale_head", parameters_before=before, parameters_after=after,
        trainable=trainable, details={"factor": options.factor},
    )


def register(catalog):
    catalog.growth.register(
        "scale_head", ScaleHeadOptions, scale_head, "Scales the logits.", origin="sw-scale-head"
    )


def register_without_origin(catalog):
    catalog.growth.register("scale_head", ScaleHeadOptions, scale_head, "Scales the logits.")
"""


def install(root: Path, entry_point: str) -> None:
    """A module plus a .dist-info with entry_points.txt: what `pip install` leaves behind."""
    (root / "sw_scale_head.py").write_text(PLUGIN)
    info = root / "sw_scale_head-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {DIST}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[scaler_wizard.plugins]\n{entry_point}\n")


@pytest.fixture()
def plugin_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    root = tmp_path / "site"
    root.mkdir()
    monkeypatch.syspath_prepend(str(root))
    yield root
    sys.modules.pop("sw_scale_head", None)


def recipe(options: dict[str, Any]) -> Recipe:
    return Recipe.model_validate(
        {
            "schema_version": 1,
            "name": "plugin-growth",
            "data": {"train": "unused.jsonl"},
            "growth": [{"strategy": "scale_head", "options": options}],
        }
    )


def test_plugin_strategy_is_listed_validated_and_runs(plugin_root: Path, tiny_model: Any) -> None:
    install(plugin_root, "scale = sw_scale_head:register")
    catalog = build_catalog()
    assert not catalog.plugin_errors
    entry = catalog.growth.get("scale_head")
    assert entry.origin == DIST
    assert "lora" in catalog.growth  # built-ins untouched

    (options,) = validate_growth(recipe({"factor": 2.5}), catalog)
    with torch.no_grad():
        expected = 2.5 * tiny_model(torch.tensor([[1, 4, 9, 16]])).logits
    context = GrowthContext(train_tokens=1_000, memory_gib=8.0, has_cuda=False)
    grown, report = entry.impl(tiny_model, options, context)
    with torch.no_grad():
        assert torch.allclose(grown(torch.tensor([[1, 4, 9, 16]])).logits, expected, atol=1e-5)
    assert report.strategy == "scale_head" and report.details == {"factor": 2.5}
    assert (report.parameters_after, report.trainable) == count_parameters(grown)

    with pytest.raises(RecipeError) as info:
        validate_growth(recipe({"factor": -1}), catalog)
    assert [p.path for p in info.value.problems] == ["growth[0].options.factor"]


def test_origin_defaults_to_the_distribution_name(plugin_root: Path) -> None:
    install(plugin_root, "scale = sw_scale_head:register_without_origin")
    assert build_catalog().growth.get("scale_head").origin == DIST
