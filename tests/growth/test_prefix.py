"""Prefix tuning: only the prompt encoder trains, our chunked loss equals PEFT's own, generation
works, and a whole run leaves a reloadable adapter (no merged model: a prefix cannot merge)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch
from pydantic import ValidationError
from typer.testing import CliRunner

from scaler_wizard.data import prepare_data
from scaler_wizard.evaluate.generation import generate_with_prefix
from scaler_wizard.evaluate.held_out import evaluate_held_out
from scaler_wizard.evaluate.loss import label_loss_sum, token_nll
from scaler_wizard.evaluate.passkey import generate_continuation
from scaler_wizard.growth import GrowthContext
from scaler_wizard.growth.base import GrowthError
from scaler_wizard.growth.lora import LoraOptions, apply_lora
from scaler_wizard.growth.prefix import (
    NOT_MERGEABLE,
    PrefixOptions,
    apply_prefix,
)
from scaler_wizard.models.loader import count_parameters
from scaler_wizard.pipeline.export import unmergeable_reason
from scaler_wizard.recipe.spec import DataSpec
from tiny_models import write_chat_data

# Tiny Llama: 2 layers, 2 KV heads x head_dim 16 = a 32-wide key (and value) per prefix token.
WIDTH, LAYERS = 32, 2


def context() -> GrowthContext:
    return GrowthContext(train_tokens=10_000, memory_gib=8.0, has_cuda=False)


def batch(vocab: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Two right-padded rows (the second has 4 pads), labels on all but the first 3 tokens."""
    torch.manual_seed(3)
    ids = torch.randint(0, vocab, (2, 12))
    mask = torch.ones_like(ids)
    mask[1, 8:] = 0
    labels = ids.masked_fill(mask == 0, -100)
    labels[:, :3] = -100
    return ids, mask, labels


def prefixed(model: Any, **options: Any) -> Any:
    grown, _ = apply_prefix(model, PrefixOptions(**options), context())
    # Move the prefix off its init so a mistake in feeding it shows up in the numbers.
    torch.manual_seed(4)
    with torch.no_grad():
        for param in grown.prompt_encoder.parameters():
            param.normal_(0, 0.5)
    return grown


def test_only_the_prompt_encoder_trains_and_rows_are_unpacked(tiny_model: Any) -> None:
    before, _ = count_parameters(tiny_model)
    ctx = context()
    grown, report = apply_prefix(tiny_model, PrefixOptions(num_virtual_tokens=5), ctx)
    after, trainable = count_parameters(grown)
    assert (report.parameters_before, report.parameters_after) == (before, after)
    assert report.trainable == trainable == after - before == 5 * LAYERS * 2 * WIDTH
    names = [n for n, p in grown.named_parameters() if p.requires_grad]
    assert names and all(n.startswith("prompt_encoder.") for n in names)
    assert ctx.needs.unpacked_rows
    assert report.details["prefix_width"] == WIDTH and report.details["mergeable"] is False
    assert unmergeable_reason(grown) == NOT_MERGEABLE
    assert unmergeable_reason(tiny_model) is None


def test_projection_trains_an_mlp_of_the_chosen_size(tiny_model: Any) -> None:
    options = PrefixOptions(num_virtual_tokens=4, projection=True, encoder_hidden_size=16)
    _, report = apply_prefix(tiny_model, options, context())
    mlp = (WIDTH * 16 + 16) + (16 * LAYERS * 2 * WIDTH + LAYERS * 2 * WIDTH)
    assert report.trainable == 4 * WIDTH + mlp
    assert report.details["encoder_hidden_size"] == 16


def test_options_are_checked(tiny_model: Any) -> None:
    with pytest.raises(ValidationError):
        PrefixOptions(num_virtual_tokens=0)
    with pytest.raises(ValidationError, match="projection"):
        PrefixOptions(encoder_hidden_size=16)
    lora, _ = apply_lora(tiny_model, LoraOptions(r=2), context())
    with pytest.raises(GrowthError) as info:
        apply_prefix(lora, PrefixOptions(), context())
    assert info.value.path == "growth.strategy"


@pytest.mark.parametrize("projection", [False, True])
def test_chunked_loss_equals_peft_forward(
    tiny_model: Any, tiny_tokenizer: Any, projection: bool
) -> None:
    grown = prefixed(tiny_model, num_virtual_tokens=5, projection=projection)
    ids, mask, labels = batch(len(tiny_tokenizer))
    expected = grown(input_ids=ids, attention_mask=mask, labels=labels).loss  # mean over labels
    total, count = label_loss_sum(grown, ids, labels, chunk_tokens=4)
    assert count == int((labels[:, 1:] != -100).sum())
    assert torch.allclose(total / count, expected, atol=1e-4)
    masked, _ = label_loss_sum(grown, ids, labels, attention_mask=mask)
    positions = torch.arange(12).expand(2, -1)
    positioned, _ = label_loss_sum(grown, ids, labels, positions, recompute_chunks=True)
    assert torch.allclose(masked, total, atol=1e-4) and torch.allclose(positioned, total, atol=1e-4)
    with torch.no_grad():  # the prefix matters: without it the loss differs
        base = grown.get_base_model()(input_ids=ids, attention_mask=mask, labels=labels).loss
    assert not torch.allclose(base, expected, atol=1e-3)

    positioned.backward()
    grads = {n: p.grad for n, p in grown.named_parameters() if p.requires_grad}
    assert grads and all(g is not None and g.abs().sum() > 0 for g in grads.values())


def test_token_nll_and_held_out_see_the_prefix(tiny_model: Any, tiny_tokenizer: Any) -> None:
    from scaler_wizard.data import pack_examples
    from scaler_wizard.data.tokenize import TokenizedExample

    grown = prefixed(tiny_model, num_virtual_tokens=3).eval()
    ids, _, _ = batch(len(tiny_tokenizer))
    with torch.no_grad():
        logits = grown(input_ids=ids[:1]).logits[0, :-1]
        nll = token_nll(grown, ids[:1])[0]
    expected = torch.nn.functional.cross_entropy(logits, ids[0, 1:], reduction="none")
    assert torch.allclose(nll, expected, atol=1e-4)

    examples = [TokenizedExample(ids[0, :n].tolist(), ids[0, :n].tolist()) for n in (12, 7)]
    rows = pack_examples(examples, 16, packing=False)
    held = evaluate_held_out(grown, rows, batch_size=2)
    assert held.label_tokens == 11 + 6 and torch.isfinite(torch.tensor(held.loss))
    with pytest.raises(ValueError, match="one example per row"):
        evaluate_held_out(grown, pack_examples(examples, 20, packing=True))


def test_gradient_checkpointing_is_refused_not_silently_wrong(
    tiny_model: Any, tiny_tokenizer: Any
) -> None:
    grown = prefixed(tiny_model, num_virtual_tokens=2)
    grown.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    grown.train()
    ids, _, labels = batch(len(tiny_tokenizer))
    with pytest.raises(ValueError, match="gradient_checkpointing"):
        label_loss_sum(grown, ids, labels)


def test_generation_sees_the_prefix(tiny_model: Any, tiny_tokenizer: Any) -> None:
    grown = prefixed(tiny_model, num_virtual_tokens=4).eval()
    prompt = "What is the pass key? The pass key is"
    ids = tiny_tokenizer(prompt, return_tensors="pt")["input_ids"]
    with torch.inference_mode():
        text = generate_continuation(grown, tiny_tokenizer, prompt)
        out = generate_with_prefix(
            grown,
            ids,
            torch.ones_like(ids),
            max_new_tokens=2,
            do_sample=False,
            output_scores=True,
            return_dict_in_generate=True,
        )
        first = grown(input_ids=ids).logits[0, -1]
        second = grown(input_ids=out.sequences[:, : ids.shape[1] + 1]).logits[0, -1]
    assert isinstance(text, str)
    assert torch.equal(out.sequences[:, : ids.shape[1]], ids)
    # Each step's scores are PEFT's forward logits for the same tokens: the prefix is in use.
    assert torch.allclose(out.scores[0][0], first, atol=1e-4)
    assert torch.allclose(out.scores[1][0], second, atol=1e-4)


def test_pipeline_trains_a_prefix_and_exports_the_adapter_only(
    tmp_path: Path, tiny_model_dir: Path, isolated_home: Path
) -> None:
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from scaler_wizard.cli import app

    data = write_chat_data(tmp_path / "d.jsonl", 16)
    args = ["grow", "tiny-cpu", "--quiet"]
    for item in (
        f"model.source={tiny_model_dir}",
        f"data.train={data}",
        "data.seq_length=32",
        "growth=[{strategy: prefix, options: {num_virtual_tokens: 4}}]",
        "train.steps=6",
        "train.learning_rate=0.05",
        "train.warmup_steps=0",
        "evaluate.passkey.lengths=[128]",
    ):
        args += ["--set", item]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    (run,) = [p for p in (isolated_home / "runs").iterdir() if p.is_dir()]
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["status"] == "completed"
    assert manifest["growth"][0]["strategy"] == "prefix"
    assert manifest["data"]["packing"] is False
    losses = [loss for _, loss in manifest["train"]["losses"]]
    assert losses[-1] < losses[0]
    assert "passkey" in manifest["metrics"]["grown"]
    assert manifest["exports"]["merged_skipped"] == NOT_MERGEABLE
    assert not (run / "model").exists()

    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    loaded = PeftModel.from_pretrained(base, run / "adapter")
    tokenizer = AutoTokenizer.from_pretrained(run / "adapter")  # saved with the adapter
    assert loaded.active_peft_config.num_virtual_tokens == 4
    # The reloaded adapter scores the held-out rows exactly as the trained model did.
    spec = DataSpec(train=str(data), seq_length=32, eval_records=4, max_records=40, packing=False)
    held = evaluate_held_out(loaded, prepare_data(spec, tokenizer).eval_rows)
    assert held.loss == pytest.approx(manifest["metrics"]["grown"]["eval_loss"], abs=1e-4)
