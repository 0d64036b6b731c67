"""AdaLoRA growth: the loop calls its allocator, adds its penalty, and reports pruned ranks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from pydantic import ValidationError

from scaler_wizard.data import PackedRow
from scaler_wizard.growth import GrowthContext
from scaler_wizard.growth.adalora import AdaLoraOptions, apply_adalora, final_ranks
from scaler_wizard.growth.base import GrowthError
from scaler_wizard.models.loader import count_parameters
from scaler_wizard.recipe.spec import TrainSpec
from scaler_wizard.telemetry.bus import EventBus
from scaler_wizard.train import train_model

IDS = torch.tensor([[1, 5, 9, 12, 40, 7, 3]])
SMALL = {"init_r": 6, "target_r": 2, "target_modules": ["q_proj", "v_proj"], "dropout": 0.0}


def context(total_steps: int = 8) -> GrowthContext:
    return GrowthContext(train_tokens=1000, memory_gib=8.0, has_cuda=False, total_steps=total_steps)


def rows(n: int, length: int = 16) -> list[PackedRow]:
    out = []
    for i in range(n):
        ids = [(i * 7 + j * 3) % 50 + 3 for j in range(length)]
        out.append(PackedRow(ids, list(ids), list(range(length)), [length]))
    return out


def test_training_prunes_ranks_and_reports_them(tiny_model: Any, tmp_path: Path) -> None:
    ctx = context(8)
    grown, report = apply_adalora(tiny_model, AdaLoraOptions.model_validate(SMALL), ctx)
    assert (report.details["tinit_steps"], report.details["tfinal_steps"]) == (1, 2)
    assert report.details["initial_rank_budget"] == 6 * 4
    tuner = grown.base_model
    calls: list[int] = []
    real = tuner.update_and_allocate

    def spy(step: int) -> None:
        calls.append(step)
        real(step)

    tuner.update_and_allocate = spy
    spec = TrainSpec(steps=8, batch_size=2, learning_rate=1e-2, warmup_steps=1, log_every=4)
    result = train_model(grown, rows(4), spec, EventBus("t"), tmp_path, ctx.needs)

    assert calls == list(range(1, 9))
    ranks = result.final_reports["adalora_final_ranks"]
    assert len(ranks) == 4 and all(k.endswith(("q_proj", "v_proj")) for k in ranks)
    assert sum(ranks.values()) <= 2 * 4 < report.details["initial_rank_budget"]
    assert min(ranks.values()) < 6  # something was actually pruned
    # The report matches the weights: pruned singular values are zeroed in lora_E.
    for name, rank in ranks.items():
        e = grown.base_model.model.get_submodule(name).lora_E["default"]
        assert int(torch.count_nonzero(e)) == rank


def test_before_any_allocation_every_module_keeps_init_r(tiny_model: Any) -> None:
    grown, report = apply_adalora(tiny_model, AdaLoraOptions.model_validate(SMALL), context())
    ranks = final_ranks(grown, 6)
    assert sorted(ranks) == [
        f"model.layers.{i}.self_attn.{m}" for i in (0, 1) for m in ("q_proj", "v_proj")
    ]
    assert set(ranks.values()) == {6}
    assert (report.parameters_after, report.trainable) == count_parameters(grown)
    trainable = [n for n, p in grown.named_parameters() if p.requires_grad]
    assert trainable and all("lora_" in n for n in trainable)


def test_orthogonal_penalty_matches_peft_forward(tiny_model: Any) -> None:
    """PEFT adds weight × penalty to the loss only when labels reach its forward; ours agrees."""
    ctx = context()
    options = AdaLoraOptions.model_validate({**SMALL, "orth_reg_weight": 0.3})
    grown, _ = apply_adalora(tiny_model, options, ctx)
    grown.eval()
    (term,) = ctx.needs.loss_terms
    with torch.no_grad():
        with_penalty = grown(input_ids=IDS, labels=IDS).loss
        plain = grown.base_model.model(input_ids=IDS, labels=IDS).loss
        ours = term()
    assert float(ours) > 0.1  # random P, Q are far from orthogonal
    assert torch.allclose(with_penalty - plain, ours, atol=1e-5)


def test_penalty_flows_into_the_gradient(tiny_model: Any) -> None:
    ctx = context()
    grown, _ = apply_adalora(tiny_model, AdaLoraOptions.model_validate(SMALL), ctx)
    ctx.needs.loss_terms[0]().backward()
    a = grown.base_model.model.model.layers[0].self_attn.q_proj.lora_A["default"]
    assert a.grad is not None and float(a.grad.abs().sum()) > 0


def test_zero_weight_adds_no_loss_term(tiny_model: Any) -> None:
    ctx = context()
    apply_adalora(tiny_model, AdaLoraOptions.model_validate({**SMALL, "orth_reg_weight": 0}), ctx)
    assert ctx.needs.loss_terms == [] and len(ctx.needs.step_hooks) == 1


@pytest.mark.parametrize(
    ("options", "steps", "path", "message"),
    [
        ({}, 0, "growth.options", "planned number of training steps"),
        ({"tinit": 0.5, "tfinal": 0.45}, 2, "growth.options.tfinal", "no pruning phase"),
        (
            {"target_modules": ["qproj"]},
            8,
            "growth.options.target_modules",
            "unknown target module 'qproj'; linear modules here: down_proj, gate_proj,",
        ),
        (
            {"init_r": 40, "target_modules": ["v_proj"]},
            8,
            "growth.options.init_r",
            "init_r=40 is larger than the smallest targeted layer allows",
        ),
    ],
)
def test_impossible_options_raise_growth_error(
    tiny_model: Any, options: dict[str, Any], steps: int, path: str, message: str
) -> None:
    with pytest.raises(GrowthError) as caught:
        apply_adalora(tiny_model, AdaLoraOptions.model_validate(options), context(steps))
    assert caught.value.path == path and message in caught.value.message


@pytest.mark.parametrize(
    "options",
    [{"init_r": 4, "target_r": 8}, {"tinit": 0.5, "tfinal": 0.5}, {"beta1": 1.0}, {"deltaT": 0}],
)
def test_inconsistent_options_fail_validation(options: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        AdaLoraOptions.model_validate(options)


def test_adalora_is_registered() -> None:
    from scaler_wizard.growth import register_growth_strategies
    from scaler_wizard.registry import Registry

    registry: Registry[Any] = Registry("growth strategy")
    register_growth_strategies(registry)
    assert registry.get("adalora").options is AdaLoraOptions
