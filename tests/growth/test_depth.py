"""Depth growth: block expansion starts as the identity; layer replication says when it is not."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from scaler_wizard.data import PackedRow
from scaler_wizard.growth import GrowthContext
from scaler_wizard.growth.base import GrowthError
from scaler_wizard.growth.block_expansion import (
    BlockExpansionOptions,
    apply_block_expansion,
    plan_sources,
)
from scaler_wizard.growth.decoder_layers import find_decoder_layers
from scaler_wizard.growth.layer_replication import (
    LayerReplicationOptions,
    apply_layer_replication,
    merge_replicated,
)
from scaler_wizard.models.loader import count_parameters
from scaler_wizard.recipe.spec import TrainSpec
from scaler_wizard.telemetry.bus import EventBus
from scaler_wizard.train import train_model

CONTEXT = GrowthContext(train_tokens=10_000, memory_gib=8.0, has_cuda=False)
IDS = torch.tensor([[1, 5, 9, 12, 40, 7, 3]])


def logits(model: Any) -> torch.Tensor:
    with torch.no_grad():
        return model(IDS).logits  # type: ignore[no-any-return]


def perturb(params: Any, seed: int = 1) -> None:
    """Make zero-initialised weights look trained, so a lost block would change the output."""
    torch.manual_seed(seed)
    with torch.no_grad():
        for param in params:
            param.add_(torch.randn_like(param) * 0.05)


def expand(model: Any, **options: Any) -> tuple[Any, Any]:
    return apply_block_expansion(model, BlockExpansionOptions(**options), CONTEXT)


@pytest.mark.parametrize(("placement", "inserted_at"), [("interleave", [1, 3]), ("top", [2, 3])])
def test_block_expansion_keeps_step0_logits(
    tiny_model: Any, placement: str, inserted_at: list[int]
) -> None:
    expected = logits(tiny_model)
    grown, report = expand(tiny_model, new_blocks=2, placement=placement)
    assert torch.allclose(logits(grown), expected, atol=1e-5)
    assert report.details["inserted_at"] == inserted_at
    assert report.details["layers_before"] == 2 and report.details["layers_after"] == 4
    assert grown.config.num_hidden_layers == 4 and len(grown.model.layers) == 4
    assert report.details["zeroed"] == ["mlp.down_proj", "self_attn.o_proj"]
    idx = [block.self_attn.layer_idx for block in grown.model.layers]
    assert idx == [0, 1, 2, 3]


def test_interleave_spreads_blocks_evenly() -> None:
    assert plan_sources(4, 2, "interleave") == [1, 3]
    assert plan_sources(6, 3, "interleave") == [1, 3, 5]
    assert plan_sources(3, 2, "interleave") == [0, 2]
    assert plan_sources(3, 5, "top") == [2] * 5
    with pytest.raises(GrowthError) as err:
        plan_sources(2, 3, "interleave")
    assert err.value.path == "growth.options.new_blocks"


@pytest.mark.parametrize("train", ["new_blocks", "new_blocks_and_norms"])
def test_only_new_blocks_train_and_counts_match(tiny_model: Any, train: str) -> None:
    before, _ = count_parameters(tiny_model)
    grown, report = expand(tiny_model, new_blocks=1, placement="top", train=train)
    after, trainable = count_parameters(grown)
    assert (report.parameters_before, report.parameters_after) == (before, after)
    assert report.trainable == trainable
    block = sum(p.numel() for p in grown.model.layers[2].parameters())
    assert after == before + block
    names = {n for n, p in grown.named_parameters() if p.requires_grad}
    new = {n for n in names if n.startswith("model.layers.2.")}
    assert len(new) == len(list(grown.model.layers[2].parameters()))
    if train == "new_blocks":
        assert names == new and trainable == block
    else:
        extra = names - new
        assert extra and all("norm" in n for n in extra)
        assert "model.norm.weight" in extra and "model.layers.0.input_layernorm.weight" in extra


def test_expanded_model_saves_and_reloads(tiny_model: Any, tmp_path: Path) -> None:
    from transformers import AutoModelForCausalLM

    grown, _ = expand(tiny_model, new_blocks=2, placement="interleave")
    perturb(p for i in (1, 3) for p in grown.model.layers[i].parameters())
    expected = logits(grown)
    grown.save_pretrained(tmp_path)
    reloaded: Any = AutoModelForCausalLM.from_pretrained(tmp_path)
    reloaded.eval()
    assert reloaded.config.num_hidden_layers == 4
    assert torch.allclose(logits(reloaded), expected, atol=1e-5)


def test_generation_with_cache_after_expansion(tiny_model: Any) -> None:
    grown, _ = expand(tiny_model, new_blocks=1, placement="interleave")
    # Trained-looking new block: if it shared its source's cache slot, cached decoding would differ.
    perturb(grown.model.layers[2].parameters())
    args = {"max_new_tokens": 3, "do_sample": False, "pad_token_id": 0}
    with torch.no_grad():
        cached = grown.generate(IDS, use_cache=True, **args)
        uncached = grown.generate(IDS, use_cache=False, **args)
    assert cached.shape == (1, IDS.shape[1] + 3)
    assert torch.equal(cached, uncached)


def test_model_without_decoder_blocks_is_refused() -> None:
    class Wrapper(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.body = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.Linear(4, 4))

    with pytest.raises(GrowthError, match="no recognisable list of decoder blocks") as err:
        expand(Wrapper(), new_blocks=1)
    assert err.value.path == "growth.strategy"


def test_encoder_without_mlp_block_is_refused() -> None:
    from transformers import BertConfig, BertForMaskedLM

    bert: Any = BertForMaskedLM(
        BertConfig(
            vocab_size=64,
            hidden_size=16,
            num_hidden_layers=2,
            num_attention_heads=2,
            intermediate_size=32,
        )
    )
    bert.eval()
    state = {k: v.clone() for k, v in bert.state_dict().items()}
    with pytest.raises(GrowthError, match="no MLP sub-module"):
        expand(bert, new_blocks=1)
    assert len(bert.bert.encoder.layer) == 2
    assert all(torch.equal(v, bert.state_dict()[k]) for k, v in state.items())


def test_training_changes_only_new_blocks(tiny_model: Any, tmp_path: Path) -> None:
    grown, report = expand(tiny_model, new_blocks=1, placement="interleave")
    start = {n: p.detach().clone() for n, p in grown.named_parameters()}
    rows = [
        PackedRow(ids, list(ids), list(range(16)), [16])
        for ids in ([(i * 7 + j * 3) % 50 + 3 for j in range(16)] for i in range(4))
    ]
    spec = TrainSpec(steps=2, batch_size=2, learning_rate=1e-2, warmup_steps=0, threads=1)
    train_model(grown, rows, spec, EventBus("t"), tmp_path)
    changed = {n for n, p in grown.named_parameters() if not torch.equal(p, start[n])}
    (new,) = report.details["inserted_at"]
    assert changed and all(n.startswith(f"model.layers.{new}.") for n in changed)
    assert f"model.layers.{new}.self_attn.o_proj.weight" in changed


def replicate(model: Any, layers: list[tuple[int, int]]) -> tuple[Any, Any]:
    options = LayerReplicationOptions(layers=layers, r=4, dropout=0.0)
    return apply_layer_replication(model, options, CONTEXT)


def test_replication_of_each_block_once_preserves_logits(tiny_model: Any) -> None:
    expected = logits(tiny_model)
    grown, report = replicate(tiny_model, [(0, 1), (1, 2)])
    assert report.details["function_preserving"] is True
    assert torch.allclose(logits(grown), expected, atol=1e-5)


def test_repeating_blocks_changes_function_and_says_so(tiny_model: Any) -> None:
    expected = logits(tiny_model)
    before, _ = count_parameters(tiny_model)
    block = sum(p.numel() for p in tiny_model.model.layers[1].parameters())
    with pytest.warns(UserWarning, match="changes the model's function"):
        grown, report = replicate(tiny_model, [(0, 2), (1, 2)])
    details = report.details
    assert details["function_preserving"] is False
    assert not torch.allclose(logits(grown), expected, atol=1e-3)
    assert (details["layers_before"], details["layers_after"]) == (2, 3)
    assert details["layer_sequence"] == [0, 1, 1]
    assert grown.config.num_hidden_layers == 3
    after, trainable = count_parameters(grown)
    assert (report.parameters_before, report.parameters_after) == (before, after)
    assert report.trainable == trainable
    lora = after - before  # shared base weights are counted once
    names = [n for n, p in grown.named_parameters() if p.requires_grad]
    assert names and all("lora_" in n for n in names) and trainable == lora
    assert details["effective_parameters"] == after + block


def test_replication_range_outside_model_is_refused(tiny_model: Any) -> None:
    with pytest.raises(GrowthError) as err:
        replicate(tiny_model, [(0, 3)])
    assert err.value.path == "growth.options.layers"


def test_merged_replicated_model_saves_and_reloads(tiny_model: Any, tmp_path: Path) -> None:
    from transformers import AutoModelForCausalLM

    with pytest.warns(UserWarning):
        grown, _ = replicate(tiny_model, [(0, 2), (1, 2)])
    perturb(p for n, p in grown.named_parameters() if "lora_B" in n)
    expected = logits(grown)
    grown.save_pretrained(tmp_path / "adapter")  # export writes the adapter first
    merged = merge_replicated(grown)
    assert not hasattr(merged, "peft_config")
    assert torch.allclose(logits(merged), expected, atol=1e-5)
    layers = find_decoder_layers(merged).layers
    assert layers[1].self_attn.q_proj.weight is not layers[2].self_attn.q_proj.weight
    merged.save_pretrained(tmp_path / "model")
    reloaded: Any = AutoModelForCausalLM.from_pretrained(tmp_path / "model")
    reloaded.eval()
    assert reloaded.config.num_hidden_layers == 3
    assert torch.allclose(logits(reloaded), expected, atol=1e-5)
