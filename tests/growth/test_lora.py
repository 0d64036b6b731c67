"""LoRA growth: reports what it did, resolves rank, and merging keeps the function."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from scaler_wizard.growth import GrowthContext
from scaler_wizard.growth.lora import LoraOptions, apply_lora
from scaler_wizard.growth.rank import resolve_rank
from scaler_wizard.models.loader import count_parameters

CONTEXT = GrowthContext(train_tokens=50_000, memory_gib=8.0, has_cuda=False)


def test_lora_reports_parameters_and_trains_only_adapters(tiny_model: Any) -> None:
    before, _ = count_parameters(tiny_model)
    grown, report = apply_lora(tiny_model, LoraOptions(r=4), CONTEXT)
    assert report.parameters_before == before
    assert report.parameters_after > before
    assert report.trainable == report.parameters_after - before
    names = [n for n, p in grown.named_parameters() if p.requires_grad]
    assert names and all("lora_" in n for n in names)
    assert report.details["r"] == 4 and report.details["alpha"] == 8


def test_new_adapter_starts_as_identity(tiny_model: Any) -> None:
    ids = torch.tensor([[1, 5, 9, 12, 40]])
    with torch.no_grad():
        expected = tiny_model(ids).logits
    grown, _ = apply_lora(tiny_model, LoraOptions(r=4, dropout=0.0), CONTEXT)
    with torch.no_grad():
        assert torch.allclose(grown(ids).logits, expected, atol=1e-6)


def test_merged_adapter_equals_unmerged_forward(tiny_model: Any) -> None:
    grown, _ = apply_lora(tiny_model, LoraOptions(r=4, dropout=0.0), CONTEXT)
    torch.manual_seed(1)
    with torch.no_grad():
        for name, param in grown.named_parameters():
            if "lora_B" in name:
                param.normal_(std=0.05)  # a trained-looking, non-zero adapter
    grown.eval()
    ids = torch.tensor([[3, 7, 11, 19, 23, 29]])
    with torch.no_grad():
        unmerged = grown(ids).logits
        merged = grown.merge_and_unload()(ids).logits
    assert torch.allclose(unmerged, merged, atol=1e-5)


@pytest.mark.parametrize(
    ("tokens", "cuda", "rank"),
    [
        (10_000, False, 8),
        (2_000_000, False, 16),
        (50_000_000, False, 16),
        (50_000_000, True, 32),
        (500_000_000, True, 64),
    ],
)
def test_rank_resolution_table(tokens: int, cuda: bool, rank: int) -> None:
    choice = resolve_rank(tokens, cuda)
    assert choice.rank == rank and choice.alpha == 2 * rank
    assert f"{tokens:,}" in choice.reason


def test_auto_rank_is_explained_in_report(tiny_model: Any) -> None:
    _, report = apply_lora(tiny_model, LoraOptions(), CONTEXT)
    assert report.details["r"] == 8
    assert "planned training tokens" in report.details["rank_reason"]
