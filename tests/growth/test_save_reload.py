"""Every kind of grown model, exported the way a run exports it, reloads with the same logits."""

from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path
from typing import Any

import pytest
import torch

from scaler_wizard.catalog import build_catalog
from scaler_wizard.growth import GrowthContext
from scaler_wizard.pipeline.export import merge_model
from tiny_models import build_tiny_model

CASES: dict[str, dict[str, Any]] = {
    "lora": {"r": 4, "dropout": 0.0},
    "dora": {"r": 4, "dropout": 0.0, "use_dora": True},
    "pissa": {"r": 4, "dropout": 0.0, "init": "pissa"},
    "adalora": {"init_r": 4, "target_r": 2, "dropout": 0.0},
    "ia3": {},
    "block_expansion": {"new_blocks": 1},
    "layer_replication": {"layers": [[0, 2], [1, 2]], "r": 4, "dropout": 0.0},
}
STRATEGY = {"dora": "lora", "pissa": "lora"}


@pytest.mark.parametrize("case", list(CASES))
def test_exported_model_reloads_with_the_same_logits(
    case: str, tiny_tokenizer: Any, tmp_path: Path
) -> None:
    from transformers import AutoModelForCausalLM

    entry = build_catalog(load_plugins=False).growth.get(STRATEGY.get(case, case))
    context = GrowthContext(train_tokens=1000, memory_gib=8.0, has_cuda=False, total_steps=10)
    with pytest.warns(UserWarning) if case == "layer_replication" else nullcontext():
        grown, _ = entry.impl(
            build_tiny_model(tiny_tokenizer), entry.options.model_validate(CASES[case]), context
        )
    torch.manual_seed(3)
    with torch.no_grad():  # a trained-looking model: every trainable tensor moved
        for param in grown.parameters():
            if param.requires_grad:
                param.add_(torch.randn_like(param) * 0.05)
    grown.eval()
    ids = torch.tensor([[3, 7, 11, 19, 23, 29, 31]])
    with torch.no_grad():
        expected = grown(ids).logits
    merged, max_diff = merge_model(grown, tiny_tokenizer)
    assert max_diff < 1e-4
    merged.save_pretrained(tmp_path)
    reloaded = AutoModelForCausalLM.from_pretrained(tmp_path).eval()
    with torch.no_grad():
        assert torch.allclose(reloaded(ids).logits, expected, atol=1e-4)
