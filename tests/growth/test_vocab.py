"""Vocabulary growth: old tokens keep their logits, new rows start where promised, only the new
rows train (on an adapter and on a plain model), and the merged result saves and reloads."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import torch

from scaler_wizard.growth import GrowthContext
from scaler_wizard.growth.base import GrowthError
from scaler_wizard.growth.vocabulary import VocabularyOptions, apply_vocabulary
from scaler_wizard.models.loader import count_parameters
from tiny_models import build_tiny_model

OLD_IDS = torch.tensor([[3, 7, 11, 19, 23, 29]])
TOKENS = ["<tool_call>", "</tool_call>", "json.dumps"]


@pytest.fixture()
def tokenizer(tiny_tokenizer: Any) -> Any:
    return copy.deepcopy(tiny_tokenizer)  # growth adds tokens: keep the session one clean


def context_with(tokenizer: Any) -> GrowthContext:
    return GrowthContext(train_tokens=10_000, memory_gib=8.0, has_cuda=False, tokenizer=tokenizer)


def with_lora(model: Any) -> Any:
    from peft import LoraConfig, get_peft_model

    return get_peft_model(model, LoraConfig(r=4, lora_dropout=0.0, target_modules=["q_proj"]))


def train_step(model: Any, ids: torch.Tensor, context: GrowthContext) -> None:
    """One AdamW step with weight decay, then the step hooks, as the training loop does."""
    optimizer = torch.optim.AdamW(
        [p for p in model.parameters() if p.requires_grad], lr=0.05, weight_decay=0.1
    )
    model.train()
    model(ids, labels=ids).loss.backward()
    optimizer.step()
    for hook in context.needs.step_hooks:
        hook(1)
    model.eval()


def test_mean_init_keeps_old_logits_and_trains_only_new_rows_on_a_plain_model(
    tokenizer: Any,
) -> None:
    model = build_tiny_model(tokenizer)
    with torch.no_grad():
        expected = model(OLD_IDS).logits
    old_rows = model.get_input_embeddings().weight.detach().clone()
    context = context_with(tokenizer)
    grown, report = apply_vocabulary(model, VocabularyOptions(tokens=TOKENS), context)
    ids = report.details["token_ids"]
    weight = grown.get_input_embeddings().weight
    assert len(tokenizer) == weight.shape[0] == old_rows.shape[0] + 3
    with torch.no_grad():
        logits = grown(OLD_IDS).logits
    assert torch.allclose(logits[..., : old_rows.shape[0]], expected, atol=1e-6)
    assert torch.allclose(weight[ids], old_rows.mean(dim=0).expand(3, -1), atol=1e-6)
    assert report.details["mechanism"] == "gradient_mask"
    total, trainable = count_parameters(grown)
    assert (report.parameters_after, report.trainable) == (total, trainable)

    train_step(grown, torch.tensor([[ids[0], 5, ids[1], 9, ids[2]]]), context)
    assert torch.equal(weight[: old_rows.shape[0]], old_rows)  # despite weight decay
    assert not torch.allclose(weight[ids], old_rows.mean(dim=0).expand(3, -1))
    assert all(not p.requires_grad for n, p in grown.named_parameters() if "embed" not in n)


def test_text_init_is_the_mean_of_the_tokens_own_pieces(tokenizer: Any) -> None:
    pieces = tokenizer("json.dumps", add_special_tokens=False)["input_ids"]
    assert len(pieces) > 1
    model = build_tiny_model(tokenizer)
    expected = model.get_input_embeddings().weight[pieces].detach().mean(dim=0)
    options = VocabularyOptions(tokens=["json.dumps"], init="text", trainable=False)
    grown, report = apply_vocabulary(model, options, context_with(tokenizer))
    (new_id,) = report.details["token_ids"]
    assert tokenizer("json.dumps", add_special_tokens=False)["input_ids"] == [new_id]
    assert torch.allclose(grown.get_input_embeddings().weight[new_id], expected, atol=1e-6)
    assert report.trainable == count_parameters(grown)[1]


def test_after_lora_only_adapter_and_new_rows_train_and_merge_reloads(
    tokenizer: Any, tmp_path: Path
) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = build_tiny_model(tokenizer)
    with torch.no_grad():
        expected = model(OLD_IDS).logits
    old_rows = model.get_input_embeddings().weight.detach().clone()
    context = context_with(tokenizer)
    grown, report = apply_vocabulary(with_lora(model), VocabularyOptions(tokens=TOKENS), context)
    ids = report.details["token_ids"]
    assert report.details["mechanism"] == "peft_trainable_tokens"
    with torch.no_grad():
        logits = grown(OLD_IDS).logits
    assert torch.allclose(logits[..., : old_rows.shape[0]], expected, atol=1e-6)
    trainable = {n: p.numel() for n, p in grown.named_parameters() if p.requires_grad}
    tokens = [n for n in trainable if "lora_" not in n]
    assert tokens and all("trainable_tokens" in n for n in tokens)
    assert sum(trainable[n] for n in tokens) == 3 * old_rows.shape[1]
    assert report.trainable == count_parameters(grown)[1]

    probe = torch.tensor([[ids[0], 5, ids[1], 9, ids[2]]])
    train_step(grown, probe, context)
    with torch.no_grad():
        unmerged = grown(probe).logits
    grown.save_pretrained(tmp_path / "adapter")  # the pipeline's adapter export
    saved = (tmp_path / "adapter" / "adapter_config.json").read_text()
    assert '"trainable_token_indices"' in saved and str(ids[0]) in saved
    merged = grown.merge_and_unload()
    weight = merged.get_input_embeddings().weight
    assert torch.equal(weight[: old_rows.shape[0]], old_rows)
    assert not torch.allclose(weight[ids], old_rows.mean(dim=0).expand(3, -1))
    with torch.no_grad():
        assert torch.allclose(merged(probe).logits, unmerged, atol=1e-5)

    merged.save_pretrained(tmp_path / "model")
    tokenizer.save_pretrained(tmp_path / "model")
    reloaded = AutoModelForCausalLM.from_pretrained(tmp_path / "model").eval()
    reloaded_tokenizer = AutoTokenizer.from_pretrained(tmp_path / "model")
    assert len(reloaded_tokenizer) == reloaded.get_input_embeddings().weight.shape[0]
    assert reloaded_tokenizer("<tool_call>", add_special_tokens=False)["input_ids"] == ids[:1]
    with torch.no_grad():
        assert torch.allclose(reloaded(probe).logits, unmerged, atol=1e-5)


def test_existing_tokens_are_reported_not_added_and_tokenizer_is_required(
    tokenizer: Any,
) -> None:
    model = build_tiny_model(tokenizer)
    rows = len(tokenizer)
    grown, report = apply_vocabulary(
        model, VocabularyOptions(tokens=["<|im_end|>"]), context_with(tokenizer)
    )
    assert report.details["added"] == [] and report.details["already_present"] == ["<|im_end|>"]
    assert grown.get_input_embeddings().weight.shape[0] == rows
    assert report.parameters_after == report.parameters_before
    with pytest.raises(GrowthError, match="tokenizer"):
        apply_vocabulary(model, VocabularyOptions(tokens=["<x>"]), context_with(None))
    with pytest.raises(ValueError, match="more than once"):
        VocabularyOptions(tokens=["<x>", "<x>"])
