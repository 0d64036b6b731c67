"""Fusion: one adapter fused is that adapter; cat/linear are the weighted sums they promise."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from pydantic import ValidationError

from scaler_wizard.catalog import build_catalog
from scaler_wizard.growth import GrowthContext
from scaler_wizard.growth.base import GrowthError
from scaler_wizard.growth.fusion import FusionOptions, apply_fusion
from scaler_wizard.models.loader import count_parameters
from scaler_wizard.pipeline.plan import validate_growth
from scaler_wizard.recipe import Recipe, RecipeError
from tiny_models import build_tiny_model

CONTEXT = GrowthContext(train_tokens=10_000, memory_gib=8.0, has_cuda=False)
IDS = torch.tensor([[3, 7, 11, 19, 23, 29, 31]])


def save_adapter(
    tokenizer: Any, folder: Path, r: int, targets: list[str], seed: int, **lora: Any
) -> Path:
    """A 'trained' adapter: a real PEFT LoRA with random, non-zero lora_B, saved to disk."""
    from peft import LoraConfig, get_peft_model

    peft_model = get_peft_model(
        build_tiny_model(tokenizer),
        LoraConfig(r=r, lora_alpha=2 * r, lora_dropout=0.0, target_modules=targets, **lora),
    )
    torch.manual_seed(seed)
    with torch.no_grad():
        for name, param in peft_model.named_parameters():
            if "lora_B" in name:
                param.normal_(std=0.05)
    peft_model.save_pretrained(folder)
    return folder


def weighted_reference(tokenizer: Any, adapters: list[Path], weights: list[float]) -> Any:
    """Base weights + Σ wᵢ·ΔWᵢ, computed layer by layer from each adapter on its own."""
    from peft import PeftModel
    from peft.tuners.lora import LoraLayer

    deltas: dict[str, torch.Tensor] = {}
    for folder, weight in zip(adapters, weights, strict=True):
        loaded = PeftModel.from_pretrained(build_tiny_model(tokenizer), folder)
        for name, module in loaded.base_model.model.named_modules():
            if isinstance(module, LoraLayer):
                delta = weight * module.get_delta_weight("default")
                deltas[name] = deltas.get(name, 0) + delta
    reference = build_tiny_model(tokenizer)
    with torch.no_grad():
        for name, delta in deltas.items():
            reference.get_submodule(name).weight += delta
    return reference


def logits(model: Any) -> torch.Tensor:
    with torch.no_grad():
        return model.eval()(IDS).logits


def test_one_adapter_with_weight_one_is_that_adapter(tiny_tokenizer: Any, tmp_path: Path) -> None:
    from peft import PeftModel

    folder = save_adapter(tiny_tokenizer, tmp_path / "a", 4, ["q_proj", "v_proj"], seed=1)
    expected = logits(PeftModel.from_pretrained(build_tiny_model(tiny_tokenizer), folder))
    base = build_tiny_model(tiny_tokenizer)
    before, _ = count_parameters(base)
    options = FusionOptions(adapters=[str(folder)], weights=[1.0], method="linear")
    fused, report = apply_fusion(base, options, CONTEXT)
    assert torch.allclose(logits(fused), expected, atol=1e-5)
    assert list(fused.peft_config) == ["default"]
    after, trainable = count_parameters(fused)
    assert (report.parameters_before, report.parameters_after) == (before, after)
    assert report.trainable == trainable == after - before > 0
    names = [n for n, p in fused.named_parameters() if p.requires_grad]
    assert names and all("lora_" in n for n in names)
    assert report.details["sources"] == [str(folder)] and report.details["weights"] == [1.0]


def test_rslora_adapter_fused_alone_keeps_its_scale(tiny_tokenizer: Any, tmp_path: Path) -> None:
    from peft import PeftModel

    folder = save_adapter(tiny_tokenizer, tmp_path / "a", 8, ["q_proj"], seed=2, use_rslora=True)
    expected = logits(PeftModel.from_pretrained(build_tiny_model(tiny_tokenizer), folder))
    options = FusionOptions(adapters=[str(folder)], weights=[1.0])
    fused, _ = apply_fusion(build_tiny_model(tiny_tokenizer), options, CONTEXT)
    assert torch.allclose(logits(fused), expected, atol=1e-5)


def test_cat_of_different_ranks_is_the_exact_weighted_sum(
    tiny_tokenizer: Any, tmp_path: Path
) -> None:
    a = save_adapter(tiny_tokenizer, tmp_path / "a", 4, ["q_proj", "v_proj"], seed=1)
    b = save_adapter(tiny_tokenizer, tmp_path / "b", 8, ["v_proj", "o_proj"], seed=2)
    weights = [0.7, -0.3]
    options = FusionOptions(adapters=[str(a), str(b)], weights=weights, method="cat")
    fused, report = apply_fusion(build_tiny_model(tiny_tokenizer), options, CONTEXT)
    expected = logits(weighted_reference(tiny_tokenizer, [a, b], weights))
    assert not torch.allclose(logits(build_tiny_model(tiny_tokenizer)), expected, atol=1e-3)
    assert torch.allclose(logits(fused), expected, atol=1e-5)
    assert report.details["r"] == 12
    assert report.details["target_modules"] == ["o_proj", "q_proj", "v_proj"]


def test_linear_on_disjoint_modules_is_the_exact_weighted_sum(
    tiny_tokenizer: Any, tmp_path: Path
) -> None:
    a = save_adapter(tiny_tokenizer, tmp_path / "a", 4, ["q_proj"], seed=1)
    b = save_adapter(tiny_tokenizer, tmp_path / "b", 4, ["v_proj"], seed=2)
    options = FusionOptions(adapters=[str(a), str(b)], weights=[0.5, 2.0], method="linear")
    fused, _ = apply_fusion(build_tiny_model(tiny_tokenizer), options, CONTEXT)
    expected = logits(weighted_reference(tiny_tokenizer, [a, b], [0.5, 2.0]))
    assert torch.allclose(logits(fused), expected, atol=1e-5)


def test_merge_into_base_equals_the_unmerged_fusion(tiny_tokenizer: Any, tmp_path: Path) -> None:
    a = save_adapter(tiny_tokenizer, tmp_path / "a", 4, ["q_proj", "down_proj"], seed=3)
    b = save_adapter(tiny_tokenizer, tmp_path / "b", 4, ["q_proj", "up_proj"], seed=4)
    common = {"adapters": [str(a), str(b)], "weights": [1.0, 0.5], "method": "svd"}
    unmerged, _ = apply_fusion(build_tiny_model(tiny_tokenizer), FusionOptions(**common), CONTEXT)
    merged, report = apply_fusion(
        build_tiny_model(tiny_tokenizer), FusionOptions(**common, merge_into_base=True), CONTEXT
    )
    assert not hasattr(merged, "peft_config")
    assert torch.allclose(logits(merged), logits(unmerged), atol=1e-5)
    total, trainable = count_parameters(merged)
    assert report.parameters_after == report.parameters_before == total
    assert report.trainable == trainable == total  # trainability restored as loaded


def test_options_errors_name_the_field(tiny_tokenizer: Any, tmp_path: Path) -> None:
    a = save_adapter(tiny_tokenizer, tmp_path / "a", 4, ["q_proj"], seed=1)
    b = save_adapter(tiny_tokenizer, tmp_path / "b", 8, ["q_proj"], seed=2)
    cases = [
        ({"adapters": [str(a), str(b)], "weights": [1, 1], "method": "linear"}, "method", "r=8"),
        ({"adapters": [str(a)], "weights": [1, 1]}, "weights", "2 weights for 1"),
        ({"adapters": [str(tmp_path / "nope")], "weights": [1]}, "adapters", "adapters[0]"),
        ({"adapters": [str(a)], "weights": [1], "method": "ties"}, "density", "density"),
    ]
    for options, field, words in cases:
        with pytest.raises(ValidationError) as info:
            FusionOptions.model_validate(options)
        error = info.value.errors()[0]
        assert error["loc"] == (field,) and words in error["msg"]
    recipe = Recipe.model_validate(
        {
            "schema_version": 1,
            "name": "fuse",
            "data": {"train": "x.jsonl"},
            "growth": [{"strategy": "fusion", "options": cases[0][0]}],
        }
    )
    with pytest.raises(RecipeError) as plan_error:
        validate_growth(recipe, build_catalog(load_plugins=False))
    assert plan_error.value.problems[0].path == "growth[0].options.method"


def test_adapter_from_another_shape_is_refused_before_loading(
    tiny_tokenizer: Any, tmp_path: Path
) -> None:
    from peft import LoraConfig, get_peft_model
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        vocab_size=len(tiny_tokenizer), hidden_size=64, intermediate_size=96,
        num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2, head_dim=16,
    )  # fmt: skip
    other = get_peft_model(LlamaForCausalLM(config), LoraConfig(r=4, target_modules=["up_proj"]))
    other.save_pretrained(tmp_path / "other")
    options = FusionOptions(adapters=[str(tmp_path / "other")], weights=[1.0])
    with pytest.raises(GrowthError) as info:
        apply_fusion(build_tiny_model(tiny_tokenizer), options, CONTEXT)
    assert info.value.path == "growth.options.adapters"
    assert "up_proj gives 128 outputs, adapter expects 96" in str(info.value)


def test_model_with_an_adapter_already_is_refused(tiny_tokenizer: Any, tmp_path: Path) -> None:
    from peft import LoraConfig, get_peft_model

    a = save_adapter(tiny_tokenizer, tmp_path / "a", 4, ["q_proj"], seed=1)
    wrapped = get_peft_model(build_tiny_model(tiny_tokenizer), LoraConfig(r=4))
    with pytest.raises(GrowthError, match="list `fusion` before it"):
        apply_fusion(wrapped, FusionOptions(adapters=[str(a)], weights=[1.0]), CONTEXT)
