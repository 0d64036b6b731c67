"""The training memory model: its counts match real models, and its terms move the right way."""

from __future__ import annotations

import pytest

from scaler_wizard.hardware.template_models import template_model_config
from scaler_wizard.hardware.training_memory import (
    TrainingShape,
    _Dims,
    estimate_training_memory,
)
from tiny_models import build_tiny_model, build_tiny_tokenizer

SMOL = template_model_config("embedded")


def test_parameter_and_lora_counts_equal_real_models() -> None:
    from peft import LoraConfig, get_peft_model

    model = build_tiny_model(build_tiny_tokenizer())
    dims = _Dims.of(model.config)
    assert dims.parameters() == sum(p.numel() for p in model.parameters())
    peft = get_peft_model(model, LoraConfig(r=4, target_modules="all-linear"))
    trainable = sum(p.numel() for p in peft.parameters() if p.requires_grad)
    assert dims.lora_params(4) == trainable


def test_smollm2_counts_match_the_published_model() -> None:
    dims = _Dims.of(SMOL)
    assert dims.parameters() == 134_515_008  # SmolLM2-135M, tied embeddings
    assert dims.lora_params(8) == 2_442_240  # what PEFT reports for r=8 on all-linear


@pytest.mark.parametrize(
    ("change", "term"),
    [
        ({"seq_length": 1024}, "activations_gib"),
        ({"batch_size": 4}, "activations_gib"),
        ({"lora_rank": 64}, "trainable_gib"),
        ({"lora_rank": None}, "trainable_gib"),  # full fine-tuning
    ],
)
def test_each_knob_raises_its_own_term(change: dict[str, object], term: str) -> None:
    base = TrainingShape(batch_size=1, seq_length=512)
    before = estimate_training_memory(SMOL, base)
    after = estimate_training_memory(SMOL, base.model_copy(update=change))
    assert after.model_dump()[term] > before.model_dump()[term]
    assert after.total_gib > before.total_gib


def test_checkpointing_saves_more_than_half_the_activation_memory() -> None:
    plain = TrainingShape(batch_size=2, seq_length=2048)
    saved = estimate_training_memory(
        SMOL, plain.model_copy(update={"gradient_checkpointing": True})
    )
    full = estimate_training_memory(SMOL, plain)
    assert saved.activations_gib < full.activations_gib / 2


def test_half_precision_halves_the_weights() -> None:
    shape = TrainingShape(batch_size=1, seq_length=512)
    fp32 = estimate_training_memory(SMOL, shape)
    bf16 = estimate_training_memory(SMOL, shape.model_copy(update={"dtype": "bfloat16"}))
    assert bf16.weights_gib == pytest.approx(fp32.weights_gib / 2)
    assert bf16.trainable_gib == fp32.trainable_gib  # trainable weights and Adam stay fp32


def test_terms_add_up_and_explain_names_them() -> None:
    memory = estimate_training_memory(SMOL, TrainingShape(batch_size=2, seq_length=512))
    parts = ("runtime_gib", "weights_gib", "trainable_gib", "activations_gib", "logits_gib")
    assert memory.total_gib == pytest.approx(sum(memory.model_dump()[p] for p in parts))
    assert "activations" in memory.explain() and "weights" in memory.explain()
