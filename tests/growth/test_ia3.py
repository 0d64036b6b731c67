"""(IA)³ growth: identity at init, merge equals unmerged, options checked against the model."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from pydantic import ValidationError

from scaler_wizard.growth import GrowthContext
from scaler_wizard.growth.base import GrowthError
from scaler_wizard.growth.ia3 import IA3Options, apply_ia3
from scaler_wizard.models.loader import count_parameters

CONTEXT = GrowthContext(train_tokens=10_000, memory_gib=8.0, has_cuda=False)
IDS = torch.tensor([[1, 5, 9, 12, 40, 77]])


def test_default_targets_start_as_identity_and_report_parameters(tiny_model: Any) -> None:
    with torch.no_grad():
        expected = tiny_model(IDS).logits
    before, _ = count_parameters(tiny_model)
    grown, report = apply_ia3(tiny_model, IA3Options(), CONTEXT)
    with torch.no_grad():
        assert torch.allclose(grown(IDS).logits, expected, atol=1e-6)
    after, trainable = count_parameters(grown)
    assert (report.parameters_before, report.parameters_after) == (before, after)
    assert report.trainable == trainable == after - before > 0
    assert report.details["target_modules"] == ["down_proj", "k_proj", "v_proj"]
    assert report.details["feedforward_modules"] == ["down_proj"]
    names = [n for n, p in grown.named_parameters() if p.requires_grad]
    assert names and all("ia3_l" in n for n in names)
    # k (32) + v (32) outputs and down_proj's 128 inputs, per layer, two layers.
    assert trainable == 2 * (32 + 32 + 128)


def test_merged_equals_unmerged_after_the_vectors_move(tiny_model: Any) -> None:
    with torch.no_grad():
        base = tiny_model(IDS).logits
    options = IA3Options(target_modules=["v_proj", "up_proj", "down_proj"],
                         feedforward_modules=["down_proj"])  # fmt: skip
    grown, _ = apply_ia3(tiny_model, options, CONTEXT)
    torch.manual_seed(2)
    with torch.no_grad():
        for name, param in grown.named_parameters():
            if "ia3_l" in name:
                param.uniform_(0.5, 1.5)
        unmerged = grown(IDS).logits
        merged_model = grown.merge_and_unload()
        merged = merged_model(IDS).logits
    assert not torch.allclose(unmerged, base, atol=1e-3)
    assert not hasattr(merged_model, "peft_config")
    assert torch.allclose(unmerged, merged, atol=1e-5)


def test_options_are_checked(tiny_model: Any) -> None:
    with pytest.raises(ValidationError) as info:
        IA3Options(target_modules=["k_proj"], feedforward_modules=["down_proj"])
    error = info.value.errors()[0]
    assert error["loc"] == ("feedforward_modules",) and "down_proj" in error["msg"]
    with pytest.raises(ValidationError, match="set target_modules too"):
        IA3Options(feedforward_modules=["down_proj"])
    with pytest.raises(GrowthError) as missing:
        apply_ia3(tiny_model, IA3Options(target_modules=["k_proj", "wq"]), CONTEXT)
    assert missing.value.path == "growth.options.target_modules" and "'wq'" in str(missing.value)
    grown, _ = apply_ia3(tiny_model, IA3Options(target_modules=["self_attn.k_proj"]), CONTEXT)
    with pytest.raises(GrowthError, match="already carries an adapter"):
        apply_ia3(grown, IA3Options(), CONTEXT)
