"""Knowledge distillation: the KD term is the formula, mixes as specified, and trains."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import torch
from torch.nn import functional

from scaler_wizard.data import PackedRow, collate_rows
from scaler_wizard.growth import GrowthContext
from scaler_wizard.growth.lora import LoraOptions, apply_lora
from scaler_wizard.recipe.spec import DistillSpec, TrainSpec
from scaler_wizard.telemetry.bus import EventBus
from scaler_wizard.train import train_model
from scaler_wizard.train.distill import Distillation, distill_loss_sums, freeze
from scaler_wizard.train.loop import accumulate_gradients
from tiny_models import write_chat_data

CONTEXT = GrowthContext(train_tokens=1000, memory_gib=8.0, has_cuda=False)


def rows(n: int, length: int = 16) -> list[PackedRow]:
    """Packed rows of two documents each; the first document's first half carries no loss."""
    out = []
    for i in range(n):
        ids = [(i * 7 + j * 3) % 50 + 3 for j in range(length)]
        half = length // 2
        labels = [-100] * (half // 2) + ids[half // 2 :]
        positions = list(range(half)) + list(range(length - half))
        out.append(PackedRow(ids, labels, positions, [half, length - half]))
    return out


def other_model(model: Any, scale: float = 0.5, seed: int = 1) -> Any:
    """A frozen copy of `model` with perturbed weights: a teacher that disagrees with it."""
    teacher = copy.deepcopy(model)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in teacher.parameters():
            p.add_(torch.randn(p.shape, generator=generator) * scale * p.std().clamp(min=0.02))
    return freeze(teacher)


def logits(model: Any, batch: dict[str, Any]) -> Any:
    # No cache: with one, transformers would not build the packed (block-diagonal) mask.
    ids, positions = batch["input_ids"], batch["position_ids"]
    return model(input_ids=ids, position_ids=positions, use_cache=False).logits


def direct_kd(student: Any, teacher: Any, batch: dict[str, Any], t: float, k: int | None) -> Any:
    """The formula on full logits, written out independently of the chunked code."""
    keep = batch["labels"][:, 1:] != -100
    s = logits(student, batch)
    with torch.no_grad():
        q = logits(teacher, batch)
    s, q = s[:, :-1][keep].float() / t, q[:, :-1][keep].float() / t
    log_s = functional.log_softmax(s, dim=-1)
    if k is None:
        p = functional.softmax(q, dim=-1)
        return t**2 * (p * (p.log() - log_s)).sum()
    values, index = q.topk(k, dim=-1)
    p = functional.softmax(values, dim=-1)
    return t**2 * (p * (p.log() - log_s.gather(-1, index))).sum()


@pytest.mark.parametrize("top_k", [None, "vocab", 5])
def test_kd_equals_the_formula_on_full_logits(tiny_model: Any, top_k: Any) -> None:
    teacher = other_model(tiny_model)
    vocab = tiny_model.get_output_embeddings().weight.shape[0]
    k = vocab if top_k == "vocab" else top_k
    batch = collate_rows(rows(2))
    distill = Distillation(teacher, weight=0.5, temperature=2.0, top_k=k)
    lm, kd, count = distill_loss_sums(
        tiny_model,
        distill,
        batch["input_ids"],
        batch["labels"],
        batch["position_ids"],
        chunk_tokens=7,  # several chunks, the last one partial
        recompute_chunks=True,
    )
    expected = direct_kd(tiny_model, teacher, batch, 2.0, None if top_k == "vocab" else k)
    assert count == int((batch["labels"][:, 1:] != -100).sum())
    assert kd.item() > 0.01
    torch.testing.assert_close(kd, expected, atol=1e-5, rtol=1e-5)
    keep = batch["labels"][:, 1:] != -100
    full = logits(tiny_model, batch)[:, :-1][keep]
    ce = functional.cross_entropy(full, batch["labels"][:, 1:][keep], reduction="sum")
    torch.testing.assert_close(lm, ce, atol=1e-4, rtol=1e-5)
    # The backward through the recomputed chunks is the backward of the formula.
    (grad,) = torch.autograd.grad(kd, tiny_model.model.norm.weight)
    (want,) = torch.autograd.grad(expected, tiny_model.model.norm.weight)
    torch.testing.assert_close(grad, want, atol=1e-5, rtol=1e-4)


def test_weight_zero_gives_the_gradients_of_plain_lm_training(tiny_model: Any) -> None:
    teacher = other_model(tiny_model)
    model, _ = apply_lora(tiny_model, LoraOptions(r=4, dropout=0.0), CONTEXT)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.fill_(0.01)
    micro = [collate_rows(rows(2)), collate_rows(rows(1))]

    def grads(distill: Distillation | None) -> tuple[float, dict[str, torch.Tensor]]:
        model.zero_grad()
        loss, _ = accumulate_gradients(model, micro, 16, lambda x: x.backward(), distill=distill)
        return loss, {n: p.grad.clone() for n, p in model.named_parameters() if p.requires_grad}

    plain_loss, plain = grads(None)
    mixed_loss, mixed = grads(Distillation(teacher, weight=0.0, temperature=2.0))
    assert plain_loss == pytest.approx(mixed_loss, rel=1e-6)
    assert plain and plain.keys() == mixed.keys()
    for name in plain:
        torch.testing.assert_close(mixed[name], plain[name], atol=1e-7, rtol=1e-5)
    # ...and a non-zero weight does change them: the test above could fail.
    _, half = grads(Distillation(teacher, weight=0.5, temperature=2.0))
    assert any(not torch.allclose(half[n], plain[n], atol=1e-5) for n in plain)


def test_a_student_identical_to_its_teacher_has_zero_kd_and_zero_kd_gradient(
    tiny_model: Any,
) -> None:
    teacher = freeze(copy.deepcopy(tiny_model))
    micro = [collate_rows(rows(2))]
    kd_out = [0.0]
    tiny_model.zero_grad()
    distill = Distillation(teacher, weight=1.0, temperature=3.0)
    accumulate_gradients(tiny_model, micro, 16, lambda x: x.backward(), None, (), distill, kd_out)
    assert abs(kd_out[0]) < 1e-5
    grads = [p.grad for p in tiny_model.parameters() if p.grad is not None]
    assert grads and max(float(g.abs().max()) for g in grads) < 1e-6


def test_training_with_weight_half_lowers_the_kd_term(tiny_model: Any, tmp_path: Path) -> None:
    teacher = other_model(tiny_model, scale=1.0)
    model = tiny_model  # every weight trains: the tiny model moves fast
    spec = TrainSpec(
        steps=20,
        batch_size=2,
        learning_rate=1e-2,
        warmup_steps=2,
        log_every=5,
        checkpoint_every=100,
        loss_chunk_tokens=16,
        distill=DistillSpec(weight=0.5, temperature=2.0, top_k=8),
    )
    result = train_model(model, rows(4), spec, EventBus("t"), tmp_path, teacher=teacher)
    assert [s for s, _ in result.distill_losses] == [5, 10, 15, 20]
    assert result.distill_losses[-1][1] < result.distill_losses[0][1] * 0.8
    assert not any(p.requires_grad for p in teacher.parameters())


def test_a_teacher_needs_the_setting_and_the_setting_needs_a_teacher(
    tiny_model: Any, tmp_path: Path
) -> None:
    spec = TrainSpec(steps=1, batch_size=1)
    with pytest.raises(ValueError, match=r"train\.distill is not set"):
        train_model(tiny_model, rows(1), spec, EventBus("t"), tmp_path, teacher=tiny_model)
    spec = TrainSpec(steps=1, batch_size=1, distill=DistillSpec())
    with pytest.raises(ValueError, match="no teacher"):
        train_model(tiny_model, rows(1), spec, EventBus("t"), tmp_path)


def test_pipeline_distils_from_the_base_model_and_records_it(
    tmp_path: Path, tiny_model_dir: Path, isolated_home: Path
) -> None:
    from typer.testing import CliRunner

    from scaler_wizard.cli import app

    data = write_chat_data(tmp_path / "d.jsonl", 20)
    args = ["grow", "tiny-cpu", "--quiet"]
    for item in (
        f"model.source={tiny_model_dir}",
        f"data.train={data}",
        "context.scale=2",
        "train.steps=3",
        "train.log_every=1",
        "train.distill={teacher: base, weight: 0.5}",
        "evaluate.passkey=null",
    ):
        args += ["--set", item]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    (run,) = [p for p in (isolated_home / "runs").iterdir() if p.is_dir()]
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["status"] == "completed"
    distill = manifest["train"]["distill"]
    assert distill["teacher"] == "base" and distill["weight"] == 0.5
    assert [s for s, _ in distill["losses"]] == [1, 2, 3]
    # The teacher is the base model, so the student starts next to it (LoRA starts at zero).
    assert 0 <= distill["losses"][0][1] < 1e-4


def test_distillation_with_context_stages_is_refused_up_front() -> None:
    from pydantic import ValidationError

    from scaler_wizard.recipe.spec import Recipe

    recipe = {
        "schema_version": 1,
        "name": "r",
        "data": {"train": "d.jsonl"},
        "context": {"stages": [{"scale": 2, "steps": 1}]},
        "train": {"distill": {"teacher": "base"}},
    }
    with pytest.raises(ValidationError, match=r"context\.stages"):
        Recipe.model_validate(recipe)
    del recipe["context"]
    assert Recipe.model_validate(recipe).train.distill == DistillSpec()
